"""A Dask cluster shared by the parallel-layer tests, and output comparison."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np


def assert_same_lh5(a: str | Path, b: str | Path) -> int:
    """Every object of two LH5 files equal: names, datatype / units attributes, dtypes,
    shapes and values. Returns the number of datasets compared."""
    n = 0
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names: list[str] = []
        fa.visit(names.append)
        other: list[str] = []
        fb.visit(other.append)
        assert sorted(names) == sorted(other)
        for name in names:
            oa, ob = fa[name], fb[name]
            for attr in ("datatype", "units"):
                assert oa.attrs.get(attr) == ob.attrs.get(attr), (name, attr)
            if isinstance(oa, h5py.Dataset):
                assert oa.dtype == ob.dtype, name
                assert oa.shape == ob.shape, name
                np.testing.assert_array_equal(oa[()], ob[()], err_msg=name)
                n += 1
    return n


def stem(path: Path) -> str:
    """The input's name without its last suffix (what ``{orig_basename}`` gives)."""
    return path.name.rsplit(".", 1)[0]


def convert_serially(inputs: list[Path], spec: object, out: Path) -> None:
    """build_raw every input into `out`: ``<stem>.lh5``, or `spec` with ``{dir}`` = `out`."""
    from rawconv import build_raw

    for f in inputs:
        if spec is None:
            build_raw(str(f), out_spec=str(out / f"{stem(f)}.lh5"))
        else:
            build_raw(str(f), out_spec=spec, dir=str(out), orig_basename=stem(f))


def lh5_files(folder: Path) -> list[str]:
    """Names of the .lh5 files in `folder`, sorted."""
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".lh5")

