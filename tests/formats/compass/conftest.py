"""The parallel-layer tests' Dask cluster, for the CoMPASS parallel tests."""

from tests.parallel.conftest import client  # noqa: F401
