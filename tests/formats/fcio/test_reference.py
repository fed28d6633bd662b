"""rawconv's FCIO output equals the reference converter's, dataset by dataset.

Where the reference is wrong, rawconv's value equals what FlashCam's own reader (`fcio`)
reads, and the dataset is listed in KNOWN_WRONG with the reason.
"""

from __future__ import annotations

import fnmatch

import fcio
import h5py
import numpy as np
import pytest

from rawconv import build_raw
from tests.conftest import compare_with_reference, data_file

FILES = ["th228.fcio", "L200-comm-20211130-phy-spms.fcio"]

KNOWN_WRONG = {
    "FCConfig/*": (
        "the reference writes FCConfig from a buffer it never filled: uninitialised memory, "
        "with one row per tracemap entry instead of one row per config record"
    ),
    "FCStatus/n_link_errors": "the reference never fills n_link_errors: uninitialised memory",
}


def _known_wrong(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in KNOWN_WRONG)


@pytest.fixture(scope="module", params=FILES)
def converted(request, tmp_path_factory):
    src = data_file(f"fcio/{request.param}")
    ref = data_file(f"reference/{request.param}.lh5")
    out = tmp_path_factory.mktemp("ref") / "out.lh5"
    build_raw(str(src), out_spec=str(out))
    return src, ref, out


def test_every_reference_dataset_matches(converted):
    _, ref, out = converted
    assert compare_with_reference(ref, out, _known_wrong) >= 35


def test_known_wrong_datasets_equal_fcio(converted):
    src, _, out = converted
    reader = fcio.FCIO(str(src))
    cfg = reader.config
    with h5py.File(out, "r") as fo:
        g = fo["FCConfig"]
        assert g["packet_id"][()].tolist() == [0]
        assert g["nsamples"][()].tolist() == [cfg.eventsamples]
        assert g["nadcs"][()].tolist() == [cfg.adcs]
        assert g["ntriggers"][()].tolist() == [cfg.triggers]
        assert g["adcbits"][()].tolist() == [cfg.adcbits]
        assert g["sumlength"][()].tolist() == [cfg.sumlength]
        assert g["blprecision"][()].tolist() == [cfg.blprecision]
        assert g["mastercards"][()].tolist() == [cfg.mastercards]
        assert g["triggercards"][()].tolist() == [cfg.triggercards]
        assert g["adccards"][()].tolist() == [cfg.adccards]
        assert g["gps"][()].tolist() == [cfg.gps]
        assert g["streamid"][()].tolist() == [cfg.streamid]
        assert g["tracemap/cumulative_length"][()].tolist() == [len(cfg.tracemap)]
        np.testing.assert_array_equal(g["tracemap/flattened_data"][()], cfg.tracemap)
        if "FCStatus" in fo:
            link_errors = []
            while reader.get_record():
                if reader.tag == fcio.Tags.Status:
                    link_errors += [int(card.linkerrors) for card in reader.status.data]
            assert fo["FCStatus/n_link_errors"][()].tolist() == link_errors


def test_spms_config_values(spms, tmp_path):
    """The values reference-converter.md gives for the spms config (section 4)."""
    out = tmp_path / "spms.lh5"
    build_raw(str(spms), out_spec=str(out))
    with h5py.File(out, "r") as f:
        g = f["FCConfig"]
        assert g["nsamples"][0] == 6000
        assert g["nadcs"][0] == 6
        assert g["adcbits"][0] == 16
        assert g["mastercards"][0] == 1
        assert g["adccards"][0] == 1
        assert g["gps"][0] == 0
        assert g["tracemap/flattened_data"][()].tolist() == list(range(34603008, 34603014))
        ev = f["FCEvent"]
        assert ev["baseline"][0] == 7686
        assert ev["daqenergy"][0] == 78
        assert ev["timestamp"][0] == pytest.approx(1638368782.19236, abs=1e-5)
        assert ev["packet_id"][()].min() == 1
        assert ev["packet_id"][()].max() == 51
        assert f["FCStatus/packet_id"][()].tolist() == [37, 37]
        assert f["FCStatus/id"][()].tolist() == [0, 8192]
