"""DataStreamer / DataDecoder API: chunk modes, read_packet, iteration, garbage, and a
streamer written in Python on top of the base classes."""

from __future__ import annotations

import struct

import h5py
import lgdo
import numpy as np
import pytest

from rawconv import (
    DataDecoder,
    DataStreamer,
    GarbageCode,
    RawBuffer,
    RawBufferLibrary,
    write_to_lh5_and_clear,
)
from rawconv.formats.fcio.streamer import FCIOStreamer
from rawconv.lh5.writer import LH5Writer


def _lib():
    return RawBufferLibrary(
        {
            "FCEventDecoder": {"ch{key}": {"key_list": [52800, 52801], "out_stream": ""}},
            "FCStatusDecoder": {"st": {"key_list": ["*"], "out_stream": ""}},
        }
    )


def test_open_stream_returns_header_buffers(spms):
    streamer = FCIOStreamer()
    header = streamer.open_stream(str(spms))
    assert [rb.out_name for rb in header] == ["FCConfig"]
    assert header[0].loc == 1
    assert header[0].lgdo["nsamples"].nda[0] == 6000
    assert streamer.n_bytes_read == spms.stat().st_size  # small file: one block
    names = [d.name for d in streamer.get_decoder_list()]
    fc = ["FCConfigDecoder", "FCStatusDecoder", "FCEventDecoder", "FCEventHeaderDecoder"]
    assert names[:4] == fc
    lib = streamer.build_default_rb_lib(out_stream="x.lh5")
    assert {n: [(rb.out_name, rb.key_list) for rb in lib[n]] for n in fc} == {
        "FCConfigDecoder": [("FCConfig", ["fcid_0/config"])],
        "FCEventDecoder": [("FCEvent", list(range(52800, 52806)))],
        "FCEventHeaderDecoder": [("FCEventHeader", ["fcid_0/evt_hdr"])],
        "FCStatusDecoder": [("FCStatus", ["fcid_0/status/card0", "fcid_0/status/card8192"])],
    }
    streamer.close_stream()


@pytest.mark.parametrize("mode", ["any_full", "only_full"])
def test_chunk_modes(spms, mode):
    streamer = FCIOStreamer()
    streamer.open_stream(str(spms), rb_lib=_lib(), buffer_size=10, chunk_mode=mode)
    rows: dict[str, list] = {}
    sizes = []
    while chunk := streamer.read_chunk():
        sizes.append({rb.out_name: rb.loc for rb in chunk})
        if mode == "only_full":
            assert all(rb.is_full() for rb in chunk) or streamer._eof
        for rb in chunk:
            rows.setdefault(rb.out_name, []).extend(rb.lgdo["packet_id"].nda[: rb.loc].tolist())
            rb.loc = 0
    assert rows["ch52800"] == list(range(1, 37)) + list(range(38, 52))
    assert rows["ch52801"] == rows["ch52800"]
    assert rows["st"] == [37, 37]
    assert streamer.read_chunk() == []
    if mode == "any_full":  # all non-empty buffers come together, once one is full
        # a channel buffer takes one row per event: it fills up to its 10 rows
        assert sizes[0] == {"ch52800": 10, "ch52801": 10}


def test_single_packet_and_read_packet(spms):
    streamer = FCIOStreamer()
    streamer.open_stream(str(spms), rb_lib=_lib(), chunk_mode="single_packet")
    chunk = streamer.read_chunk()
    assert [(rb.out_name, rb.loc) for rb in chunk] == [("ch52800", 1), ("ch52801", 1)]
    assert streamer.read_packet() is True
    assert [rb.loc for rb in chunk] == [2, 2]
    assert streamer.packet_id == 2


def test_iteration_and_context_manager(spms):
    with FCIOStreamer() as streamer:
        streamer.open_stream(str(spms), rb_lib=_lib(), buffer_size=20)
        total = sum(rb.loc for chunk in streamer for rb in chunk)
    assert total == 100 + 2


def test_write_to_lh5_and_clear(spms, tmp_path):
    streamer = FCIOStreamer()
    lib = RawBufferLibrary(
        {"FCEventDecoder": {"ev": {"key_list": ["*"], "out_stream": f"{tmp_path}/w.lh5:/raw"}}}
    )
    streamer.open_stream(str(spms), rb_lib=lib, buffer_size=64)
    writer = LH5Writer(atomic=False)
    while chunk := streamer.read_chunk():
        write_to_lh5_and_clear(chunk, writer)
        assert all(rb.loc == 0 for rb in chunk)
    writer.close()
    with h5py.File(tmp_path / "w.lh5", "r") as f:
        assert len(f["raw/ev/channel"]) == 300
    # without a writer: opens and closes the file itself, appending
    rb = RawBuffer(
        lgdo=lgdo.Table(col_dict={"x": lgdo.Array(np.arange(5))}),
        out_stream=f"{tmp_path}/w.lh5",
        out_name="extra",
    )
    rb.loc = 3
    write_to_lh5_and_clear([rb])
    write_to_lh5_and_clear([rb])  # loc is 0 now: nothing written
    with h5py.File(tmp_path / "w.lh5", "r") as f:
        assert f["extra/x"][()].tolist() == [0, 1, 2]


def test_garbage_table(tmp_path):
    dec = DataDecoder(garbage_length=2)
    for i in range(3):  # grows past its initial length
        dec.put_in_garbage(
            bytes(range(i + 1)), packet_id=10 + i, code=GarbageCode.BAD_LENGTH, offset=100 * i
        )
    dec.write_out_garbage(str(tmp_path / "g.lh5"), "/bad")
    assert dec.n_garbage == 0
    with h5py.File(tmp_path / "g.lh5", "r") as f:
        g = f["bad/garbage"]
        assert g["packet_id"][()].tolist() == [10, 11, 12]
        assert g["code"][()].tolist() == [1, 1, 1]
        assert g["offset"][()].tolist() == [0, 100, 200]
        assert g["packet/cumulative_length"][()].tolist() == [1, 3, 6]
        assert g["packet/flattened_data"][()].tolist() == [0, 0, 1, 0, 1, 2]


# --- a streamer written in Python: 8-byte records (u32 channel, f32 value) ------------------


class ToyDecoder(DataDecoder):
    decoded_values = {
        "channel": {"dtype": "uint32"},
        "value": {"dtype": "float32", "units": "V"},
        "trace": {
            "dtype": "int16",
            "datatype": "array_of_equalsized_arrays<1,1>{real}",
            "length": 2,
        },
    }

    def get_key_lists(self):
        return [[0, 1, 2]]

    def decode_packet(self, packet, packet_id, rbl):
        channel, value = struct.unpack("<If", packet)
        rb = rbl.get_keyed_dict().get(channel)
        if rb is None:
            return False
        tbl = rb.lgdo
        tbl["channel"].nda[rb.loc] = channel
        tbl["value"].nda[rb.loc] = value
        tbl["trace"].nda[rb.loc] = (packet_id, -packet_id)
        rb.loc += 1
        return True


class ToyStreamer(DataStreamer):
    def __init__(self):
        super().__init__()
        self.decoder = ToyDecoder()

    def get_decoder_list(self):
        return [self.decoder]

    def open_stream(
        self, stream_name, rb_lib=None, buffer_size=8192, chunk_mode="any_full", out_stream=""
    ):
        self._open_source(stream_name)
        self._init_buffers(rb_lib, buffer_size, chunk_mode, out_stream)
        self._pos = 0
        return []

    def read_packet(self):
        data = self.source.read(self._pos, self._pos + 8)
        if len(data) < 8:
            return False
        self._pos += 8
        self.n_bytes_read += 8
        self.packet_id += 1
        self.decoder.decode_packet(data, self.packet_id, self.rb_lib["ToyDecoder"])
        return True


def test_python_streamer_on_the_base_classes(tmp_path):
    records = b"".join(struct.pack("<If", i % 3, i / 2) for i in range(10))
    streamer = ToyStreamer()
    lib = RawBufferLibrary(
        {"ToyDecoder": {"toy{key}": {"key_list": ["*"], "out_stream": f"{tmp_path}/t.lh5"}}}
    )
    streamer.open_stream(records, rb_lib=lib, buffer_size=2)
    streamer.n_max = 8  # rows budget works for read_packet streamers too
    writer = LH5Writer(atomic=False)
    while chunk := streamer.read_chunk():
        write_to_lh5_and_clear(chunk, writer)
    writer.close()
    with h5py.File(tmp_path / "t.lh5", "r") as f:
        assert f["toy0/channel"][()].tolist() == [0, 0, 0]
        assert f["toy2/value"][()].tolist() == [1.0, 2.5]
        assert f["toy1/trace"][()].tolist() == [[2, -2], [5, -5], [8, -8]]
        assert f["toy1/value"].attrs["units"] == "V"
    assert isinstance(ToyDecoder().make_lgdo(size=4), lgdo.Table)


def test_a_streamer_must_read_something():
    class Empty(DataStreamer):
        def get_decoder_list(self):
            return []

        def open_stream(self, *args, **kwargs):
            return []

    with pytest.raises(TypeError, match="implements neither read_packet nor _decode_step"):
        Empty().read_packet()


def _streamed(path, lib: RawBufferLibrary) -> tuple[FCIOStreamer, int]:
    """The streamer after reading all of `path` into `lib`'s buffers, and the rows read."""
    streamer = FCIOStreamer()
    streamer.open_stream(str(path), rb_lib=lib, buffer_size=1000)
    rows = 0
    while chunk := streamer.read_chunk():
        rows += sum(rb.loc for rb in chunk)
    return streamer, rows


def test_records_no_buffer_takes_are_counted_per_tag(tmp_path):
    """Events and event headers interleaved, only the event buffer asked for: every event
    header record is counted as skipped, every trace of every event arrives."""
    from rawconv.formats.fcio.layout import TAG_EVENTHEADER
    from rawconv.formats.fcio.writer import FCIOWriter

    path = tmp_path / "mixed.fcio"
    with FCIOWriter(path) as w:
        w.write_config(adcs=2, eventsamples=4)
        for k in range(30):
            w.write_event([[k, 1, 2, 3], [4, 5, 6, 7]], [[0, 0], [0, 0]])
            if k % 3 == 0:
                w.write_event_header([0, 1], [[k, 1], [2, 3]])
    lib = RawBufferLibrary({"FCEventDecoder": {"ev": {"key_list": ["*"], "out_stream": ""}}})
    streamer, rows = _streamed(path, lib)
    assert rows == 60
    assert streamer.skipped_records == {TAG_EVENTHEADER: 10}


@pytest.mark.parametrize("keys", [["9*"], ["52800"], [99]])
def test_event_buffers_that_take_no_key_skip_the_events(spms, keys):
    """An event buffer whose keys match none of the input's (a pattern, the string
    ``"52800"`` for the key 52800, a channel it lacks): the events are skipped and counted,
    and the stream ends (it used to retry the first event forever: rawconv-parallel took
    6 minutes over the 50 events of this file, writing nothing)."""
    from rawconv.formats.fcio.layout import TAG_SPARSEEVENT

    lib = RawBufferLibrary({"FCEventDecoder": {"ev": {"key_list": keys, "out_stream": ""}},
                            "FCStatusDecoder": {"st": {"key_list": ["*"], "out_stream": ""}}})
    streamer, rows = _streamed(spms, lib)
    assert [rb.out_name for rb in lib.all_buffers()] == ["st"]
    assert rows == 2  # the status record's two cards
    assert streamer.skipped_records == {TAG_SPARSEEVENT: 50}


def test_unknown_records_are_counted_as_skipped(tmp_path):
    """Records of a tag no decoder knows (a run outside the event path): counted per tag,
    the events around them decoded."""
    from rawconv.formats.fcio.writer import FCIOWriter

    path = tmp_path / "unknown.fcio"
    with FCIOWriter(path) as w:
        w.write_config(adcs=1, eventsamples=2)
        w.write_record(55, [b"abc"])
        w.write_record(55, [b"de"])
        w.write_event([[1, 2]], [[0, 0]])
        w.write_record(56, [])
        w.write_event([[3, 4]], [[0, 0]])
    lib = RawBufferLibrary({"FCEventDecoder": {"ev": {"key_list": ["*"], "out_stream": ""}}})
    streamer, rows = _streamed(path, lib)
    assert rows == 2
    assert streamer.skipped_records == {55: 2, 56: 1}
