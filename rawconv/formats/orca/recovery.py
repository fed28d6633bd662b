"""Damaged ORCA input: garbage rows, skipping by length, resynchronisation (formats.md 2.2).

* A record whose payload does not parse is moved whole to the garbage table
  (``GarbageCode.BAD_PAYLOAD``); decoding goes on with the next record.
* A record header with a data id the file header does not describe is skipped by its
  length when the record after it starts with a valid header (``UNKNOWN_TYPE``).
* An impossible length word, or an undescribed id not followed by a valid record, starts
  a damaged region: bytes are skipped up to the first offset (any byte alignment) where a
  chain of :data:`N_CHAIN` valid record headers starts (``BAD_LENGTH`` / ``UNKNOWN_TYPE``).
* The input ending inside a record leaves its bytes in the garbage table (``TRUNCATED``).

Each damaged region is one garbage row (its first :data:`MAX_GARBAGE_BYTES` bytes) taking
one packet id, and one line in ``problems`` saying how many bytes were skipped where.
"""

from __future__ import annotations

import logging

import numpy as np

from ...decoder import GarbageCode
from .kernels import SYNC_FOUND, SYNC_NONE, _chain_ok, read_u32, resync
from .layout import LONG_LENGTH_MASK, MAX_RECORD_WORDS

log = logging.getLogger(__name__)

N_CHAIN = 3
"""Valid record headers in a row that end a damaged region (as the reference's resync)."""
MAX_GARBAGE_BYTES = 1 << 20
MAX_PROBLEM_LINES = 20


class RecoveryMixin:
    """Garbage and resync handling of :class:`~.streamer.OrcaStreamer` (uses its block,
    source, lookup tables and packet counter)."""

    def _problem(self, msg: str) -> None:
        self.n_problems += 1
        if self.n_problems <= MAX_PROBLEM_LINES:
            log.warning("%s: %s", self.name, msg)
            self.problems.append(msg)

    def _garbage_record(self, i: int, why: str) -> None:
        """Move ORCA record `i` of the current block to the garbage table."""
        blk = self._block
        name = self._id_name(int(blk.ident[i]))
        offset = int(blk.base + blk.start[i])
        self.garbage.put_in_garbage(
            blk.record_bytes(i), int(blk.pid[i]), GarbageCode.BAD_PAYLOAD, offset=offset
        )
        self.n_garbage_records += 1
        self._problem(
            f"record {int(blk.pid[i])} ({name}, {4 * int(blk.words[i])} bytes at offset "
            f"{offset}): {why}; moved to the garbage table"
        )

    def _next_pid(self) -> int:
        self._pid_counter += 1
        return self._pid_counter

    def _garbage_region(self, start: int, stop: int, code: GarbageCode, head: np.ndarray) -> None:
        """One garbage row for the damaged bytes ``[start, stop)`` (absolute offsets)."""
        pid = self._next_pid()
        kept = head[: min(stop - start, MAX_GARBAGE_BYTES)]
        self.garbage.put_in_garbage(kept, pid, code, offset=start)
        self.bytes_skipped += stop - start
        what = {
            GarbageCode.BAD_LENGTH: "impossible record length",
            GarbageCode.UNKNOWN_TYPE: "data id not described by the header",
            GarbageCode.TRUNCATED: "input ends inside a record",
        }[code]
        after = f"after packet {pid - 1}"
        self._problem(
            f"{what}: skipped {stop - start} bytes from offset {start} to {stop} ({after})"
        )

    def _recover(self, status_code: GarbageCode) -> None:
        """Skip the damaged bytes at the start of the buffer (offset ``base``) up to the next
        valid record; leaves ``_next`` there (or at the end of the input)."""
        reader = self._reader
        start = reader.base
        if status_code == GarbageCode.UNKNOWN_TYPE and self._skip_by_length():
            return
        head = reader.buf[: min(reader.fill, MAX_GARBAGE_BYTES)].copy()
        p_from = 1
        while True:
            p, status = resync(reader.buf, p_from, reader.fill, reader.eof, self.kind_long,
                               self.kind_short, MAX_RECORD_WORDS, N_CHAIN)  # fmt: skip
            if status in (SYNC_FOUND, SYNC_NONE):
                break
            if reader.fill < len(reader.buf) and not reader.eof:
                self._read_more()
                p_from = p
                continue
            if p == 0:  # a candidate's chain needs more than the buffer: grow it
                reader.grow()
                self._read_more()
                continue
            reader.compact(p)  # bytes before p are damaged: drop them and read on
            self._read_more()
            p_from = 0
        self._garbage_region(start, reader.base + p, status_code, head)
        self.n_resyncs += 1
        self._next = p

    def _skip_by_length(self) -> bool:
        """An undescribed id at the buffer start whose length leads to a valid record:
        skip that one record. Returns False when it does not."""
        reader = self._reader
        w0 = int(read_u32(reader.buf, 0))
        words = 1 if w0 >> 31 else w0 & LONG_LENGTH_MASK
        if words == 0 and reader.fill >= 8:
            words = int(read_u32(reader.buf, 4))
        if not 0 < words <= MAX_RECORD_WORDS:
            return False
        end = 4 * words
        while end + 12 > reader.fill and not reader.eof:  # the record and the next header
            if reader.fill == len(reader.buf):
                reader.grow(len(reader.buf) + end)
            self._read_more()
        if end > reader.fill:
            return False
        ok = _chain_ok(reader.buf, end, reader.fill, reader.eof, self.kind_long,
                       self.kind_short, MAX_RECORD_WORDS, 1)  # fmt: skip
        if ok != 1:
            return False
        self._garbage_region(reader.base, reader.base + end, GarbageCode.UNKNOWN_TYPE,
                             reader.buf[:end].copy())  # fmt: skip
        self._next = end
        return True

    def _truncated_tail(self, pos: int) -> None:
        """The input ends inside the record at buffer offset `pos`: keep its bytes."""
        reader = self._reader
        self._garbage_region(reader.base + pos, reader.end, GarbageCode.TRUNCATED,
                             reader.buf[pos : reader.fill].copy())  # fmt: skip
        self._next = reader.fill

    def _undescribed_names(self) -> str:
        return ", ".join(f"{name} x{count}" for name, count in sorted(self.skipped_records.items()))
