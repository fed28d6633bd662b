"""CompassStreamer: reads CAEN CoMPASS ``.BIN`` files block by block (formats.md, section 3).

At open, the first bytes of the file (:data:`PROBE_BYTES`, more for huge events) give the
event layout (:func:`~.header.find_layout`) and the keys of the first events; the optional
settings XML (``compass_config_file``) gives the header table, the enabled channels and
the sampling period. Then blocks of events are read, tabled by
:func:`~.kernels.index_events` and decoded in one kernel call per run of events.

Packet ids count events from 1 (as the reference converter's). Damage: an event whose
sample count differs from the file's (a corrupted length word) and the bytes up to the
next chain of valid events go to the garbage table as one row (one packet id), with a
warning, and decoding goes on there; an event cut by the end of the input goes to the
garbage table too.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ...buffers import RawBuffer, RawBufferLibrary
from ...decoder import DataDecoder, GarbageCode
from ...errors import CorruptDataError, RawconvError
from ...routing import DecoderRoute
from ...sources import Source
from ...streamer import DataStreamer
from ..base import ResumeState
from .config import DEFAULT_DT_NS, CompassConfig, read_config
from .decoders import CompassBlock, CompassEventDecoder
from .header import CompassHeaderDecoder, find_layout
from .kernels import (
    INDEX_BAD_LENGTH,
    INDEX_NEED_MORE,
    RESYNC_NEED_MORE,
    index_events,
    read_u32,
    resync,
)
from .layout import MAX_BOARD, MAX_CHANNEL, MAX_SAMPLES, EventLayout, event_key, is_header
from .resume_state import CompassResume

log = logging.getLogger(__name__)

__all__ = ["CompassStreamer"]

BLOCK_BYTES = 16 << 20
MAX_EVENTS = 1 << 16
PROBE_BYTES = 1 << 20
"""Bytes read at open to find the layout and the first events' keys (doubled, up to
:data:`MAX_PROBE_BYTES`, while they hold no complete event)."""
MAX_PROBE_BYTES = 1 << 26
NO_STOP = 2**62
RESYNC_CHAIN = 3
"""Valid events in a row that end a damaged region."""
MAX_RESYNC_BYTES = 1 << 28
"""Damaged bytes after which a conversion gives up (no valid event follows)."""


class CompassStreamer(DataStreamer):
    """Decodes CoMPASS files into ``CompassHeader`` and ``CompassEvent``.

    Parameters
    ----------
    compass_config_file
        the run's CoMPASS settings XML (optional; ``build_raw(compass_config_file=...)``,
        ``rawconv --compass-config``).
    block_bytes
        bytes read per block.
    """

    def __init__(self, compass_config_file: Any = None, block_bytes: int = BLOCK_BYTES) -> None:
        super().__init__()
        self.compass_config_file = compass_config_file
        self.block_bytes = int(block_bytes)
        self.config: CompassConfig | None = None
        self.layout: EventLayout | None = None
        self.wf_len = 0
        self.first_keys: list[int] = []
        """Keys of the events in the first bytes (tables get them beside the settings')."""
        self.header_decoder = CompassHeaderDecoder()
        self.event_decoder = CompassEventDecoder()
        self.skipped_events = 0
        self._route: DecoderRoute | None = None

    def get_decoder_list(self) -> list[DataDecoder]:
        return [self.header_decoder, self.event_decoder]

    # --- opening ----------------------------------------------------------------------------

    def open_stream(
        self,
        stream_name: Any,
        rb_lib: RawBufferLibrary | None = None,
        buffer_size: int = 8192,
        chunk_mode: str = "any_full",
        out_stream: str = "",
        resume: ResumeState | None = None,
    ) -> list[RawBuffer]:
        """Open a CoMPASS input, find its event layout and allocate the buffers.

        With a :class:`~.index.CompassResume`, decode only the events of its byte range,
        with the layout, sample count and keys it carries (no header rows); a plain
        :class:`~rawconv.formats.base.ResumeState` ends the input at its ``stop``.
        """
        if resume is not None and not resume.at_beginning and not isinstance(resume, CompassResume):
            raise TypeError(f"a CoMPASS stream resumes from a CompassResume, not {resume!r}")
        source = self._open_source(stream_name)
        if self.compass_config_file is not None and self.config is None:
            self.config = read_config(self.compass_config_file)
        if isinstance(resume, CompassResume):
            layout = EventLayout(resume.flags, resume.wave_fields, resume.header)
            wf_len, first_keys = resume.wf_len, list(resume.keys)
        else:
            layout, wf_len, first_keys = self._probe(source)
        self.layout, self.wf_len, self.first_keys = layout, wf_len, first_keys
        self._setup_decoders(first_keys)
        self._init_buffers(rb_lib, buffer_size, chunk_mode, out_stream,
                           header_decoders=(self.header_decoder.name,))  # fmt: skip
        events = self.rb_lib.get(self.event_decoder.name)
        self._route = DecoderRoute(self.event_decoder, events) if events else None
        start = layout.data_start
        stop = NO_STOP if resume is None else resume.stop
        self._pid_counter = 0
        if isinstance(resume, CompassResume):
            start, self._pid_counter = resume.start, resume.pid_counter
            for rb in self.header_rbs:
                rb.loc = 0
        else:
            for rb in self.header_rbs:
                rb.loc = 1
        self.n_bytes_read = start if start == layout.data_start else 0
        self._block = CompassBlock(source.name, np.empty(self.block_bytes, np.uint8),
                                   np.zeros(MAX_EVENTS, np.int64), np.zeros(MAX_EVENTS, np.int64),
                                   base=start)  # fmt: skip
        self._fill = self._next = self._cursor = 0
        self._stop = min(stop, source.size) if source.size is not None else stop
        self._source_eof = False
        self._damaged: int | None = None
        self._scan = 0
        self.skipped_events = 0
        return self.header_rbs

    def _probe(self, source: Source) -> tuple[EventLayout, int, list[int]]:
        """Layout, samples per event and keys of the events in the first bytes."""
        size = source.size if source.size is not None else NO_STOP
        nbytes = PROBE_BYTES
        while True:
            head = np.frombuffer(source.read(0, nbytes), np.uint8)
            eof = len(head) < nbytes or len(head) >= size
            found = find_layout(head, len(head), eof)
            if found is not None or eof or nbytes >= MAX_PROBE_BYTES:
                break
            nbytes *= 2
        if len(head) == 0:
            raise RawconvError("the input is empty", path=source.name, offset=0)
        if found is None:
            found = self._header_layout(head, source)
        layout, wf_len = found
        starts = np.zeros(MAX_EVENTS, np.int64)
        n, _, _ = index_events(head, layout.data_start, len(head), layout.head,
                               layout.off_nsamples, wf_len, starts, MAX_EVENTS)  # fmt: skip
        s = starts[:n]
        boards = head[s].astype(np.int64) | (head[s + 1].astype(np.int64) << 8)
        chans = head[s + 2].astype(np.int64) | (head[s + 3].astype(np.int64) << 8)
        keys = sorted({event_key(b, c) for b, c in zip(boards.tolist(), chans.tolist())})
        log.debug("%s: %s, %d samples", source.name, layout.describe(), wf_len)
        return layout, wf_len, keys

    @staticmethod
    def _header_layout(head: np.ndarray, source: Source) -> tuple[EventLayout, int]:
        """The layout the header word gives when no event parses (damaged first event or
        an input cut inside it): decoding then reports the damage where it is."""
        if len(head) < 2 or not is_header(int(head[0]) | (int(head[1]) << 8)):
            raise RawconvError(
                "not a CoMPASS list-mode file: no 0xCAEx header and no layout of board, "
                f"channel, timestamp, energy and sample fields explains the first bytes "
                f"({bytes(head[:16]).hex(' ')})", path=source.name, offset=0,
            )  # fmt: skip
        layout = EventLayout(int(head[0]) & 0xF, True, True)
        o = layout.data_start + layout.off_nsamples
        wf_len = int(read_u32(head, o)) if len(head) >= o + 4 else 0
        if wf_len > MAX_SAMPLES:
            raise CorruptDataError(
                f"the first event's sample count {wf_len} is impossible (damaged length word)",
                path=source.name, offset=layout.data_start, record=1,
            )  # fmt: skip
        return layout, wf_len

    def _setup_decoders(self, first_keys: list[int]) -> None:
        config = self.config
        if config is not None:
            keys = config.keys()
            dts = [b.dt for b in config.boards]
            for b, board in enumerate(config.boards):
                if board.wf_len != self.wf_len and self.wf_len:
                    log.warning("%s: board %d settings give %g samples per waveform, the "
                                "events have %d (the events are taken)", self.name, b,
                                board.wf_len, self.wf_len)  # fmt: skip
        else:
            keys = [event_key(b, c) for b in range(2) for c in range(8)]  # as the reference
            dts = []
        keys = sorted(set(keys) | set(first_keys))
        self.header_decoder.set_header(self.layout, self.wf_len, config)
        self.event_decoder.set_layout(self.layout, self.wf_len, keys, dts, DEFAULT_DT_NS)

    # --- reading ----------------------------------------------------------------------------

    def _load(self) -> bool:
        """Read and table the next events (the block read loop); False when none are left.

        After an event with a foreign sample count (a damaged length word), the bytes up to
        the next chain of :data:`RESYNC_CHAIN` valid events (or the end) become one garbage
        row, which takes one packet id, and reading goes on there.
        """
        blk, layout = self._block, self.layout
        if self._source_eof and self._next >= self._fill:
            return False
        self._shift(self._next)
        while True:
            if not self._source_eof:
                if self._fill == len(blk.buf):  # an event (or damage) larger than a block
                    if self._damaged is not None and self._fill >= MAX_RESYNC_BYTES:
                        raise self._no_resync()
                    grown = np.empty(2 * len(blk.buf), np.uint8)
                    grown[: self._fill] = blk.buf[: self._fill]
                    blk.buf = grown
                room = min(len(blk.buf), self._stop - blk.base) - self._fill
                got = self.source.readinto(blk.base + self._fill,
                                           blk.buf[self._fill : self._fill + max(room, 0)])
                self.n_bytes_read += got
                self._fill += got
                self._source_eof = got < room or blk.base + self._fill >= self._stop
            if self._damaged is not None:
                q, found = resync(blk.buf, self._scan, self._fill, self._source_eof,
                                  layout.head, layout.off_nsamples, self.wf_len, RESYNC_CHAIN,
                                  MAX_BOARD, MAX_CHANNEL)  # fmt: skip
                if found == RESYNC_NEED_MORE:
                    self._scan = q - 1
                    continue
                self._skip_damage(q)
            n, nxt, status = index_events(blk.buf, 0, self._fill, layout.head,
                                          layout.off_nsamples, self.wf_len, blk.starts,
                                          MAX_EVENTS)  # fmt: skip
            if status == INDEX_BAD_LENGTH and n == 0:
                self._damaged, self._scan = int(read_u32(blk.buf, layout.off_nsamples)), 0
                continue
            if status == INDEX_NEED_MORE and n == 0 and not self._source_eof:
                continue
            break
        blk.n, self._next = n, nxt
        blk.pid[:n] = np.arange(self._pid_counter + 1, self._pid_counter + 1 + n)
        self._pid_counter += n
        if status == INDEX_BAD_LENGTH:  # handled at the next load, once these are decoded
            self._damaged = int(read_u32(blk.buf, nxt + layout.off_nsamples))
            self._scan = 0
        elif status == INDEX_NEED_MORE and self._source_eof:
            self._truncated(nxt)
        return n > 0

    def _shift(self, offset: int) -> None:
        """Drop the bytes before `offset` of the block."""
        blk = self._block
        keep = self._fill - offset
        blk.buf[:keep] = blk.buf[offset : self._fill]
        blk.base += offset
        self._fill, self._next, self._cursor, blk.n = keep, 0, 0, 0

    def _skip_damage(self, q: int) -> None:
        """Bytes ``[0, q)`` of the block (a damaged event) -> one garbage row."""
        blk = self._block
        msg = (f"event at offset {blk.base} has sample count {self._damaged}, not the "
               f"file's {self.wf_len} (damaged length word): {q} bytes up to the next valid "
               "event kept in the garbage table")  # fmt: skip
        log.warning("%s: %s", self.name, msg)
        self.problems.append(msg)
        self._pid_counter += 1
        self.garbage.put_in_garbage(blk.buf[:q], self._pid_counter, GarbageCode.BAD_LENGTH,
                                    offset=int(blk.base))  # fmt: skip
        self._damaged = None
        self._shift(q)

    def _no_resync(self) -> CorruptDataError:
        blk = self._block
        return CorruptDataError(
            f"event sample count {self._damaged} differs from the file's {self.wf_len} and no "
            f"valid event follows within {self._fill} bytes (a change of record length "
            "within the file?)", path=self.name, offset=int(blk.base),
            record=self._pid_counter + 1, decoder=self.event_decoder.name,
        )  # fmt: skip

    def _truncated(self, nxt: int) -> None:
        """At the end of the input: keep the bytes of a cut event as a garbage row."""
        blk = self._block
        cut = blk.buf[nxt : self._fill]
        msg = (f"input ends inside an event: {len(cut)} bytes of an incomplete event at "
               f"offset {blk.base + nxt} kept in the garbage table")  # fmt: skip
        log.warning("%s: %s", self.name, msg)
        self.problems.append(msg)
        self.garbage.put_in_garbage(cut, self._pid_counter + 1, GarbageCode.TRUNCATED,
                                    offset=int(blk.base + nxt))  # fmt: skip
        self._next = self._fill

    def _decode_step(self, single: bool) -> bool:
        blk = self._block
        if self._cursor >= blk.n and not self._load():
            return False
        i = self._cursor
        last = i + 1 if single else blk.n
        if last <= i:
            return True
        if self._route is None:
            self.skipped_events += last - i
            self._cursor = last
            return True
        done, rows = self._route.decode_records(blk, i, last, self.rows_left())
        self.n_rows_read += rows
        if done == 0 and self._route.capacity_records() > 0:
            raise RawconvError("a CompassEvent needs more rows than its buffer holds",
                               **blk.where(i, self.event_decoder.name))  # fmt: skip
        self._cursor = i + done
        if done:
            self.packet_id = int(blk.pid[i + done - 1])
        return True
