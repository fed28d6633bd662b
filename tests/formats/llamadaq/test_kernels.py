"""The walk kernel on hand-built bytes: each reason a record is refused, incomplete events,
the damaged-region search and its length limit."""

from __future__ import annotations

import numpy as np
import pytest

from rawconv.formats.llamadaq.block import ChannelTables
from rawconv.formats.llamadaq.header import parse_header
from rawconv.formats.llamadaq.layout import (
    BAD_FORMAT_BITS,
    BAD_LENGTHS,
    BAD_MARKER,
    BAD_UNKNOWN_CHANNEL,
    REC_DAMAGED,
    REC_EVENT,
    REC_TRUNCATED,
)
from rawconv.formats.llamadaq.walk_kernels import (
    CHECK_NEED,
    CHECK_OK,
    WALK_END,
    WALK_NEED_MORE,
    check_event,
    walk_events,
)
from rawconv.formats.llamadaq.writer import ChannelSpec, Event, encode_event, encode_header

SPEC = ChannelSpec(fadc=1, channel=2, format_bits=0x1, sample_length=4, avg_sample_length=2,
                   avg_mode=1)  # fmt: skip
"""2 + 7 header words, marker, averaged header, 2 raw words, 1 averaged word: 14 words."""


def tables() -> ChannelTables:
    return ChannelTables.from_header(parse_header(encode_header([SPEC]), "t"))


def event(ticks: int = 5) -> bytearray:
    ev = Event(fch=SPEC.fch, ticks=ticks, raw=np.arange(4, dtype=np.uint16),
               avg=np.array([7, 8], np.uint16))  # fmt: skip
    return bytearray(encode_event(SPEC, ev))


def check(data: bytes, p: int = 0) -> tuple[int, int]:
    buf = np.frombuffer(bytes(data), np.uint8)
    code, length = check_event(buf, len(buf), p, *tables().args())
    return int(code), int(length)


def walk(data: bytes, eof: bool = True, max_garbage: int = 1 << 20):
    buf = np.frombuffer(bytes(data), np.uint8)
    out = [np.zeros(64, np.int64) for _ in range(5)]
    k, nxt, status = walk_events(buf, len(buf), 0, eof, max_garbage, *tables().args(), *out)
    start, stop, kind, fch, why = (a[:k].tolist() for a in out)
    assert all((f == SPEC.fch) == (t == REC_EVENT) for f, t in zip(fch, kind))
    return list(zip(start, stop, kind, why)), int(nxt), int(status)


def test_event_layout():
    ev = event()
    assert len(ev) == 4 * 14 == 4 * SPEC.event_length
    assert check(ev) == (CHECK_OK, 56)
    assert check(ev[:55]) == (CHECK_NEED, 56)
    assert check(ev[:3]) == (CHECK_NEED, 0)
    ev[36:40] = (0xAC000002).to_bytes(4, "little")  # status and MAW-test flags, no MAW buffer
    assert check(ev) == (CHECK_OK, 56)  # configured: no MAW words, the flags are decoded


@pytest.mark.parametrize(
    ("offset", "value", "why"),
    [
        (0, 0x00000331, BAD_UNKNOWN_CHANNEL),  # fch 0x33: no config
        (0, 0x00000120, BAD_FORMAT_BITS),  # fch 0x12, format bits 0
        (36, 0x50000002, BAD_MARKER),  # marker nibble 5
        (36, 0xA0000003, BAD_LENGTHS),  # 3 raw words, the config says 2
        (40, 0xA0000001, BAD_MARKER),  # averaged header nibble A
        (40, 0xE0000002, BAD_LENGTHS),  # 2 averaged words, the config says 1
        (36, 0xE0000002, BAD_MARKER),  # no averaged header on an averaging channel
    ],
)
def test_each_reason(offset, value, why):
    ev = event()
    ev[offset : offset + 4] = int(value).to_bytes(4, "little")
    assert check(ev)[0] == why
    records, nxt, status = walk(ev + event(9))
    assert records == [(0, 56, REC_DAMAGED, why), (56, 112, REC_EVENT, 0)]
    assert (nxt, status) == (112, WALK_END)


def test_truncated_tail_and_need_more():
    data = event() + event()[:30]
    assert walk(data, eof=False)[1:] == (56, WALK_NEED_MORE)
    records, nxt, status = walk(data)
    assert records == [(0, 56, REC_EVENT, 0), (56, 86, REC_TRUNCATED, 0)]
    assert (nxt, status) == (86, WALK_END)


def test_search_finds_an_event_at_any_byte_and_respects_the_limit():
    data = event() + bytes(7) + event() + bytes(3)  # junk of 7 bytes, 3 trailing bytes
    records, _, _ = walk(data)
    assert records == [(0, 56, REC_EVENT, 0), (56, 63, REC_DAMAGED, BAD_UNKNOWN_CHANNEL),
                       (63, 119, REC_EVENT, 0), (119, 122, REC_TRUNCATED, 0)]  # fmt: skip
    junk = bytes(10)
    records, _, _ = walk(junk + event(), max_garbage=4)
    bad = [(a, b, REC_DAMAGED, BAD_UNKNOWN_CHANNEL) for a, b in ((0, 4), (4, 8), (8, 10))]
    assert records == [*bad, (10, 66, REC_EVENT, 0)]
    # not at the end of the input: a region waits until the next event is seen
    assert walk(junk + event()[:20], eof=False, max_garbage=64)[1:] == (0, WALK_NEED_MORE)
