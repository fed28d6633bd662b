"""The production layout's files index their datasets' chunks with small B-tree nodes
(HDF5's ``istore_k`` 4): its thousands of datasets of one or a few chunks each do not each
carry a 2 KiB node. The default layout keeps HDF5's 32 (its datasets have many chunks).
tests/parallel/test_layout_l200.py checks the outputs of rawconv-parallel."""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np

from rawconv import build_raw, layouts
from rawconv.lh5 import outfile

from .conftest import data_file, istore_k


def _chunked_datasets(path) -> int:
    found = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda _, o: found.append(o.chunks is not None and o.id.get_storage_size())
                     if isinstance(o, h5py.Dataset) else None)  # fmt: skip
    return sum(1 for x in found if x)


def test_production_layout_files_have_small_chunk_index_nodes(tmp_path, monkeypatch):
    src = data_file("orca/fcio/l200-p14-r004-cal-20250606T010224Z.orca")
    small, default, plain = tmp_path / "k4.lh5", tmp_path / "k32.lh5", tmp_path / "plain.lh5"
    build_raw(src, out_spec=str(small), layout="l200")
    build_raw(src, out_spec=str(plain))
    monkeypatch.setitem(layouts.LAYOUTS, "l200",
                        dataclasses.replace(layouts.LAYOUTS["l200"], chunk_index_k=None))
    build_raw(src, out_spec=str(default), layout="l200")
    assert (istore_k(small), istore_k(default), istore_k(plain)) == (4, 32, 32)
    n = _chunked_datasets(small)
    assert n == _chunked_datasets(default) > 200
    # a first node of 8 chunks instead of 64: at least 1.5 KiB less per chunked dataset
    assert default.stat().st_size - small.stat().st_size >= 1536 * n
    with h5py.File(small, "r") as a, h5py.File(default, "r") as b:  # the same values
        names = []
        a.visititems(lambda name, o: names.append(name) if isinstance(o, h5py.Dataset) else None)
        assert len(names) > 200
        for name in names:
            assert np.array_equal(a[name][()], b[name][()]), name


def test_an_hdf5_without_the_setter_keeps_its_default(tmp_path, monkeypatch):
    monkeypatch.setattr(outfile, "_istore_k_setter", lambda: None)
    out = tmp_path / "p14.lh5"
    build_raw(data_file("orca/fcio/l200-p14-r004-cal-20250606T010224Z.orca"),
              out_spec=str(out), layout="l200")  # fmt: skip
    assert istore_k(out) == 32
    with h5py.File(out, "r") as f:
        assert len(f["ch1105600/raw/t_sat_lo"]) > 0
