"""proc_specs as legend-daq2lh5 applies them: a "*" entry over every decoder (headers
written unprocessed, absent columns skipped), fc_event_decoded_values' write settings, and
lh5_buffer_processor (a proc_spec applied to an existing LH5 file)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from rawconv import build_raw
from rawconv.compat.daq2lh5.fc.fc_event_decoder import fc_event_decoded_values
from rawconv.errors import ProcSpecError
from rawconv.lh5_processing import lh5_buffer_processor
from tests.conftest import data_file, read_column

WINDOW = {"window": ["waveform", 100, -100, "windowed_waveform"], "drop": ["waveform"]}


@pytest.fixture
def geds():
    return data_file("orca/fc/L200-comm-20220519-phy-geds.orca")


def test_star_proc_spec_leaves_the_header_and_tables_without_waveforms(geds, tmp_path):
    plain, out = tmp_path / "plain.lh5", tmp_path / "star.lh5"
    build_raw(str(geds), out_spec=str(plain))
    spec = {"*": {"{name}": {"key_list": ["*"], "out_stream": str(out), "proc_spec": WINDOW}}}
    build_raw(str(geds), out_spec=spec)
    with h5py.File(plain, "r") as p, h5py.File(out, "r") as s:
        assert sorted(s) == sorted(p)
        assert s["OrcaHeader"][()] == p["OrcaHeader"][()]  # a scalar: written unprocessed
        assert sorted(s["ORFlashCamListenerConfig"]) == sorted(p["ORFlashCamListenerConfig"])
        wf = p["ORFlashCamADCWaveform/waveform/values"][()]
        assert "waveform" not in s["ORFlashCamADCWaveform"]
        win = s["ORFlashCamADCWaveform/windowed_waveform/values"][()]
        np.testing.assert_array_equal(win, wf[:, 100:-100])
        t0 = s["ORFlashCamADCWaveform/windowed_waveform/t0"][()]
        np.testing.assert_array_equal(t0, p["ORFlashCamADCWaveform/waveform/t0"][()] + 1600)


def test_a_named_decoder_is_held_to_its_proc_spec(geds, tmp_path):
    out = tmp_path / "x.lh5"
    spec = {"ORFlashCamListenerConfigDecoder": {"cfg": {"key_list": ["*"],
            "out_stream": str(out), "proc_spec": WINDOW}}}  # fmt: skip
    with pytest.raises(ProcSpecError, match="no column 'waveform'"):
        build_raw(str(geds), out_spec=spec)
    spec = {"OrcaHeaderDecoder": {"hdr": {"key_list": ["*"], "out_stream": str(out),
            "proc_spec": WINDOW}}}  # fmt: skip
    with pytest.raises(ProcSpecError, match="not a table"):
        build_raw(str(geds), out_spec=spec)
    assert not out.exists()


def test_fc_event_decoded_values_settings_reach_later_conversions(geds, spms, tmp_path):
    packet_id = fc_event_decoded_values["packet_id"]
    packet_id["hdf5_settings"] = {"compression": "lzf", "shuffle": False}
    try:
        build_raw(str(geds), out_spec=str(tmp_path / "g.lh5"))
        build_raw(str(spms), out_spec=str(tmp_path / "s.lh5"))
    finally:
        del packet_id["hdf5_settings"]
    build_raw(str(spms), out_spec=str(tmp_path / "after.lh5"))
    with h5py.File(tmp_path / "g.lh5", "r") as g, h5py.File(tmp_path / "s.lh5", "r") as s:
        for ds in (g["ORFlashCamADCWaveform/packet_id"], s["FCEvent/packet_id"]):
            assert (ds.compression, ds.shuffle) == ("lzf", False)
        assert s["FCConfig/packet_id"].compression == "gzip"  # other tables: not touched
    with h5py.File(tmp_path / "after.lh5", "r") as a:
        assert a["FCEvent/packet_id"].compression == "gzip"


def test_a_codec_replaces_the_hdf5_filter_of_its_column(geds, tmp_path):
    waveform = fc_event_decoded_values["waveform"]
    waveform["hdf5_settings"] = {"values": {"compression": "lzf"}, "t0": {"compression": "lzf"}}
    waveform["compression"] = {"values": "ULEB128ZigZagDiff()"}
    try:
        build_raw(str(geds), out_spec=str(tmp_path / "g.lh5"))
    finally:
        del waveform["hdf5_settings"], waveform["compression"]
    with h5py.File(tmp_path / "g.lh5", "r") as f:
        values = f["ORFlashCamADCWaveform/waveform/values"]
        assert values.attrs["codec"] == "uleb128_zigzag_diff"
        assert values["encoded_data/flattened_data"].compression is None
        assert f["ORFlashCamADCWaveform/waveform/t0"].compression == "lzf"


def test_lh5_buffer_processor_processes_the_tables_buffers_write(spms, tmp_path):
    raw, proc = tmp_path / "raw.lh5", tmp_path / "raw_proc.lh5"
    build_raw(str(spms), out_spec={
        "FCEventDecoder": {"ch{key}": {"key_list": [[52800, 52802]],
                                       "out_stream": f"{raw}:{{name}}", "out_name": "raw"}},
        "*": {"{name}": {"key_list": ["*"], "out_stream": str(raw)}},
    })  # fmt: skip
    proc_spec = {**WINDOW, "dtype_conv": {"windowed_waveform/values": "uint32"}}
    spec = {"FCEventDecoder": {"ch{key}": {"key_list": [[52800, 52801]], "out_name": "raw",
            "out_stream": f"{proc}:{{name}}", "proc_spec": proc_spec}}}  # fmt: skip
    assert lh5_buffer_processor(str(raw), out_spec=spec) == str(proc)
    assert list(spec["FCEventDecoder"]) == ["ch52800", "ch52801"]  # expanded in place
    with h5py.File(raw, "r") as r, h5py.File(proc, "r") as p:
        assert sorted(p) == sorted(r)
        for ch in ("ch52800", "ch52801"):
            assert "waveform" not in p[f"{ch}/raw"]
            win = p[f"{ch}/raw/windowed_waveform/values"][()]
            assert win.dtype == np.uint32
            np.testing.assert_array_equal(win, r[f"{ch}/raw/waveform/values"][()][:, 100:-100])
            np.testing.assert_array_equal(p[f"{ch}/raw/packet_id"][()],
                                          r[f"{ch}/raw/packet_id"][()])  # fmt: skip
        untouched = ["ch52802/raw/waveform/values", "FCConfig/tracemap/flattened_data",
                     "FCStatus/packet_id"]  # fmt: skip
        for name in untouched:
            np.testing.assert_array_equal(p[name][()], r[name][()])
            assert p[name].compression == r[name].compression
        assert p["ch52800"].attrs["datatype"] == r["ch52800"].attrs["datatype"]
    with pytest.raises(FileExistsError, match=r"raw_proc\.lh5 exists"):
        lh5_buffer_processor(str(raw), out_spec=spec)
    lh5_buffer_processor(str(raw), out_spec=None, overwrite=True)  # a plain copy
    assert read_column(proc, "ch52800/raw/waveform/values").shape == (50, 6000)


def test_lh5_buffer_processor_star_entry_and_errors(spms, tmp_path):
    raw = tmp_path / "raw.lh5"
    build_raw(str(spms), out_spec=str(raw))
    out = tmp_path / "p.lh5"
    spec = {"*": {"{name}": {"key_list": ["*"], "out_stream": str(out), "proc_spec": WINDOW}}}
    lh5_buffer_processor(str(raw), out_spec=spec, proc_file_name=str(out))
    with h5py.File(out, "r") as p:
        assert p["FCEvent/windowed_waveform/values"].shape == (300, 5800)
        assert "tracemap" in p["FCConfig"]
    with pytest.raises(FileNotFoundError, match="input file not found"):
        lh5_buffer_processor(str(tmp_path / "none.lh5"))
    with pytest.raises(ValueError, match="is the input"):
        lh5_buffer_processor(str(raw), proc_file_name=str(raw), overwrite=True)
    leftovers = [p.name for p in tmp_path.iterdir() if "rawconv-tmp" in p.name]
    assert leftovers == []
