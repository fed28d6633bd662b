"""OrcaStreamer: reads ORCA files block by block (formats.md, section 2).

The file header (record 0) is parsed into an :class:`~.header.OrcaHeader`, which maps data
ids to decoders for this file. The input is then read in large blocks; :func:`index_block`
tables the complete records of a block (and the FCIO records inside FCIO-wrapped ones),
validation kernels mark records whose payload does not parse, and runs of records of one
decoder are decoded by its kernels. Packet ids are record indices (the header is 0).

State, all explicit (what resuming mid-file needs besides the byte offset): ``header``,
``listeners`` (per FCIO listener: config, event state, decoders), ``legacy`` (legacy
FlashCam gps / tracemap per listener) and ``_pid_counter`` (the last packet id given).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ...blockreader import NO_STOP, BlockReader
from ...buffers import RawBuffer, RawBufferLibrary
from ...decoder import DataDecoder, GarbageCode
from ...errors import CorruptDataError, RawconvError
from ...routing import MergeRoute
from ...sources import MemorySource, open_source
from ...streamer import DataStreamer
from ..base import ResumeState
from ..fcio.index import expand_dead_time
from .block import OrcaBlock
from .decoders import OrcaDecoder, ORRunDecoderForRun
from .fcio_records import (
    ORFCIOConfigDecoder,
    ORFCIOEventDecoder,
    ORFCIOEventHeaderDecoder,
    ORFCIOStatusDecoder,
)
from .fcio_runs import FcioRunsMixin
from .flashcam import (
    LegacyState,
    ORFlashCamADCWaveformDecoder,
    ORFlashCamListenerConfigDecoder,
    ORFlashCamListenerStatusDecoder,
    ORFlashCamWaveformDecoder,
)
from .header import OrcaHeader, OrcaHeaderDecoder, byte_order, header_words
from .index import walk_records
from .kernels import (
    IDX_BAD_LENGTH,
    IDX_NEED_MORE,
    IDX_TRUNCATED,
    IDX_UNDESCRIBED,
    index_block,
)
from .layout import (
    DECODER_KINDS,
    FCIO_HOT_KINDS,
    FCIO_KINDS,
    KIND_FC_CONFIG,
    KIND_FCIO_CONFIG,
    KIND_UNDESCRIBED,
    KIND_UNKNOWN,
    MAX_RECORD_WORDS,
    N_LONG_IDS,
    N_SHORT_IDS,
    REC_NO_LISTENER,
    SHORT_BIT,
)
from .listeners import Listener
from .packets import PacketAccess
from .prepare import PrepareMixin
from .recovery import RecoveryMixin
from .resume_state import OrcaResume
from .struck import ORSIS3302DecoderForEnergy, ORSIS3316WaveformDecoder

log = logging.getLogger(__name__)

__all__ = ["DECODER_CLASSES", "OrcaStreamer"]

BLOCK_BYTES = 16 << 20

DECODER_CLASSES: dict[str, type[OrcaDecoder]] = {
    cls.__name__: cls
    for cls in (
        ORRunDecoderForRun, ORFlashCamListenerConfigDecoder, ORFlashCamListenerStatusDecoder,
        ORFlashCamADCWaveformDecoder, ORFlashCamWaveformDecoder, ORFCIOConfigDecoder,
        ORFCIOEventDecoder, ORFCIOEventHeaderDecoder, ORFCIOStatusDecoder,
        ORSIS3302DecoderForEnergy, ORSIS3316WaveformDecoder,
    )
}  # fmt: skip
"""The ORCA decoders rawconv implements (data ids of other decoders are skipped)."""


class OrcaStreamer(PacketAccess, PrepareMixin, FcioRunsMixin, RecoveryMixin, DataStreamer):
    """Decodes ORCA files (plain, ``.orca.gz``, ``.orca.bz2``, or any Source)."""

    def __init__(self, block_bytes: int = BLOCK_BYTES) -> None:
        super().__init__()
        self.block_bytes = block_bytes
        self.header: OrcaHeader | None = None
        self.header_decoder = OrcaHeaderDecoder()
        self.decoders: dict[str, OrcaDecoder] = {}
        self.listeners: dict[int, Listener] = {}
        self.legacy = LegacyState()
        self.order = "<"
        self.kind_long = np.full(N_LONG_IDS, KIND_UNDESCRIBED, dtype=np.int64)
        self.kind_short = np.full(N_SHORT_IDS, KIND_UNDESCRIBED, dtype=np.int64)
        self.ntr_lut = np.zeros(1 << 16, dtype=np.int64)
        self.samples_lut = np.zeros(1 << 16, dtype=np.int64)
        self.skipped_records: dict[str, int] = {}
        self.n_resyncs = 0
        self.bytes_skipped = 0
        self.n_garbage_records = 0
        self.n_problems = 0
        self._by_ident: dict[int, OrcaDecoder] = {}
        self._id_names: dict[int, str] = {}
        self._routes: dict[str, MergeRoute] = {}
        self._block: OrcaBlock | None = None
        self._pid_counter = 0
        self._opening = False
        self._finished_summary = False
        self._reader: BlockReader | None = None

    def get_decoder_list(self) -> list[DataDecoder]:
        return [self.header_decoder, *self.decoders.values()]

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
        """Open an ORCA input, read its header and first block, allocate the buffers.

        With an :class:`~.resume.OrcaResume` as `resume`, decode only the records in its
        byte range, starting from the state it carries; no header rows are produced. A plain
        :class:`~rawconv.formats.base.ResumeState` ends the input at its ``stop`` (a record
        boundary). Table shapes come from the first block of the file either way, as in a
        full conversion.
        """
        if resume is not None and not resume.at_beginning and not isinstance(resume, OrcaResume):
            raise TypeError(f"an ORCA stream resumes from an OrcaResume, not {resume!r}")
        try:
            return self._open(stream_name, rb_lib, buffer_size, chunk_mode, out_stream, resume)
        except RawconvError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            if self.header is None or (isinstance(exc, ValueError) and not self.header.damage):
                raise
            raise CorruptDataError(  # a damaged header (its XML, or an entry) lacks what is needed
                f"the ORCA header does not describe the hardware its decoders need "
                f"({type(exc).__name__}: {exc})",
                path=self.name, offset=0, record=0, decoder="OrcaHeaderDecoder",
            ) from exc  # fmt: skip

    def _open(
        self,
        stream_name: Any,
        rb_lib: RawBufferLibrary | None,
        buffer_size: int,
        chunk_mode: str,
        out_stream: str,
        resume: ResumeState | None,
    ) -> list[RawBuffer]:
        source = self._open_source(stream_name)
        self._reset()
        self._read_header(source)
        self._make_decoders()
        self._block = OrcaBlock(path=source.name, buf=np.empty(0, np.uint8))
        self._reader = BlockReader(source, self.block_bytes, start=self._header_bytes,
                                   swap=self._swap, mirror=self._block)  # fmt: skip
        self._next = self._cursor = 0
        self._pending: tuple[int, int] | None = None
        self._finished_summary = False
        self._opening = True
        self._load()
        self._prescan()
        self._opening = False
        self._validate_plain()
        self._prepare_listeners()
        self._validate()
        self._init_buffers(rb_lib, buffer_size, chunk_mode, out_stream,
                           header_decoders=(self.header_decoder.name,))  # fmt: skip
        for rb in self.header_rbs:
            rb.loc = 1
        self._check_layouts()
        for name, rbl in self.rb_lib.items():  # rows one record can put in each buffer
            for rb in rbl if name in self.decoders else ():
                rb.fill_safety = max(
                    1, min(rb.fill_safety, self.decoders[name].max_rows_for(rb.key_list))
                )
        self._routes = {
            name: MergeRoute(dec, self.rb_lib[name], dec.parts(), self._reader.bytes_left)
            for name, dec in self.decoders.items()
            if self.rb_lib.get(name)
        }
        if resume is not None and not resume.at_beginning:
            self._resume(resume)
        elif resume is not None and resume.stop < (source.size or NO_STOP):
            self._seek(self._header_bytes, resume.stop, 0)
        return self.header_rbs

    def _seek(self, start: int, stop: int, pid_counter: int) -> None:
        """Read on from byte `start` (a record boundary) up to `stop`; bytes read count
        from there (and the header, when decoding starts after it)."""
        self.n_bytes_read = self._header_bytes if start == self._header_bytes else 0
        self._reader.seek(start, stop)
        self._block.n = self._block.nf = 0
        self._next = self._cursor = 0
        self._pending = None
        self._pid_counter = pid_counter

    def _resume(self, resume: OrcaResume) -> None:
        """Go on at ``resume.start`` with the state a serial conversion has there."""
        self._apply_configs(resume.configs)
        for fcid, (arrays, dead_time) in resume.listeners.items():
            lst = self.listeners.get(fcid)
            if lst is None or lst.state is None:
                raise RawconvError(
                    f"resume state for listener {fcid}, which has no FCIO configuration",
                    path=self.source.name, offset=resume.start,
                )  # fmt: skip
            st = lst.state
            st.timeoffset[:], st.timestamp[:], st.deadregion[:], st.sizes[:] = arrays
            expand_dead_time(dead_time, st)
        self._seek(resume.start, resume.stop, resume.pid_counter)
        for rb in self.header_rbs:
            rb.loc = 0

    def _apply_configs(self, ranges: list[tuple[int, int]]) -> None:
        """Apply the configuration records at byte `ranges` again, in order."""
        if not ranges:
            return
        data = b"".join(self.source.read(a, b) for a, b in ranges)
        saved = self._block, self._reader
        self._block = OrcaBlock(path=self.source.name, buf=np.empty(0, np.uint8))
        self._reader = BlockReader(MemorySource(data, self.source.name), max(len(data), 1),
                                   stop=len(data), swap=self._swap, mirror=self._block)  # fmt: skip
        self._reader.read()
        self._pid_block0 = 0
        try:
            self._index()
            self._validate()
            blk = self._block
            for i in range(blk.n):
                if blk.bad[i]:
                    continue
                if int(blk.kind[i]) == KIND_FCIO_CONFIG:
                    self._apply_fcio_config(i)
                elif int(blk.kind[i]) == KIND_FC_CONFIG:
                    self._by_ident[int(blk.ident[i])].apply(blk, i)
        finally:
            self._block, self._reader = saved

    def _reset(self) -> None:
        """Forget the state of a previous input."""
        self.legacy = LegacyState()
        self.listeners.clear()
        self.ntr_lut[:] = 0
        self.samples_lut[:] = 0
        self.skipped_records = {}
        self.n_resyncs = self.bytes_skipped = self.n_garbage_records = self.n_problems = 0

    def _read_header(self, source: Any) -> None:
        head = source.read(0, 12)
        order = byte_order(head)
        if order is None:
            raise RawconvError(
                f"not an ORCA file: the first bytes ({head[:12].hex(' ')}) are not an ORCA "
                "header record (data id 0, XML length, '<?xm')",
                path=source.name, offset=0,
            )  # fmt: skip
        words, _ = header_words(head, order)
        record = source.read(0, 4 * words)
        self.n_bytes_read = len(record)
        if len(record) < 4 * words:
            raise RawconvError(
                f"input ends inside the ORCA header ({len(record)} of {4 * words} bytes)",
                path=source.name, offset=0, record=0,
            )  # fmt: skip
        where = {"path": source.name, "offset": 0, "record": 0, "decoder": "OrcaHeaderDecoder"}
        self.header = OrcaHeader.from_record(record, order, where)
        if self.header.damage:
            log.warning("%s: %s", source.name, self.header.damage)
            self.problems.append(self.header.damage)
        self.order = order
        self._header_bytes = 4 * words
        self._pid_counter = 0
        self.header_decoder.set_header(self.header)

    def _make_decoders(self) -> None:
        assert self.header is not None
        self.decoders, self._by_ident, self._id_names = {}, {}, {}
        self.kind_long[:] = KIND_UNDESCRIBED
        self.kind_short[:] = KIND_UNDESCRIBED
        for data_id, name in self.header.data_ids():
            kind = (
                DECODER_KINDS.get(name, KIND_UNKNOWN) if name in DECODER_CLASSES else KIND_UNKNOWN
            )
            if data_id & SHORT_BIT:
                ident = 0x10000 | (data_id >> 26) & 0x3F
                self.kind_short[(data_id >> 26) & 0x3F] = kind
            else:
                ident = data_id >> 18
                if ident == 0:
                    continue  # the file header: never a data record
                self.kind_long[ident] = kind
            self._id_names[ident] = name
            if kind == KIND_UNKNOWN:
                continue
            if name not in self.decoders:
                self.decoders[name] = self._new_decoder(name)
            self._by_ident[ident] = self.decoders[name]

    def _new_decoder(self, name: str) -> OrcaDecoder:
        cls = DECODER_CLASSES[name]
        if issubclass(cls, (ORFlashCamWaveformDecoder, ORFlashCamListenerConfigDecoder)):
            if not self.legacy.listeners:
                self.legacy = LegacyState.from_header(self.header)
            return cls(self.header, state=self.legacy)
        if cls in (ORFCIOConfigDecoder, ORFCIOEventDecoder, ORFCIOEventHeaderDecoder,
                   ORFCIOStatusDecoder):  # fmt: skip
            return cls(self.listeners)
        return cls(self.header)

    def _id_name(self, ident: int) -> str:
        return self._id_names.get(ident, f"data id {ident}")

    def _route(self, name: str) -> MergeRoute | None:
        return self._routes.get(name)

    # --- reading ----------------------------------------------------------------------------

    @property
    def _swap(self) -> int:
        """Word size the block reader byte-swaps (big-endian files), else 0."""
        return 4 if self.order == ">" else 0

    def _read_more(self) -> None:
        """Fill the rest of the buffer from the input (up to the stop offset)."""
        self.n_bytes_read += self._reader.read()

    def _load(self) -> bool:
        """Index the next records; False when the input has no more."""
        reader = self._reader
        if self._pending is None and reader.eof and self._next >= reader.fill:
            return False
        reader.compact(self._next)
        self._next = 0
        self._read_more()
        if self._pending is not None:
            status, _ = self._pending
            self._pending = None
            if status == IDX_TRUNCATED:
                self._truncated_tail(0)
            else:
                code = (
                    GarbageCode.BAD_LENGTH if status == IDX_BAD_LENGTH else GarbageCode.UNKNOWN_TYPE
                )
                self._recover(code)
            return self._load()
        self._pid_block0 = self._pid_counter
        n = self._index()
        if n and not self._opening:
            self._validate()
        if n == 0:
            return self._load()
        return True

    def _index(self) -> int:
        """Table the records of the buffer (packet ids after ``_pid_block0``)."""
        blk, reader = self._block, self._reader
        while True:
            n, nf, _, nxt, status, spos = index_block(
                blk.buf, reader.fill, 0, reader.eof, self.kind_long, self.kind_short,
                MAX_RECORD_WORDS, blk.start, blk.words, blk.kind, blk.ident, blk.bad, blk.fcio,
                blk.f_tag, blk.f_start, blk.f_stop, blk.f_frame0, blk.f_nframes, blk.f_fcid,
                blk.f_orec, blk.frame_off, blk.frame_len,
            )  # fmt: skip
            if n == 0 and status == IDX_NEED_MORE and reader.fill == len(reader.buf):
                reader.grow()
                self._read_more()
                continue
            break
        blk.n, blk.nf = n, nf
        blk.pid[:n] = self._pid_block0 + 1 + np.arange(n)
        self._pid_counter = self._pid_block0 + n
        blk.f_pid[:nf] = blk.pid[blk.f_orec[:nf]]
        self._next = nxt
        self._cursor = 0
        self._pending = (status, spos) if status in (IDX_BAD_LENGTH, IDX_UNDESCRIBED,
                                                     IDX_TRUNCATED) else None  # fmt: skip
        return n

    def _advance(self, end: int) -> None:
        self._cursor = end
        self.packet_id = int(self._block.pid[end - 1])

    def _decode_step(self, single: bool) -> bool:
        blk = self._block
        if self._cursor >= blk.n and not self._load():
            self._finish()
            return False
        i = self._cursor
        bad = int(blk.bad[i])
        if bad:
            why = ("no FCIO configuration for its listener (or card not in the header)"
                   if bad == REC_NO_LISTENER else "payload does not parse")  # fmt: skip
            self._garbage_record(i, why)
            self._advance(i + 1)
            return True
        kind = int(blk.kind[i])
        if kind == KIND_UNKNOWN:
            self._skip_unknown(i, single)
        elif kind in FCIO_HOT_KINDS:
            self._decode_fcio_hot(i, single)
        elif kind in FCIO_KINDS:
            self._decode_fcio_single(i)
        else:
            self._decode_run(i, single)
        return True

    def _skip_unknown(self, i: int, single: bool) -> None:
        blk = self._block
        end = i + 1
        if not single:
            same = blk.ident[i : blk.n] == blk.ident[i]
            end = i + (int(np.argmin(same)) if not same.all() else len(same))
        name = self._id_name(int(blk.ident[i]))
        self.skipped_records[name] = self.skipped_records.get(name, 0) + end - i
        self._advance(end)

    def _decode_run(self, i: int, single: bool) -> None:
        """A run of records of one (non-FCIO) decoder."""
        blk = self._block
        decoder = self._by_ident[int(blk.ident[i])]
        end = i + 1
        if not single and decoder.kind != KIND_FC_CONFIG:
            same = (blk.ident[i : blk.n] == blk.ident[i]) & (blk.bad[i : blk.n] == 0)
            end = i + (int(np.argmin(same)) if not same.all() else len(same))
        route = self._routes.get(decoder.name)
        if route is None:
            if decoder.kind == KIND_FC_CONFIG:
                decoder.apply(blk, i)  # the waveforms need its gps mode and tracemap
            count = self.skipped_records.get(decoder.name, 0) + end - i
            self.skipped_records[decoder.name] = count
            self._advance(end)
            return
        rows = decoder.record_rows(blk, i, end)
        k = self._fit(i, route, rows, decoder.parts())
        if k is None:
            return  # buffers marked full: read_chunk hands them out first
        end = i + k
        budget = self.rows_left()
        if budget < float("inf") and k > 1 and rows[:k].sum() > budget:
            end = i + 1
        jobs = [(part, blk, i, end) for part in decoder.parts()]
        self.n_rows_read += route.decode(jobs, budget)
        self._advance(end)

    def _finish(self) -> None:
        """End of input: summarise what was skipped."""
        if self._finished_summary:
            return
        self._finished_summary = True
        self._summarise()

    # --- index ------------------------------------------------------------------------------

    def index(self, source: Any = None) -> np.ndarray:
        """The record table of `source` (default: the open input) from record headers only
        (:func:`~.index.walk_records`): offset, words, data_id, packet_id."""
        if source is None:
            if self.header is None:
                raise RawconvError("index() of a streamer without open input needs a source")
            return walk_records(self.source, self._header_bytes, self.order, self.kind_long,
                                self.kind_short, self.block_bytes)  # fmt: skip
        other = OrcaStreamer(self.block_bytes)
        src = open_source(source)
        other._read_header(src)
        other._make_decoders()
        return walk_records(src, other._header_bytes, other.order, other.kind_long,
                            other.kind_short, self.block_bytes)  # fmt: skip
