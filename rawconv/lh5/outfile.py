"""One LH5 file open for writing, with what the writer remembers about it.

Looking groups and datasets up by name, and reading back a group's ``datatype`` attribute,
costs more than writing the rows of a table of many small columns. :class:`OpenFile` keeps
them while the file is open: the caches belong to the file and go with it when it is
closed, so writers in several threads (Dask workers) share nothing but h5py itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import OutputError, RawconvError
from ..locks import TEMP_SUFFIX
from .chunks import DirectChunkAppender
from .encode_ahead import discard

__all__ = ["OpenFile", "datatype_of", "failure", "set_attrs", "temp_name"]

_CHUNK_CACHE_BYTES = 8 << 20
_CHUNK_CACHE_SLOTS = 11
"""Hash slots of each dataset's chunk cache. Columns are appended in order, so a dataset
needs one or two chunks cached; HDF5's default of 521 slots costs about 80 kB per open
dataset, 450 MB for the 5,400 datasets a production layout keeps open."""

_STR = h5py.string_dtype("utf-8")
_STR_FILE_TYPE = h5py.h5t.py_create(_STR, logical=True)
_STR_MEM_TYPE = h5py.h5t.py_create(_STR)


def datatype_of(obj: Any) -> str:
    """The LGDO ``datatype`` attribute of an h5py group or dataset ("" when it has none)."""
    datatype = obj.attrs.get("datatype", "")
    return datatype.decode() if isinstance(datatype, bytes) else str(datatype)


def set_attrs(obj: Any, attrs: Mapping[str, Any]) -> None:
    """Set attributes of an h5py group or dataset, as ``obj.attrs.update(attrs)`` does.

    A text value is written through h5py's low-level API (the variable-length UTF-8
    string h5py's ``attrs`` writes, for a quarter of its cost: a production layout
    writes some 15,000 of them per file); other values go through ``obj.attrs``.
    """
    for key, value in attrs.items():
        if not isinstance(value, str):
            obj.attrs[key] = value
            continue
        name = key.encode("utf-8")
        if h5py.h5a.exists(obj.id, name):
            h5py.h5a.delete(obj.id, name)
        attr = h5py.h5a.create(obj.id, name, _STR_FILE_TYPE, h5py.h5s.create_simple(()))
        try:
            attr.write(np.asarray(value, dtype=_STR), mtype=_STR_MEM_TYPE)
        finally:
            attr.close()


def temp_name(path: str | os.PathLike) -> str:
    """The temporary name an output is written under until committed."""
    p = Path(path)
    return str(p.with_name(f".{p.name}.{uuid.uuid4().hex[:8]}{TEMP_SUFFIX}"))


_ERRNO = re.compile(r"errno = (\d+)")


def failure(exc: BaseException, path: str, action: str = "cannot write the output") -> OutputError:
    """One-line error for an output that failed: the final `path` and the cause (``No space
    left on device (ENOSPC)``), never HDF5's multi-line message with the temporary name."""
    code = getattr(exc, "errno", None)
    found = _ERRNO.findall(str(exc))
    if found:  # HDF5 reports the system's errno inside its message
        code = int(found[-1])
    if code in errno.errorcode:
        cause = f"{os.strerror(code)} ({errno.errorcode[code]})"
    else:
        cause = " ".join(str(exc).split()) or type(exc).__name__
    return OutputError(f"{action}: {cause}", path=path)


def _create_file(path: str, locking: bool | None, chunk_index_k: int) -> None:
    """Create an empty HDF5 file at `path` (replacing one there) with `chunk_index_k` as
    its ``istore_k`` (where h5py's HDF5 library can be given it)."""
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    _set_istore_k(fcpl, chunk_index_k)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    if locking is not None:
        fapl.set_file_locking(locking, False)
    h5py.h5f.create(os.fsencode(path), h5py.h5f.ACC_TRUNC, fapl=fapl, fcpl=fcpl).close()


def _set_istore_k(fcpl: Any, k: int) -> bool:
    """``H5Pset_istore_k`` on a file-creation property list (h5py does not wrap it): through
    the HDF5 library h5py itself is linked to. False where it cannot be found (HDF5's
    default then stays)."""
    fn = _istore_k_setter()
    return fn is not None and fn(fcpl.id, k) >= 0


@functools.cache
def _istore_k_setter() -> Any:
    """HDF5's ``H5Pset_istore_k`` from the library h5py is linked to (found through h5py's
    own extension module), or None where it cannot be found."""
    try:
        fn = ctypes.CDLL(h5py.h5p.__file__).H5Pset_istore_k
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def _descriptor(h5: h5py.File) -> tuple[int | None, tuple[int, int] | None]:
    """HDF5's file descriptor of `h5` and (device, inode) of the file, where known."""
    try:
        fd = int(h5.id.get_vfd_handle())
        st = os.fstat(fd)
    except (OSError, ValueError, TypeError, RuntimeError):
        return None, None
    return fd, (st.st_dev, st.st_ino)


def _open(parent: h5py.Group, name: str) -> Any:
    """``parent[name]`` for a group or dataset, opened through h5py's low-level API (a
    third of the cost of ``parent[name]``, which a layout of thousands of datasets pays
    for each of them)."""
    oid = h5py.h5o.open(parent.id, name.encode("utf-8"))
    if isinstance(oid, h5py.h5d.DatasetID):
        return h5py.Dataset(oid)
    if isinstance(oid, h5py.h5g.GroupID):
        return h5py.Group(oid)
    return parent[name]


class OpenFile:
    """An output file open for writing (under a temporary name when `atomic`).

    Parameters
    ----------
    path
        the final path.
    atomic
        write to :func:`temp_name` of `path` (created anew), else append to `path`.
        A file created anew is deleted again if opening it fails or is interrupted.
    locking
        HDF5 file locking (None: HDF5's default).
    defer
        a part file of the parallel layer: datasets are stored uncompressed, with the
        settings of the merged dataset in an attribute.
    write_path
        the temporary name to write under (atomic), when the caller chose it.
    chunk_index_k
        HDF5's ``istore_k`` for a file created here (None: HDF5's 32): a node of the B-tree
        that indexes a dataset's chunks holds up to twice this many chunks.
    """

    def __init__(self, path: str, atomic: bool, locking: bool | None, defer: bool = False,
                 write_path: str | None = None,
                 chunk_index_k: int | None = None) -> None:  # fmt: skip
        self.path = path
        self.defer = defer
        self.write_path = write_path or (temp_name(path) if atomic else path)
        Path(self.write_path).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {} if locking is None else {"locking": locking}
        try:
            mode = "w" if atomic else "a"
            if chunk_index_k is not None and (atomic or not Path(self.write_path).exists()):
                _create_file(self.write_path, locking, chunk_index_k)  # a new file
                mode = "r+"
            self.h5 = h5py.File(self.write_path, mode, rdcc_nbytes=_CHUNK_CACHE_BYTES,
                                rdcc_nslots=_CHUNK_CACHE_SLOTS, **kwargs)
        except BaseException as exc:  # also a signal inside h5py: the new file must not stay
            if atomic:
                Path(self.write_path).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise failure(exc, path, "cannot open output for writing") from None
            raise
        try:
            self.fd, self.inode = _descriptor(self.h5)
            if "datatype" not in self.h5.attrs:
                self.h5.attrs["datatype"] = "struct{}"
        except BaseException:
            with contextlib.suppress(Exception):
                self.h5.close()
            if atomic:
                Path(self.write_path).unlink(missing_ok=True)
            raise
        self._start()

    @classmethod
    def in_memory(cls, defer: bool = False) -> OpenFile:
        """A file in memory only (HDF5's core driver), which nothing is written to: the
        empty tables :mod:`rawconv.lh5.templates` copies."""
        self = cls.__new__(cls)
        self.path = self.write_path = f"rawconv-templates-{uuid.uuid4().hex[:8]}.lh5"
        self.defer = defer
        self.h5 = h5py.File(self.path, "w", driver="core", backing_store=False)
        self.fd = self.inode = None
        self._start()
        self.create_only = True
        return self

    def _start(self) -> None:
        """The caches of a newly opened file."""
        self.closed = False
        """Closed, or its close failed: it is never closed twice (a second close of a file
        whose close failed crashes HDF5)."""
        self.create_only = False
        """Datasets are created without their rows (a table template)."""
        self.templates: Any = None
        """The :class:`~rawconv.lh5.templates.TableTemplates` of this file, once needed."""
        self.appenders: dict[str, DirectChunkAppender] = {}
        """Dataset path -> the appender that writes its chunks."""
        self.ahead: dict[int, Any] = {}
        """Encodings of columns queued before their tables' writes (:mod:`.encode_ahead`)."""
        self.busy: set[DirectChunkAppender] = set()
        """Appenders written to since the last :meth:`wait`."""
        self.chunk_supplies: dict[str, Any] = {}
        """Dataset path -> where its appender takes chunks encoded elsewhere
        (:data:`rawconv.lh5.chunks.ChunkSupply`)."""
        self.objects: dict[str, Any] = {}
        """Path -> the group or dataset there."""
        self.paths: dict[int, tuple[str, Any]] = {}
        """id(h5py object) -> (its path, the object, kept alive while cached)."""
        self.fields: dict[str, tuple[str, set[str]]] = {}
        """Group path -> (kind, fields) that its ``datatype`` attribute lists."""
        self.row_shapes: dict[str, tuple[int, ...]] = {}
        """Dataset path -> the shape of its rows."""
        self.filtered: set[str] = set()
        """Paths of datasets whose chunks HDF5's filters write (no appender)."""
        self.codecs: dict[str, Any] = {}
        """Dataset path -> the :class:`~rawconv.lh5.chunks.ChunkLayout` of a new copy of a
        table template's dataset whose chunks rawconv writes (its creation properties and
        extent are not read); taken by its first append."""
        self.encoded: dict[str, tuple[dict[str, Any], int | None]] = {}
        """Encoded-array group path -> (its attributes, decoded_size), see
        :func:`rawconv.lh5.encoded.write_encoded`."""

    # --- chunks -------------------------------------------------------------------------

    def wait(self) -> None:
        """Block until the chunks that read the caller's arrays are stored."""
        for appender in self.busy:
            appender.wait()
        self.busy.clear()

    def last_row(self, ds: h5py.Dataset) -> Any:
        """The last row of a dataset, including rows still waiting in its appender."""
        appender = self.appenders.get(self.path_of(ds))
        if appender is not None:
            return appender.last
        return ds[-1] if len(ds) else None

    def flush(self) -> None:
        """Write pending chunks and flush the file."""
        for appender in self.appenders.values():
            appender.flush()
        self.h5.flush()

    def close(self) -> None:
        """Write pending chunks, close the file and forget what was cached (once: a second
        call does nothing, whether the first succeeded or failed)."""
        if self.closed:
            return
        self.closed = True
        discard(self.ahead)
        if self.templates is not None:
            templates, self.templates = self.templates, None
            with contextlib.suppress(Exception):  # memory only: nothing of the output's
                templates.close()
        closing = False
        try:
            for appender in self.appenders.values():
                appender.flush()
            self.h5.flush()  # a full disk raises here, not inside HDF5's close
            self._forget_all()
            closing = True
            self.h5.close()
        except BaseException:
            # HDF5 keeps the dirty file and retries its writes whenever an object of it is
            # freed (and crashes at exit): its descriptor now writes to /dev/null instead,
            # and a file whose close was not tried yet is closed (once) onto it
            self.detach()
            self._forget_all()
            if not closing:
                with contextlib.suppress(Exception):
                    self.h5.close()
            raise

    def _forget_all(self) -> None:
        for cache in (self.appenders, self.objects, self.paths, self.fields,
                      self.row_shapes, self.encoded, self.filtered, self.codecs):  # fmt: skip
            cache.clear()
        self.busy.clear()

    def detach(self) -> None:
        """Point HDF5's descriptor of this file at /dev/null (if it still is this file's)."""
        if self.fd is None:
            return
        try:
            st = os.fstat(self.fd)
        except OSError:
            return
        if (st.st_dev, st.st_ino) != self.inode:
            return  # closed by HDF5, the number reused: not ours to touch
        null = os.open(os.devnull, os.O_RDWR)
        try:
            os.dup2(null, self.fd)
        finally:
            os.close(null)

    def discard(self) -> None:
        """Close the file, ignoring errors (the disk may be full), and delete it if it was
        written under a temporary name."""
        try:
            with contextlib.suppress(Exception):  # the output is being given up
                self.close()
        finally:
            if self.write_path != self.path:
                Path(self.write_path).unlink(missing_ok=True)

    # --- groups and datasets by path ----------------------------------------------------

    def path_of(self, obj: Any) -> str:
        """The path of an h5py group or dataset of this file."""
        entry = self.paths.get(id(obj))
        if entry is None or entry[1] is not obj:
            entry = self.paths[id(obj)] = (obj.name, obj)
        return entry[0]

    def child_path(self, parent: Any, name: str) -> str:
        """The path of ``parent[name]``."""
        return f"{self.path_of(parent).rstrip('/')}/{name}"

    def remember(self, path: str, obj: Any) -> Any:
        """Cache `obj` as the object at `path`; returns it."""
        self.objects[path] = obj
        self.paths[id(obj)] = (path, obj)
        return obj

    def forget(self, path: str) -> None:
        """Drop the object at `path` from the cache (it was deleted)."""
        obj = self.objects.pop(path, None)
        if obj is not None:
            self.paths.pop(id(obj), None)
        self.row_shapes.pop(path, None)
        self.filtered.discard(path)

    def lookup(self, parent: Any, name: str) -> Any:
        """``parent[name]``, or None where there is nothing."""
        path = self.child_path(parent, name)
        obj = self.objects.get(path)
        if obj is None:
            try:
                obj = self.remember(path, _open(parent, name))
            except KeyError:  # nothing there
                return None
        return obj

    # --- struct and table groups --------------------------------------------------------

    def struct_fields(self, group: h5py.Group) -> tuple[str, set[str]]:
        """(kind, fields) of a group's ``datatype`` attribute (``table{a,b}``...)."""
        path = self.path_of(group)
        entry = self.fields.get(path)
        if entry is None:
            dtype = group.attrs.get("datatype", "struct{}")
            if isinstance(dtype, bytes):
                dtype = dtype.decode()
            kind, _, rest = dtype.partition("{")
            entry = self.fields[path] = (kind, {f for f in rest.rstrip("}").split(",") if f})
        return entry

    def set_struct_fields(self, group: h5py.Group, kind: str, fields: set[str]) -> None:
        """Write a new group's ``kind{...}`` datatype listing all of `fields` at once."""
        set_attrs(group, {"datatype": f"{kind}{{{','.join(sorted(fields))}}}"})
        self.fields[self.path_of(group)] = (kind, set(fields))

    def is_struct(self, group: h5py.Group) -> bool:
        """Whether a group's datatype lists its members (struct or table)."""
        return self.struct_fields(group)[0] in ("struct", "table")

    def add_struct_field(self, group: h5py.Group, field: str) -> None:
        """Keep a group's ``struct{...}`` / ``table{...}`` datatype listing its fields."""
        kind, fields = self.struct_fields(group)
        if field not in fields:
            fields.add(field)
            set_attrs(group, {"datatype": f"{kind}{{{','.join(sorted(fields))}}}"})

    def new_group(self, parent: h5py.Group, name: str) -> h5py.Group:
        """Create ``parent[name]``, listed in its parent's datatype when that is a struct."""
        if self.is_struct(parent):
            self.add_struct_field(parent, name)
        return self.remember(self.child_path(parent, name), parent.create_group(name))

    def require_groups(self, parent: h5py.Group, names: list[str]) -> h5py.Group:
        """The group ``parent/names[0]/names[1]/...``, creating ``struct{}`` groups."""
        for name in names:
            grp = self.lookup(parent, name)
            if grp is None:
                grp = self.new_group(parent, name)
                set_attrs(grp, {"datatype": "struct{}"})
            elif not isinstance(grp, h5py.Group):
                raise RawconvError(f"{grp.name} exists and is not a group", path=self.path)
            parent = grp
        return parent
