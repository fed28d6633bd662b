"""The DataStreamer base class: reads a stream, decodes it and fills raw buffers.

A streamer (one per DAQ format) opens an input, reads its header, builds its decoders and
fills the buffers of a :class:`~rawconv.buffers.RawBufferLibrary`. ``read_chunk`` returns
buffers to be written when they are full (``any_full``: all non-empty buffers once one is
full; ``only_full``: the full ones; ``single_packet``: after every record) and, at the end of
the stream, every non-empty buffer; then ``[]``.

Formats decode blocks of records per call of :meth:`DataStreamer._decode_step`; a streamer
written in Python may implement :meth:`read_packet` (one record) instead.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any

from .arena import row_bytes
from .buffers import RawBuffer, RawBufferLibrary, RawBufferList, split_out_stream
from .decoder import DataDecoder
from .errors import OutSpecError, RawconvError
from .formats.base import ResumeState
from .formats.registry import known_decoder_names
from .lh5.columns import TableCol
from .lh5.convert import from_lgdo
from .outspec import decoder_short_name
from .sources import Source, open_source

log = logging.getLogger(__name__)

__all__ = ["DataStreamer"]

CHUNK_MODES = ("any_full", "only_full", "single_packet")

DEFAULT_BUFFER_MEMORY = 128 << 20
"""Bytes that the data buffers of one stream may use together (see ``open_stream``)."""


class DataStreamer(ABC):
    """Base class of streamers: one per DAQ format."""

    def __init__(self) -> None:
        self.source: Source | None = None
        self.rb_lib: RawBufferLibrary | None = None
        self.chunk_mode: str = "any_full"
        self.n_bytes_read = 0
        self.n_rows_read = 0
        self.packet_id = 0
        self.any_full = False
        self.n_max: float = math.inf
        self.buffer_memory = DEFAULT_BUFFER_MEMORY
        self.process_early = False
        """Let routes process rows before they reach buffers that share a row-wise
        proc_spec (see :mod:`rawconv.arena`): the buffers then hold processed rows. Set by
        callers that only write the buffers (``build_raw``, the parallel tasks); a script
        reading ``rb.lgdo`` after ``read_chunk`` sees raw rows, as with legend-daq2lh5."""
        self.header_rbs: list[RawBuffer] = []
        self.garbage = DataDecoder(garbage_length=16)
        self.problems: list[str] = []
        self._data_rbs: list[RawBuffer] = []
        self._eof = False
        self._finished = False

    # --- what a format provides -----------------------------------------------------------

    @abstractmethod
    def get_decoder_list(self) -> list[DataDecoder]:
        """The decoders of this stream (after its header was read)."""

    def decoder_keys(self) -> dict[str, list[Any]]:
        """Decoder name -> every key its rows can have (its key lists, joined), in order."""
        return {d.name: [k for kl in d.get_key_lists() for k in kl]
                for d in self.get_decoder_list()}  # fmt: skip

    def open_stream(
        self,
        stream_name: Any,
        rb_lib: RawBufferLibrary | None = None,
        buffer_size: int = 8192,
        chunk_mode: str = "any_full",
        out_stream: str = "",
        resume: ResumeState | None = None,
    ) -> list[RawBuffer]:
        """Open the input, read its header and set up the buffers; returns header buffers.

        Formats override this: they open the input, read its header (so that the decoders
        know their keys) and then call ``super().open_stream(...)``, the base part, which
        resolves `rb_lib` (an out_spec library; None: one table per decoder written to
        `out_stream`) against the decoders and allocates the buffers, as legend-daq2lh5's
        base class does. With `resume`, a format decodes only the bytes ``[resume.start,
        resume.stop)``, from the state `resume` carries (see
        :class:`~rawconv.formats.base.ResumeState`).
        """
        self.n_rows_read = 0
        self._eof = self._finished = False
        self._init_buffers(rb_lib, buffer_size, chunk_mode, out_stream)
        return list(self.header_rbs)

    def read_packet(self) -> bool:
        """Decode one record into the buffers; False at the end of the stream.

        A streamer implements this, or :meth:`_decode_step` for blocks of records.
        """
        if type(self)._decode_step is DataStreamer._decode_step:
            raise TypeError(
                f"{type(self).__name__} implements neither read_packet nor _decode_step"
            )
        return self._decode_step(single=True)

    def _decode_step(self, single: bool) -> bool:
        """Decode the next records (one if `single`); False at the end of the stream.

        This default serves streamers that implement :meth:`read_packet`: it counts the
        rows the record added and drops those beyond ``n_max``.
        """
        before = [rb.loc for rb in self._data_rbs]
        more = self.read_packet()
        grown = [(rb, rb.loc - b) for rb, b in zip(self._data_rbs, before) if rb.loc > b]
        added = sum(g for _, g in grown)
        keep = int(min(added, max(self.rows_left(), 0)))
        excess = added - keep
        for rb, g in reversed(grown):
            cut = min(excess, g)
            rb.loc -= cut
            excess -= cut
        self.n_rows_read += keep
        return more

    # --- shared machinery -------------------------------------------------------------------

    def _open_source(self, stream_name: Any) -> Source:
        if self.source is not None:
            self.close_stream()
        self.source = open_source(stream_name)
        self.n_bytes_read = 0
        self.n_rows_read = 0
        self.packet_id = 0
        self._eof = False
        self._finished = False
        self.problems = []
        return self.source

    @property
    def name(self) -> str:
        """Name of the input being read."""
        return "<closed>" if self.source is None else self.source.name

    def build_default_rb_lib(self, out_stream: str = "") -> RawBufferLibrary:
        """One buffer per decoder key list, named after the decoder without "Decoder"."""
        lib = RawBufferLibrary()
        for decoder in self.get_decoder_list():
            short = decoder_short_name(decoder.name)
            key_lists = [kl for kl in decoder.get_key_lists() if len(kl) > 0]
            rbl = RawBufferList()
            for i, key_list in enumerate(key_lists):
                if len(key_lists) == 1:
                    out_name = short
                elif len(key_list) == 1:
                    out_name = f"{short}_{key_list[0]}"
                else:
                    out_name = f"{short}_{i}"
                rbl.append(
                    RawBuffer(key_list=list(key_list), out_stream=out_stream, out_name=out_name)
                )
            lib[decoder.name] = rbl
        return lib

    def _init_buffers(
        self,
        rb_lib: RawBufferLibrary | None,
        buffer_size: int,
        chunk_mode: str,
        out_stream: str,
        header_decoders: tuple[str, ...] = (),
    ) -> None:
        """Resolve the library against the decoders and allocate the buffers.

        Every buffer gets ``buffer_size`` rows, unless the data buffers together would
        exceed ``self.buffer_memory`` bytes: then each gets an equal share, but never fewer
        rows than one record can produce. Output is the same either way; only the number of
        rows written per HDF5 append changes.
        """
        if chunk_mode not in CHUNK_MODES:
            raise ValueError(f"unknown chunk_mode {chunk_mode!r}; use one of {CHUNK_MODES}")
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be at least 1, got {buffer_size}")
        self.chunk_mode = chunk_mode
        decoders = {d.name: d for d in self.get_decoder_list()}
        if rb_lib is None:
            rb_lib = self.build_default_rb_lib(out_stream)
        elif not isinstance(rb_lib, RawBufferLibrary):
            rb_lib = _as_library(rb_lib)
        named = set(rb_lib.as_out_spec()) - {"*"}
        rb_lib.resolve(self.decoder_keys(), known_decoder_names(), self._default_tables())
        self.rb_lib = rb_lib
        self._check_destinations()
        self._allocate(buffer_size, decoders, header_decoders)
        self._unprocessed_by_star(named)

    def _default_tables(self) -> dict[str, list[tuple[str, list[Any]]]]:
        """Decoder -> (name suffix, keys) of each table of :meth:`build_default_rb_lib`:
        how a ``"*"`` out_spec entry splits the decoder's rows, as legend-daq2lh5 does."""
        tables = {}
        for name, rbl in self.build_default_rb_lib().items():
            short = decoder_short_name(name)
            tables[name] = [
                (rb.out_name[len(short):] if rb.out_name.startswith(short) else f"_{i}",
                 list(rb.key_list))
                for i, rb in enumerate(rbl)
            ]  # fmt: skip
        return tables

    def _unprocessed_by_star(self, named: set[str]) -> None:
        """A ``"*"`` entry's proc_spec serves every decoder it covers, as in legend-daq2lh5:
        its steps skip the columns a table lacks (``skip_missing`` defaults to true), and
        buffers whose rows are not tables (headers: the ORCA header is a scalar) are written
        unprocessed. (A decoder named with a proc_spec is held to it: a missing column or a
        buffer that is not a table is an error when it is written.)"""
        assert self.rb_lib is not None
        for name, rbl in self.rb_lib.items():
            for rb in rbl:
                if not rb.proc_spec or name in named:
                    continue
                if not _is_table(rb.table):
                    kind = type(rb.table).__name__
                    log.info("the '*' proc_spec does not apply to %s (a %s, not a table): "
                             "written unprocessed", rb.out_name, kind)  # fmt: skip
                    rb.proc_spec = None
                elif "skip_missing" not in rb.proc_spec:
                    rb.proc_spec = {**rb.proc_spec, "skip_missing": True}

    def _check_destinations(self) -> None:
        assert self.rb_lib is not None
        seen: dict[tuple[str, str, str], str] = {}
        for name, rbl in self.rb_lib.items():
            for rb in rbl:
                filename, group = split_out_stream(rb.out_stream)
                if not filename:
                    continue
                dest = (filename, group.strip("/"), rb.out_name.strip("/"))
                if dest in seen and seen[dest] != name:
                    raise OutSpecError(
                        f"buffers of {seen[dest]} and {name} both write {filename}:"
                        f"/{dest[1]}/{dest[2]}; give them different out_name or out_stream"
                    )
                seen[dest] = name

    def _allocate(
        self, buffer_size: int, decoders: dict[str, DataDecoder], header_decoders: tuple[str, ...]
    ) -> None:
        assert self.rb_lib is not None
        self.header_rbs, self._data_rbs = [], []
        plans = []
        for name, rbl in self.rb_lib.items():
            decoder = decoders[name]
            for rb in rbl:
                rb.fill_safety = max(1, min(decoder.max_rows_for(rb.key_list),
                                            decoder.get_max_rows_in_packet()))  # fmt: skip
                if buffer_size < rb.fill_safety:
                    raise ValueError(
                        f"buffer_size {buffer_size} is smaller than the {rb.fill_safety} rows "
                        f"one {name} record can put in buffer {rb.name or rb.out_name}"
                    )
                is_header = name in header_decoders
                probe = _make(decoder, rb.key_list[0], 1)
                plans.append((rb, decoder, row_bytes(probe), is_header))
        n_data = sum(1 for p in plans if not p[3])
        share = self.buffer_memory // max(n_data, 1)
        for rb, decoder, nbytes, is_header in plans:
            size = buffer_size
            if not is_header:
                size = min(buffer_size, max(rb.fill_safety, share // nbytes))
            rb.table = _make(decoder, rb.key_list[0], size)
            rb.loc = 0
            rb.early_processed = False
            rb.max_rows = buffer_size
            (self.header_rbs if is_header else self._data_rbs).append(rb)
        for rbl in self.rb_lib.values():
            rbl.process_early = self.process_early

    # --- reading ----------------------------------------------------------------------------

    def rows_left(self) -> float:
        """Rows that may still be decoded under ``n_max``."""
        return self.n_max - self.n_rows_read

    def read_chunk(
        self,
        chunk_mode_override: str | None = None,
        rp_max: int = 1_000_000,
        clear_full_buffers: bool = True,
    ) -> list[RawBuffer]:
        """Decode until buffers need writing; returns them (``[]`` once the stream is done).

        The caller writes the returned buffers (e.g. with ``write_to_lh5_and_clear``).
        Header buffers (those ``open_stream`` returns) come first in every chunk while
        they hold rows, as in legend-daq2lh5: a caller that writes them after
        ``open_stream`` (clearing them) gets data buffers only; one that just iterates
        (``for chunk in streamer``) gets them in its first chunk. Once the stream is done
        the result is ``[]``, whatever is left in the buffers.
        """
        if self.rb_lib is None:
            raise RawconvError("read_chunk called before open_stream")
        mode = chunk_mode_override or self.chunk_mode
        if mode not in CHUNK_MODES:
            raise ValueError(f"unknown chunk_mode {mode!r}; use one of {CHUNK_MODES}")
        if clear_full_buffers:
            self.rb_lib.clear_full()
        self.any_full = False
        steps = 0
        while True:
            if self._eof or self.rows_left() <= 0:
                self._eof = True
                if self._finished:
                    return []
                self._finished = True
                return self._with_header([rb for rb in self._data_rbs if rb.loc > 0])
            if not self._decode_step(single=mode == "single_packet"):
                self._eof = True
                continue
            steps += 1
            if mode == "single_packet":
                return self._with_header([rb for rb in self._data_rbs if rb.loc > 0])
            full = [rb for rb in self._data_rbs if rb.is_full()]
            if full:
                self.any_full = True
                if mode == "only_full":
                    return self._with_header(full)
                return self._with_header([rb for rb in self._data_rbs if rb.loc > 0])
            if steps >= rp_max:
                return self._with_header([rb for rb in self._data_rbs if rb.loc > 0])

    def _with_header(self, chunk: list[RawBuffer]) -> list[RawBuffer]:
        """`chunk` after the header buffers that hold rows not yet written (cleared)."""
        return [rb for rb in self.header_rbs if rb.loc > 0] + chunk

    def close_stream(self) -> None:
        """Close the input."""
        if self.source is not None:
            self.source.close()

    def __iter__(self) -> Iterator[list[RawBuffer]]:
        """Yield chunks (lists of buffers) until the stream is done."""
        while True:
            chunk = self.read_chunk()
            if not chunk:
                return
            yield chunk
            for rb in chunk:
                rb.loc = 0

    def __enter__(self) -> DataStreamer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_stream()


def _as_library(rb_lib: Any) -> RawBufferLibrary:
    """A RawBufferLibrary from a mapping of decoder names to RawBufferLists (or to lists of
    RawBuffers, or to out_spec entries)."""
    if not isinstance(rb_lib, Mapping):
        raise TypeError(f"rb_lib must be a RawBufferLibrary or a mapping, not {rb_lib!r}")
    lib = RawBufferLibrary()
    for name, entry in rb_lib.items():
        if isinstance(entry, Mapping):
            lib.set_from_json_dict({name: entry})
        else:
            lib[name] = RawBufferList(entry)
    return lib


def _is_table(obj: Any) -> bool:
    return isinstance(from_lgdo(obj), TableCol)


def _make(decoder: DataDecoder, key: Any, size: int) -> Any:
    """A buffer table: the decoder's own make_lgdo if it overrides it, else light containers."""
    if type(decoder).make_lgdo is not DataDecoder.make_lgdo:
        return decoder.make_lgdo(key=key, size=size)
    return decoder.make_table(key=key, size=size)
