"""Blocks of LlamaDAQ events in memory, and the one loop that reads them from a Source.

:class:`EventBlock` holds the bytes and the record tables the walk kernel fills;
:class:`BlockReader` reads an input (from a record boundary up to a stop offset) block by
block: the streamer decodes its blocks, the index keeps only their record tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...sources import Source
from .header import LlamaHeader
from .layout import MAX_CHANNELS, MAX_GARBAGE_BYTES, header_words
from .walk_kernels import WALK_END, WALK_NEED_MORE, assign_packet_ids, walk_events

__all__ = ["BLOCK_BYTES", "BlockReader", "ChannelTables", "EventBlock"]

BLOCK_BYTES = 16 << 20
MAX_RECORDS = 1 << 16


@dataclass
class ChannelTables:
    """Per-fch lookup tables of the walk kernel (see :mod:`.walk_kernels`)."""

    length_of: np.ndarray
    fmt_of: np.ndarray
    hdr_of: np.ndarray
    raw_of: np.ndarray
    avg_of: np.ndarray
    maw_of: np.ndarray

    @classmethod
    def from_header(cls, header: LlamaHeader) -> ChannelTables:
        t = cls(*(np.zeros(MAX_CHANNELS, np.int64) for _ in range(6)))
        t.avg_of[:] = -1
        for c in header.channels:
            t.length_of[c.fch] = 4 * c.event_length
            t.fmt_of[c.fch] = c.format_bits
            t.hdr_of[c.fch] = header_words(c.format_bits)
            t.raw_of[c.fch] = c.sample_length // 2
            t.avg_of[c.fch] = c.avg_sample_length // 2 if c.presummed else -1
            t.maw_of[c.fch] = c.maw_buffer_length
        return t

    def args(self) -> tuple[np.ndarray, ...]:
        return (self.length_of, self.fmt_of, self.hdr_of, self.raw_of, self.avg_of,
                self.maw_of)  # fmt: skip

    @property
    def max_event_bytes(self) -> int:
        return int(self.length_of.max())


@dataclass
class EventBlock:
    """Records ``[0, n)`` found in ``buf`` (offsets relative to ``buf``; ``base`` is the
    input offset of ``buf[0]``): byte range, kind (layout.REC_*), fch id, reason of damaged
    regions (layout.BAD_*) and packet id (-1 for damaged / truncated records)."""

    path: str
    buf: np.ndarray
    base: int = 0
    n: int = 0
    start: np.ndarray = field(default_factory=lambda: np.zeros(MAX_RECORDS, np.int64))
    stop: np.ndarray = field(default_factory=lambda: np.zeros(MAX_RECORDS, np.int64))
    kind: np.ndarray = field(default_factory=lambda: np.zeros(MAX_RECORDS, np.int64))
    fch: np.ndarray = field(default_factory=lambda: np.zeros(MAX_RECORDS, np.int64))
    why: np.ndarray = field(default_factory=lambda: np.zeros(MAX_RECORDS, np.int64))
    pid: np.ndarray = field(default_factory=lambda: np.zeros(MAX_RECORDS, np.int64))

    def where(self, i: int, decoder: str | None = None) -> dict:
        """Keyword arguments locating record `i` for an error."""
        pid = int(self.pid[i])
        return {"path": self.path, "offset": int(self.base + self.start[i]),
                "record": pid if pid >= 0 else None, "decoder": decoder}  # fmt: skip

    def record_bytes(self, i: int) -> np.ndarray:
        return self.buf[int(self.start[i]) : int(self.stop[i])]


class BlockReader:
    """Reads an input's events block by block, from byte `start` (a record boundary) up to
    `stop` (a record boundary, or the end of the input).

    Parameters
    ----------
    source
        the input.
    tables
        the channel tables of its header.
    start, stop
        byte range to walk.
    pid_counter
        packet id of the event before `start` (0 at the first event of the input).
    block_bytes
        bytes read at a time (grown when one event or damaged region needs more).
    max_garbage
        longest garbage row (layout.MAX_GARBAGE_BYTES).
    """

    def __init__(self, source: Source, tables: ChannelTables, start: int, stop: int,
                 pid_counter: int = 0, block_bytes: int = BLOCK_BYTES,
                 max_garbage: int = MAX_GARBAGE_BYTES) -> None:  # fmt: skip
        self.source = source
        self.tables = tables
        self.stop = stop
        self.max_garbage = max_garbage
        size = max(block_bytes, 2 * (tables.max_event_bytes + max_garbage + 64))
        self.block = EventBlock(path=source.name, buf=np.empty(size, np.uint8), base=start)
        self.pid_counter = pid_counter
        self.bytes_read = 0
        self._fill = 0
        self._next = 0
        self._eof = False

    def load(self) -> bool:
        """Walk the next block of records (``self.block``); False when none are left."""
        blk = self.block
        if self._eof and self._next >= self._fill:
            blk.n = 0
            return False
        keep = self._fill - self._next
        blk.buf[:keep] = blk.buf[self._next : self._fill]
        blk.base += self._next
        self._fill, self._next = keep, 0
        while True:
            if not self._eof and self._fill < len(blk.buf):
                room = min(len(blk.buf), self.stop - blk.base) - self._fill
                got = self.source.readinto(blk.base + self._fill,
                                           blk.buf[self._fill : self._fill + room])  # fmt: skip
                self.bytes_read += got
                self._fill += got
                self._eof = got < room or blk.base + self._fill >= self.stop
            n, nxt, status = walk_events(
                blk.buf, self._fill, 0, self._eof, self.max_garbage, *self.tables.args(),
                blk.start, blk.stop, blk.kind, blk.fch, blk.why,
            )  # fmt: skip
            if status == WALK_NEED_MORE and n == 0:
                if self._fill == len(blk.buf):
                    blk.buf = np.concatenate([blk.buf, np.empty(len(blk.buf), np.uint8)])
                continue
            break
        blk.n = n
        self._next = nxt if status != WALK_END else self._fill
        self.pid_counter = assign_packet_ids(blk.kind, n, self.pid_counter, blk.pid)
        return n > 0
