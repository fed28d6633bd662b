"""rawconv's LlamaDAQ output equals the reference converter's, dataset by dataset, and the
fields the reference gets wrong have their right values, read here from the raw bytes.

The reference's LlamaDAQ bugs (reference-converter.md 8, formats.md 4) do not show in the
values of this 0.18 s pulser file: its tick counters stay below 2^32, all accumulator gates
of an event hold the same sum (so gate 1 equals the gate 2 the reference writes as
cumsum_1, and gate 6 the gate 7 it writes as cumsum_6), no event has the MAW-test flag,
and the reference ran in UTC. So every dataset is compared, and each bug is checked
against the bytes below (and in test_roundtrip.py, on files where they do show).
"""

from __future__ import annotations

import calendar
import os
import struct
import time

import h5py
import numpy as np
import pytest

from rawconv import build_raw
from rawconv.formats.llamadaq.header import run_start_from_name
from tests.conftest import compare_with_reference, data_file

NAME = "20241218-150158-pulser.bin"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    src = data_file(f"llamadaq/{NAME}")
    ref = data_file(f"reference/{NAME}.lh5")
    out = tmp_path_factory.mktemp("ref") / "out.lh5"
    build_raw(str(src), out_spec=str(out))
    return src, ref, out


def raw_events(src) -> dict[int, list[np.ndarray]]:
    """fch -> the u32 words of each of its events, walked with the header's event lengths."""
    data = src.read_bytes()
    n_open = struct.unpack_from("<I", data, 12)[0]
    length = {}
    for i in range(n_open):
        w = struct.unpack_from("<22I", data, 16 + 88 * i)
        length[(w[0] << 4) | w[1]] = 4 * w[16]
    pos, out = 16 + 88 * n_open, {}
    while pos < len(data):
        fch = (struct.unpack_from("<I", data, pos)[0] >> 4) & 0xFFF
        out.setdefault(fch, []).append(np.frombuffer(data, "<u4", length[fch] // 4, pos))
        pos += length[fch]
    assert pos == len(data)
    return out


def test_every_reference_dataset_matches(converted):
    _, ref, out = converted
    assert compare_with_reference(ref, out, lambda name: False) == 89


def test_tables_rows_and_golden_values(converted):
    """reference-converter.md 4: LLAMAEvent_0 (37; windowed 2000 @ 4 ns, presummed 10000 @
    16 ns), LLAMAEvent_4 (37; presummed 500 @ 32 ns); row 0 t 0.00303012 s, wf_max 9454,
    cumsum 7826, t0 -4000 / -8000."""
    _, _, out = converted
    with h5py.File(out, "r") as f:
        assert sorted(f) == ["LLAMAEvent_0", "LLAMAEvent_4", "LLAMAHeader"]
        e0, e4 = f["LLAMAEvent_0"], f["LLAMAEvent_4"]
        assert e0["waveform_windowed/values"].shape == (37, 2000)
        assert e0["waveform_presummed/values"].shape == (37, 10000)
        assert e4["waveform_presummed/values"].shape == (37, 500)
        assert e4["waveform_presummed/dt"][0] == 32.0
        assert e0["time_since_run_start"][0] == pytest.approx(0.00303012, abs=1e-12)
        assert e0["wf_max_sample_value"][0] == 9454
        assert e0["cumsum_1"][0] == 7826
        assert e0["waveform_windowed/t0"][0] == -4000
        assert e0["waveform_presummed/t0"][0] == -8000
        # packet ids count events over both channels in file order (9 x ch0 first)
        pids = np.sort(np.concatenate([e0["packet_id"][()], e4["packet_id"][()]]))
        assert pids.tolist() == list(range(1, 75))
        assert e4["packet_id"][0] == 10


def test_fields_the_reference_gets_wrong_from_the_bytes(converted):
    src, _, out = converted
    events = raw_events(src)
    with h5py.File(out, "r") as f:
        for fch, words in events.items():
            w = np.array(words)
            t = f[f"LLAMAEvent_{fch}"]
            # 48-bit ticks: bits 47-32 from word 0 (the reference drops them)
            ticks = ((w[:, 0] >> 16).astype(np.uint64) << 32) | w[:, 1].astype(np.uint64)
            np.testing.assert_array_equal(t["time_since_run_start"][()], ticks * 4.0 * 1e-9)
            # cumsum_N is gate N: gate 1 is word 3 bits 23-0 (the reference skips it and
            # writes gates 2-7 as cumsum_1-6, so gate 7 twice)
            np.testing.assert_array_equal(t["cumsum_1"][()], w[:, 3] & 0xFFFFFF)
            for g in range(2, 9):
                np.testing.assert_array_equal(t[f"cumsum_{g}"][()], w[:, g + 2])
            np.testing.assert_array_equal(t["info_bits"][()], w[:, 3] >> 24)
            # fadc_status_bits: status flag (bit 26) in bit 0, MAW-test flag (27) in bit 1
            np.testing.assert_array_equal(t["fadc_status_bits"][()], (w[:, 11] >> 26) & 3)
    assert events.keys() == {0, 4}


def test_run_start_is_utc_whatever_the_machine_time_zone(converted):
    """The reference reads the file name's time in the converting machine's time zone
    (a name without Z); rawconv reads it as UTC: 2024-12-18 15:01:58 UTC."""
    want = float(calendar.timegm((2024, 12, 18, 15, 1, 58, 0, 0, 0)))
    _, _, out = converted
    with h5py.File(out, "r") as f:
        assert f["LLAMAHeader/initial_timestamp"][()] == want
    old = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        assert time.localtime(want).tm_hour == 10  # the zone took effect
        assert run_start_from_name(f"/data/{NAME}") == want
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("20241218-150158-pulser.bin", (2024, 12, 18, 15, 1, 58, 0)),
        ("run_20241218T150158Z.bin", (2024, 12, 18, 15, 1, 58, 0)),
        ("run_20241218T150158+0100.bin", (2024, 12, 18, 15, 1, 58, 3600)),
        ("run_20241218T150158-05:30.bin", (2024, 12, 18, 15, 1, 58, -19800)),
        ("a20200101-000000_b20241218-150158.bin", (2024, 12, 18, 15, 1, 58, 0)),
        ("memory-20241318-150158.bin", None),  # month 13
        ("pulser.bin", None),
    ],
)
def test_run_start_from_name(name, want):
    if want is None:
        assert run_start_from_name(name) == 0.0
    else:
        *fields, offset = want
        assert run_start_from_name(name) == calendar.timegm((*fields, 0, 0, 0)) - offset
