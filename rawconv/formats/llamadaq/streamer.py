"""LLAMAStreamer: reads llamaDAQ (Struck SIS3316) files block by block (formats.md, section 4).

The header gives each channel's event length; :class:`~.block.BlockReader` reads large
blocks and walks them into record tables (events, damaged regions, a truncated tail), and
each table layout's events of a run of records are decoded in one kernel call and routed
to their buffers with :class:`~rawconv.routing.DecoderRoute`. Packet ids count events
from 1. Damaged regions and a truncated tail become garbage rows (with the packet id the
next event gets) and a problem report; decoding goes on at the next event that checks out.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ...buffers import RawBuffer, RawBufferLibrary, RawBufferList
from ...decoder import DataDecoder, GarbageCode
from ...errors import OutSpecError
from ...outspec import decoder_short_name
from ...routing import DecoderRoute
from ...streamer import DataStreamer
from ..base import ResumeState
from .block import BLOCK_BYTES, BlockReader, ChannelTables, EventBlock
from .decoders import LLAMAEventDecoder
from .header import LlamaHeader, LLAMAHeaderDecoder, header_size, parse_header, run_start_from_name
from .index import LlamaResume
from .layout import (
    BAD_LENGTHS,
    BAD_REASONS,
    BAD_UNKNOWN_CHANNEL,
    MAX_CHANNELS,
    MAX_GARBAGE_BYTES,
    REC_DAMAGED,
    REC_EVENT,
)

log = logging.getLogger(__name__)

__all__ = ["LLAMAStreamer"]

BUFFER_MEMORY = 32 << 20
"""Bytes the event buffers may use together: llamaDAQ rows are large (tens of kB of
samples), so a few hundred rows per buffer already make large HDF5 appends; the rest of
the default 128 MiB would only add to the peak memory."""

_GARBAGE_CODE = {BAD_UNKNOWN_CHANNEL: GarbageCode.UNKNOWN_TYPE, BAD_LENGTHS: GarbageCode.BAD_LENGTH}


class LLAMAStreamer(DataStreamer):
    """Decodes llamaDAQ files into an ``LLAMAHeader`` struct and ``LLAMAEvent`` tables."""

    def __init__(self, block_bytes: int = BLOCK_BYTES,
                 max_garbage: int = MAX_GARBAGE_BYTES) -> None:  # fmt: skip
        super().__init__()
        self.block_bytes = block_bytes
        self.max_garbage = max_garbage
        self.buffer_memory = BUFFER_MEMORY
        self.header_decoder = LLAMAHeaderDecoder()
        self.event_decoder = LLAMAEventDecoder()
        self.header: LlamaHeader | None = None
        self._reader: BlockReader | None = None
        self._routes: list[tuple[Any, DecoderRoute]] = []
        self._routed = np.zeros(MAX_CHANNELS, dtype=bool)
        self._header_bytes_read = 0
        self._cursor = 0
        self._pid_block = 0

    def get_decoder_list(self) -> list[DataDecoder]:
        return [self.header_decoder, self.event_decoder]

    def build_default_rb_lib(self, out_stream: str = "") -> RawBufferLibrary:
        """The reference's default buffers: ``LLAMAHeader``, and ``LLAMAEvent`` (one key
        list), else ``LLAMAEvent_<fch>`` per single-channel list and ``LLAMAEvent_<i>`` per
        list of several channels (``LLAMAEvent_grp<i>`` where ``_<i>`` is a channel's
        name: the reference writes both tables into one there)."""
        lib = RawBufferLibrary()
        lib[self.header_decoder.name] = RawBufferList(
            [RawBuffer(key_list=[None], out_stream=out_stream, out_name="LLAMAHeader")]
        )
        short = decoder_short_name(self.event_decoder.name)
        lists = [kl for kl in self.event_decoder.get_key_lists() if kl]
        singles = {f"{short}_{kl[0]}" for kl in lists if len(kl) == 1}
        rbl = RawBufferList()
        for i, kl in enumerate(lists):
            name = short
            if len(lists) > 1:
                name = f"{short}_{kl[0]}" if len(kl) == 1 else f"{short}_{i}"
                if len(kl) > 1 and name in singles:
                    name = f"{short}_grp{i}"
            rbl.append(RawBuffer(key_list=list(kl), out_stream=out_stream, out_name=name))
        lib[self.event_decoder.name] = rbl
        return lib

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
        """Open a llamaDAQ input, read its header and allocate the buffers.

        With a :class:`~.index.LlamaResume` as `resume`, decode only the events in its byte
        range (no header row); a plain :class:`~rawconv.formats.base.ResumeState` ends the
        input at its ``stop``.
        """
        if resume is not None and not resume.at_beginning and not isinstance(resume, LlamaResume):
            raise TypeError(f"a LlamaDAQ stream resumes from a LlamaResume, not {resume!r}")
        source = self._open_source(stream_name)
        if isinstance(resume, LlamaResume):
            header = parse_header(resume.header_bytes, source.name)
            start, pid = resume.start, resume.pid_counter
            self._header_bytes_read = 0
        else:
            header = parse_header(
                source.read(0, header_size(source.read(0, 16), source.name)), source.name
            )
            start, pid = header.size, 0
            self._header_bytes_read = header.size
        stop = resume.stop if resume is not None else 2**62
        if source.size is not None:
            stop = min(stop, source.size)
        self.header = header
        initial = run_start_from_name(source.name)
        self.header_decoder.set_header(header, initial)
        self.event_decoder.set_header(header, initial)
        self.event_decoder.skipped_channels.clear()
        self._init_buffers(rb_lib, buffer_size, chunk_mode, out_stream,
                           header_decoders=(self.header_decoder.name,))  # fmt: skip
        self._make_routes()
        for rb in self.header_rbs:
            rb.loc = 0 if isinstance(resume, LlamaResume) else 1
        self._reader = BlockReader(source, ChannelTables.from_header(header), start, stop,
                                   pid, self.block_bytes, self.max_garbage)  # fmt: skip
        self._cursor = 0
        self.n_bytes_read = self._header_bytes_read
        return self.header_rbs

    def _make_routes(self) -> None:
        """One route per table layout; every buffer must take keys of one layout."""
        assert self.rb_lib is not None
        decoder = self.event_decoder
        rbl = self.rb_lib.get(decoder.name, RawBufferList())
        part_of = decoder.part_of
        per_part: dict[int, RawBufferList] = {}
        for rb in rbl:
            parts = {int(part_of[k]) for k in rb.key_list
                     if isinstance(k, (int, np.integer)) and 0 <= k < MAX_CHANNELS
                     and part_of[k] >= 0}  # fmt: skip
            if len(parts) > 1:
                raise OutSpecError(
                    f"{decoder.name} buffer {rb.out_name!r} takes channels with different "
                    f"table layouts ({sorted(rb.key_list)}); give them separate buffers "
                    "(for example with {key} in the buffer name)"
                )
            if parts:
                per_part.setdefault(parts.pop(), RawBufferList()).append(rb)
        self._routes = [
            (part, DecoderRoute(part, per_part[part.index]))
            for part in decoder.parts
            if part.index in per_part
        ]
        self._routed[:] = False
        for rb in rbl:
            for k in rb.key_list:
                if isinstance(k, (int, np.integer)) and 0 <= k < MAX_CHANNELS:
                    self._routed[k] = True

    # --- reading ----------------------------------------------------------------------------

    def _decode_step(self, single: bool) -> bool:
        reader = self._reader
        assert reader is not None
        blk = reader.block
        if self._cursor >= blk.n:
            self._pid_block = reader.pid_counter
            more = reader.load()
            self.n_bytes_read = self._header_bytes_read + reader.bytes_read
            if not more:
                self._report_skipped()
                return False
            self._cursor = 0
        i = self._cursor
        j = self._limit(blk, i, i + 1 if single else blk.n)
        if j == i:
            return True  # a buffer is full: read_chunk hands it out first
        for _part, route in self._routes:
            rows = route.decode([(route.decoder, blk, i, j)])
            self.n_rows_read += rows
        self._garbage_and_skips(blk, i, j)
        self._cursor = j
        pids = blk.pid[i:j]
        if (pids >= 0).any():
            self.packet_id = int(pids.max())
        return True

    def _limit(self, blk: EventBlock, i: int, j: int) -> int:
        """End of the run from record `i`: no buffer may overflow, and the routed events
        must stay within ``n_max``."""
        kind, fch = blk.kind[i:j], blk.fch[i:j]
        events = kind == REC_EVENT
        part_of = self.event_decoder.part_of
        parts = np.where(events, part_of[np.where(events, fch, 0)], -1)
        limit = j
        for part, route in self._routes:
            count = np.cumsum(parts == part.index)
            allowed = route.capacity_records()
            if len(count) and count[-1] > allowed:
                limit = min(limit, i + int(np.searchsorted(count, allowed + 1)))
        left = self.rows_left()
        if left != float("inf"):
            routed = np.cumsum(events & self._routed[np.where(events, fch, 0)])
            if len(routed) and routed[-1] > left:
                limit = min(limit, i + int(np.searchsorted(routed, int(left))) + 1)
        return limit

    def _garbage_and_skips(self, blk: EventBlock, i: int, j: int) -> None:
        """Garbage rows and problem reports for the damaged records of ``[i, j)``; count
        the events of channels that no buffer takes."""
        kind = blk.kind[i:j]
        skipped = self.event_decoder.skipped_channels
        unrouted = (kind == REC_EVENT) & ~self._routed[np.where(kind == REC_EVENT, blk.fch[i:j], 0)]
        for f in blk.fch[i:j][unrouted].tolist():
            skipped[f] = skipped.get(f, 0) + 1
        for g in (np.flatnonzero(kind != REC_EVENT) + i).tolist():
            before = blk.pid[:g][blk.pid[:g] >= 0]
            pid = (int(before[-1]) if len(before) else self._pid_block) + 1
            offset = int(blk.base + blk.start[g])
            data = blk.record_bytes(g)
            if blk.kind[g] == REC_DAMAGED:
                why = int(blk.why[g])
                code = _GARBAGE_CODE.get(why, GarbageCode.BAD_PAYLOAD)
                msg = (f"{len(data)} bytes at offset {offset} do not parse as an event "
                       f"({BAD_REASONS.get(why, 'damaged')}): kept as a garbage row")  # fmt: skip
            else:
                code = GarbageCode.TRUNCATED
                msg = (f"input ends inside an event: {len(data)} bytes of an incomplete event "
                       f"at offset {offset} ignored")  # fmt: skip
            log.warning("%s: %s", self.name, msg)
            self.problems.append(msg)
            self.garbage.put_in_garbage(data, pid, code, offset=offset)

    def _report_skipped(self) -> None:
        skipped = self.event_decoder.skipped_channels
        if skipped:
            log.info("%s: events of channels no buffer takes: %s", self.name, dict(skipped))
