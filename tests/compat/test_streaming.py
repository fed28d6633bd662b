"""Streams as legend-daq2lh5 users drive them: get_streamer, open_stream, iteration with the
header buffers first, libraries of plain dicts and range key lists, records one at a time."""

from __future__ import annotations

import shutil
import struct

import h5py
import numpy as np
import pytest

from rawconv import RawBuffer, RawBufferList, build_raw, write_to_lh5_and_clear
from rawconv.formats.fcio.streamer import FCIOStreamer
from rawconv.formats.orca.packets import get_data_id, get_n_words, hex_dump, is_extended, is_short
from rawconv.formats.orca.streamer import OrcaStreamer
from rawconv.lh5.writer import LH5Writer
from rawconv.opening import get_streamer, open_stream, stream_type_from_name
from tests.conftest import data_file


@pytest.fixture
def geds():
    return data_file("orca/fc/L200-comm-20220519-phy-geds.orca")


def rows_by_table(path) -> dict[str, int]:
    """table -> rows, for the tables (groups) of a file."""
    with h5py.File(path, "r") as f:
        return {name: len(next(iter(f[name].values()))) for name in f
                if isinstance(f[name], h5py.Group)}  # fmt: skip


# --- iteration: the header buffers first ---------------------------------------------------


def test_iteration_yields_the_header_first_and_matches_build_raw(spms, tmp_path):
    streamer = FCIOStreamer()
    header = streamer.open_stream(str(spms), buffer_size=6)
    assert [rb.out_name for rb in header] == ["FCConfig"]
    rows: dict[str, int] = {}
    chunks = 0
    for chunk in streamer:
        if chunks == 0:
            assert chunk[0] is header[0] and chunk[0].loc == 1
        else:
            assert header[0] not in chunk
        chunks += 1
        for rb in chunk:
            assert rb.loc > 0
            rows[rb.out_name] = rows.get(rb.out_name, 0) + rb.loc
    assert chunks > 1
    assert streamer.read_chunk() == []
    out = tmp_path / "spms.lh5"
    build_raw(str(spms), out_spec=str(out), buffer_size=6)
    assert rows == rows_by_table(out)
    assert rows["FCConfig"] == 1 and rows["FCEvent"] == 300


def test_header_written_after_open_is_not_yielded_again(geds, tmp_path):
    streamer = OrcaStreamer()
    header = streamer.open_stream(str(geds), out_stream=str(tmp_path / "a.lh5"))
    assert [rb.out_name for rb in header] == ["OrcaHeader"]
    with LH5Writer(atomic=False) as writer:
        write_to_lh5_and_clear(header, writer)
        while chunk := streamer.read_chunk():
            assert all(rb.out_name != "OrcaHeader" for rb in chunk)
            write_to_lh5_and_clear(chunk, writer)
    out = tmp_path / "b.lh5"
    build_raw(str(geds), out_spec=str(out))
    with h5py.File(tmp_path / "a.lh5", "r") as a, h5py.File(out, "r") as b:
        assert a["OrcaHeader"][()] == b["OrcaHeader"][()]
    assert rows_by_table(tmp_path / "a.lh5") == rows_by_table(out)


def test_read_chunk_ends_even_when_the_header_is_never_cleared(spms):
    streamer = FCIOStreamer()
    header = streamer.open_stream(str(spms), buffer_size=1024)
    calls = 0
    while streamer.read_chunk(clear_full_buffers=False):
        calls += 1
        assert calls < 50
    assert header[0].loc == 1  # never written, never cleared: but the stream ended


def test_only_full_chunks_also_carry_the_pending_header(spms):
    streamer = FCIOStreamer()
    header = streamer.open_stream(str(spms), buffer_size=6, chunk_mode="only_full")
    first = streamer.read_chunk()
    assert first[0] is header[0]
    assert all(rb.is_full() for rb in first[1:])


# --- libraries: plain dicts, range key lists, the caller's own buffers ---------------------


def test_plain_dict_library_with_range_keys_keeps_the_callers_buffers(spms):
    rb = RawBuffer(key_list=range(52802, 52804), out_name="events")
    streamer = FCIOStreamer()
    streamer.open_stream(str(spms), rb_lib={"FCEventDecoder": RawBufferList([rb])},
                         buffer_size=60)  # fmt: skip
    assert list(streamer.rb_lib) == ["FCEventDecoder"]
    assert streamer.rb_lib["FCEventDecoder"][0] is rb
    assert rb.key_list == range(52802, 52804)
    chunk = streamer.read_chunk()
    assert chunk == [rb]
    assert rb.lgdo["channel"].nda[: rb.loc].tolist() == [2, 3] * (rb.loc // 2)
    total = rb.loc
    while streamer.read_chunk():
        total += rb.loc
    assert total == 100  # 50 events, two of their six channels


def test_a_buffer_split_by_key_is_rebuilt(spms):
    rb = RawBuffer(key_list=["*"], out_name="ch{key}")
    streamer = FCIOStreamer()
    streamer.open_stream(str(spms), rb_lib={"FCEventDecoder": RawBufferList([rb])})
    names = [b.out_name for b in streamer.rb_lib["FCEventDecoder"]]
    assert names == [f"ch{k}" for k in range(52800, 52806)]
    assert rb not in streamer.rb_lib["FCEventDecoder"]


# --- get_streamer / open_stream -------------------------------------------------------------


def test_get_streamer_reads_the_file_not_its_name(spms, geds, tmp_path):
    fcio_named_orca = tmp_path / "run.orca"
    shutil.copy(spms, fcio_named_orca)
    assert isinstance(get_streamer(str(fcio_named_orca)), FCIOStreamer)
    no_ext = tmp_path / "run"
    shutil.copy(geds, no_ext)
    assert isinstance(get_streamer(str(no_ext)), OrcaStreamer)
    assert isinstance(get_streamer(no_ext.read_bytes()), OrcaStreamer)
    assert isinstance(get_streamer("x.bin", "FlashCam"), FCIOStreamer)
    assert isinstance(get_streamer("x.bin", "fcio"), FCIOStreamer)


def test_get_streamer_falls_back_to_the_name_of_an_unreadable_input():
    assert isinstance(get_streamer("/no/such/run.fcio"), FCIOStreamer)
    assert isinstance(get_streamer("/no/such/run.orca.gz"), OrcaStreamer)
    assert stream_type_from_name("run.BIN") == "Compass"
    for name, why in [("run.bin", "CoMPASS and by LlamaDAQ"), ("run.xyz", "extension xyz"),
                      ("run", "no extension")]:  # fmt: skip
        with pytest.raises(RuntimeError, match=why):
            get_streamer(f"/no/such/{name}")


def test_get_streamer_errors(tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"\xff" * 64)
    with pytest.raises(RuntimeError, match="unknown format"):
        get_streamer(str(junk))
    with pytest.raises(NotImplementedError, match="unknown stream type 'NotADaq'"):
        get_streamer("daq.fcio", "NotADaq")


def test_open_stream_yields_streamer_and_header_and_closes(spms):
    with open_stream(str(spms), buffer_size=1024) as (streamer, header):
        assert isinstance(streamer, FCIOStreamer)
        assert header[0].out_name == "FCConfig"
        n = sum(rb.loc for chunk in streamer for rb in chunk if rb.out_name == "FCEvent")
        assert streamer.source._fd is not None  # open
    assert n == 300
    assert streamer.source._fd is None  # closed


def test_open_stream_closes_once_when_opening_fails(spms, monkeypatch):
    closed = []
    original = FCIOStreamer.close_stream
    monkeypatch.setattr(FCIOStreamer, "close_stream",
                        lambda self: (closed.append(1), original(self)))  # fmt: skip
    with (pytest.raises(ValueError, match="buffer_size 5 is smaller than the 6 rows"),
          open_stream(str(spms), buffer_size=5)):  # fmt: skip
        pass
    assert closed == [1]


# --- records one at a time (ORCA) -----------------------------------------------------------


def test_load_packet_walks_every_record(geds):
    streamer = OrcaStreamer()
    streamer.open_stream(str(geds))
    data = geds.read_bytes()
    n_header = struct.unpack_from("<I", data, 0)[0] & 0x3FFFF
    assert streamer.count_packets() == 71  # header, 2 run, 1 config, 67 waveform records
    packets = []
    while (p := streamer.load_packet()) is not None:
        packets.append(p)
    assert len(packets) == 70
    assert b"".join(p.astype("<u4").tobytes() for p in packets) == data[4 * n_header :]
    ids = [int(p[0] >> 18) for p in packets]
    assert (ids.count(7), ids.count(4), ids.count(3)) == (2, 1, 67)
    assert streamer.load_packet() is None
    first = streamer.load_packet(0)
    assert first.dtype == np.uint32 and len(first) == n_header
    assert np.array_equal(streamer.load_packet(), packets[0])  # goes on after record 0
    assert np.array_equal(streamer.load_packet(70), packets[-1])
    streamer.close_stream()


def test_packet_helpers_and_the_headers_id_map(capsys):
    p14 = data_file("orca/fcio/l200-p14-r004-cal-20250606T010224Z.orca")
    streamer = OrcaStreamer()
    streamer.open_stream(str(p14))
    ids = streamer.header.get_id_to_decoder_name_dict()
    assert ids[0] == "OrcaHeaderDecoder"
    assert ids[3] == "ORRunDecoderForRun" and ids[6] == "ORFCIOConfigDecoder"
    unshifted = streamer.header.get_id_to_decoder_name_dict(shift_data_id=False)
    assert unshifted[3 << 18] == "ORRunDecoderForRun"
    assert "ORFCIOEventDecoder" in streamer.header.get_decoder_list()
    assert streamer.header.get_run_number() == 36390
    names = []
    while (packet := streamer.load_packet()) is not None:
        assert get_n_words(packet) == len(packet)
        names.append(ids[get_data_id(packet)])
    assert names.count("ORRunDecoderForRun") == 3 and names.count("ORFCIOConfigDecoder") == 2
    assert len(names) == streamer.count_packets() - 1
    run = streamer.load_packet(1)
    lines = hex_dump(run, return_output=True, id_dict=ids)
    assert lines[0] == "ORRunDecoderForRun (data ID = 3):"
    assert lines[1:] == [f"{i} 0x{int(w):08x}" for i, w in enumerate(run)]
    assert hex_dump(run, print_n_words=True, use_logging=False) is None
    assert capsys.readouterr().out == "data ID = 3: 4 words\n"
    short = np.array([0x84000000 | 0x1234], dtype=np.uint32)  # data id 33, short
    assert is_short(short) and get_data_id(short) == 33 and get_n_words(short) == 1
    assert get_data_id(short, shift=False) == 0x84000000
    extended = np.array([5 << 18, 3, 0], dtype=np.uint32)
    assert is_extended(extended) and get_n_words(extended) == 3
    streamer.close_stream()
