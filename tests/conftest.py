"""Shared fixtures: the real DAQ test files and small helpers to read LH5 outputs."""

from __future__ import annotations

import os
from pathlib import Path

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
