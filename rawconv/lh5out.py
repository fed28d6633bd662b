"""The one module that writes LH5: LGDO objects appended to HDF5 files with h5py.

The layout is legend-lh5io's, so that ``lh5.read`` returns the LGDOs that were written:
structs and tables are groups with a ``datatype`` attribute (``table{a,b}``); arrays are
datasets resizable along the first axis; vectors of vectors are groups holding
``flattened_data`` and ``cumulative_length``; scalars are scalar datasets. Every other LGDO
attribute (``units``, ...) is copied, except ``compression`` and ``hdf5_settings`` which
choose how the dataset is stored.

Write settings, lowest precedence first: :data:`DEFAULT_HDF5_SETTINGS` < the writer's
``hdf5_settings`` < the ``write()`` keywords < the LGDO attribute ``compression`` < the LGDO
attribute ``hdf5_settings``.

With ``atomic=True`` (what ``build_raw`` uses), each output is written under a temporary name
in its folder and moved to its final name by :meth:`LH5Writer.commit`; :meth:`LH5Writer.abort`
deletes it. A final-named output therefore always is a complete file.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .chunkwriter import ChunkCodec, DirectChunkAppender, direct_chunks_supported
from .columns import ArrayCol, ScalarCol, TableCol, VectorCol, from_lgdo
from .compression import resolve_settings
from .errors import RawconvError
from .lh5encoded import is_encoded, write_encoded

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_HDF5_SETTINGS", "LH5Writer"]

DEFAULT_HDF5_SETTINGS: dict[str, Any] = {
    "compression": "gzip",
    "compression_opts": 4,
    "shuffle": True,
}
"""gzip level 4 with byte shuffling, as legend-lh5io writes by default."""

CHUNK_BYTES = 1 << 20
"""Target size of an HDF5 chunk (uncompressed)."""

MIN_CHUNK_ROWS = 1024
"""Chunks of 1-D columns hold at least this many rows (unless a row is large)."""

_CHUNK_CACHE_BYTES = 8 << 20

DEFERRED_SETTINGS_ATTR = "rawconv_deferred_settings"
"""Attribute of datasets in part files: the settings the merged dataset gets."""


def encode_settings(settings: Mapping[str, Any]) -> str:
    """JSON of h5py dataset settings (hdf5plugin filters as filter id and options)."""
    out: dict[str, Any] = {"compression": None, "shuffle": False}
    for key, value in settings.items():
        if key in ("chunks", "direct_chunks"):
            continue
        if key == "compression" and not isinstance(value, (str, int, type(None))):
            out["compression"] = int(value.filter_id)
            out["compression_opts"] = [int(v) for v in value.filter_options]
            continue
        out[key] = list(value) if isinstance(value, tuple) else value
    return json.dumps(out)


def decode_settings(text: str) -> dict[str, Any]:
    """The h5py settings stored by :func:`encode_settings`."""
    out = json.loads(text)
    if isinstance(out.get("compression_opts"), list):
        out["compression_opts"] = tuple(out["compression_opts"])
    return out


def temp_name(path: str | os.PathLike) -> str:
    """The temporary name an output is written under until committed."""
    p = Path(path)
    return str(p.with_name(f".{p.name}.{uuid.uuid4().hex[:8]}.rawconv-tmp"))


class _OutFile:
    def __init__(self, path: str, atomic: bool, locking: bool | None, defer: bool = False) -> None:
        self.path = path
        self.defer = defer
        self.write_path = temp_name(path) if atomic else path
        Path(self.write_path).parent.mkdir(parents=True, exist_ok=True)
        mode = "w" if atomic else "a"
        kwargs = {} if locking is None else {"locking": locking}
        try:
            self.h5 = h5py.File(self.write_path, mode, rdcc_nbytes=_CHUNK_CACHE_BYTES, **kwargs)
        except OSError as exc:
            raise RawconvError(f"cannot open output for writing: {exc}", path=path) from exc
        if "datatype" not in self.h5.attrs:
            self.h5.attrs["datatype"] = "struct{}"
        self.appenders: dict[str, DirectChunkAppender] = {}
        self.busy: set[DirectChunkAppender] = set()
        """Appenders written to since the last :meth:`wait`."""

    def wait(self) -> None:
        """Block until the chunks that read the caller's arrays are stored."""
        for appender in self.busy:
            appender.wait()
        self.busy.clear()

    def last_row(self, ds: h5py.Dataset) -> Any:
        """The last row of a dataset, including rows still waiting in its appender."""
        appender = self.appenders.get(_path(ds)[1])
        if appender is not None:
            return appender.last
        return ds[-1] if len(ds) else None

    def close(self) -> None:
        """Write pending chunks and close the file."""
        try:
            for appender in self.appenders.values():
                appender.flush()
        finally:
            self.appenders.clear()
            self.busy.clear()
            _forget(self.h5.id.fileno)
            self.h5.close()


class LH5Writer:
    """Appends LGDO objects to LH5 files, keeping the files open until closed.

    Parameters
    ----------
    hdf5_settings
        h5py dataset settings (``compression``, ``compression_opts``, ``shuffle``,
        ``chunks``...) or a compression name (``"gzip:6"``, ``"lzf"``, ``"zstd"``, ``"none"``).
    atomic
        write to temporary names and move them into place on :meth:`commit`.
    locking
        HDF5 file locking (None: HDF5's default; False is needed on some network file systems).
    """

    def __init__(
        self,
        hdf5_settings: Mapping[str, Any] | str | None = None,
        atomic: bool = True,
        locking: bool | None = None,
        defer_compression: bool = False,
    ) -> None:
        self.settings = resolve_settings(DEFAULT_HDF5_SETTINGS, hdf5_settings)
        self.atomic = atomic
        self.locking = locking
        self.defer_compression = defer_compression
        self._files: dict[str, _OutFile] = {}

    @property
    def paths(self) -> list[str]:
        """Final paths of the files written so far."""
        return list(self._files)

    def _file(self, path: str) -> _OutFile:
        key = os.path.abspath(path)
        if key not in self._files:
            self._files[key] = _OutFile(key, self.atomic, self.locking, self.defer_compression)
        return self._files[key]

    def write(
        self,
        obj: Any,
        name: str,
        lh5_file: str | os.PathLike,
        group: str = "/",
        n_rows: int | None = None,
        **h5py_kwargs: Any,
    ) -> None:
        """Append the first `n_rows` rows of `obj` (an LGDO or a rawconv container) to
        ``lh5_file:group/name``."""
        obj = from_lgdo(obj)
        out = self._file(os.fspath(lh5_file))
        settings = resolve_settings(self.settings, h5py_kwargs) if h5py_kwargs else self.settings
        parent = _require_groups(out.h5, group.strip("/").split("/") if group.strip("/") else [])
        parts = [p for p in name.split("/") if p]
        if not parts:
            raise RawconvError(f"empty object name for group {group!r}", path=out.path)
        parent = _require_groups(parent, parts[:-1])
        try:
            _write_obj(out, parent, parts[-1], obj, n_rows, settings)
            out.wait()  # chunks are encoded from the caller's arrays: done before returning
        except RawconvError:
            raise
        except (OSError, ValueError, TypeError) as exc:
            raise RawconvError(
                f"cannot write {group.rstrip('/')}/{name}: {exc}", path=out.path
            ) from exc

    def flush(self) -> None:
        """Write pending chunks and flush every open file."""
        for out in self._files.values():
            for appender in out.appenders.values():
                appender.flush()
            out.h5.flush()

    def commit(self) -> list[str]:
        """Close every file and move it to its final name; returns the final paths."""
        done = []
        for out in self._files.values():
            out.close()
            if out.write_path != out.path:
                os.replace(out.write_path, out.path)
            done.append(out.path)
        self._files.clear()
        return done

    def abort(self) -> None:
        """Close every file; temporary files are deleted (final names never appear)."""
        for out in self._files.values():
            try:
                out.close()
            finally:
                if out.write_path != out.path:
                    Path(out.write_path).unlink(missing_ok=True)
        self._files.clear()

    def close(self) -> None:
        """Commit (atomic writers) or just close the files."""
        self.commit()

    def __enter__(self) -> LH5Writer:
        return self

    def __exit__(self, exc_type: Any, *exc: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


_FIELDS: dict[tuple[Any, str], tuple[str, set[str]]] = {}
"""(open file number, group name) -> (kind, fields) its datatype attribute lists (a cache)."""

_OBJECTS: dict[tuple[Any, str], Any] = {}
"""(open file number, path) -> the group or dataset there (a cache: lookups and names cost
more than the writes of a table with many small columns)."""

_PATHS: dict[int, tuple[Any, str, Any]] = {}
"""id(h5py object) -> (open file number, path, the object, kept alive while cached)."""

_ROW_SHAPES: dict[tuple[Any, str], tuple[int, ...]] = {}
"""(open file number, dataset path) -> shape of its rows."""


def _forget(fileno: Any) -> None:
    """Drop the caches of a file being closed (other threads may be writing other files:
    the keys are copied in one step before they are looked at)."""
    for cache in (_FIELDS, _OBJECTS, _ROW_SHAPES):
        for key in [k for k in list(cache) if k[0] == fileno]:
            cache.pop(key, None)
    for key, value in list(_PATHS.items()):
        if value[0] == fileno:
            _PATHS.pop(key, None)


def _path(obj: Any) -> tuple[Any, str]:
    """(open file number, path) of an h5py group or dataset."""
    entry = _PATHS.get(id(obj))
    if entry is None or entry[2] is not obj:
        entry = _PATHS[id(obj)] = (obj.id.fileno, obj.name, obj)
    return entry[0], entry[1]


def _child_key(parent: Any, name: str) -> tuple[Any, str]:
    fileno, path = _path(parent)
    return fileno, f"{path.rstrip('/')}/{name}"


def _remember(key: tuple[Any, str], obj: Any) -> Any:
    _OBJECTS[key] = obj
    _PATHS[id(obj)] = (key[0], key[1], obj)
    return obj


def lookup(parent: Any, name: str) -> Any:
    """``parent[name]``, or None where there is nothing (cached per open file)."""
    key = _child_key(parent, name)
    obj = _OBJECTS.get(key)
    if obj is None and name in parent:
        obj = _remember(key, parent[name])
    return obj


def _struct_fields(group: h5py.Group) -> tuple[str, set[str]]:
    key = _path(group)
    entry = _FIELDS.get(key)
    if entry is None:
        dtype = group.attrs.get("datatype", "struct{}")
        if isinstance(dtype, bytes):
            dtype = dtype.decode()
        kind, _, rest = dtype.partition("{")
        entry = _FIELDS[key] = (kind, {f for f in rest.rstrip("}").split(",") if f})
    return entry


def _add_struct_field(group: h5py.Group, field: str) -> None:
    """Keep a group's ``struct{...}`` / ``table{...}`` datatype listing its fields."""
    kind, fields = _struct_fields(group)
    if field not in fields:
        fields.add(field)
        group.attrs["datatype"] = f"{kind}{{{','.join(sorted(fields))}}}"


def _require_groups(parent: h5py.Group, names: list[str]) -> h5py.Group:
    for name in names:
        grp = lookup(parent, name)
        if grp is None:
            _add_struct_field(parent, name)
            grp = _remember(_child_key(parent, name), parent.create_group(name))
            grp.attrs["datatype"] = "struct{}"
        elif not isinstance(grp, h5py.Group):
            raise RawconvError(f"{grp.name} exists and is not a group")
        parent = grp
    return parent


def _lgdo_attrs(obj: Any) -> dict[str, Any]:
    attrs = {k: v for k, v in obj.attrs.items() if k not in ("compression", "hdf5_settings")}
    attrs["datatype"] = obj.form_datatype()
    return attrs


def _obj_settings(obj: Any, settings: Mapping[str, Any]) -> dict[str, Any]:
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


def _write_obj(
    out: _OutFile,
    parent: h5py.Group,
    name: str,
    obj: Any,
    n_rows: int | None,
    settings: Mapping[str, Any],
) -> None:
    if is_encoded(obj):  # waveform codecs: rawconv.lh5encoded
        write_encoded(out, parent, name, obj, n_rows, settings)
        return
    if isinstance(obj, TableCol):
        grp = _require_struct_group(parent, name, obj)
        for field, col in obj.items():
            _write_obj(out, grp, str(field), col, n_rows, settings)
            _add_struct_field(grp, str(field))
        return
    if isinstance(obj, VectorCol):
        _write_vov(out, parent, name, obj, n_rows, settings)
        return
    if isinstance(obj, ArrayCol):
        nda = obj.nda if n_rows is None else obj.nda[:n_rows]
        _append_dataset(out, parent, name, nda, _lgdo_attrs(obj), _obj_settings(obj, settings))
        return
    if isinstance(obj, ScalarCol):
        _write_scalar(parent, name, obj)
        return
    raise RawconvError(f"cannot write object of type {type(obj).__name__} ({parent.name}/{name})")


def _is_struct(group: h5py.Group) -> bool:
    """Whether a group's datatype lists its members (struct or table)."""
    return _struct_fields(group)[0] in ("struct", "table")


def _require_struct_group(parent: h5py.Group, name: str, obj: Any) -> h5py.Group:
    grp = lookup(parent, name)
    if grp is not None:
        if not isinstance(grp, h5py.Group):
            raise RawconvError(f"{grp.name} exists and is not a group")
        return grp
    if _is_struct(parent):
        _add_struct_field(parent, name)
    grp = _remember(_child_key(parent, name), parent.create_group(name))
    attrs = _lgdo_attrs(obj)
    kind = attrs["datatype"].partition("{")[0]
    attrs["datatype"] = f"{kind}{{}}"
    grp.attrs.update(attrs)
    return grp


def _write_vov(
    out: _OutFile,
    parent: h5py.Group,
    name: str,
    obj: VectorCol,
    n_rows: int | None,
    settings: Mapping,
) -> None:
    grp = _require_struct_group(parent, name, obj)
    datatype = obj.form_datatype()
    if grp.attrs.get("datatype") != datatype:
        grp.attrs["datatype"] = datatype
    cl = obj.cumulative_length.nda
    n = len(cl) if n_rows is None else n_rows
    n_flat = int(cl[n - 1]) if n > 0 else 0
    offset = 0
    cl_ds = lookup(grp, "cumulative_length")
    if cl_ds is not None:
        last = out.last_row(cl_ds)
        offset = 0 if last is None else int(last)
    fd = obj.flattened_data
    if isinstance(fd, VectorCol):
        _write_vov(out, grp, "flattened_data", fd, n_flat, settings)
    else:
        flat_settings = _obj_settings(fd, settings)
        _append_dataset(out, grp, "flattened_data", fd.nda[:n_flat], _lgdo_attrs(fd), flat_settings)
    cl_out = cl[:n].astype(np.int64, copy=True)
    if offset:
        cl_out += offset
    _append_dataset(
        out,
        grp,
        "cumulative_length",
        cl_out,
        _lgdo_attrs(obj.cumulative_length),
        _obj_settings(obj.cumulative_length, settings),
    )


def _write_scalar(parent: h5py.Group, name: str, obj: ScalarCol) -> None:
    if name in parent:
        del parent[name]
        _OBJECTS.pop(_child_key(parent, name), None)
    value = obj.value
    if isinstance(value, str):
        value = value.encode("utf-8")
    if _is_struct(parent):  # a scalar written alone into a struct (the parallel merge)
        _add_struct_field(parent, name)
    ds = parent.create_dataset(name, data=value)
    ds.attrs.update(_lgdo_attrs(obj))


def chunk_shape(shape: tuple[int, ...], itemsize: int, first_rows: int) -> tuple[int, ...]:
    """Chunk shape of about CHUNK_BYTES, whole rows, at most as many rows as needed."""
    row_bytes = max(1, itemsize * int(np.prod(shape[1:], dtype=np.int64)))
    rows = max(1, CHUNK_BYTES // row_bytes)
    rows = min(rows, max(first_rows, min(MIN_CHUNK_ROWS, rows)))
    return (max(1, rows), *shape[1:])


def _append_dataset(
    out: _OutFile,
    parent: h5py.Group,
    name: str,
    nda: np.ndarray,
    attrs: Mapping[str, Any],
    settings: Mapping[str, Any],
) -> None:
    if nda.dtype == np.bool_:
        nda = nda.view(np.uint8)
    key = _child_key(parent, name)
    ds = lookup(parent, name)
    if ds is not None:
        if not isinstance(ds, h5py.Dataset):
            raise RawconvError(f"{ds.name} exists and is not a dataset")
        row_shape = _ROW_SHAPES.get(key)
        if row_shape is None:
            row_shape = _ROW_SHAPES[key] = ds.shape[1:]
        if row_shape != nda.shape[1:]:
            raise RawconvError(
                f"cannot append rows of shape {nda.shape[1:]} to {ds.name} of shape {row_shape}"
            )
        appender = out.appenders.get(key[1])
        if appender is None and _direct(ds) and settings.get("direct_chunks") is not False:
            appender = out.appenders[key[1]] = _appender(ds)
        if appender is not None:
            appender.append(nda)
            out.busy.add(appender)
        elif len(nda):
            start = ds.shape[0]
            ds.resize(start + len(nda), axis=0)
            ds[start:] = nda
        return
    if _is_struct(parent):
        _add_struct_field(parent, name)
    kwargs = dict(settings)
    kwargs.setdefault("chunks", chunk_shape(nda.shape, nda.dtype.itemsize, len(nda)))
    if isinstance(kwargs["chunks"], list):
        kwargs["chunks"] = tuple(kwargs["chunks"])
    deferred = None
    if out.defer:  # a part file: store uncompressed, keep the settings for the merge
        deferred = encode_settings(kwargs)
        kwargs = {"chunks": kwargs["chunks"]}
    direct = direct_chunks_supported(kwargs, nda.dtype) and kwargs["chunks"] is not None
    kwargs.pop("direct_chunks", None)
    shape = (0, *nda.shape[1:]) if direct else nda.shape
    ds = parent.create_dataset(
        name, shape=shape, maxshape=(None, *nda.shape[1:]), dtype=nda.dtype, **kwargs
    )
    ds.attrs.update(attrs)
    _remember(key, ds)
    _ROW_SHAPES[key] = nda.shape[1:]
    if deferred is not None:
        ds.attrs[DEFERRED_SETTINGS_ATTR] = deferred
    if direct:
        appender = out.appenders[key[1]] = _appender(ds)
        appender.append(nda)
        out.busy.add(appender)
    elif len(nda):
        ds[...] = nda


def _direct(ds: h5py.Dataset) -> bool:
    """Whether rawconv can write the chunks of an existing dataset itself."""
    return (
        ds.chunks is not None
        and ds.compression in (None, "gzip")
        and not ds.fletcher32
        and ds.scaleoffset is None
        and ds.dtype.kind in "biuf"
    )


def _appender(ds: h5py.Dataset) -> DirectChunkAppender:
    level = ds.compression_opts if ds.compression == "gzip" else None
    row_elements = int(np.prod(ds.chunks[1:], dtype=np.int64))
    codec = ChunkCodec(ds.dtype.itemsize, bool(ds.shuffle), level, row_elements)
    return DirectChunkAppender(ds, codec)
