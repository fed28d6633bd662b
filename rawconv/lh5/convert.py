"""Conversion between rawconv's light containers and legend-pydataobj (lgdo) objects.

Both sides hold the same numpy arrays: :func:`to_lgdo` and :func:`from_lgdo` share them
instead of copying, so that a write to one is seen by the other. legend-pydataobj is
imported only when an LGDO is made or met (it takes over a second to import).

An LGDO made by :func:`to_lgdo` shows the container for as long as the container keeps
its arrays; :func:`lgdo_layout` tells when it no longer does (a column resized, added...).
"""

from __future__ import annotations

import functools
from typing import Any

from .columns import ArrayCol, ScalarCol, TableCol, VectorCol
from .encoded import EncodedCol, encoded_from_lgdo

__all__ = ["from_lgdo", "is_container", "lgdo_layout", "same_layout", "to_lgdo"]

_CONTAINERS = (ArrayCol, VectorCol, TableCol, ScalarCol, EncodedCol)


def is_container(obj: Any) -> bool:
    """True for rawconv's containers (as opposed to LGDO objects)."""
    return isinstance(obj, _CONTAINERS)


def to_lgdo(col: Any) -> Any:
    """The LGDO object for a container, sharing its numpy arrays (imports lgdo).

    LGDO objects are returned as they are.
    """
    import lgdo

    if isinstance(col, lgdo.LGDO):
        return col
    if isinstance(col, EncodedCol):
        return col.to_lgdo()
    if isinstance(col, TableCol):
        members = {name: to_lgdo(c) for name, c in col.items()}
        if col.kind == "struct":
            return lgdo.Struct(members, attrs=_user_attrs(col))
        if set(members) == {"t0", "dt", "values"}:
            return lgdo.WaveformTable(
                t0=members["t0"], dt=members["dt"], values=members["values"], attrs=_user_attrs(col)
            )
        return lgdo.Table(col_dict=members, size=col.size, attrs=_user_attrs(col))
    if isinstance(col, VectorCol):
        return _vector_to_lgdo(col)
    if isinstance(col, ArrayCol):
        if col.nda.ndim > 1:
            return lgdo.ArrayOfEqualSizedArrays(nda=col.nda, attrs=_user_attrs(col))
        return lgdo.Array(nda=col.nda, attrs=_user_attrs(col))
    if isinstance(col, ScalarCol):
        return lgdo.Scalar(col.value, attrs=_user_attrs(col))
    raise TypeError(f"cannot convert {type(col).__name__} to an LGDO")


def _vector_to_lgdo(col: VectorCol) -> Any:
    """A VectorOfVectors sharing the arrays of `col`.

    Its ``flattened_data`` is all of the container's, spare room included (a buffer's rows
    may end past the last row's ``cumulative_length``, which legend-pydataobj would trim
    it to): rows decoded later are readable without converting again.
    """
    import lgdo

    cl = col.cumulative_length.nda
    offsets = col.offsets()
    if offsets is not None and _takes_offsets():
        lengths = {"offsets": lgdo.Array(nda=offsets)}
    else:  # legend-pydataobj 1 stores the cumulative lengths themselves
        lengths = {"cumulative_length": lgdo.Array(nda=cl)}
    fd = col.flattened_data
    if isinstance(fd, VectorCol):  # lgdo fits the inner vector to the outer lengths
        return lgdo.VectorOfVectors(flattened_data=_vector_to_lgdo(fd), attrs=_user_attrs(col),
                                    **lengths)  # fmt: skip
    end = min(int(cl[-1]), len(fd)) if len(cl) else 0
    vov = lgdo.VectorOfVectors(
        flattened_data=lgdo.Array(nda=fd.nda[:end]), attrs=_user_attrs(col), **lengths
    )
    vov.flattened_data = lgdo.Array(nda=fd.nda, attrs=_user_attrs(fd))
    return vov


@functools.cache
def _takes_offsets() -> bool:
    """Whether lgdo's VectorOfVectors is built from offsets (legend-pydataobj 2)."""
    import inspect

    import lgdo

    return "offsets" in inspect.signature(lgdo.VectorOfVectors.__init__).parameters


def _user_attrs(col: Any) -> dict[str, Any]:
    return {k: v for k, v in col.attrs.items() if k != "datatype"}


def from_lgdo(obj: Any) -> Any:
    """The container for an LGDO object (or a container, returned as is), sharing arrays."""
    if is_container(obj):
        return obj
    import lgdo

    attrs = {k: v for k, v in obj.attrs.items() if k != "datatype"}
    if isinstance(obj, (lgdo.VectorOfEncodedVectors, lgdo.ArrayOfEncodedEqualSizedArrays)):
        return encoded_from_lgdo(obj)
    if isinstance(obj, lgdo.Struct):
        kind = "struct" if obj.datatype_name() == "struct" else "table"
        size = len(obj) if kind == "table" else None
        return TableCol(
            {k: from_lgdo(v) for k, v in obj.items()}, size=size, attrs=attrs, kind=kind
        )
    if isinstance(obj, lgdo.VectorOfVectors):
        return VectorCol(from_lgdo(obj.flattened_data), ArrayCol(obj.cumulative_length.nda), attrs)
    if isinstance(obj, lgdo.Array):
        return ArrayCol(obj.nda, attrs)
    if isinstance(obj, lgdo.Scalar):
        return ScalarCol(obj.value, attrs)
    raise TypeError(f"cannot write LGDO of type {type(obj).__name__}")


def lgdo_layout(col: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """What :func:`to_lgdo` of a container depends on besides the values in its arrays:
    (the names and sizes; the container objects, arrays and scalar values themselves).

    Two layouts compare equal with :func:`same_layout` exactly when the LGDO made for the
    first still shows the container: no column added, removed or reallocated (resized, or
    a vector's flattened data grown), no scalar given a new value.
    """
    values: list[Any] = []
    objects: list[Any] = []

    def walk(c: Any) -> None:
        objects.append(c)
        if isinstance(c, TableCol):
            values.extend((c.kind, c.size, len(c)))
            for name, sub in c.items():
                values.append(name)
                walk(sub)
        elif isinstance(c, VectorCol):
            objects.append(c.cumulative_length.nda)
            walk(c.flattened_data)
        elif isinstance(c, ArrayCol):
            objects.append(c.nda)
        elif isinstance(c, ScalarCol):  # an LGDO Scalar holds the value itself
            objects.append(c.value)

    walk(col)
    return tuple(values), tuple(objects)


def same_layout(a: tuple[tuple, tuple], b: tuple[tuple, tuple]) -> bool:
    """Whether two :func:`lgdo_layout` results are the same (objects by identity)."""
    return a[0] == b[0] and len(a[1]) == len(b[1]) and all(x is y for x, y in zip(a[1], b[1]))
