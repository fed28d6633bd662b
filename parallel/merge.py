"""Merging part files into the final LH5 files.

One merge runs per output file (never two writers on one file). A file made of a single
part, written with its final settings, is moved into place. Parts of several chunks are
stored uncompressed with their final settings in an attribute; the merge appends their
tables in chunk order (the writer rewrites vector-of-vector offsets) in slices of bounded
size, compressing once, and moves the finished file into place.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from rawconv.lh5.columns import ArrayCol, ScalarCol, TableCol, VectorCol
from rawconv.lh5.compression import decode_settings
from rawconv.lh5.datasets import DEFERRED_SETTINGS_ATTR
from rawconv.lh5.encoded import AOEESA_DATATYPE, VOEV_DATATYPE, EncodedCol
from rawconv.lh5.outfile import datatype_of
from rawconv.lh5.writer import LH5Writer
from rawconv.malloc import tune_malloc
from rawconv.remote import is_url, staging_path, upload

from .chunkcopy import ChunkCopy
from .pack import PackedPart

__all__ = ["merge_parts", "merge_task", "read_rows"]

Skip = Callable[[str], "tuple[int, int] | None"]

SLICE_BYTES = 64 << 20
"""Rows are copied in slices of about this many bytes (memory stays bounded)."""


def _attrs(obj: h5py.HLObject) -> dict[str, Any]:
    out = {}
    for key, value in obj.attrs.items():
        if key in ("datatype", DEFERRED_SETTINGS_ATTR):
            continue
        out[key] = value.decode() if isinstance(value, bytes) else value
    if DEFERRED_SETTINGS_ATTR in obj.attrs:
        out["hdf5_settings"] = decode_settings(obj.attrs[DEFERRED_SETTINGS_ATTR])
    return out


def n_rows(obj: h5py.HLObject) -> int:
    """Rows of an LGDO stored at `obj`."""
    if isinstance(obj, h5py.Dataset):
        return obj.shape[0] if obj.ndim else 1
    dt = datatype_of(obj)
    if dt in (AOEESA_DATATYPE, VOEV_DATATYPE):
        return len(obj["encoded_data/cumulative_length"])
    if dt.startswith("array<1>{array<1>"):
        return len(obj["cumulative_length"])
    for child in obj.values():
        return n_rows(child)
    return 0


def read_rows(obj: h5py.HLObject, start: int, stop: int, skip: Skip | None = None) -> Any:
    """Rows ``[start, stop)`` of the LGDO stored at `obj`, as rawconv containers.

    `skip`: dataset path -> rows of it not to read (left unset: their chunks are copied
    packed, :mod:`rawconv.parallel.chunkcopy`), or None."""
    if isinstance(obj, h5py.Dataset):
        if obj.ndim == 0:
            value = obj[()]
            return ScalarCol(value.decode() if isinstance(value, bytes) else value, _attrs(obj))
        gap = skip(obj.name) if skip is not None else None
        data = _read_around(obj, start, stop, gap) if gap else obj[start:stop]
        if datatype_of(obj).endswith("{bool}"):
            data = data.astype(bool)
        return ArrayCol(data, _attrs(obj))
    dt = datatype_of(obj)
    if dt in (AOEESA_DATATYPE, VOEV_DATATYPE):  # encoded waveforms
        data = read_rows(obj["encoded_data"], start, stop)
        data.cumulative_length.nda = data.cumulative_length.nda.astype(np.uint32)
        size = obj["decoded_size"]
        decoded = int(size[()]) if size.ndim == 0 else read_rows(size, start, stop)
        attrs = _attrs(obj)
        flat = obj["encoded_data/flattened_data"]
        if DEFERRED_SETTINGS_ATTR in flat.attrs:  # the encoded bytes' own (shuffle only...)
            attrs["hdf5_settings"] = decode_settings(flat.attrs[DEFERRED_SETTINGS_ATTR])
        return EncodedCol(data, decoded, attrs)
    if dt.startswith("array<1>{array<1>"):
        cl = obj["cumulative_length"]
        base = int(cl[start - 1]) if start > 0 else 0
        lengths = cl[start:stop].astype(np.int64) - base
        end = base + (int(lengths[-1]) if len(lengths) else 0)
        flat = read_rows(obj["flattened_data"], base, end, skip)
        return VectorCol(flat, ArrayCol(lengths, _attrs(cl)), _attrs(obj))
    kind = "table" if dt.startswith("table") else "struct"
    cols = {name: read_rows(child, start, stop, skip) for name, child in list(obj.items())}
    return TableCol(cols, size=stop - start, attrs=_attrs(obj), kind=kind)


def _read_around(ds: h5py.Dataset, start: int, stop: int, gap: tuple[int, int]) -> np.ndarray:
    """Rows ``[start, stop)`` of `ds` with those in ``[gap)`` left unset (never touched:
    the pages of a large array stay unallocated)."""
    lo, hi = max(start, gap[0]), min(stop, gap[1])
    if lo >= hi:
        return ds[start:stop]
    data = np.empty((stop - start, *ds.shape[1:]), dtype=ds.dtype)
    if lo > start:
        data[: lo - start] = ds[start:lo]
    if stop > hi:
        data[hi - start :] = ds[hi:stop]
    return data


def _leaves(group: h5py.Group, prefix: str = "") -> Iterator[tuple[str, h5py.HLObject]]:
    """Paths of the LGDOs below `group` that are not plain structs (tables, arrays...)."""
    # list first: h5py holds its global lock while an items() iteration is suspended,
    # which would block the writer's compression threads
    for name, obj in list(group.items()):
        path = f"{prefix}/{name}"
        if isinstance(obj, h5py.Group) and datatype_of(obj).startswith("struct"):
            yield from _leaves(obj, path)
        else:
            yield path, obj


def _row_bytes(obj: h5py.HLObject, rows: int, skip: Skip | None = None) -> int:
    """Bytes the merge reads per row of `obj` (not those of rows `skip` leaves unread)."""
    total = 0

    def visit(_: str, item: h5py.HLObject) -> None:
        nonlocal total
        if isinstance(item, h5py.Dataset) and item.ndim:
            size = item.dtype.itemsize * int(np.prod(item.shape))
            gap = skip(item.name) if skip is not None else None
            if gap:
                size = size * (item.shape[0] - (gap[1] - gap[0])) // max(item.shape[0], 1)
            total += size

    if isinstance(obj, h5py.Dataset):
        visit("", obj)
    else:
        obj.visititems(visit)
    return max(1, total // max(rows, 1))


def merge_parts(
    final: str, parts: list[str], keep_parts: bool = False,
    storage_options: dict[str, Any] | None = None, packed: list[PackedPart | None] | None = None,
    chunk_index_k: int | None = None,
) -> dict[str, int]:  # fmt: skip
    """Append the tables of `parts` (in order) into `final`; returns rows per table path.

    `final` (a path, or an fsspec URL the finished file is uploaded to) appears only when
    complete; the parts are deleted unless `keep_parts`. `packed`: per part, its whole
    final chunks compressed by its pack task (stored as they are), or None.
    `chunk_index_k`: HDF5's ``istore_k`` of `final` (its layout's; None: HDF5's default).
    """
    tune_malloc()
    rows: dict[str, int] = {}
    if parts == [final]:  # written in place by the only chunk
        return _count_rows(final)
    if len(parts) == 1 and not _has_deferred(parts[0]):
        rows = _count_rows(parts[0])
        if is_url(final):  # the upload deletes the file it puts
            local = parts[0]
            if keep_parts:
                local = staging_path(final)
                shutil.copyfile(parts[0], local)
            upload(local, final, storage_options)
        elif keep_parts:
            shutil.copyfile(parts[0], final)
        else:
            Path(final).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(parts[0], final)
        return rows
    writer = LH5Writer(hdf5_settings=None, atomic=True, storage_options=storage_options,
                       chunk_index_k=chunk_index_k)  # fmt: skip
    copy = ChunkCopy(final, list(packed)) if packed and any(packed) else None
    try:
        if copy is not None:
            writer.supply_chunks(final, copy.supplies())
        for i, part in enumerate(parts):
            skip = copy.skip(i, lambda p: writer.rows_of(final, p)) if copy else None
            with h5py.File(part, "r") as f:
                for path, obj in _leaves(f):
                    group, _, name = path.rpartition("/")
                    total = n_rows(obj)
                    step = max(1, SLICE_BYTES // _row_bytes(obj, total, skip))
                    for start in range(0, total, step):
                        stop = min(total, start + step)
                        table = read_rows(obj, start, stop, skip)
                        writer.write(table, name, final, group=group or "/")
                    rows[path] = rows.get(path, 0) + total
        if copy is not None:
            copy.check_complete()
        writer.commit()
    except BaseException:
        writer.abort()
        if copy is not None:
            copy.close(remove=False)
        raise
    if copy is not None:
        copy.close(remove=not keep_parts)
    if not keep_parts:
        for part in parts:
            Path(part).unlink(missing_ok=True)
    return rows


def merge_task(
    final: str, parts: list[str], storage_options: dict[str, Any] | None = None,
    packs: list[dict[str, PackedPart | None] | None] | None = None,
    chunk_index_k: int | None = None,
) -> tuple[dict[str, int], float]:  # fmt: skip
    """:func:`merge_parts` as a task: (rows per table path, seconds it ran). `packs`: the
    results of the parts' pack tasks (final output -> packed part), in part order."""
    t0 = time.perf_counter()
    packed = [p.get(final) if p is not None else None for p in packs] if packs else None
    rows = merge_parts(final, parts, storage_options=storage_options, packed=packed,
                       chunk_index_k=chunk_index_k)  # fmt: skip
    return rows, time.perf_counter() - t0


def _has_deferred(path: str) -> bool:
    found = False

    def visit(_: str, obj: h5py.HLObject) -> bool | None:
        nonlocal found
        if isinstance(obj, h5py.Dataset) and DEFERRED_SETTINGS_ATTR in obj.attrs:
            found = True
            return True
        return None

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return found


def _count_rows(path: str) -> dict[str, int]:
    with h5py.File(path, "r") as f:
        return {p: n_rows(obj) for p, obj in _leaves(f)}


def remove_tree(path: str | os.PathLike) -> None:
    """Delete a scratch folder (missing is fine)."""
    shutil.rmtree(path, ignore_errors=True)
