"""Damaged FCIO input: truncation keeps every complete record; corruption names file and offset."""

from __future__ import annotations

import struct

import h5py
import numpy as np
import pytest

from rawconv import CorruptDataError, RawBufferLibrary, build_raw
from rawconv.formats.fcio.streamer import FCIOStreamer
from rawconv.sources import MemorySource


def record_starts(data: bytes) -> list[tuple[int, int]]:
    """(offset, tag) of every record, walking the frame headers."""
    out, pos = [], 0
    while pos + 4 <= len(data):
        (h,) = struct.unpack_from("<i", data, pos)
        if h == -1000000001:
            pos += 68
        elif h < 0:
            out.append((pos, -h))
            pos += 4
        else:
            pos += 4 + h
    return out


def decode_rows(data: bytes, name: str = "cut.fcio") -> tuple[int, list[str], np.ndarray]:
    """FCEvent rows decoded from `data` (nothing written), the problems met, the packet ids."""
    streamer = FCIOStreamer(block_bytes=1 << 14)
    lib = RawBufferLibrary({"FCEventDecoder": {"ev": {"key_list": ["*"], "out_stream": ""}}})
    streamer.open_stream(MemorySource(data, name=name), rb_lib=lib, buffer_size=64)
    rows, pids = 0, []
    for chunk in streamer:
        for rb in chunk:
            pids.append(rb.table["packet_id"].nda[: rb.loc].copy())
            rows += rb.loc
    return rows, streamer.problems, np.concatenate(pids) if pids else np.zeros(0)


def cut_positions(data: bytes, last: int) -> list[int]:
    """Cuts inside the last `last` records: every frame boundary +-2 bytes and 60 random bytes."""
    starts = [s for s, _ in record_starts(data)][-last:]
    cuts, pos = set(), starts[0]
    while pos < len(data):
        (h,) = struct.unpack_from("<i", data, pos)
        step = 4 if h < 0 else 4 + h
        cuts.update(
            p
            for p in (pos - 2, pos - 1, pos + 1, pos + 2, pos + 3, pos + 5)
            if starts[0] < p < len(data)
        )
        pos += step
    rng = np.random.default_rng(1)
    cuts.update(int(c) for c in rng.integers(starts[0] + 1, len(data), 60))
    return sorted(cuts)


def test_truncation_inside_last_three_records(th228):
    data = th228.read_bytes()
    starts = [s for s, t in record_starts(data) if t == 3]
    full_rows, problems, _ = decode_rows(data)
    assert (full_rows, problems) == (1000, [])
    for cut in cut_positions(data, 3):
        complete = sum(1 for s in starts if s < cut) - 1  # the record the cut falls in is lost
        rows, problems, pids = decode_rows(data[:cut])
        assert rows == complete, cut
        assert pids.tolist() == list(range(1, complete + 1)), cut
        cut_record = max(s for s in starts if s < cut)
        assert len(problems) == 1, cut
        assert f"offset {cut_record} ignored" in problems[0], (cut, problems)


def test_truncated_file_converts_and_reports(th228, tmp_path):
    data = th228.read_bytes()
    starts = [s for s, t in record_starts(data) if t == 3]
    src = tmp_path / "cut.fcio"
    src.write_bytes(data[: starts[-2] + 100])
    report = build_raw(str(src))
    assert report.tables[f"{tmp_path / 'cut.lh5'}:/FCEvent"] == 998
    assert report.problems == [
        "input ends inside a record: 100 bytes of an incomplete FCIOEvent at offset "
        f"{starts[-2]} ignored"
    ]
    with h5py.File(tmp_path / "cut.lh5", "r") as f:
        assert f["garbage/offset"][()].tolist() == [starts[-2]]
        assert f["garbage/code"][()].tolist() == [3]
        assert f["garbage/packet/cumulative_length"][()].tolist() == [100]
        assert f["FCEvent/packet_id"][-1] == 998


def test_corrupted_frame_length_names_file_and_offset(th228):
    data = bytearray(th228.read_bytes())
    starts = [s for s, t in record_starts(bytes(data)) if t == 3]
    victim = starts[500]
    # the trace frame of an event is its 5th frame; its length word follows 4 small frames
    pos = victim + 4
    for _ in range(4):
        (h,) = struct.unpack_from("<i", data, pos)
        pos += 4 + h
    struct.pack_into("<i", data, pos, 0x7FFFFFF0)
    # FCIO has no sync word: decoding ends at the damaged record, every record before it is
    # kept and the damage is reported with its offsets
    rows, problems, pids = decode_rows(bytes(data), name="bad.fcio")
    assert rows == 500
    assert pids.tolist() == list(range(1, 501))
    assert len(problems) == 1
    assert problems[0].startswith(
        "frame length larger than any frame of this configuration: a frame header reads "
        f"{0x7FFFFFF0} at offset {pos}, inside the record that starts at offset {victim}; "
        "decoding ends there"
    )
    assert f"the {len(data) - victim} bytes from offset {victim} to the end" in problems[0]


def test_damaged_frame_header_keeps_records_and_fills_garbage(th228, tmp_path):
    data = bytearray(th228.read_bytes())
    starts = [s for s, t in record_starts(bytes(data)) if t == 3]
    victim = starts[20]
    struct.pack_into("<i", data, victim, -(2**31))  # the tag word of event 21
    src = tmp_path / "bad.fcio"
    src.write_bytes(bytes(data))
    report = build_raw(str(src))
    assert report.tables[f"{tmp_path / 'bad.lh5'}:/FCEvent"] == 20  # event 20 has all frames
    assert report.garbage_rows == 1
    with h5py.File(tmp_path / "bad.lh5", "r") as f:
        assert f["garbage/offset"][()].tolist() == [victim]
        assert f["garbage/code"][()].tolist() == [1]
        assert f["garbage/packet_id"][()].tolist() == [21]
        assert f["garbage/packet/cumulative_length"][()].tolist() == [1 << 20]


def test_damage_before_the_config_is_an_error(th228):
    data = bytearray(th228.read_bytes()[:20000])
    struct.pack_into("<i", data, 72, -(2**31))  # inside the FCIOConfig record
    with pytest.raises(CorruptDataError) as err:
        decode_rows(bytes(data), name="bad.fcio")
    assert err.value.path == "bad.fcio"
    assert "a frame header reads -2147483648 at offset 72" in str(err.value)


def test_corrupted_record_layout_goes_to_garbage(th228):
    data = bytearray(th228.read_bytes())
    starts = [s for s, t in record_starts(bytes(data)) if t == 3]
    victim = starts[10]
    # shorten the timestamp frame (4th frame) by 2 bytes: the walk stays in step but the
    # frame no longer holds whole int32 values
    pos = victim + 4
    for _ in range(3):
        (h,) = struct.unpack_from("<i", data, pos)
        pos += 4 + h
    (h,) = struct.unpack_from("<i", data, pos)
    del data[pos + 4 + h - 2 : pos + 4 + h]
    struct.pack_into("<i", data, pos, h - 2)
    # the record's framing is intact: it alone goes to the garbage table, decoding goes on
    rows, problems, pids = decode_rows(bytes(data), name="bad.fcio")
    assert rows == 999
    assert pids.tolist() == [*range(1, 11), *range(12, 1001)]
    assert problems == [
        "record frames do not match the layout of its tag and configuration: the record of "
        f"{starts[11] - victim - 2} bytes at offset {victim} (packet 11) is kept in the "
        "garbage table"
    ]


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_after_a_valid_header(th228, seed):
    """Garbage after a valid start: a clear error or a report, never a crash or a hang."""
    data = th228.read_bytes()[:20000]
    rng = np.random.default_rng(seed)
    junk = data + rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    try:
        rows, problems, _ = decode_rows(junk)
    except CorruptDataError as exc:
        assert exc.path == "cut.fcio"
        assert exc.offset is not None
    else:
        assert rows >= 5
        assert problems


def test_record_tag_overwritten_by_a_frame_length_keeps_the_record_before(th228):
    """A tag word that reads as a small frame length makes the rest of the input frames of
    the record before (out of step): that record keeps the frames an event has, the rest
    goes to the garbage table."""
    data = bytearray(th228.read_bytes()[:200_000])
    starts = [s for s, t in record_starts(bytes(data)) if t == 3]
    victim = starts[4]  # event 5
    struct.pack_into("<i", data, victim, 1)
    rows, problems, pids = decode_rows(bytes(data), name="bad.fcio")
    assert rows == 4
    assert pids.tolist() == [1, 2, 3, 4]
    assert len(problems) == 1
    assert problems[0].startswith(
        "frame length larger than any frame of this configuration: a frame header reads "
        f"16777216 at offset {victim + 5}, inside the record that starts at offset {victim}; "
        f"decoding ends there (FCIO has no sync word): the {len(data) - victim} bytes from "
        f"offset {victim} to the end are not decoded"
    )


def _datasets(path, group: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f[group].visititems(
            lambda name, obj: out.update({name: obj[()]}) if isinstance(obj, h5py.Dataset) else None
        )
    return out


def test_damaged_tag_after_the_config_leaves_the_config_as_it_is(spms, tmp_path):
    """The tag word of the record after the FCIOConfig (which has no streamid) turned into
    a frame length, 1000 more: that record reads as a 994-byte streamid frame of the
    FCIOConfig, and decoding meets a bad frame header further on. The FCIOConfig keeps the
    frames its layout calls for (a streamid has 4 bytes), as in the undamaged input, and
    the rest goes to the garbage table (tests/fuzz/corpus/FCIO/3-337.json)."""
    data = bytearray(spms.read_bytes()[:200_000])
    starts = record_starts(bytes(data))
    assert starts[0][1] == 1
    victim = starts[1][0]
    (tag,) = struct.unpack_from("<i", data, victim)
    struct.pack_into("<i", data, victim, tag + 1000)
    (tmp_path / "good.fcio").write_bytes(bytes(data[:victim]))
    (tmp_path / "bad.fcio").write_bytes(bytes(data))
    build_raw(str(tmp_path / "good.fcio"))
    report = build_raw(str(tmp_path / "bad.fcio"))
    good = _datasets(tmp_path / "good.lh5", "FCConfig")
    bad = _datasets(tmp_path / "bad.lh5", "FCConfig")
    assert sorted(bad) == sorted(good) and "streamid" in good
    for name, values in good.items():
        assert np.array_equal(bad[name], values), name
    assert report.garbage_rows == 1
    with h5py.File(tmp_path / "bad.lh5", "r") as f:
        assert f["garbage/offset"][()].tolist() == [victim]
    assert f"inside the record that starts at offset {victim};" in report.problems[0]
