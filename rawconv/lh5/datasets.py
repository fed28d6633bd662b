"""Datasets of an LH5 file: arrays appended along their first axis, and scalars.

Arrays are chunked datasets resizable along the first axis. Where rawconv can encode the
chunks itself (gzip, zstd or no filter, numeric types: :mod:`rawconv.lh5.chunks`), whole
chunks are compressed in a thread pool and stored directly; otherwise HDF5's filters run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

from ..errors import RawconvError
from .chunks import (
    ChunkCodec,
    ChunkLayout,
    ChunkSupply,
    DirectChunkAppender,
    chunk_filters,
    direct_chunks_supported,
)
from .columns import ScalarCol
from .compression import decode_settings, encode_settings, resolve_settings
from .outfile import OpenFile, set_attrs

__all__ = [
    "CHUNK_BYTES",
    "DEFERRED_SETTINGS_ATTR",
    "MIN_CHUNK_ROWS",
    "append_dataset",
    "chunk_shape",
    "codec_of",
    "creation_chunks",
    "deferred_settings",
    "fixed_chunk_rows",
    "lgdo_attrs",
    "obj_settings",
    "write_scalar",
]

CHUNK_BYTES = 1 << 20
"""Target size of an HDF5 chunk (uncompressed)."""

MIN_CHUNK_ROWS = 1024
"""Chunks of 1-D columns hold at least this many rows (unless a row is large)."""

DEFERRED_SETTINGS_ATTR = "rawconv_deferred_settings"
"""Attribute of datasets in part files: the settings the merged dataset gets."""


def lgdo_attrs(obj: Any) -> dict[str, Any]:
    """The attributes an object is stored with: its own (but the write settings) and its
    ``datatype``."""
    attrs = {k: v for k, v in obj.attrs.items() if k not in ("compression", "hdf5_settings")}
    attrs["datatype"] = obj.form_datatype()
    return attrs


def obj_settings(obj: Any, settings: Mapping[str, Any]) -> dict[str, Any]:
    """`settings` updated by an object's ``compression`` and ``hdf5_settings`` attributes."""
    comp = obj.attrs.get("compression")
    h5s = obj.attrs.get("hdf5_settings")
    if comp is None and h5s is None and "compression" not in obj.attrs:
        return dict(settings)
    out = dict(settings)
    if "compression" in obj.attrs:
        out = resolve_settings(out, comp if comp is not None else "none")
    if h5s is not None:
        out = resolve_settings(out, h5s)
    return out


def deferred_settings(ds: h5py.Dataset) -> dict[str, Any] | None:
    """The settings a dataset of a part file gets in the merged file (its ``chunks``
    included), or None for a dataset stored with its final settings."""
    if DEFERRED_SETTINGS_ATTR not in ds.attrs:
        return None
    return decode_settings(ds.attrs[DEFERRED_SETTINGS_ATTR])


def chunk_shape(shape: tuple[int, ...], itemsize: int, first_rows: int) -> tuple[int, ...]:
    """Chunk shape of about CHUNK_BYTES, whole rows, at most as many rows as needed."""
    row_bytes = max(1, itemsize * math.prod(shape[1:]))
    rows = max(1, CHUNK_BYTES // row_bytes)
    rows = min(rows, max(first_rows, min(MIN_CHUNK_ROWS, rows)))
    return (max(1, rows), *shape[1:])


def creation_chunks(
    settings: Mapping[str, Any], shape: tuple[int, ...], itemsize: int, first_rows: int
) -> Any:
    """The ``chunks`` a new dataset gets: the settings' own, else :func:`chunk_shape` for
    its first write of `first_rows` rows of `shape`."""
    chunks = settings.get("chunks")
    if chunks is None:
        return chunk_shape(shape, itemsize, first_rows)
    return tuple(chunks) if isinstance(chunks, list) else chunks


def fixed_chunk_rows(row_shape: tuple[int, ...], itemsize: int) -> int | None:
    """Rows per chunk :func:`chunk_shape` gives a dataset of such rows whatever the length
    of its first write (rows of at least CHUNK_BYTES / MIN_CHUNK_ROWS bytes), else None."""
    shape = (0, *row_shape)
    fewest = chunk_shape(shape, itemsize, 1)
    return fewest[0] if fewest == chunk_shape(shape, itemsize, 1 << 62) else None


def write_scalar(out: OpenFile, parent: h5py.Group, name: str, obj: ScalarCol) -> None:
    """Store a scalar as ``parent[name]``, replacing what is there."""
    if name in parent:
        del parent[name]
        out.forget(out.child_path(parent, name))
    value = obj.value
    if isinstance(value, str):
        value = value.encode("utf-8")
    ds = parent.create_dataset(name, data=value)
    set_attrs(ds, lgdo_attrs(obj))


def append_dataset(
    out: OpenFile,
    parent: h5py.Group,
    name: str,
    nda: np.ndarray,
    attrs: Mapping[str, Any],
    settings: Mapping[str, Any],
) -> None:
    """Append the rows of `nda` to ``parent[name]``, created with `attrs` and `settings`
    (h5py keywords) if it does not exist yet."""
    if nda.dtype == np.bool_:
        nda = nda.view(np.uint8)
    path = out.child_path(parent, name)
    ds = out.lookup(parent, name)
    if ds is not None:
        _append_rows(out, ds, path, nda, settings)
        return
    if out.is_struct(parent):
        out.add_struct_field(parent, name)
    kwargs = dict(settings)
    kwargs["chunks"] = creation_chunks(settings, nda.shape, nda.dtype.itemsize, len(nda))
    deferred = None
    if out.defer:  # a part file: store uncompressed, keep the settings for the merge
        deferred = encode_settings(kwargs)
        kwargs = {"chunks": kwargs["chunks"]}
    direct = direct_chunks_supported(kwargs, nda.dtype) and kwargs["chunks"] is not None
    kwargs.pop("direct_chunks", None)
    shape = (0, *nda.shape[1:]) if direct or out.create_only else nda.shape
    ds = parent.create_dataset(
        name, shape=shape, maxshape=(None, *nda.shape[1:]), dtype=nda.dtype, **kwargs
    )
    set_attrs(ds, attrs)
    out.remember(path, ds)
    out.row_shapes[path] = nda.shape[1:]
    if deferred is not None:
        ds.attrs[DEFERRED_SETTINGS_ATTR] = deferred
    if out.create_only:  # a table template: no rows, but how its copies' rows are written
        found = _chunk_layout(ds) if settings.get("direct_chunks") is not False else None
        if found is None:
            out.filtered.add(path)
        else:
            out.codecs[path] = found
        return
    appender = _appender(ds, out.chunk_supplies.get(path)) if direct else None
    if appender is not None:
        out.appenders[path] = appender
        appender.append(nda)
        out.busy.add(appender)
    elif len(nda):
        if direct:  # created empty for an appender its creation properties did not allow
            ds.id.set_extent(nda.shape)
        _write_rows(ds, 0, nda)


def _write_rows(ds: h5py.Dataset, start: int, nda: np.ndarray) -> None:
    """Write `nda` into rows ``start:start + len(nda)`` of `ds` (already that long):
    through h5py's low-level API for a C-ordered array of the dataset's dtype (h5py's
    ``ds[...] = nda`` costs more in Python than HDF5 takes to write a table's small
    columns), else through ``ds[...]``."""
    dsid = ds.id
    if nda.dtype != dsid.dtype or not nda.flags.c_contiguous or nda.ndim != dsid.rank:
        ds[start : start + len(nda)] = nda
        return
    file_space = dsid.get_space()
    file_space.select_hyperslab((start,) + (0,) * (nda.ndim - 1), nda.shape)
    dsid.write(h5py.h5s.create_simple(nda.shape), file_space, nda)


def _append_rows(
    out: OpenFile, ds: Any, path: str, nda: np.ndarray, settings: Mapping[str, Any]
) -> None:
    """Append to an existing dataset (through its appender where rawconv writes chunks)."""
    if not isinstance(ds, h5py.Dataset):
        raise RawconvError(f"{ds.name} exists and is not a dataset", path=out.path)
    row_shape = out.row_shapes.get(path)
    if row_shape is None:
        row_shape = out.row_shapes[path] = ds.shape[1:]
    if row_shape != nda.shape[1:]:
        raise RawconvError(
            f"cannot append rows of shape {nda.shape[1:]} to {ds.name} of shape {row_shape}",
            path=out.path,
        )
    appender = out.appenders.get(path)
    if appender is None and path not in out.filtered:
        if settings.get("direct_chunks") is not False:
            appender = _appender(ds, out.chunk_supplies.get(path), out.codecs.pop(path, None))
        if appender is None:
            out.filtered.add(path)
        else:
            out.appenders[path] = appender
    if appender is not None:
        appender.append(nda)
        out.busy.add(appender)
    elif len(nda):
        start = ds.id.shape[0]
        ds.id.set_extent((start + len(nda), *row_shape))
        _write_rows(ds, start, nda)


def _chunk_layout(ds: h5py.Dataset) -> ChunkLayout | None:
    """How rawconv writes the chunks of a dataset (one read of its creation properties);
    None where HDF5's filters must."""
    dtype = ds.id.dtype
    if dtype.kind not in "biuf":
        return None
    dcpl = ds.id.get_create_plist()
    found = chunk_filters(dcpl)
    if found is None:
        return None
    shuffle, method, level = found
    chunks = dcpl.get_chunk()
    codec = ChunkCodec(dtype.itemsize, shuffle, level, math.prod(chunks[1:]), method or "gzip")
    return ChunkLayout(codec, chunks, dtype)


def codec_of(ds: h5py.Dataset) -> ChunkCodec:
    """The codec that encodes the chunks of a dataset rawconv writes directly."""
    layout = _chunk_layout(ds)
    if layout is None:
        raise RawconvError(f"{ds.name}: rawconv cannot write chunks of its filters")
    return layout.codec


def _appender(
    ds: h5py.Dataset, supply: ChunkSupply | None = None, known: ChunkLayout | None = None
) -> DirectChunkAppender | None:
    """The appender of a dataset whose chunks rawconv can write, else None; `known`: its
    layout, when its table template told it (a copy of the template, still empty)."""
    if known is not None:
        return DirectChunkAppender(ds, known, supply, rows=0)
    layout = _chunk_layout(ds)
    return None if layout is None else DirectChunkAppender(ds, layout, supply)
