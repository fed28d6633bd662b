"""BlockReader: hand-built cases and a property against a slow pure-Python oracle."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawconv.blockreader import NO_STOP, BlockReader
from rawconv.sources import MemorySource, Source

DATA = bytes(range(256)) * 4  # 1024 bytes, byte i == i % 256


class Trickle(Source):
    """A source that returns at most `chunk` bytes per read (a slow network stream)."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self.data, self.chunk, self.name, self.calls = data, chunk, "<trickle>", 0

    @property
    def size(self) -> int:
        return len(self.data)

    def readinto(self, start: int, out: np.ndarray | memoryview) -> int:
        self.calls += 1
        piece = self.data[start : start + min(len(out), self.chunk)]
        memoryview(out).cast("B")[: len(piece)] = piece
        return len(piece)


def held(r: BlockReader) -> bytes:
    return r.buf[: r.fill].tobytes()


# --- hand-built cases -------------------------------------------------------------------------


def test_fills_the_buffer_and_keeps_offsets():
    r = BlockReader(MemorySource(DATA), 100, start=10)
    assert r.read() == 100
    assert (r.base, r.fill, r.end, r.eof, r.n_bytes_read) == (10, 100, 110, False, 100)
    assert held(r) == DATA[10:110]
    assert r.read() == 0  # the buffer is full: nothing read, not the end
    assert not r.eof


def test_short_reads_are_read_again():
    src = Trickle(DATA, 7)
    r = BlockReader(src, 50)
    assert r.read() == 50
    assert held(r) == DATA[:50]
    assert not r.eof
    assert src.calls == 8  # 7 reads of 7 bytes, one of 1


def test_eof_when_the_input_ends():
    r = BlockReader(MemorySource(DATA[:30]), 64)
    assert r.read() == 30
    assert r.eof
    assert held(r) == DATA[:30]
    assert r.read() == 0
    assert (r.fill, r.n_bytes_read) == (30, 30)


def test_input_ending_exactly_at_the_buffer_end():
    r = BlockReader(MemorySource(DATA[:64]), 64)
    assert r.read() == 64
    assert not r.eof  # not known yet: the next read finds out
    r.compact(64)
    assert r.read() == 0
    assert r.eof
    assert (r.base, r.fill) == (64, 0)


def test_stop_inside_the_buffer():
    r = BlockReader(MemorySource(DATA), 100, start=5, stop=45)
    assert r.read() == 40
    assert r.eof
    assert held(r) == DATA[5:45]
    assert r.end == 45


def test_stop_after_several_blocks():
    r = BlockReader(MemorySource(DATA), 32, stop=80)
    seen = b""
    for _ in range(100):
        r.read()
        seen += held(r)[: r.fill]
        if r.eof:
            break
        r.compact(r.fill)
    assert seen == DATA[:80]
    assert (r.end, r.n_bytes_read) == (80, 80)


def test_stop_exactly_at_the_buffer_end_is_eof_at_once():
    r = BlockReader(MemorySource(DATA), 32, stop=32)
    assert r.read() == 32
    assert r.eof


def test_stop_beyond_the_input():
    r = BlockReader(MemorySource(DATA[:20]), 64, stop=40)
    assert r.read() == 20
    assert r.eof


def test_bytes_left_to_the_stop_or_the_end_of_the_input():
    r = BlockReader(MemorySource(DATA), 100, start=24)
    assert r.bytes_left() == 1000
    r.read()
    assert r.bytes_left() == 900
    assert BlockReader(MemorySource(DATA), 100, start=24, stop=500).bytes_left() == 476
    assert BlockReader(MemorySource(DATA[:20]), 64, stop=40).bytes_left() == 20
    unknown = Trickle(DATA, 64)
    unknown.__class__ = type("Unsized", (Trickle,), {"size": property(lambda self: None)})
    r = BlockReader(unknown, 100)
    r.read()
    assert r.bytes_left() is None
    r.seek(10, 300)
    r.read()
    assert r.bytes_left() == 300 - r.end == 290 - r.fill


def test_compaction_keeps_offsets_right():
    blk = SimpleNamespace(buf=None, base=None)
    r = BlockReader(MemorySource(DATA), 100, start=3, mirror=blk)
    assert blk.buf is r.buf
    assert blk.base == 3
    r.read()
    r.compact(37)
    assert (r.base, r.fill, blk.base) == (40, 63, 40)
    assert held(r) == DATA[40:103]
    assert r.read() == 37
    assert held(r) == DATA[40:140]
    r.compact(0)
    assert r.base == 40
    r.compact(100)
    assert (r.base, r.fill) == (140, 0)


def test_a_record_larger_than_the_buffer():
    """Length-prefixed records: a 300-byte record in a 64-byte buffer grows it."""
    bodies = [b"a" * 10, bytes(range(256)) + b"b" * 40, b"c" * 5]
    data = b"".join(struct.pack("<I", len(b)) + b for b in bodies)
    blk = SimpleNamespace(buf=None, base=None)
    r = BlockReader(MemorySource(data), 64, mirror=blk)
    got, sizes = [], []
    for _ in range(100):
        r.read()
        pos = 0
        while pos + 4 <= r.fill:
            n = int(np.frombuffer(r.buf[pos : pos + 4].tobytes(), "<u4")[0])
            if pos + 4 + n > r.fill:
                break
            got.append((r.base + pos, r.buf[pos + 4 : pos + 4 + n].tobytes()))
            pos += 4 + n
        if r.eof and pos >= r.fill:
            break
        if pos == 0 and r.fill == len(r.buf):
            r.grow()
            sizes.append(len(r.buf))
        r.compact(pos)
    assert [b for _, b in got] == bodies
    assert [o for o, _ in got] == [0, 14, 314]
    assert sizes == [128, 256, 512]
    assert blk.buf is r.buf


def test_grow_keeps_the_bytes_and_takes_a_minimum():
    r = BlockReader(MemorySource(DATA), 16, start=100)
    r.read()
    r.grow()
    assert len(r.buf) == 32
    assert held(r) == DATA[100:116]
    r.grow(100)
    assert len(r.buf) == 100
    r.read()
    assert held(r) == DATA[100:200]


def test_byte_swap_of_big_endian_words():
    words = np.arange(1, 41, dtype=">u4")
    r = BlockReader(MemorySource(words.tobytes()), 1000, swap=4)
    r.read()
    assert np.array_equal(r.buf[: r.fill].view("<u4"), np.arange(1, 41))


def test_byte_swap_across_reads_that_end_inside_a_word():
    """A 6-byte buffer ends reads inside words: each word is swapped once, when whole."""
    words = np.arange(100, 140, dtype=">u4")
    r = BlockReader(MemorySource(words.tobytes()), 6, swap=4)
    out = b""
    for _ in range(100):
        r.read()
        whole = r.fill - r.fill % 4
        out += held(r)[:whole]
        if r.eof:
            break
        r.compact(whole)
    assert np.array_equal(np.frombuffer(out, "<u4"), np.arange(100, 140))


def test_byte_swap_is_aligned_on_absolute_offsets():
    data = np.arange(10, dtype=">u2").tobytes()
    r = BlockReader(MemorySource(data), 64, start=4, swap=2)
    r.read()
    assert np.array_equal(r.buf[: r.fill].view("<u2"), np.arange(2, 10))
    r.seek(5, 13)  # an odd start: the word cut by it stays as it is
    r.read()
    assert held(r) == bytes([data[5]]) + np.arange(3, 6, dtype="<u2").tobytes() + data[12:13]


def test_byte_swap_after_compaction_inside_a_word():
    """Compaction that cuts a half-read word: later words are still swapped."""
    words = np.arange(1, 11, dtype=">u4")
    r = BlockReader(MemorySource(words.tobytes()), 10, swap=4)
    r.read()  # words 0 and 1 whole, half of word 2
    r.compact(9)  # drops words 0, 1 and a byte of word 2
    r.read()
    assert (r.base, r.fill) == (9, 10)
    assert held(r)[:3] == words.tobytes()[9:12]  # the rest of word 2, as it came
    assert held(r)[3:7] == np.array([4], "<u4").tobytes()  # word 3, swapped
    assert held(r)[7:] == words.tobytes()[16:19]  # word 4 is not whole yet


def test_seek_starts_over():
    r = BlockReader(MemorySource(DATA), 32)
    r.read()
    r.seek(500, 520)
    assert (r.base, r.fill, r.eof) == (500, 0, False)
    assert r.read() == 20
    assert held(r) == DATA[500:520]
    assert r.eof
    assert r.n_bytes_read == 52


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, "buffer size"),
        ({"size": 8, "swap": 3}, "swap word size"),
        ({"size": 8, "start": 10, "stop": 5}, "not a byte range"),
        ({"size": 8, "start": -1}, "not a byte range"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BlockReader(MemorySource(DATA), **kwargs)


def test_compact_beyond_the_buffered_bytes():
    r = BlockReader(MemorySource(DATA), 8)
    r.read()
    with pytest.raises(ValueError, match="cannot consume 9 of 8"):
        r.compact(9)
    with pytest.raises(ValueError, match="cannot consume -1"):
        r.compact(-1)


# --- property against a pure-Python oracle ------------------------------------------------------


class Oracle:
    """What BlockReader should hold, kept byte by byte in a bytearray."""

    def __init__(self, data: bytes, size: int, start: int, stop: int | None, swap: int):
        self.data, self.cap, self.swap = data, size, swap
        self.base, self.held, self.eof, self.total = start, bytearray(), False, 0
        self.stop = NO_STOP if stop is None else stop
        self.swapped: set[int] = set()

    def read(self) -> int:
        end = self.base + len(self.held)
        want = min(self.cap, self.stop - self.base) - len(self.held)
        got = b""
        if want > 0 and not self.eof:
            got = self.data[end : end + want]
            self.eof = len(got) < want
        self.held += got
        self.total += len(got)
        end = self.base + len(self.held)
        self.eof = self.eof or end >= self.stop
        if self.swap:
            w = self.swap
            first = -(-self.base // w) * w
            for a in range(first, end - w + 1, w):
                if a not in self.swapped:
                    i = a - self.base
                    self.held[i : i + w] = self.held[i : i + w][::-1]
                    self.swapped.add(a)
        return len(got)

    def compact(self, k: int) -> None:
        del self.held[:k]
        self.base += k

    def grow(self, size: int) -> None:
        self.cap = max(2 * self.cap, size)


OPS = st.lists(
    st.one_of(
        st.just(("read", 0)),
        st.tuples(st.just("compact"), st.floats(0, 1)),
        st.tuples(st.just("grow"), st.integers(0, 300)),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=600),
    size=st.integers(1, 64),
    start=st.integers(0, 40),
    span=st.one_of(st.none(), st.integers(0, 700)),
    swap=st.sampled_from([0, 2, 4, 8]),
    chunk=st.integers(1, 100),
    ops=OPS,
)
def test_matches_the_oracle(data, size, start, span, swap, chunk, ops):
    stop = None if span is None else start + span
    r = BlockReader(Trickle(data, chunk), size, start=start, stop=stop, swap=swap)
    o = Oracle(data, size, start, stop, swap)
    for op, arg in ops:
        if op == "read":
            assert r.read() == o.read()
        elif op == "compact":
            k = int(arg * r.fill)
            r.compact(k)
            o.compact(k)
        else:
            r.grow(arg)
            o.grow(arg)
        assert (r.base, r.fill, r.eof, len(r.buf)) == (o.base, len(o.held), o.eof, o.cap)
        assert held(r) == bytes(o.held)
        assert r.n_bytes_read == o.total


@settings(max_examples=60, deadline=None)
@given(
    bodies=st.lists(st.binary(max_size=120), max_size=12),
    size=st.integers(4, 48),
    chunk=st.integers(1, 64),
)
def test_a_reader_loop_sees_every_record(bodies, size, chunk):
    """A length-prefixed record walk through any buffer size gives every record at its
    offset (records larger than the buffer grow it)."""
    data = b"".join(struct.pack("<I", len(b)) + b for b in bodies)
    offsets = np.cumsum([0] + [4 + len(b) for b in bodies])[:-1].tolist()
    r = BlockReader(Trickle(data, chunk), size)
    got = []
    for _ in range(10_000):  # a bound: a reader that makes no progress fails, not hangs
        r.read()
        pos = 0
        while pos + 4 <= r.fill:
            n = struct.unpack("<I", r.buf[pos : pos + 4].tobytes())[0]
            if pos + 4 + n > r.fill:
                break
            got.append((r.base + pos, r.buf[pos + 4 : pos + 4 + n].tobytes()))
            pos += 4 + n
        if r.eof and pos >= r.fill:
            break
        assert not (r.eof and pos == 0), "a record cut by the end of the input"
        if pos == 0 and r.fill == len(r.buf):
            r.grow()
        r.compact(pos)
    assert got == list(zip(offsets, bodies))
    assert r.n_bytes_read == len(data)
