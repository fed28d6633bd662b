"""Light column containers with the layout of LGDO types, and conversion to and from LGDO.

Importing legend-pydataobj (lgdo) costs over a second (it loads pandas, pint, awkward and
pyarrow), longer than converting a small file. rawconv's decoders and LH5 writer therefore
work on these containers, which hold plain numpy arrays just like their LGDO counterparts:

==================  ==============================  ==========================================
container           LGDO type                       datatype attribute
==================  ==============================  ==========================================
:class:`ArrayCol`   Array / ArrayOfEqualSizedArrays ``array<1>{real}`` /
                                                    ``array_of_equalsized_arrays<1,1>{real}``
:class:`VectorCol`  VectorOfVectors                 ``array<1>{array<1>{real}}``
:class:`TableCol`   Table / WaveformTable / Struct  ``table{a,b}`` / ``struct{a,b}``
:class:`ScalarCol`  Scalar                          ``real`` / ``string`` / ``bool``
==================  ==============================  ==========================================

:mod:`rawconv.lh5.convert` converts between the two, sharing the numpy arrays. A
VectorCol allocated here keeps its cumulative lengths behind a leading 0 (the offsets that
legend-pydataobj 2 stores), so that its LGDO shares them too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ArrayCol", "ScalarCol", "TableCol", "VectorCol", "waveform_table"]


def element_type(dtype: np.dtype) -> str:
    """The LGDO element type name of a numpy dtype."""
    if dtype.kind == "b":
        return "bool"
    if dtype.kind in "SU":
        return "string"
    if dtype.kind == "c":
        return "complex"
    return "real"


class ArrayCol:
    """A numpy array of rows (1-D: Array; 2-D: ArrayOfEqualSizedArrays)."""

    def __init__(self, nda: np.ndarray, attrs: dict[str, Any] | None = None) -> None:
        self.nda = nda
        self.attrs = dict(attrs or {})

    def __len__(self) -> int:
        return len(self.nda)

    def resize(self, size: int) -> None:
        """Change the number of rows, keeping the first ones."""
        new = np.empty((size, *self.nda.shape[1:]), dtype=self.nda.dtype)
        n = min(size, len(self.nda))
        new[:n] = self.nda[:n]
        self.nda = new

    def form_datatype(self) -> str:
        et = element_type(self.nda.dtype)
        if self.nda.ndim == 1:
            return f"array<1>{{{et}}}"
        dims = ",".join(["1"] * self.nda.ndim)
        return f"array_of_equalsized_arrays<{dims}>{{{et}}}"


class VectorCol:
    """Variable-length rows: ``flattened_data`` and ``cumulative_length`` (VectorOfVectors)."""

    def __init__(
        self,
        flattened_data: ArrayCol,
        cumulative_length: ArrayCol,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        self.flattened_data = flattened_data
        self.cumulative_length = cumulative_length
        self.attrs = dict(attrs or {})

    @classmethod
    def empty(
        cls, size: int, guess: int, dtype: Any, attrs: dict[str, Any] | None = None
    ) -> VectorCol:
        """`size` empty rows with room for `guess` values per row."""
        return cls(
            ArrayCol(np.empty(max(size * guess, 1), dtype=dtype)),
            ArrayCol(np.zeros(size + 1, dtype=np.int64)[1:]),
            attrs,
        )

    def __len__(self) -> int:
        return len(self.cumulative_length)

    def resize(self, size: int) -> None:
        """Change the number of rows, keeping the first ones (and a leading 0 before the
        cumulative lengths, see :meth:`offsets`)."""
        old = self.cumulative_length.nda
        new = np.zeros(size + 1, dtype=old.dtype)
        n = min(size, len(old))
        new[1 : n + 1] = old[:n]
        self.cumulative_length.nda = new[1:]

    def offsets(self) -> np.ndarray | None:
        """The cumulative lengths with a 0 in front (``n + 1`` values), sharing their
        memory, when they are stored that way (as :meth:`empty` and :meth:`resize` do);
        None otherwise."""
        cl = self.cumulative_length.nda
        base = cl.base
        if (
            not isinstance(base, np.ndarray)
            or base.ndim != 1
            or base.dtype != cl.dtype
            or not (base.flags.c_contiguous and cl.flags.c_contiguous)
        ):
            return None
        gap = cl.__array_interface__["data"][0] - base.__array_interface__["data"][0]
        first, rest = divmod(gap, cl.itemsize)
        if rest or first < 1 or first + len(cl) > len(base) or base[first - 1] != 0:
            return None
        return base[first - 1 : first + len(cl)]

    def set_row(self, row: int, values: np.ndarray) -> None:
        """Fill row `row` with `values` (rows are filled in order; the flattened data
        grows as needed)."""
        start = int(self.cumulative_length.nda[row - 1]) if row > 0 else 0
        stop = start + len(values)
        if stop > len(self.flattened_data):
            self.flattened_data.resize(max(stop, 2 * len(self.flattened_data)))
        self.flattened_data.nda[start:stop] = values
        self.cumulative_length.nda[row] = stop

    def form_datatype(self) -> str:
        return f"array<1>{{{self.flattened_data.form_datatype()}}}"


class TableCol(dict):
    """Named columns of equal length (Table, WaveformTable) or any members (Struct)."""

    def __init__(
        self,
        columns: dict[str, Any] | None = None,
        size: int | None = None,
        attrs: dict[str, Any] | None = None,
        kind: str = "table",
    ) -> None:
        super().__init__(columns or {})
        self.attrs = dict(attrs or {})
        self.kind = kind
        self.size = size if size is not None else max((len(c) for c in self.values()), default=0)

    def __len__(self) -> int:  # rows, as for LGDO tables
        return self.size if self.kind == "table" else dict.__len__(self)

    def resize(self, size: int) -> None:
        for col in self.values():
            col.resize(size)
        self.size = size

    def form_datatype(self) -> str:
        return f"{self.kind}{{{','.join(sorted(self))}}}"


class ScalarCol:
    """A single value (Scalar): numbers, bools, strings."""

    def __init__(self, value: Any, attrs: dict[str, Any] | None = None) -> None:
        self.value = value
        self.attrs = dict(attrs or {})

    def form_datatype(self) -> str:
        if isinstance(self.value, (bool, np.bool_)):
            return "bool"
        if isinstance(self.value, (str, bytes)):
            return "string"
        return "real"


def waveform_table(size: int, wf_len: int, dtype: Any, dt: float, dt_units: str | None,
                   t0_units: str | None) -> TableCol:  # fmt: skip
    """A waveform table: ``t0``, ``dt`` (float32) and ``values`` (size x wf_len)."""
    t0 = ArrayCol(np.zeros(size, dtype=np.float32), {"units": t0_units} if t0_units else {})
    dts = ArrayCol(np.full(size, dt, dtype=np.float32), {"units": dt_units} if dt_units else {})
    values = ArrayCol(np.empty((size, wf_len), dtype=dtype))
    return TableCol({"t0": t0, "dt": dts, "values": values}, size=size)
