"""One array per column for many buffers of the same layout (a channel per table).

A decode block of events with 120 channels puts a few rows in each of 120 buffers. Copying
them column by column and buffer by buffer is 45 x 120 small numpy copies per block, whose
Python cost exceeds the copies themselves. A :class:`BufferArena` stores each array column
of those buffers as one array, every buffer's column a slice of it, so that a block's rows
go to all buffers with one fancy-indexed copy per column.

The buffers' tables stay ordinary tables (the slices are their arrays), so writing and
clearing them is unchanged. Anything that replaces a buffer's table or one of its arrays
(a resize) detaches it; :meth:`BufferArena.intact` notices, and the router then copies rows
buffer by buffer as before.
"""

from __future__ import annotations

import math
import mmap
from collections.abc import Sequence
from typing import Any

import numpy as np

from .lh5.columns import ArrayCol, TableCol, VectorCol
from .prefault import Prefaulter, available

__all__ = ["BufferArena", "leaf", "leaves", "row_bytes"]

MIN_BUFFERS = 4
"""Fewer buffers than this keep their own arrays (a few copies per block cost nothing)."""

PREFAULT_ROW_BYTES = 256
"""Columns of at least this many bytes a row get their pages allocated ahead of the rows
written (:mod:`rawconv.prefault`): the waveforms, not the scalar columns."""

PREFAULT_BLOCKS = 4
"""When fewer than this many blocks' rows (its rows in the last block) of a buffer have
their pages allocated, the pages of the rows that the rest of the input can put in it are
asked for (twice that many blocks where the input's size is unknown)."""


def leaves(table: TableCol, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path, column) of the arrays and vectors of a table, its sub-tables walked."""
    out = []
    for name, col in table.items():
        if isinstance(col, TableCol):
            out += leaves(col, (*prefix, name))
        else:
            out.append(((*prefix, name), col))
    return out


def leaf(table: TableCol, path: tuple[str, ...]) -> Any:
    """The column at `path` of a table."""
    col: Any = table
    for name in path:
        col = col[name]
    return col


def _array_layout(table: Any) -> tuple | None:
    """(path, dtype, row shape) of each column of a table whose columns are all arrays;
    None for anything else (vector columns, which grow, keep their own arrays)."""
    if not isinstance(table, TableCol) or table.kind != "table":
        return None
    columns = leaves(table)
    if not all(isinstance(col, ArrayCol) for _, col in columns):
        return None
    return tuple((path, col.nda.dtype, col.nda.shape[1:]) for path, col in columns)


def early_spec(rbl: Sequence[Any], staging: TableCol) -> tuple[Any, TableCol] | None:
    """(proc_spec, its output on a row of `staging`) when every buffer of `rbl` is empty
    and has that same proc_spec, and it works row by row without the db_dict (window,
    presum, casts, drops, write settings, and dsp chains rawconv runs itself: a block
    processed at once gives the rows each buffer would get); else None."""
    from .dsp_native import native_outputs
    from .errors import ProcSpecError
    from .processing import process_table

    spec = rbl[0].proc_spec if rbl else None
    if not spec or any(rb.loc or rb.proc_spec != spec for rb in rbl):
        return None
    if "dsp_config" in spec and native_outputs(spec["dsp_config"], staging, 1) is None:
        return None
    try:
        processed = process_table(staging, spec, 1)
    except ProcSpecError:  # raised again when the buffers are written, as it would be
        return None
    return (spec, processed) if _array_layout(processed) else None


def row_bytes(table: TableCol) -> int:
    """Approximate bytes per row of a table (VoV columns by their current capacity)."""
    total = 0
    for _, col in table.items():
        total += _col_row_bytes(col, len(table))
    return max(total, 1)


def _col_row_bytes(col: Any, n: int) -> int:
    if isinstance(col, TableCol):
        return sum(_col_row_bytes(c, n) for c in col.values())
    if isinstance(col, VectorCol):
        fd = col.flattened_data
        flat = fd.nda.nbytes if isinstance(fd, ArrayCol) else 0
        return 8 + flat // max(n, 1)
    if isinstance(col, ArrayCol):
        return col.nda.itemsize * math.prod(col.nda.shape[1:])
    return 0


def _rows_in_memory(rb: Any, raw_bytes: int, new_bytes: int) -> int:
    """Rows of `new_bytes` that fit in the memory of buffer `rb`'s table (rows of
    `raw_bytes`), at most its ``max_rows`` and at least its current rows."""
    rows = len(rb.table)
    fit = rows * raw_bytes // new_bytes
    cap = rb.max_rows if getattr(rb, "max_rows", None) else rows
    return max(rows, min(fit, cap))


def _empty_like(template: TableCol, rows: int) -> TableCol:
    """A table of `rows` rows laid out as `template` (its attributes copied); its arrays
    are placeholders that the arena replaces."""
    cols: dict[str, Any] = {}
    for name, col in template.items():
        if isinstance(col, TableCol):
            cols[name] = _empty_like(col, rows)
        else:
            cols[name] = ArrayCol(np.empty((0, *col.nda.shape[1:]), col.nda.dtype), col.attrs)
    return TableCol(cols, size=rows, attrs=template.attrs, kind=template.kind)


def _fresh(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A zeroed array in its own anonymous memory map, of ordinary (4 KiB) pages.

    numpy asks for transparent huge pages for large arrays; a buffer's rows are then paid
    for 2 MiB at a time when first written, and on virtual machines a huge page's first
    write can cost several times the 512 ordinary ones it replaces (2.3-2.9 against
    0.8-0.9 s per GB measured on the 2-core benchmark machine). Memory is returned when the
    array is freed."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    if count == 0:
        return np.empty(shape, dtype=dtype)
    private = {"flags": mmap.MAP_PRIVATE} if hasattr(mmap, "MAP_PRIVATE") else {}
    buf = mmap.mmap(-1, count * dtype.itemsize, **private)  # not shared with a fork
    return np.frombuffer(buf, dtype=dtype).reshape(shape)


class BufferArena:
    """The array columns of buffers ``rbl[i]`` for ``i`` in `members`, one array per column
    laid out as `template`'s.

    Build it with :meth:`adopt`. With ``spec`` (a proc_spec all buffers share, which
    :func:`early_spec` found to work row by row), the buffers' tables are replaced by
    tables of the processed layout: the router processes each block before placing it,
    and the buffers are written as they are (``rb.early_processed``). Otherwise the
    buffers keep their tables and filled rows, their arrays moved into the arena.
    """

    def __init__(
        self, rbl: Sequence[Any], members: list[int], template: TableCol, spec: Any = None
    ) -> None:  # fmt: skip
        layout = _array_layout(template)
        assert layout is not None
        self.rbl = rbl
        self.spec = spec
        self.member = np.zeros(len(rbl), dtype=bool)
        self.member[members] = True
        self.sizes = np.zeros(len(rbl), dtype=np.int64)
        self.sizes[members] = [len(rbl[i].table) for i in members]
        raw = row_bytes(rbl[members[0]].table)  # the members share one array layout
        if spec is not None:  # the memory of the raw rows, in processed rows
            processed = row_bytes(template)
            for i in members:
                self.sizes[i] = _rows_in_memory(rbl[i], raw, processed)
        self.base = np.cumsum(self.sizes) - self.sizes
        """Row of the arena where each buffer's rows start."""
        total = int(self.sizes.sum())
        self.paths = [path for path, _, _ in layout]
        self.arrays = [_fresh((total, *shape), dtype) for _, dtype, shape in layout]
        self.ready = np.zeros(len(rbl), dtype=np.int64)
        """Rows of each buffer whose pages are allocated, or asked for (large columns)."""
        large = [a for a in self.arrays if total and a.strides[0] >= PREFAULT_ROW_BYTES]
        self._prefault = (large, Prefaulter()) if large and available() else None
        self.input_row_bytes = raw
        """Input bytes a row takes at least (its raw row in memory)."""
        self._bound: list[tuple[ArrayCol, np.ndarray]] = []
        """(column, its arena view) of each member's first column: a buffer resized or
        given a new table no longer has it (checked per block, so one per buffer)."""
        for i in members:
            rb = rbl[i]
            lo, n = int(self.base[i]), int(self.sizes[i])
            if spec is not None:
                rb.table, rb.early_processed = _empty_like(template, n), True
            for path, big in zip(self.paths, self.arrays):
                col = leaf(rb.table, path)
                view = big[lo : lo + n]
                view[: rb.loc] = col.nda[: rb.loc]
                col.nda = view
            first = leaf(rb.table, self.paths[0])
            self._bound.append((first, first.nda))
        self.tables = {i: rbl[i].table for i in members}

    @classmethod
    def adopt(
        cls, rbl: Sequence[Any], staging: TableCol, early: bool = True
    ) -> BufferArena | None:  # fmt: skip
        """An arena for the buffers of `rbl` whose columns are the array columns of
        `staging` (the table their rows are decoded into), or None when fewer than
        MIN_BUFFERS are or `staging` has other columns. With `early` (the buffers get rows
        from `staging` alone) and a proc_spec that :func:`early_spec` accepts, the buffers
        hold processed rows."""
        layout = _array_layout(staging)
        if not layout:
            return None
        members = [i for i, rb in enumerate(rbl) if _array_layout(rb.table) == layout]
        if len(members) < MIN_BUFFERS:
            return None
        if early and len(members) == len(rbl):
            found = early_spec(rbl, staging)
            if found is not None:
                return cls(rbl, members, found[1], found[0])
        return cls(rbl, members, staging)

    def process(self, table: TableCol, n: int) -> TableCol:
        """Rows ``[0, n)`` of a staging table processed by the arena's proc_spec."""
        from .processing import process_table

        return process_table(table, self.spec, n, name=self.rbl[0].out_name)

    def intact(self) -> bool:
        """Whether every member still has its table and arrays in the arena (as far as
        a resize or a new table would change them: a column given a new array by hand
        is not noticed)."""
        rbl = self.rbl
        if any(rbl[i].table is not t for i, t in self.tables.items()):
            return False
        return all(col.nda is view for col, view in self._bound)

    def place(self, table: TableCol, dest: np.ndarray, n: int,
              bytes_left: int | None = None) -> np.ndarray | None:  # fmt: skip
        """Copy rows ``[0, n)`` of `table` to their buffers (`dest`: buffer index per row,
        -1: none), each buffer's rows after its first ``loc`` rows in input order, and
        advance the buffers' ``loc``. Returns the rows per buffer, or None (nothing
        copied) when a destination is no member or would overflow. `bytes_left`: the input
        bytes still to come (None: unknown), to allocate the pages of the rows they can
        fill ahead of them."""
        dest = dest[:n]
        routed = dest >= 0
        rows = None if routed.all() else np.flatnonzero(routed)
        d = dest if rows is None else dest[rows]
        counts = np.bincount(d, minlength=len(self.rbl))
        hit = np.flatnonzero(counts)
        if not self.member[hit].all():
            return None
        loc = np.zeros(len(self.rbl), dtype=np.int64)
        loc[hit] = [self.rbl[i].loc for i in hit.tolist()]
        if np.any(loc[hit] + counts[hit] > self.sizes[hit]):
            return None
        order = np.argsort(d, kind="stable")
        first = np.cumsum(counts) - counts  # first sorted position of each buffer
        rank = np.empty(len(d), dtype=np.int64)
        rank[order] = np.arange(len(d)) - first[d[order]]
        pos = self.base[d] + loc[d] + rank
        for path, big in zip(self.paths, self.arrays):
            src = leaf(table, path).nda
            big[pos] = src[:n] if rows is None else src[rows]
        for i in hit.tolist():
            self.rbl[i].loc += int(counts[i])
        if self._prefault is not None:
            self._ahead(hit, loc[hit] + counts[hit], counts[hit], bytes_left)
        return counts

    def _ahead(self, hit: np.ndarray, loc: np.ndarray, counts: np.ndarray,
               bytes_left: int | None) -> None:  # fmt: skip
        """Ask for the pages of the rows that buffers `hit` (rows written: `loc`; rows in
        the last block: `counts`) get next, where fewer than PREFAULT_BLOCKS blocks' rows
        are ready: of the rows the `bytes_left` of input can put in each, shared as in the
        last block (twice PREFAULT_BLOCKS blocks' where that is unknown)."""
        if bytes_left is None:
            horizon = 2 * PREFAULT_BLOCKS * counts
        else:  # a raw row in memory takes at least its bytes of input
            rows_left = bytes_left // self.input_row_bytes
            horizon = -(-rows_left * counts // int(counts.sum()))
        size = self.sizes[hit]
        short = np.minimum(size, loc + np.minimum(PREFAULT_BLOCKS * counts, horizon))
        short = short > self.ready[hit]
        if not short.any():
            return
        which = hit[short]
        start = np.maximum(self.ready[which], loc[short])
        stop = np.minimum(size[short], loc[short] + horizon[short])
        self.ready[which] = np.maximum(self.ready[which], stop)
        start, stop = start + self.base[which], stop + self.base[which]
        large, prefaulter = self._prefault
        for big in large:
            row = big.strides[0]
            prefaulter.request(big, list(zip((start * row).tolist(), (stop * row).tolist())))
