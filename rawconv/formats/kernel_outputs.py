"""Kernel output structs: the columns of a table as one numba-compatible namedtuple.

A block kernel writes its rows into one struct per table instead of one positional array
per column: a ``collections.namedtuple`` class whose field names equal the table's column
names, so that a kernel reads ``out.timestamp[row] = ts``. Define the class at module level
(numba's cache finds a compiled kernel by the class of its arguments) next to the column
definitions, and build an instance per kernel call with :func:`columns_of`:

==========================  ===========================================================
column of the table         field of the struct
==========================  ===========================================================
array (1-D or 2-D)          its rows from `row0`: ``nda[row0:]``
vector of vectors           ``Vector(cumulative_length[row0:], flattened_data)``
waveform table              its ``values`` rows from `row0` (2-D)
==========================  ===========================================================

Flattened data is the whole array (kernels index it by absolute position); the caller
grows it before the call.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping
from typing import Any, NamedTuple, TypeVar

__all__ = ["Vector", "columns_of"]

Vector = namedtuple("Vector", ("cumulative_length", "flattened_data"))
"""The arrays of a vector-of-vectors column (cumulative lengths from the first row)."""

T = TypeVar("T", bound=NamedTuple)


def _field(col: Any, row0: int) -> Any:
    try:
        nda = col.nda
    except AttributeError:
        pass
    else:
        return nda[row0:] if row0 else nda
    flat = getattr(col, "flattened_data", None)
    if flat is not None:
        cl = col.cumulative_length.nda
        return Vector(cl[row0:] if row0 else cl, flat.nda)
    if isinstance(col, Mapping) and "values" in col:
        return _field(col["values"], row0)
    raise TypeError(f"a {type(col).__name__} column has no arrays for a kernel")


def columns_of(table: Mapping[str, Any], spec: type[T], row0: int = 0) -> T:
    """The struct `spec` (a namedtuple class) over the columns of `table` from row `row0`.

    Parameters
    ----------
    table
        the table the kernel fills (a mapping of column names to columns).
    spec
        the namedtuple class; each field names a column of `table`.
    row0
        the table row that is row 0 of the struct's arrays.

    Raises
    ------
    KeyError
        a field of `spec` names no column of `table`.
    """
    try:
        return spec._make([_field(table[name], row0) for name in spec._fields])
    except KeyError:
        missing = next((name for name in spec._fields if name not in table), None)
        if missing is None:
            raise
        raise KeyError(f"{spec.__name__}: the table has no column {missing!r}") from None
