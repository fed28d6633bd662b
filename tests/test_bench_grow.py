"""The benchmarks' file grower (benchmarks/_grow.py): grown files decode like the real ones,
with counters continued and samples varied in every repeat."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from rawconv import build_raw

from .conftest import ROOT, data_file

sys.path.insert(0, str(ROOT / "benchmarks"))
from _grow import grow

CASES = {  # file, table, rows per repeat
    "th228": ("fcio/th228.fcio", "FCEvent", 1000),
    "spms": ("fcio/L200-comm-20211130-phy-spms.fcio", "FCEvent", 300),
    "geds": ("orca/fc/L200-comm-20220519-phy-geds.orca", "ORFlashCamADCWaveform", 67),
    "p14": ("orca/fcio/l200-p14-r004-cal-20250606T010224Z.orca", "ORFCIOEvent_0", 7),
}


def _table(path: Path, tmp: Path, name: str) -> dict[str, np.ndarray]:
    out = tmp / f"{path.name}.lh5"
    build_raw(str(path), out_spec=str(out), overwrite=True)
    with h5py.File(out, "r") as f:
        assert not any("garbage" in k.lower() for k in f), list(f)
        table = f[name]
        return {
            "eventnumber": table["eventnumber"][()],
            "ts_pps": table["ts_pps"][()],
            "values": table["waveform/values"][()],
            "packet_id": table["packet_id"][()],
        }


@pytest.mark.parametrize("case", CASES)
def test_grown_file_repeats_varied_records(case: str, tmp_path: Path) -> None:
    relpath, table, per_repeat = CASES[case]
    src = data_file(relpath)
    size = src.stat().st_size
    grown = tmp_path / f"grown{src.suffix}"
    written = grow(src, grown, 3 * size)
    assert written == grown.stat().st_size

    real = _table(src, tmp_path, table)
    big = _table(grown, tmp_path, table)
    n = len(real["eventnumber"])
    assert n == per_repeat
    repeats = len(big["eventnumber"]) // n
    assert repeats >= 3 and len(big["eventnumber"]) == repeats * n
    # the data records repeated just often enough: one repeat less is below the size asked
    body, rest = divmod(written - size, repeats - 1)
    assert rest == 0 and written >= 3 * size > written - body
    # the first repeat is the real file's records, byte for byte
    for key in ("eventnumber", "ts_pps", "values"):
        np.testing.assert_array_equal(big[key][:n], real[key])
    # later repeats: counters continued, samples varied (never an exact copy)
    assert np.all(np.diff(big["ts_pps"]) >= 0)
    assert np.all(np.diff(big["eventnumber"].astype(np.int64)) >= 0)
    assert big["eventnumber"][n] > real["eventnumber"].max()
    assert np.all(np.diff(big["packet_id"].astype(np.int64)) >= 0)
    assert len(np.unique(big["packet_id"])) == repeats * len(np.unique(real["packet_id"]))
    for k in (1, 2):
        later = big["values"][k * n : (k + 1) * n].astype(np.int64)
        diff = later - real["values"].astype(np.int64)
        assert not np.array_equal(later, real["values"])
        # a baseline offset per trace (|.| <= 40) plus +-2 ADC of noise per sample, but where
        # the sum is clipped to the 16-bit range (saturated traces)
        free = (later > 0) & (later < 65535)
        assert free.mean() > 0.99
        assert np.abs(diff[free]).max() <= 42
        spread = np.abs(diff - np.median(diff, axis=1, keepdims=True))
        assert spread[free].max() <= 4
