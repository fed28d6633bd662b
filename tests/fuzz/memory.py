"""Decoding an input in this process into memory, for the fuzzing campaign's fast mode.

The input's streamer fills its buffers as in ``build_raw`` (default out_spec, ``only_full``
chunks), and the rows of each data table are gathered here instead of written to an LH5
file: no HDF5, no output file, no lock. The errors, the decoding and the rows are those of
``build_raw``; what only writing does (output paths, locks, commit) is checked by the
sample of inputs that the campaign sends through ``build_raw`` and the ``rawconv`` command.

Columns are numpy arrays of rows, or :class:`Ragged` for variable-length rows, in the
same form as :func:`tests.fuzz.harness.table_rows` reads them from an LH5 file.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Ragged:
    """Variable-length rows: the length of each row and their values one after another
    (`flat` is an array, or a Ragged for rows of rows)."""

    lengths: np.ndarray
    flat: Any

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, rows: slice) -> Ragged:
        """The rows of a slice (step 1)."""
        start, stop, step = rows.indices(len(self.lengths))
        if step != 1:
            raise ValueError("Ragged rows are sliced with step 1 only")
        stop = max(stop, start)
        a = int(self.lengths[:start].sum())
        b = a + int(self.lengths[start:stop].sum())
        return Ragged(self.lengths[start:stop], self.flat[a:b])


def concat(parts: list[Any]) -> Any:
    """The rows of `parts` (columns of one kind) one after another."""
    if isinstance(parts[0], Ragged):
        return Ragged(np.concatenate([p.lengths for p in parts]),
                      concat([p.flat for p in parts]))  # fmt: skip
    return np.concatenate(parts)


def same(a: Any, b: Any) -> bool:
    """Whether two columns hold equal rows (NaN equal to NaN)."""
    if isinstance(a, Ragged) or isinstance(b, Ragged):
        return (isinstance(a, Ragged) and isinstance(b, Ragged)
                and np.array_equal(a.lengths, b.lengths) and same(a.flat, b.flat))  # fmt: skip
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        return np.array_equal(a, b, equal_nan=True)
    return np.array_equal(a, b)


def _column(col: Any, n: int) -> Any:
    """The first `n` rows of a rawconv container column, copied."""
    from rawconv.lh5.columns import ArrayCol, VectorCol

    if isinstance(col, VectorCol):
        cl = col.cumulative_length.nda[:n].astype(np.int64)
        lengths = np.diff(cl, prepend=0)
        return Ragged(lengths, _column(col.flattened_data, int(cl[-1]) if n else 0))
    if isinstance(col, ArrayCol):
        return col.nda[:n].copy()
    raise TypeError(f"unexpected column {type(col).__name__}")


def _gather(table: Any, n: int, prefix: str, out: dict[str, Any]) -> None:
    from rawconv.lh5.columns import TableCol

    for name, col in table.items():
        if isinstance(col, TableCol):
            _gather(col, n, prefix + name + "/", out)
        else:
            out[prefix + name] = _column(col, n)


def take(rbs: list, parts: dict[str, dict[str, list]]) -> bool:
    """Append the filled rows of table buffers to `parts` (table -> column -> row blocks)
    and empty every buffer, as writing them would; whether any buffer held something."""
    from rawconv.lh5.columns import TableCol

    held = any(rb.table is not None and rb.loc > 0 for rb in rbs)
    for rb in rbs:
        if isinstance(rb.table, TableCol) and rb.table.kind == "table" and rb.loc > 0:
            cols: dict[str, Any] = {}
            _gather(rb.table, rb.loc, "", cols)
            table = parts.setdefault(rb.out_name, {})
            for name, col in cols.items():
                table.setdefault(name, []).append(col)
        rb.loc = 0
    return held


def decode(fmt: str, src: Path) -> tuple[dict[str, dict[str, Any]], str | None]:
    """(table -> column -> rows, the error ``build_raw`` would give when nothing could be
    decoded, else None) of the input `src` decoded by the streamer of `fmt`, as
    ``build_raw`` decodes it; raises what decoding raises (with warnings as errors)."""
    from rawconv.formats import get_streamer, normalize_stream_type

    streamer = get_streamer(normalize_stream_type(fmt))
    parts: dict[str, dict[str, list]] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            header = streamer.open_stream(
                str(src), rb_lib=None, buffer_size=8192, chunk_mode="only_full",
                out_stream="memory.lh5",
            )  # fmt: skip
            held = take(header, parts)
            while True:
                chunk = streamer.read_chunk()
                if not chunk:
                    break
                held = take(chunk, parts) or held
    finally:
        streamer.close_stream()
    tables = {t: {c: concat(blocks) for c, blocks in cols.items()} for t, cols in parts.items()}
    written = held or streamer.garbage.n_garbage > 0  # build_raw writes the garbage table
    nothing = streamer.problems[-1] if not written and streamer.problems else None
    return tables, nothing


def first_difference(a: Any, b: Any, n: int) -> int:
    """The first of the `n` first rows in which columns `a` and `b` differ (n if none)."""
    lo, hi = 0, n  # rows [0, lo) are equal; some row in [lo, hi) differs unless hi == n
    if same(a[:n], b[:n]):
        return n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if same(a[:mid], b[:mid]):
            lo = mid
        else:
            hi = mid
    return lo
