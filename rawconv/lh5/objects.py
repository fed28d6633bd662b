"""Containers to groups and datasets, in legend-lh5io's layout.

Tables and structs are groups whose ``datatype`` attribute lists their members
(``table{a,b}``); arrays are datasets; vectors of vectors are groups holding
``flattened_data`` and ``cumulative_length`` (rewritten to continue the rows already
there); scalars are scalar datasets; encoded waveforms go to :mod:`rawconv.lh5.encoded`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

from ..errors import RawconvError
from .columns import ArrayCol, ScalarCol, TableCol, VectorCol
from .datasets import append_dataset, lgdo_attrs, obj_settings, write_scalar
from .encoded import is_encoded, write_encoded
from .outfile import OpenFile, set_attrs

__all__ = ["write_object"]


def write_object(
    out: OpenFile,
    parent: h5py.Group,
    name: str,
    obj: Any,
    n_rows: int | None,
    settings: Mapping[str, Any],
) -> None:
    """Append the first `n_rows` rows (all if None) of a container to ``parent[name]``."""
    if is_encoded(obj):  # waveform codecs
        write_encoded(out, parent, name, obj, n_rows, settings)
        return
    if isinstance(obj, TableCol):
        grp = _require_struct_group(out, parent, name, obj, fields={str(f) for f in obj})
        for field, col in obj.items():
            write_object(out, grp, str(field), col, n_rows, settings)
            out.add_struct_field(grp, str(field))
        return
    if isinstance(obj, VectorCol):
        _write_vov(out, parent, name, obj, n_rows, settings)
        return
    if isinstance(obj, ArrayCol):
        nda = obj.nda if n_rows is None else obj.nda[:n_rows]
        append_dataset(out, parent, name, nda, lgdo_attrs(obj), obj_settings(obj, settings))
        return
    if isinstance(obj, ScalarCol):
        write_scalar(out, parent, name, obj)
        return
    raise RawconvError(
        f"cannot write object of type {type(obj).__name__} ({parent.name}/{name})", path=out.path
    )


def _require_struct_group(
    out: OpenFile, parent: h5py.Group, name: str, obj: Any, fields: set[str] | None = None
) -> h5py.Group:
    """``parent[name]``, or a new group with the object's attributes whose datatype lists
    `fields` (the members about to be written: one attribute write, not one per member)."""
    grp = out.lookup(parent, name)
    if grp is not None:
        if not isinstance(grp, h5py.Group):
            raise RawconvError(f"{grp.name} exists and is not a group", path=out.path)
        return grp
    grp = out.new_group(parent, name)
    attrs = lgdo_attrs(obj)
    kind = attrs.pop("datatype").partition("{")[0]
    if fields is None:
        set_attrs(grp, {**attrs, "datatype": f"{kind}{{}}"})
    else:
        set_attrs(grp, attrs)
        out.set_struct_fields(grp, kind, fields)
    return grp


def _write_vov(
    out: OpenFile,
    parent: h5py.Group,
    name: str,
    obj: VectorCol,
    n_rows: int | None,
    settings: Mapping,
) -> None:
    grp = _require_struct_group(out, parent, name, obj)
    datatype = obj.form_datatype()
    if grp.attrs.get("datatype") != datatype:
        grp.attrs["datatype"] = datatype
    cl = obj.cumulative_length.nda
    n = len(cl) if n_rows is None else n_rows
    n_flat = int(cl[n - 1]) if n > 0 else 0
    offset = 0
    cl_ds = out.lookup(grp, "cumulative_length")
    if cl_ds is not None:
        last = out.last_row(cl_ds)
        offset = 0 if last is None else int(last)
    fd = obj.flattened_data
    if out.create_only:  # a table template leaves it out: it is chunked by its first write
        pass
    elif isinstance(fd, VectorCol):
        _write_vov(out, grp, "flattened_data", fd, n_flat, settings)
    else:
        flat = fd.nda[:n_flat]
        append_dataset(out, grp, "flattened_data", flat, lgdo_attrs(fd), obj_settings(fd, settings))
    cl_out = cl[:n].astype(np.int64, copy=True)
    if offset:
        cl_out += offset
    append_dataset(
        out,
        grp,
        "cumulative_length",
        cl_out,
        lgdo_attrs(obj.cumulative_length),
        obj_settings(obj.cumulative_length, settings),
    )
