"""New tables copied from an empty table of the same shape.

A layout of one table per channel (LEGEND-200's has 120 of ~45 datasets each) spends most
of a file's fixed cost creating datasets and writing their attributes one by one through
h5py. When a second table arrives whose creation would be the same as an earlier one's
(same columns, dtypes, row shapes, attributes, write settings and chunk shapes: its
:func:`signature`), :class:`TableTemplates` creates that table once, without rows, in an
in-memory HDF5 file, and each such table from then on is one ``H5Ocopy`` of it into the
output, after which its rows are appended as to any existing table. The datasets whose
chunk shape follows their first write's length (the flattened data of vectors and of
encoded waveforms) are left out of the template and created by that first write, as
before, so the output is what creating each table would have made.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import h5py
import numpy as np

from .columns import ArrayCol, ScalarCol, TableCol, VectorCol
from .datasets import creation_chunks, obj_settings
from .encoded import EncodedCol, is_encoded

__all__ = ["TableTemplates", "signature"]


class _UnsupportedError(Exception):
    """A column whose creation a signature cannot describe."""


def _value(value: Any) -> tuple[str, str]:
    """A value by its type and repr (numpy's with dtype and shape); an object whose repr
    is its address cannot be told from another one."""
    text = repr(value)
    if " at 0x" in text:
        raise _UnsupportedError
    if isinstance(value, np.ndarray):
        text = f"{value.dtype.str}{value.shape}{value.tobytes()!r}"
    return type(value).__name__, text


def _attrs(attrs: Mapping[str, Any]) -> tuple:
    return tuple(sorted((str(k), *_value(v)) for k, v in attrs.items()))


def _array(col: ArrayCol, rows: int, settings: Mapping[str, Any]) -> tuple:
    """A dataset of a template: created from the column's settings and its first rows."""
    nda = col.nda
    own = obj_settings(col, settings)
    if own.get("chunks") is True:  # h5py guesses from the shape: not the template's
        raise _UnsupportedError
    chunks = creation_chunks(own, nda.shape, nda.dtype.itemsize, min(rows, len(nda)))
    return ("A", nda.dtype.str, nda.shape[1:], chunks, _attrs(col.attrs))


def _column(col: Any, rows: int, settings: Mapping[str, Any]) -> tuple:
    if is_encoded(col):
        if isinstance(col, EncodedCol):
            size = col.decoded_size
            sizes = ("S", int(size)) if col.equal_sized else _array(size, rows, settings)
            cl = _array(col.encoded_data.cumulative_length, rows, settings)
            return ("EC", sizes, cl, _attrs(col.attrs))
        if not isinstance(col, ArrayCol):
            raise _UnsupportedError  # vectors: decoded sizes per row
        first = min(rows, len(col.nda))
        cl = creation_chunks(settings, (first,), 4, first)  # the uint32 cumulative_length
        return ("E", col.nda.dtype.str, col.nda.shape[1:], cl, _attrs(col.attrs))
    if isinstance(col, TableCol):
        if col.kind != "table":
            raise _UnsupportedError
        fields = tuple((str(f), _column(c, rows, settings)) for f, c in col.items())
        return ("T", _attrs(col.attrs), fields)
    if isinstance(col, VectorCol):
        flat = col.flattened_data
        if not isinstance(flat, ArrayCol):
            raise _UnsupportedError
        cl = _array(col.cumulative_length, rows, settings)
        return ("V", _attrs(col.attrs), flat.nda.dtype.str, _attrs(flat.attrs), cl)
    if isinstance(col, ArrayCol):
        return _array(col, rows, settings)
    if isinstance(col, ScalarCol):
        return ("S", type(col.value).__name__, repr(col.value), _attrs(col.attrs))
    raise _UnsupportedError


def signature(obj: Any, n_rows: int | None, settings: Mapping[str, Any]) -> Hashable | None:
    """What creating table `obj` for its first `n_rows` rows (all if None) with `settings`
    depends on, or None where a template cannot stand for it."""
    if not isinstance(obj, TableCol) or obj.kind != "table":
        return None
    rows = obj.size if n_rows is None else int(n_rows)
    try:
        return (_column(obj, rows, settings), _attrs(settings))
    except (_UnsupportedError, TypeError, ValueError):
        return None


class TableTemplates:
    """The empty tables of one output file, by :func:`signature` (see the module)."""

    def __init__(self, defer: bool) -> None:
        self.defer = defer
        self.seen: set[Hashable] = set()
        """Signatures of the tables created in the output so far."""
        self.made: dict[Hashable, tuple[str, list[tuple[str, str, Any]]]] = {}
        """Signature -> (the template's name in :attr:`memory`, what the writer knows of
        its objects: (cache, path inside the table, value))."""
        self.memory: Any = None
        """The in-memory :class:`~rawconv.lh5.outfile.OpenFile` holding the templates."""

    def copy_into(self, out: Any, parent: h5py.Group, name: str, obj: Any,
                  n_rows: int | None, settings: Mapping[str, Any]) -> bool:  # fmt: skip
        """Create table ``parent[name]`` of `out` (an OpenFile) as a copy of its template,
        made now if a table of its signature was created before; False (nothing done) for
        the first table of a signature and for tables a template cannot stand for."""
        from .objects import write_object
        from .outfile import OpenFile

        sig = signature(obj, n_rows, settings)
        if sig is None:
            return False
        if sig not in self.made:
            if sig not in self.seen:
                self.seen.add(sig)
                return False
            if self.memory is None:
                self.memory = OpenFile.in_memory(self.defer)
            template = f"t{len(self.made)}"
            write_object(self.memory, self.memory.h5, template, obj, n_rows, settings)
            self.made[sig] = (template, self._known(f"/{template}/"))
        template, known = self.made[sig]
        if out.is_struct(parent):
            out.add_struct_field(parent, name)
        h5py.h5o.copy(self.memory.h5.id, template.encode(), parent.id, name.encode())
        table = out.child_path(parent, name)
        for cache, path, value in known:  # as if the writer had created the copy
            where = f"{table}/{path}" if path else table
            if cache == "filtered":
                out.filtered.add(where)
            elif cache == "fields":  # the group datatypes: sets that later fields extend
                out.fields[where] = (value[0], set(value[1]))
            else:
                getattr(out, cache)[where] = value
        return True

    def _known(self, prefix: str) -> list[tuple[str, str, Any]]:
        """What the in-memory writer knows of the template at `prefix` and the objects
        under it (paths relative to it, "" for the template itself): row shapes, encoded
        columns' attributes, group datatypes, chunk codecs and the datasets HDF5's filters
        write."""
        memory = self.memory
        known = [("filtered", p, None) for p in memory.filtered]
        for cache in ("row_shapes", "encoded", "codecs", "fields"):
            known += [(cache, p, v) for p, v in getattr(memory, cache).items()]
        top = prefix.rstrip("/")
        return [(c, "" if p == top else p[len(prefix):], v) for c, p, v in known
                if p == top or p.startswith(prefix)]  # fmt: skip

    def close(self) -> None:
        """Free the in-memory file."""
        if self.memory is not None:
            memory, self.memory = self.memory, None
            memory.h5.close()
