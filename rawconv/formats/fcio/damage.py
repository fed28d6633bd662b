"""What the FCIO streamer does with damaged records (issue 13): FCIO has no sync word, so a
damaged frame header ends decoding (the records before it kept, the damaged record in the
garbage table); a record whose frames do not match its tag's layout is framed correctly,
so it alone goes to the garbage table and decoding goes on."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ...decoder import GarbageCode
from ...errors import CorruptDataError
from .kernels import index_records, read_i32
from .layout import (
    CONFIG_FIELDS,
    CONFIG_FRAME_STREAMID,
    CONFIG_FRAME_TRACEMAP,
    TAG_CONFIG,
    TAG_EVENT,
    TAG_SPARSEEVENT,
    TAG_STATUS,
)

log = logging.getLogger(__name__)

__all__ = ["TAG_DAMAGED", "DamageHandling"]

TAG_DAMAGED = -2
"""Set in the record table over a record that failed to decode: it goes to the garbage."""


class DamageHandling:
    """Mixed into :class:`~.streamer.FCIOStreamer` (uses its block, reader and decoders)."""

    _block: Any
    _reader: Any
    _pending_error: Exception | None
    _damaged_at: int | None
    _damage_reasons: dict[int, str]
    _pid_counter: int

    def _index_to(self, fill: int) -> tuple[int, int]:
        block = self._block
        n, _, nxt, _, _ = index_records(
            block.buf, fill, 0, True, self._max_frame, block.tag, block.start, block.stop,
            block.frame0, block.nframes, block.frame_off, block.frame_len,
        )  # fmt: skip
        block.n = n
        return n, nxt

    def _records_before(self, spos: int, trim_last: bool = True) -> tuple[int, int]:
        """(records, end) of the block as if the input ended at `spos` (a damaged frame
        header, or the end of the input): the last record is kept when it has all its
        frames. A damaged record tag makes a record's frames look like more frames of the
        record before: that record keeps the frames its layout calls for (`trim_last`),
        and a record cut off there ends after them."""
        block = self._block
        assert block is not None
        n, nxt = self._index_to(spos)
        starts = [nxt] + ([int(block.start[n - 1])] if n > 0 and trim_last else [])
        for k, start in enumerate(starts):
            stop = spos if k == 0 else int(block.stop[n - 1])
            end = self._expected_end(start, stop) if start < stop else None
            if end is not None and end < stop:
                n, nxt = self._index_to(end)
                break
        if n > 0 and not self._complete(n - 1):
            n -= 1
            nxt = int(block.start[n])
        return n, nxt

    def _expected_end(self, start: int, stop: int) -> int | None:
        """Where the record at `start` ends after the frames its tag calls for (walking its
        frame headers up to `stop`); None when they are not all there or not known."""
        buf = self._block.buf
        if stop - start < 4:
            return None
        tag, pos, n = -int(read_i32(buf, start)), start + 4, 0
        if tag == TAG_CONFIG:
            return _config_end(buf, pos, stop)
        want = self._event_frames if tag == TAG_EVENT else None
        if tag == TAG_EVENT and not want:  # the first event of the stream sets it
            block = self._block
            firsts = np.flatnonzero(block.tag[: block.n] == TAG_EVENT)
            if firsts.size and int(block.start[firsts[0]]) < start:
                want = int(block.nframes[firsts[0]])
        count_frame = {TAG_SPARSEEVENT: (6, 7), TAG_STATUS: (3, 4)}.get(tag)
        if not want and count_frame is None:
            return None
        while pos + 4 <= stop and n < 1 << 16:
            h = int(read_i32(buf, pos))
            if h < 0 or pos + 4 + h > stop:
                return None
            n += 1
            if count_frame is not None and n == count_frame[0]:
                if h != 4:
                    return None
                want = count_frame[1] + int(read_i32(buf, pos + 4))
            pos += 4 + h
            if want and n >= want:
                return pos
        return None

    def _stop_at_damage(self) -> bool:
        """After the records before a damaged frame header: FCIO has no sync word, so
        decoding ends there; the damaged record's bytes (up to 1 MiB) go to the garbage
        table and the problem is reported. Damage before the FCIOConfig is an error."""
        block, err = self._block, self._pending_error
        assert block is not None and isinstance(err, CorruptDataError)
        if self.config is None:
            raise err
        if self._damaged_at is not None:
            start, self._damaged_at = self._damaged_at, None
            end = min(self._reader.fill, start + (1 << 20))
            msg = (f"{err.reason}; decoding ends there (FCIO has no sync word): the "
                   f"{self.source.size - block.base - start} bytes from offset "
                   f"{block.base + start} to the end are not decoded, the first "
                   f"{end - start} kept in the garbage table")  # fmt: skip
            log.warning("%s: %s", self.name, msg)
            self.problems.append(msg)
            self.garbage.put_in_garbage(block.buf[start:end], self._pid_counter + 1,
                                        GarbageCode.BAD_LENGTH,
                                        offset=int(block.base + start))  # fmt: skip
            self._next = self._reader.fill
        block.n = 0
        self._cursor = 0
        return False

    def _snapshot(self) -> tuple:
        """What a decode step changes: event state arrays, buffer fill, counters."""
        state = vars(self.event_decoder.state) if self.config is not None else {}
        arrays = {k: v.copy() for k, v in state.items() if isinstance(v, np.ndarray)}
        locs = [(rb, rb.loc) for rb in self.rb_lib.all_buffers()] if self.rb_lib else []
        return arrays, locs, self.n_rows_read, self.packet_id

    def _restore(self, saved: tuple) -> None:
        arrays, locs, self.n_rows_read, self.packet_id = saved
        for name, value in arrays.items():
            getattr(self.event_decoder.state, name)[...] = value
        for rb, loc in locs:
            rb.loc = loc

    def _garbage_record(self, i: int) -> None:
        """Put record `i` (marked :data:`TAG_DAMAGED`) in the garbage table and report it."""
        block = self._block
        assert block is not None
        start, stop = int(block.start[i]), int(block.stop[i])
        msg = (f"{self._damage_reasons.pop(i, 'damaged record')}: the record of {stop - start} "
               f"bytes at offset {block.base + start} (packet {int(block.pid[i])}) is kept in "
               "the garbage table")  # fmt: skip
        log.warning("%s: %s", self.name, msg)
        self.problems.append(msg)
        self.garbage.put_in_garbage(
            block.buf[start:stop], int(block.pid[i]), GarbageCode.BAD_PAYLOAD,
            offset=int(block.base + start),
        )  # fmt: skip
        self._cursor = i + 1
        self.packet_id = int(block.pid[i])


def _config_end(buf: np.ndarray, pos: int, stop: int) -> int | None:
    """Where an FCIOConfig whose frames start at `pos` ends after the frames that fit its
    layout (formats.md 1.3): its fields (4 bytes or more each), a tracemap of at most 4
    bytes per trace, a streamid of 4 bytes; None when its fields are not all there. (A
    damaged tag of the next record makes that record's frames look like more frames of
    the FCIOConfig: a longer streamid, or frames after it.)"""
    n, traces = 0, 0
    while pos + 4 <= stop:
        h = int(read_i32(buf, pos))
        if h < 0 or pos + 4 + h > stop:
            break
        if n < len(CONFIG_FIELDS):
            if h < 4:
                return None
            if n < 2:  # adcs, triggers
                traces += int(read_i32(buf, pos + 4))
        elif n == CONFIG_FRAME_TRACEMAP:
            if h % 4 or h > 4 * traces:
                break
        elif n != CONFIG_FRAME_STREAMID or h != 4:
            break
        n += 1
        pos += 4 + h
    return pos if n >= len(CONFIG_FIELDS) else None
