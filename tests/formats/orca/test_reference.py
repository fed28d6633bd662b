"""rawconv's ORCA output equals the reference converter's, dataset by dataset.

For the two test files every dataset of the reference output is right, so KNOWN_WRONG is
empty: the reference's ORCA bugs (reference-converter.md 8) concern records these files do
not hold (SIS3316, legacy listener status, a header eventSamples used for FCIO tables) or
values rawconv reproduces on purpose for parity (the legacy waveforms' per-record deadtime,
dr_ch_len = enabled inputs, lifetime = 0).
"""

from __future__ import annotations

import fnmatch
import json

import h5py
import numpy as np
import pytest

from rawconv import build_raw
from rawconv.formats.orca.streamer import OrcaStreamer
from tests.conftest import compare_with_reference, data_file

GEDS = "orca/fc/L200-comm-20220519-phy-geds.orca"
P14 = "orca/fcio/l200-p14-r004-cal-20250606T010224Z.orca"
FILES = [GEDS, P14]

KNOWN_WRONG: dict[str, str] = {}
"""Reference datasets that are wrong (pattern -> reason): none in these files."""


def _known_wrong(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in KNOWN_WRONG)


def _reference(relative: str):
    return data_file(f"reference/{relative.rsplit('/', 1)[-1]}.lh5")


@pytest.fixture(scope="module", params=FILES)
def converted(request, tmp_path_factory):
    src = data_file(request.param)
    out = tmp_path_factory.mktemp("orca") / "out.lh5"
    build_raw(str(src), out_spec=str(out))
    return src, _reference(request.param), out


def test_every_reference_dataset_matches(converted):
    _, ref, out = converted
    assert compare_with_reference(ref, out, _known_wrong) >= 40


def test_golden_values(tmp_path):
    """The values reference-converter.md gives for the two files (golden-values table)."""
    out = tmp_path / "geds.lh5"
    build_raw(str(data_file(GEDS)), out_spec=str(out))
    with h5py.File(out, "r") as f:
        assert len(json.loads(f["OrcaHeader"][()])) == 5
        assert len(f["OrcaHeader"][()]) == 49267
        assert f["ORRunDecoderForRun/run_number"][0] == 1280
        cfg = f["ORFlashCamListenerConfig"]
        assert (cfg["nadcs"][0], cfg["nsamples"][0], cfg["packet_len"][0]) == (6, 6402, 2413)
        wf = f["ORFlashCamADCWaveform"]
        assert wf["waveform/values"].shape == (67, 6402)  # not the header's 4096
        assert wf["packet_id"][0] == 4
        keys = 1_000_000 * wf["fcid"][()].astype(int) + 100 * wf["board_id"][()].astype(int)
        assert sorted(set((keys + wf["fc_input"][()]).tolist())) == list(range(1028800, 1028806))
        assert not wf["deadtime"][()].any()
    out = tmp_path / "p14.lh5"
    build_raw(str(data_file(P14)), out_spec=str(out))
    with h5py.File(out, "r") as f:
        assert f["ORRunDecoderForRun/run_number"][0] == 36390
        cfg = f["ORFCIOConfig_0"]
        assert cfg["streamid"][()].tolist() == [65538, 65537]
        assert cfg["nadcs"][()].tolist() == [54, 132]
        assert cfg["nsamples"][()].tolist() == [220, 6250]
        assert cfg["gps"][()].tolist() == [50000, 50000]
        assert f["ORFCIOEvent_0/waveform/values"].shape == (7, 6250)
        assert set(f["ORFCIOEvent_0/event_type"][()].tolist()) == {11}


def test_p14_one_table_per_channel(tmp_path):
    """LEGEND's production spec: one ch<rawid>/raw table per channel with that channel's
    rows of the reference's ORFCIOEvent table (reference-converter.md 2, example C)."""
    out = tmp_path / "ch.lh5"
    spec = {"ORFCIOEventDecoder": {"ch{key:07d}/raw": {"key_list": ["*"], "out_stream": str(out)}}}
    build_raw(str(data_file(P14)), out_spec=spec)
    with h5py.File(_reference(P14), "r") as fr, h5py.File(out, "r") as fo:
        ref = fr["ORFCIOEvent_0"]
        fcid, board, inp = (ref[n][()].astype(np.int64) for n in ("fcid", "board_id", "fc_input"))
        keys = fcid * 1_000_000 + board * 100 + inp
        expected = {f"ch{k:07d}" for k in keys.tolist()}
        assert set(fo) == expected == {"ch1105600", "ch1105604", "ch1107202", "ch1113600",
                                       "ch1115200", "ch1115205"}  # fmt: skip
        names: list[str] = []
        ref.visit(names.append)
        for group in expected:
            rows = np.flatnonzero(keys == int(group[2:]))
            table = fo[group]["raw"]
            assert len(table["packet_id"]) == len(rows)
            for name in names:
                if isinstance(ref[name], h5py.Dataset):
                    np.testing.assert_array_equal(table[name][()], ref[name][()][rows], name)
        assert len(fo["ch1107202/raw/packet_id"]) == 2


def test_key_range_and_n_max(tmp_path):
    """The reference's own test: keys [[1028802, 1028804]], n_max=10."""
    out = tmp_path / "keys.lh5"
    spec = {"ORFlashCamADCWaveformDecoder": {"geds": {"key_list": [[1028802, 1028804]],
                                                      "out_stream": str(out)}}}  # fmt: skip
    build_raw(str(data_file(GEDS)), out_spec=spec, n_max=10)
    with h5py.File(out, "r") as f:
        assert f["geds/channel"][()].tolist() == [2, 3, 4, 2, 3, 4, 2, 3, 4, 2]


def test_decoders_and_keys():
    """Data ids from the header, the reference's key lists."""
    with pytest.raises(ValueError, match="132 rows one ORFCIOEventDecoder record"):
        OrcaStreamer().open_stream(str(data_file(P14)), buffer_size=64)
    with OrcaStreamer() as s:
        s.open_stream(str(data_file(P14)), buffer_size=256)
        names = {d.name for d in s.get_decoder_list()}
        assert names == {"OrcaHeaderDecoder", "ORRunDecoderForRun", "ORFCIOConfigDecoder",
                         "ORFCIOEventDecoder", "ORFCIOEventHeaderDecoder",
                         "ORFCIOStatusDecoder"}  # fmt: skip
        assert s.decoders["ORFCIOConfigDecoder"].get_key_lists() == [
            ["fcid_1/config", "fcid_2/config"], []]  # fmt: skip
        assert s.decoders["ORFCIOEventHeaderDecoder"].get_key_lists() == [
            ["fcid_1/evt_hdr", "fcid_2/evt_hdr"], []]  # fmt: skip
        events = s.decoders["ORFCIOEventDecoder"].get_key_lists()
        assert [len(k) for k in events] == [132, 54]
        assert 1105600 in events[0]
        status = s.decoders["ORFCIOStatusDecoder"].get_key_lists()
        assert status[0][:2] == ["fcid_1/status/card0", "fcid_1/status/card8192"]
        assert {lst.fcid: lst.config.ntraces for lst in s.listeners.values()} == {1: 132, 2: 54}
