"""Shared fixtures: the real DAQ test files and small helpers to read LH5 outputs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTDATA = Path(os.environ.get("RAWCONV_TESTDATA", ROOT.parent / "shared" / "testdata"))


def data_file(relative: str) -> Path:
    """Path of a file of the shared test data; skips the test when it is absent."""
    path = TESTDATA / relative
    if not path.exists():
        pytest.skip(f"test data {relative} not found under {TESTDATA} (set RAWCONV_TESTDATA)")
    return path


@pytest.fixture
def th228() -> Path:
    return data_file("fcio/th228.fcio")


@pytest.fixture
def spms() -> Path:
    return data_file("fcio/L200-comm-20211130-phy-spms.fcio")


@pytest.fixture(scope="session")
def client():
    """A Dask cluster of two worker processes, shared by every test that asks for it."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")  # fmt: skip
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def wait_for(predicate: Any, proc: Any, what: str, timeout: float = 180.0) -> None:
    """Poll `predicate` until true; fails if the subprocess `proc` ends first or after
    `timeout` seconds (`what` names the awaited state in the message)."""
    t0 = time.time()
    while not predicate():
        assert proc.poll() is None, f"finished before {what}"
        assert time.time() - t0 < timeout, f"no {what} after {timeout} s"
        time.sleep(0.02)


def datasets(path: str | Path) -> dict[str, h5py.Dataset]:
    """name -> dataset for every dataset of an HDF5 file (file kept open by the caller)."""
    out: dict[str, h5py.Dataset] = {}
    f = h5py.File(path, "r")
    f.visititems(
        lambda name, obj: out.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None
    )
    return out


def read_column(path: str | Path, name: str) -> np.ndarray:
    """One dataset of an HDF5 file as a numpy array."""
    with h5py.File(path, "r") as f:
        return f[name][()]


def compare_with_reference(ref: str | Path, out: str | Path, known_wrong: Any) -> int:
    """Every object of the reference output `ref` is in `out` with the same ``datatype`` /
    ``units`` / ``length``, and every dataset (but those ``known_wrong(name)``) has the same
    dtype, shape and values; the two files hold the same top-level names. Returns datasets
    compared."""
    checked = 0
    with h5py.File(ref, "r") as fr, h5py.File(out, "r") as fo:
        names: list[str] = []
        fr.visit(names.append)
        assert sorted(fo) == sorted(fr)
        for name in names:
            assert name in fo, f"{name} missing in rawconv output"
            r, o = fr[name], fo[name]
            for attr in ("datatype", "units", "length"):
                assert o.attrs.get(attr) == r.attrs.get(attr), (name, attr)
            if not isinstance(r, h5py.Dataset) or known_wrong(name):
                continue
            assert o.dtype == r.dtype, name
            assert o.shape == r.shape, name
            np.testing.assert_array_equal(o[()], r[()], err_msg=name)
            checked += 1
    return checked


def assert_identical_lh5(a: str | Path, b: str | Path) -> int:
    """Two HDF5 files with the same objects in the same order, attributes, dtypes,
    shapes, chunks, filters and values; returns the number of objects."""
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names: list[str] = []
        fa.visit(names.append)
        other: list[str] = []
        fb.visit(other.append)
        assert names == other
        for name in ["/", *names]:
            oa, ob = fa[name], fb[name]
            assert dict(oa.attrs) == dict(ob.attrs), name
            if isinstance(oa, h5py.Dataset):
                assert (oa.dtype, oa.shape, oa.chunks, oa.maxshape) == (
                    ob.dtype, ob.shape, ob.chunks, ob.maxshape), name  # fmt: skip
                filters = [o.id.get_create_plist().get_nfilters() for o in (oa, ob)]
                assert filters[0] == filters[1], name
                assert (oa.compression, oa.compression_opts, oa.shuffle) == (
                    ob.compression, ob.compression_opts, ob.shuffle), name  # fmt: skip
                np.testing.assert_array_equal(oa[()], ob[()], err_msg=name)
        return len(names)


def istore_k(path: str | Path) -> int:
    """HDF5's ``istore_k`` (half a chunk-index node's entries) of the file at `path`."""
    import ctypes

    get = ctypes.CDLL(h5py.h5p.__file__).H5Pget_istore_k
    get.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_uint)]
    k = ctypes.c_uint(0)
    with h5py.File(path, "r") as f:
        fcpl = f.id.get_create_plist()  # held: its id is closed with it
        assert get(fcpl.id, ctypes.byref(k)) >= 0
    return k.value
