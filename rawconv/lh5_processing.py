"""proc_specs applied to an existing LH5 file, file to file (:func:`lh5_buffer_processor`).

Every object of the input file is written to the output: a table that a buffer of the
out_spec writes (same group and name) and whose buffer has a ``proc_spec`` is processed
(see :mod:`rawconv.processing`), in blocks of rows; everything else is copied unchanged
(its datasets byte for byte, with their compression).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import h5py

from .buffers import split_out_stream
from .lh5.outfile import datatype_of, temp_name
from .lh5.writer import LH5Writer
from .outspec import expand_out_spec, format_template
from .processing import process_table, select_db

log = logging.getLogger(__name__)

__all__ = ["lh5_buffer_processor", "proc_specs_by_table"]

BLOCK_ROWS = 8192
"""Rows of a table read, processed and written at a time."""


def _tables(group: h5py.Group, prefix: str = "") -> Iterator[tuple[str, bool]]:
    """(path, is_table) of the objects under `group`: LGDO tables, and the other objects
    (arrays, scalars, ...) outside any table; groups and structs are descended."""
    for name, obj in group.items():
        path = f"{prefix}{name}"
        datatype = datatype_of(obj)
        if isinstance(obj, h5py.Group) and (not datatype or datatype.startswith("struct")):
            yield from _tables(obj, f"{path}/")
        else:
            yield path, datatype.startswith("table{")


def _require_parent(fin: h5py.File, fout: h5py.File, path: str) -> h5py.Group:
    """The group that holds `path` in `fout`, made with the attributes of its original."""
    parent = fout
    parts = path.split("/")[:-1]
    for i, part in enumerate(parts):
        if part not in parent:
            parent.create_group(part).attrs.update(fin["/".join(parts[: i + 1])].attrs)
        parent = parent[part]
    return parent


def proc_specs_by_table(out_spec: Mapping[str, Any], tables: list[str]) -> dict[str, Any]:
    """table path -> (proc_spec, buffer name) for the `tables` that a buffer of the
    expanded `out_spec` writes (its group and out_name) or names; a ``"*"`` decoder's
    buffers serve the tables no other buffer takes, with ``{name}`` as the table's name
    (and ``skip_missing`` true unless set, as build_raw gives them)."""
    found: dict[str, Any] = {}
    star: list[tuple[str, dict]] = []
    for decoder, buffers in out_spec.items():
        for bname, spec in buffers.items():
            if decoder == "*":
                star.append((bname, spec))
                continue
            group = split_out_stream(spec.get("out_stream", ""))[1].strip("/")
            dest = "/".join(p for p in (group, spec.get("out_name", bname).strip("/")) if p)
            for path in (dest, bname):
                if path in tables and path not in found:
                    found[path] = (spec.get("proc_spec"), bname)
    for path in tables:
        if path in found:
            continue
        name = path.rsplit("/", 1)[-1]
        for bname, spec in star:
            proc_spec = spec.get("proc_spec")
            if format_template(bname, {"name": name}, keep=("key",)) == name:
                if proc_spec and "skip_missing" not in proc_spec:
                    proc_spec = {**proc_spec, "skip_missing": True}  # shared: as build_raw
                found[path] = (proc_spec, bname)
                break
    return {path: v for path, v in found.items() if v[0]}


def lh5_buffer_processor(
    lh5_raw_file_in: str | os.PathLike,
    overwrite: bool = False,
    out_spec: MutableMapping | str | os.PathLike | None = None,
    proc_file_name: str | os.PathLike | None = None,
    db_dict: Mapping | None = None,
    hdf5_settings: Mapping[str, Any] | str | None = None,
) -> str:
    """Write a copy of an LH5 file with the proc_specs of `out_spec` applied to its tables.

    Parameters
    ----------
    lh5_raw_file_in
        an LH5 file (as build_raw writes them).
    overwrite
        replace an existing output; without it an existing output raises FileExistsError.
    out_spec
        an out_spec (dict, or .json / .yaml file) whose buffers carry ``proc_spec``\\ s; a
        dict is expanded in place, as build_raw expands it. None: a plain copy.
    proc_file_name
        the output; default ``<input without extension>_proc.lh5``.
    db_dict
        parameters of the processing: by table path (``ch1084803/raw``), else as build_raw
        selects them (by out_name, then group; see :func:`rawconv.processing.select_db`).
    hdf5_settings
        settings of the processed tables' datasets (default: gzip, as build_raw).

    Returns
    -------
    str
        the output file, which appears only when complete.
    """
    src = os.fspath(lh5_raw_file_in)
    if not Path(src).is_file():
        raise FileNotFoundError(f"input file not found: {src}")
    out = os.fspath(proc_file_name) if proc_file_name is not None else _default_name(src)
    if os.path.abspath(out) == os.path.abspath(src):
        raise ValueError(f"the output {out} is the input; give another proc_file_name")
    if Path(out).exists() and not overwrite:
        raise FileExistsError(f"output {out} exists; use overwrite=True to replace it")
    spec: Mapping = {}
    if out_spec is not None:
        spec = expand_out_spec(out_spec)
        if isinstance(out_spec, MutableMapping):
            out_spec.clear()
            out_spec.update(spec)
    tmp = temp_name(out)
    try:
        with h5py.File(src, "r") as fin:
            objects = list(_tables(fin))
            specs = proc_specs_by_table(spec, [p for p, is_table in objects if is_table])
            with h5py.File(tmp, "w") as fout:
                fout.attrs.update(fin.attrs)
                for path, _ in objects:
                    parent = _require_parent(fin, fout, path)
                    if path not in specs:
                        fin.copy(fin[path], parent, name=path.rpartition("/")[2])
        writer = LH5Writer(hdf5_settings=hdf5_settings, atomic=False)
        try:
            for path, (proc_spec, bname) in specs.items():
                _process_table(src, tmp, path, proc_spec, bname, db_dict, writer)
        finally:
            writer.close()
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("processed %d of %d objects of %s into %s", len(specs), len(objects), src, out)
    return out


def _default_name(src: str) -> str:
    stem, dot, _ = src.rpartition(".")
    return f"{stem if dot else src}_proc.lh5"


def _process_table(
    src: str, out: str, path: str, proc_spec: Mapping, bname: str, db_dict: Mapping | None,
    writer: LH5Writer,
) -> None:  # fmt: skip
    import lh5  # legend-lh5io: reads LGDOs (imported on use: slow to import)

    group, _, name = path.rpartition("/")
    if db_dict and path in db_dict:
        db = db_dict[path]
    else:
        db = select_db(db_dict, _Where(name, group or "/", bname))
    n_total = lh5.read_n_rows(path, src)
    for start in range(0, max(n_total, 1), BLOCK_ROWS):
        n = min(BLOCK_ROWS, n_total - start)
        table = lh5.read(path, src, start_row=start, n_rows=n)
        processed = process_table(table, proc_spec, n, db, name=path)
        writer.write(processed, name, out, group=group or "/", n_rows=n)


class _Where:
    """What :func:`~rawconv.processing.select_db` looks at in a buffer."""

    def __init__(self, out_name: str, group: str, name: str) -> None:
        self.out_name, self.out_group, self.out_stream = out_name, group, "x"
        self.key_list: list = []
        self.name = name
