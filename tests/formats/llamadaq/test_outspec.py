"""LlamaDAQ buffers: default table names, n_max, chunk modes and out_specs."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from rawconv import OutSpecError, RawBufferLibrary, build_raw
from rawconv.formats.llamadaq.streamer import LLAMAStreamer
from rawconv.formats.llamadaq.writer import ChannelSpec
from tests.conftest import data_file
from tests.formats.llamadaq.files import write_run

PULSER = "llamadaq/20241218-150158-pulser.bin"


def test_group_name_that_would_clash_with_a_channel(tmp_path):
    """Key lists [[1], [2, 3]]: the reference names both tables LLAMAEvent_1 (channel 1,
    and key list 1) and writes them into one; rawconv names the group LLAMAEvent_grp1."""
    chans = [ChannelSpec(channel=1, sample_length=4), ChannelSpec(channel=2, sample_length=8),
             ChannelSpec(channel=3, sample_length=8)]  # fmt: skip
    write_run(tmp_path / "r.bin", chans, 50, seed=1)
    build_raw(str(tmp_path / "r.bin"), out_spec=str(tmp_path / "o.lh5"))
    with h5py.File(tmp_path / "o.lh5", "r") as f:
        assert sorted(f) == ["LLAMAEvent_1", "LLAMAEvent_grp1", "LLAMAHeader"]
        assert set(f["LLAMAEvent_1/fadc_channel_id"][()].tolist()) == {1}
        assert set(f["LLAMAEvent_grp1/fadc_channel_id"][()].tolist()) == {2, 3}


@pytest.mark.parametrize("n_max", [1, 9, 10, 40])
def test_n_max_counts_rows_in_file_order(tmp_path, n_max):
    """The first n_max events of the file (9 x channel 0, then 9 x channel 4, ...)."""
    out = tmp_path / "o.lh5"
    build_raw(str(data_file(PULSER)), out_spec=str(out), n_max=n_max, buffer_size=4)
    with h5py.File(out, "r") as f:
        pids = [f[t]["packet_id"][()].tolist() for t in f if t.startswith("LLAMAEvent")]
    assert sorted(p for ps in pids for p in ps) == list(range(1, n_max + 1))


@pytest.mark.parametrize("mode", ["single_packet", "only_full", "any_full"])
def test_chunk_modes_give_every_row(mode):
    lib = RawBufferLibrary({"LLAMAEventDecoder": {"ev_{key}": {"key_list": ["*"]}}})
    streamer = LLAMAStreamer(block_bytes=1 << 16)
    streamer.open_stream(str(data_file(PULSER)), rb_lib=lib, buffer_size=5, chunk_mode=mode)
    pids = []
    while chunk := streamer.read_chunk():
        for rb in chunk:
            pids += rb.lgdo["packet_id"].nda[: rb.loc].tolist()
            assert mode != "single_packet" or rb.loc <= 1
            rb.loc = 0
    assert sorted(pids) == list(range(1, 75))


def test_one_channel_taken_the_other_skipped(tmp_path):
    spec = {"LLAMAEventDecoder": {"ch4": {"key_list": [4], "out_stream": str(tmp_path / "o.lh5")}}}
    build_raw(str(data_file(PULSER)), out_spec=spec)
    with h5py.File(tmp_path / "o.lh5", "r") as f:
        assert sorted(f) == ["ch4"]
        assert len(f["ch4/packet_id"]) == 37
        assert np.all(f["ch4/fadc_channel_id"][()] == 4)


def test_a_buffer_of_two_layouts_is_refused(tmp_path):
    spec = {"LLAMAEventDecoder": {"all": {"key_list": ["*"], "out_stream": str(tmp_path / "o")}}}
    with pytest.raises(OutSpecError, match="different table layouts"):
        build_raw(str(data_file(PULSER)), out_spec=spec)


def test_channels_of_one_layout_share_a_buffer_in_file_order(tmp_path):
    """Two key lists of one layout (no presummed samples: avg lengths differ, avg mode 0)
    in one buffer: rows in packet-id order."""
    chans = [ChannelSpec(channel=0, sample_length=6, avg_sample_length=4),
             ChannelSpec(channel=5, sample_length=6, avg_sample_length=8)]  # fmt: skip
    write_run(tmp_path / "r.bin", chans, 80, seed=4)
    spec = {"LLAMAEventDecoder": {"all": {"key_list": ["*"], "out_stream": str(tmp_path / "o")}}}
    build_raw(str(tmp_path / "r.bin"), out_spec=spec, buffer_size=7)
    with h5py.File(tmp_path / "o", "r") as f:
        assert f["all/packet_id"][()].tolist() == list(range(1, 81))
        assert set(f["all/fadc_channel_id"][()].tolist()) == {0, 5}
