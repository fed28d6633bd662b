"""MGDOStreamer: reads GERDA MGDO tier1 ROOT files basket by basket (formats.md, section 5).

uproot gives the decompressed baskets of ``MGTree``/``event`` (:mod:`.root`); each basket
is parsed whole by the kernels (:mod:`.block`), and runs of its entries are copied into
the ``MGDOEvent`` and ``MGDOAuxWaveform`` buffers. Packet ids are tree entry numbers.

Damage: a basket that does not read (bad compression, bad key) goes to the garbage table
(its compressed bytes) and an entry that does not parse goes there too (its bytes); both
are reported in ``problems`` and conversion goes on with the next one. A file cut short
is read through its recovered baskets (:mod:`.recovery`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ...buffers import RawBuffer, RawBufferLibrary
from ...decoder import DataDecoder, GarbageCode
from ...errors import CorruptDataError, RawconvError
from ...routing import DecoderRoute
from ...streamer import DataStreamer
from ..base import ResumeState
from .block import ParsedBasket, check_offsets, parse_basket
from .decoders import MGDOAuxWaveformDecoder, MGDOEventDecoder, MGDOShape
from .root import MGDOTree, open_tree

log = logging.getLogger(__name__)

__all__ = ["MGDOStreamer", "probe_shape"]

PROBE_BASKETS = 4
PROBE_ENTRIES = 64
GROUP_BYTES = 4 << 20
"""Entry bytes parsed at a time (baskets can be much larger)."""
BUFFER_MEMORY = 32 << 20
"""Data buffers of one stream together (a quarter of the default: uproot's imports and the
parsed entries take their share of a ~300 MB budget; rows are 10 kB, 3000 per buffer)."""


def probe_shape(tree: MGDOTree) -> MGDOShape:
    """Trace lengths, sampling periods, channels and traces per entry from the first good
    entries of the first baskets that read (the same for every reader of a file)."""
    main_len = aux_len = -1
    main_dt = aux_dt = 1.0
    n_bits, top, most = 0, -1, 1
    for i in range(min(len(tree.table), PROBE_BASKETS)):
        try:
            data, offsets = tree.read(i)
            pb = parse_basket(data, offsets[: PROBE_ENTRIES + 1], -1, -1)
        except CorruptDataError:
            continue
        good = pb.entries["status"] == 0
        ent = pb.entries[good]
        n_bits = max(n_bits, int(ent["n_flag_bits"].max(initial=0)))
        most = max(most, int(ent["n_main"].max(initial=0)), int(ent["n_aux"].max(initial=0)))
        for table in (pb.traces, pb.aux):
            top = max(top, int(table["channel"].max(initial=0)))
        if main_len < 0 and len(pb.traces):
            main_len, main_dt = int(pb.traces["nsamples"][0]), _dt(pb.traces[0])
        if aux_len < 0 and len(pb.aux):
            aux_len, aux_dt = int(pb.aux["nsamples"][0]), _dt(pb.aux[0])
        if main_len >= 0 and aux_len >= 0 and good.any():
            break
    channels = tuple(range(max(n_bits, top + 1, 1)))
    return MGDOShape(max(main_len, 0), max(aux_len, 0), main_dt, aux_dt, channels,
                     max(most, len(channels)))  # fmt: skip


def _dt(row: np.void) -> float:
    freq = float(row["sampling_frequency"])
    return 1.0 / freq if freq > 0 else 1.0


class MGDOStreamer(DataStreamer):
    """Decodes MGDO tier1 files into MGDOEvent and MGDOAuxWaveform tables."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer_memory = BUFFER_MEMORY
        self.event_decoder = MGDOEventDecoder()
        self.aux_decoder = MGDOAuxWaveformDecoder()
        self.tree: MGDOTree | None = None
        self.shape = MGDOShape()
        self._baskets: list[int] = []
        self._block: ParsedBasket | None = None
        self._basket: tuple[np.ndarray, np.ndarray, int, int, int] | None = None
        """(entry bytes, entry offsets, offset, first entry, next entry) of the basket."""
        self._cursor = 0
        self._next = 0
        self._routes: dict[str, DecoderRoute] = {}

    def get_decoder_list(self) -> list[DataDecoder]:
        return [self.event_decoder, self.aux_decoder]

    def open_stream(
        self,
        stream_name: Any,
        rb_lib: RawBufferLibrary | None = None,
        buffer_size: int = 8192,
        chunk_mode: str = "any_full",
        out_stream: str = "",
        resume: ResumeState | None = None,
    ) -> list[RawBuffer]:
        """Open an MGDO file, learn its trace shapes and allocate the buffers (no header
        tables). With `resume`, decode only the baskets that start in its byte range
        (those stored in the tree metadata belong to the range that reaches the end)."""
        source = self._open_source(stream_name)
        self.tree = open_tree(source)
        self.problems.extend(self.tree.problems)
        self.shape = probe_shape(self.tree)
        for decoder in self.get_decoder_list():
            decoder.set_shape(self.shape)
        self._baskets = self._select(resume)
        self._block, self._basket, self._cursor, self._next = None, None, 0, 0
        self._init_buffers(rb_lib, buffer_size, chunk_mode, out_stream)
        assert self.rb_lib is not None
        self._routes = {
            d.name: DecoderRoute(d, self.rb_lib[d.name])
            for d in self.get_decoder_list()
            if d.name in self.rb_lib and len(self.rb_lib[d.name])
        }
        return []

    def _select(self, resume: ResumeState | None) -> list[int]:
        assert self.tree is not None and self.source is not None
        seek = self.tree.table.seek
        if resume is None:
            return list(range(len(seek)))
        size = self.source.size if self.source.size is not None else 2**62
        start = 0 if resume.at_beginning else resume.start
        if start > 0 and start not in set(seek.tolist()):
            raise RawconvError(
                f"a resume state starting at offset {start}, where no basket starts",
                path=self.name, offset=start,
            )  # fmt: skip
        inside = (seek >= start) & (seek < resume.stop)
        inside |= (seek < 0) & (resume.stop >= size)
        return np.flatnonzero(inside).tolist()

    # --- reading ----------------------------------------------------------------------------

    def _load(self) -> bool:
        """Parse the next group of entries (of the current basket, else of the next basket
        that reads); False when none is left."""
        while self._basket is None or self._basket[4] >= len(self._basket[1]) - 1:
            if not self._read_basket():
                return False
        data, offsets, seek, first, k0 = self._basket
        # entries in groups of about GROUP_BYTES: parsed tables stay small in big baskets
        k1 = int(np.searchsorted(offsets, offsets[k0] + GROUP_BYTES, side="right")) - 1
        k1 = min(max(k1, k0 + 1), len(offsets) - 1)
        self._basket = (data, offsets, seek, first, k1)
        try:
            block = parse_basket(
                data, offsets[k0 : k1 + 1], self.shape.main_len, self.shape.aux_len,
                self.shape.max_traces, first + k0, seek, self.name,
            )  # fmt: skip
        except CorruptDataError as exc:  # impossible offsets: the rest of the basket is lost
            self._report(str(exc))
            self._basket = None
            return self._load()
        for k in block.bad_entries().tolist():
            self._report(f"{self.name}: {block.problem(k)}")
            self.garbage.put_in_garbage(
                block.entry_bytes(k), block.first_entry + k, GarbageCode.BAD_PAYLOAD, offset=seek
            )
        self._block, self._cursor = block, 0
        return True

    def _read_basket(self) -> bool:
        """Read the next basket that reads into ``_basket``; False when none is left."""
        tree = self.tree
        assert tree is not None
        self._basket = None
        while self._next < len(self._baskets):
            i = self._baskets[self._next]
            self._next += 1
            seek, nbytes = int(tree.table.seek[i]), int(tree.table.nbytes[i])
            first = int(tree.table.first_entry[i])
            self.n_bytes_read += nbytes
            try:
                data, offsets = tree.read(i)
                check_offsets(data, offsets, seek, first, self.name)
            except CorruptDataError as exc:
                self._report(str(exc))
                raw = tree.raw_basket(i)
                self.garbage.put_in_garbage(raw, first, GarbageCode.BAD_PAYLOAD, offset=seek)
                continue
            if tree.recovered is not None and not tree.recovered[i].complete:
                self._report(
                    f"{self.name}: the file ends inside the basket at offset {seek}; "
                    f"its {len(offsets) - 1} complete entries are kept"
                )
            self._basket = (data, offsets, seek, first, 0)
            return True
        return False

    def _report(self, msg: str) -> None:
        log.warning("%s", msg)
        self.problems.append(msg)

    def _decode_step(self, single: bool) -> bool:
        while self._block is None or self._cursor >= self._block.n:
            if not self._load():
                return False
        block = self._block
        i = self._cursor
        budget = self.rows_left()
        j = i + 1 if single or budget != float("inf") else block.n
        for route in self._routes.values():
            j = min(j, i + route.capacity_records())
        if j == i:
            return True  # a buffer is full: read_chunk hands it out first
        for route in self._routes.values():
            rows = route.decode([(route.decoder, block, i, j)], budget)  # the run is sized
            budget -= rows
            self.n_rows_read += rows
        self._cursor = j
        self.packet_id = block.first_entry + j - 1
        return True
