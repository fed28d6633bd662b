"""The versions of the packages that decide the output, on the client and on every worker.

A cluster started elsewhere (``--scheduler``, ``convert(client=...)``) may run another
environment than the client's: another rawconv, numpy, numba or h5py writes other bytes or
fails far from the cause. The run is refused before any work when a worker differs.
"""

from __future__ import annotations

import importlib
from typing import Any

from rawconv.errors import RawconvError

__all__ = ["PACKAGES", "WorkerVersionError", "check_worker_versions", "package_versions"]

PACKAGES = ("rawconv", "numpy", "numba", "h5py")
"""The packages compared."""


class WorkerVersionError(RawconvError):
    """A worker runs another version of a package than the client."""


def package_versions() -> dict[str, str]:
    """Name -> ``__version__`` of each of :data:`PACKAGES` in this process ("not
    installed" for a package that cannot be imported)."""
    versions = {}
    for name in PACKAGES:
        try:
            module = importlib.import_module("rawconv._version" if name == "rawconv" else name)
        except ImportError:
            versions[name] = "not installed"
            continue
        versions[name] = str(getattr(module, "__version__", "unknown"))
    return versions


def check_worker_versions(client: Any) -> None:
    """Raise :class:`WorkerVersionError` naming the package, both versions and the worker
    when a worker of `client` runs another version of one of :data:`PACKAGES` than this
    process (the first difference, in the order of worker addresses)."""
    ours = package_versions()
    theirs = client.run(package_versions)
    for worker, versions in sorted(theirs.items()):
        for name in PACKAGES:
            if versions.get(name) != ours[name]:
                raise WorkerVersionError(
                    f"worker {worker} runs {name} {versions.get(name)}, this client {name} "
                    f"{ours[name]}: install the same versions of {', '.join(PACKAGES)} on the "
                    "client and the workers"
                )
