"""FCIOStreamer: reads FlashCam FCIO streams block by block (formats.md, section 1).

The input is read in large blocks; :func:`~.kernels.index_records` tables the complete
records of a block, and runs of records of one decoder are handed to its kernel in one call.
Packet ids: the first record (the FCIOConfig) is 0, every later record counts up by one, and
an FSP record shares the id of the record it precedes.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ...blockreader import BlockReader
from ...buffers import RawBuffer, RawBufferLibrary
from ...decoder import DataDecoder, GarbageCode
from ...errors import CorruptDataError, RawconvError
from ...routing import DecoderRoute
from ...streamer import DataStreamer
from ..base import ResumeState
from .block import RecordBlock
from .config import FCIOConfig
from .damage import TAG_DAMAGED, DamageHandling
from .decoders import (
    FCConfigDecoder,
    FCEventDecoder,
    FCEventHeaderDecoder,
    FCIOEventState,
    FCStatusDecoder,
)
from .fsp import FSPConfigDecoder, FSPEventDecoder, FSPStatusDecoder
from .index import FCIOResume, _parse_config
from .kernels import (
    INDEX_BAD_FRAME_SIZE,
    INDEX_BAD_HEADER,
    INDEX_FULL,
    INDEX_NEED_MORE,
    INDEX_ORPHAN_FRAME,
    TAG_PROTOCOL,
    assign_packet_ids,
    index_records,
    read_i32,
)
from .layout import (
    FSP_TAGS,
    MAX_FRAME_BYTES,
    TAG_CONFIG,
    TAG_EVENT,
    TAG_EVENTHEADER,
    TAG_FSPCONFIG,
    TAG_FSPEVENT,
    TAG_FSPSTATUS,
    TAG_NAMES,
    TAG_SPARSEEVENT,
    TAG_STATUS,
)

log = logging.getLogger(__name__)

__all__ = ["FCIOStreamer"]

BLOCK_BYTES = 16 << 20
HOT_TAGS = (TAG_EVENT, TAG_SPARSEEVENT, TAG_EVENTHEADER, TAG_FSPEVENT)
"""Records that come by the thousand: decoded in interleaved runs."""
MAX_RECORDS = 1 << 16
MAX_FRAMES = 1 << 18

_INDEX_ERRORS = {
    INDEX_BAD_HEADER: "impossible frame header (neither a tag nor a frame length)",
    INDEX_ORPHAN_FRAME: "data frame before any record tag",
    INDEX_BAD_FRAME_SIZE: "frame length larger than any frame of this configuration",
}


class FCIOStreamer(DamageHandling, DataStreamer):
    """Decodes FCIO files and streams into FCConfig, FCEvent and FCStatus tables."""

    def __init__(self, block_bytes: int = BLOCK_BYTES) -> None:
        super().__init__()
        self.block_bytes = block_bytes
        self.config: FCIOConfig | None = None
        self.config_decoder = FCConfigDecoder()
        self.event_decoder = FCEventDecoder()
        self.header_decoder = FCEventHeaderDecoder()
        self.status_decoder = FCStatusDecoder()
        self.fsp_config_decoder = FSPConfigDecoder()
        self.fsp_event_decoder = FSPEventDecoder()
        self.fsp_status_decoder = FSPStatusDecoder()
        self._decoders: list[DataDecoder] = [  # legend-daq2lh5's order
            self.config_decoder,
            self.status_decoder,
            self.event_decoder,
            self.header_decoder,
            self.fsp_config_decoder,
            self.fsp_event_decoder,
            self.fsp_status_decoder,
        ]
        self._by_tag: dict[int, DataDecoder] = {
            TAG_EVENT: self.event_decoder,
            TAG_SPARSEEVENT: self.event_decoder,
            TAG_EVENTHEADER: self.header_decoder,
            TAG_STATUS: self.status_decoder,
            TAG_FSPCONFIG: self.fsp_config_decoder,
            TAG_FSPEVENT: self.fsp_event_decoder,
            TAG_FSPSTATUS: self.fsp_status_decoder,
        }
        self.skipped_records: dict[int, int] = {}
        self._block: RecordBlock | None = None
        self._reader: BlockReader | None = None

    def get_decoder_list(self) -> list[DataDecoder]:
        return list(self._decoders)

    def _make_routes(self) -> None:
        """A route for each decoder that has buffers (one whose buffers took no key has
        none: its records are skipped). Routes get the reader's bytes_left, not the
        streamer's: a route holding the streamer would be a reference cycle, which keeps a
        finished stream's buffers until the garbage collector runs."""
        assert self._reader is not None
        self._routes = {
            name: DecoderRoute(decoder, self.rb_lib[name], self._reader.bytes_left)
            for decoder in self._decoders
            if len(self.rb_lib.get(name := decoder.name, ()))
        }

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
        """Open an FCIO input, read up to its first FCIOConfig and allocate the buffers.

        With an :class:`~.index.FCIOResume` as `resume`, decode only the records in its
        byte range, starting from the state it carries; no header rows are produced. A
        plain :class:`~rawconv.formats.base.ResumeState` ends the input at its ``stop``.
        """
        source = self._open_source(stream_name)
        stop = None if resume is None else resume.stop
        self._block = RecordBlock.allocate(source.name, 0, MAX_RECORDS, MAX_FRAMES)
        self._reader = BlockReader(
            source, self.block_bytes, stop=stop if stop is not None else source.size,
            mirror=self._block,
        )  # fmt: skip
        self._next, self._cursor = 0, 0
        self._pid_counter = -1
        self._pending_error: Exception | None = None
        self._damaged_at: int | None = None
        self._damage_reasons: dict[int, str] = {}
        self._event_frames = 0
        self.skipped_records = {}
        self.config = None
        self._max_frame = MAX_FRAME_BYTES
        # a chunk of an indexed input: its records were walked when it was indexed, so damage
        # here means a wrong index (a stale cache entry), an error for the parallel layer to
        # retry from a fresh index, not a garbage row
        self._strict = resume is not None and not resume.at_beginning
        if resume is not None and not resume.at_beginning:
            if not isinstance(resume, FCIOResume):
                raise TypeError(f"an FCIO stream resumes from an FCIOResume, not {resume!r}")
            return self._open_resumed(resume, rb_lib, buffer_size, chunk_mode, out_stream)
        fsp_config = -1  # an FSPConfig before the first FCIOConfig: decoded after it
        while True:
            if self._cursor >= self._block.n:
                fsp_config = -1
                if not self._load():
                    raise RawconvError("no FCIOConfig record in the input", path=source.name)
            tag = int(self._block.tag[self._cursor])
            if tag == TAG_PROTOCOL:
                self._cursor += 1
                continue
            if tag == TAG_CONFIG:
                break
            if tag in FSP_TAGS:
                fsp_config = self._cursor if tag == TAG_FSPCONFIG else fsp_config
                self._cursor += 1
                continue
            raise CorruptDataError(
                f"{TAG_NAMES.get(tag, f'tag {tag}')} record before the first FCIOConfig",
                **self._block.where(self._cursor),
            )
        config_at = self._cursor
        self._apply_config(self.config_decoder.parse(self._block, config_at))
        self._init_buffers(
            rb_lib, buffer_size, chunk_mode, out_stream, header_decoders=(self.config_decoder.name,)
        )
        self._make_routes()
        if fsp_config >= 0:
            self._decode_run(self.fsp_config_decoder, fsp_config, fsp_config + 1)
        self._decode_run(self.config_decoder, config_at, config_at + 1)
        return self.header_rbs

    def _open_resumed(
        self,
        resume: FCIOResume,
        rb_lib: RawBufferLibrary | None,
        buffer_size: int,
        chunk_mode: str,
        out_stream: str,
    ) -> list[RawBuffer]:
        self._reader.seek(resume.start, resume.stop)
        self._pid_counter = resume.pid_counter
        config = _parse_config(resume.config_bytes, self.source)
        self._apply_config(config, resume.event_state(config.ntraces))
        self._init_buffers(
            rb_lib, buffer_size, chunk_mode, out_stream, header_decoders=(self.config_decoder.name,)
        )
        self._make_routes()
        return self.header_rbs

    def _apply_config(self, config: FCIOConfig, state: FCIOEventState | None = None) -> None:
        if self.config is not None and not self.config.same_shape(config):
            raise RawconvError(
                f"an FCIOConfig changes the event shape from {self.config.ntraces} traces x "
                f"{self.config.eventsamples} samples to {config.ntraces} x "
                f"{config.eventsamples}; convert the parts of the stream separately",
                path=self.name,
            )
        # events and event headers share the event state (as in FlashCam's reader)
        if state is None and self.config is not None:
            state = self.event_decoder.state
        state = state or FCIOEventState(config.ntraces)
        self.config = config
        for decoder in self._decoders:
            if decoder in (self.event_decoder, self.header_decoder):
                decoder.set_config(config, state)
            else:
                decoder.set_config(config)
        self._max_frame = max(config.ntraces * config.trace_frame_bytes, 1 << 20)

    # --- reading ----------------------------------------------------------------------------

    def _load(self) -> bool:
        """Index the next records; False when the input has no more."""
        block, reader = self._block, self._reader
        assert block is not None and self.source is not None
        if self._pending_error is not None:
            return self._stop_at_damage()
        if reader.eof and self._next >= reader.fill:
            return False
        reader.compact(self._next)
        self._next = 0
        self._damage_reasons = {}
        while True:
            self.n_bytes_read += reader.read()
            n, _, nxt, status, spos = index_records(
                block.buf, reader.fill, 0, reader.eof, self._max_frame,
                block.tag, block.start, block.stop, block.frame0, block.nframes,
                block.frame_off, block.frame_len,
            )  # fmt: skip
            if status == INDEX_NEED_MORE and n == 0:
                reader.grow()
                continue
            break
        if status in _INDEX_ERRORS:
            n, nxt = self._records_before(spos)
        elif reader.eof and status != INDEX_FULL and nxt < reader.fill:
            n, nxt = self._records_before(reader.fill, trim_last=False)
        block.n = n
        self._next = nxt
        self._cursor = 0
        self._pid_counter = assign_packet_ids(
            block.tag, n, self._pid_counter, min(FSP_TAGS), max(FSP_TAGS), block.pid
        )
        if status in _INDEX_ERRORS:
            # reported once the valid records before the damage are decoded
            self._damaged_at = nxt
            self._pending_error = error = CorruptDataError(
                f"{_INDEX_ERRORS[status]}: a frame header reads {int(read_i32(block.buf, spos))}"
                f" at offset {block.base + spos}, inside the record that starts at offset "
                f"{block.base + nxt}",
                path=self.name,
                offset=int(block.base + nxt),
            )
            if self._strict:
                raise error
        elif reader.eof and status != INDEX_FULL:
            self._check_tail(nxt)
        if block.n == 0 and self._pending_error is not None:
            return self._stop_at_damage()
        return block.n > 0

    def _check_tail(self, nxt: int) -> None:
        """At the end of the input: drop (and report) a record cut by truncation."""
        block = self._block
        assert block is not None
        if block.n > 0 and not self._complete(block.n - 1):
            block.n -= 1
            nxt = int(block.start[block.n])
        fill = self._reader.fill
        if nxt >= fill:
            return
        cut = block.buf[nxt:fill]
        tag = -int(read_i32(block.buf, nxt)) if len(cut) >= 4 else 0
        name = TAG_NAMES.get(tag, "record")
        msg = (
            f"input ends inside a record: {len(cut)} bytes of an incomplete {name} at "
            f"offset {block.base + nxt} ignored"
        )
        if self._strict:  # a chunk ends on a record boundary of its index
            raise CorruptDataError(msg, path=self.name, offset=int(block.base + nxt))
        log.warning("%s: %s", self.name, msg)
        self.problems.append(msg)
        pid = self._pid_counter + 1 if block.n == 0 else int(block.pid[block.n - 1]) + 1
        self.garbage.put_in_garbage(cut, pid, GarbageCode.TRUNCATED, offset=int(block.base + nxt))
        self._next = fill

    def _complete(self, i: int) -> bool:
        """Whether the last record at the end of the input has all the frames of its tag."""
        block = self._block
        assert block is not None
        tag = int(block.tag[i])
        nframes = int(block.nframes[i])
        offsets, lengths = block.frames(i)
        if tag == TAG_EVENT:
            expected = self._event_frames
            if expected == 0:  # the first event of the stream sets what a full event has
                firsts = np.flatnonzero(block.tag[: block.n] == TAG_EVENT)
                expected = int(block.nframes[firsts[0]]) if firsts[0] < i else 6
            return nframes >= expected
        if tag == TAG_SPARSEEVENT:
            if nframes < 6 or lengths[5] != 4:
                return False
            return nframes >= 7 + int(read_i32(block.buf, int(offsets[5])))
        if tag == TAG_STATUS:
            if nframes < 4 or lengths[2] != 4:
                return False
            return nframes >= 4 + int(read_i32(block.buf, int(offsets[2])))
        if tag == TAG_CONFIG:
            return nframes >= 10
        return nframes > 0 or tag == TAG_PROTOCOL

    def _decode_step(self, single: bool) -> bool:
        """Decode the next run of records. A record whose frames do not match its tag's
        layout goes to the garbage table (its framing is intact, so decoding goes on): the
        step is undone (buffers and event state) and redone around it."""
        block = self._block
        assert block is not None
        if self._cursor >= block.n and not self._load():
            return False
        i = self._cursor
        if int(block.tag[i]) == TAG_DAMAGED:
            self._garbage_record(i)
            return True
        saved = self._snapshot()
        try:
            return self._decode_next(single)
        except CorruptDataError as exc:
            bad = np.flatnonzero(block.base + block.start[i : block.n] == exc.offset)
            if exc.decoder is None or not bad.size or self._strict:
                raise
            self._restore(saved)
            self._cursor = i
            block.tag[i + int(bad[0])] = TAG_DAMAGED
            self._damage_reasons[i + int(bad[0])] = exc.reason
            return True

    def _decode_next(self, single: bool) -> bool:
        block = self._block
        assert block is not None
        i = self._cursor
        tag = int(block.tag[i])
        if tag == TAG_EVENT and self._event_frames == 0:
            self._event_frames = int(block.nframes[i])
        if tag == TAG_CONFIG:
            self._apply_config(self.config_decoder.parse(block, i))
            self._decode_run(self.config_decoder, i, i + 1)
            return True
        if tag in HOT_TAGS and not single and self.rows_left() == float("inf"):
            self._decode_mixed(i)
            return True
        decoder = self._by_tag.get(tag)
        j = i + 1
        if not single:
            while (
                j < block.n
                and self._by_tag.get(int(block.tag[j])) is decoder
                and int(block.tag[j]) not in (TAG_CONFIG, TAG_DAMAGED)
            ):
                j += 1
        if decoder is None or decoder.name not in self._routes:
            self._skip(i, j)
            return True
        self._decode_run(decoder, i, j)
        return True

    def _skip(self, i: int, j: int) -> None:
        """Count records ``[i, j)`` that no buffer takes and move past them."""
        self._count_skipped(self._block.tag[i:j])
        self._cursor = j

    def _count_skipped(self, tags: np.ndarray) -> None:
        """Count the records among `tags` that no buffer takes (protocol records aside),
        per tag, in order of first appearance."""
        found, first, counts = np.unique(tags, return_index=True, return_counts=True)
        for k in np.argsort(first).tolist():
            t = int(found[k])
            decoder = self._by_tag.get(t)
            if t != TAG_PROTOCOL and (decoder is None or decoder.name not in self._routes):
                self.skipped_records[t] = self.skipped_records.get(t, 0) + int(counts[k])

    def _decode_mixed(self, i: int) -> None:
        """Decode a run of interleaved event / event-header / FSPEvent records, each decoder
        over the whole run (its kernel skips the others' records). The run ends where a
        decoder's buffer could overflow, so that every decoder decodes all of it."""
        block = self._block
        assert block is not None
        tags = block.tag[i : block.n]
        hot = np.isin(tags, HOT_TAGS)
        end = i + (int(np.argmin(hot)) if not hot.all() else len(tags))
        tags = tags[: end - i]
        # events and event headers share the event state: never both in one run
        kind = np.where(np.isin(tags, (TAG_EVENT, TAG_SPARSEEVENT)), 1, 0)
        kind[tags == TAG_EVENTHEADER] = 2
        stateful = np.flatnonzero(kind)
        if len(stateful):
            switch = np.flatnonzero(kind[stateful] != kind[stateful[0]])
            if len(switch):
                end = i + int(stateful[switch[0]])
                tags = tags[: end - i]
        limit = end
        decoders = []
        for decoder, own in ((self.event_decoder, (TAG_EVENT, TAG_SPARSEEVENT)),
                             (self.header_decoder, (TAG_EVENTHEADER,)),
                             (self.fsp_event_decoder, (TAG_FSPEVENT,))):  # fmt: skip
            mine = np.isin(tags, own)
            if not mine.any():
                continue
            route = self._routes.get(decoder.name)
            if route is None:
                continue
            allowed = route.capacity_records()
            count = np.cumsum(mine)
            if count[-1] > allowed:  # stop before this decoder's record number allowed + 1
                limit = min(limit, i + int(np.searchsorted(count, allowed + 1)))
            decoders.append((decoder, route))
        if limit == i:
            return  # a buffer is full: read_chunk hands it out first
        for decoder, route in decoders:
            self.n_rows_read += route.decode([(decoder, block, i, limit)], self.rows_left())
        self._count_skipped(tags[: limit - i])
        self._cursor = limit
        self.packet_id = int(block.pid[limit - 1])

    def _decode_run(self, decoder: DataDecoder, i: int, j: int) -> None:
        route = self._routes.get(decoder.name)
        if route is None:
            self._cursor = j
            return
        done, rows = route.decode_records(self._block, i, j, self.rows_left())
        self.n_rows_read += rows if decoder is not self.config_decoder else 0
        if done == 0 and route.capacity_records() > 0:
            raise RawconvError(
                f"a {decoder.name} record needs more rows than its buffer holds; raise buffer_size",
                **self._block.where(i, decoder.name),
            )
        self._cursor = i + done
        self.packet_id = int(self._block.pid[max(i + done - 1, 0)])
