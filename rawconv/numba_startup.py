"""Starting numba without the set-up that rawconv's kernels do not use.

Before numba compiles or loads its first kernel it runs the ``numba_extensions`` entry point
of every installed package (awkward's imports all of awkward) and imports scipy's BLAS
bindings to learn whether ``np.dot`` can be compiled. rawconv's kernels need neither, and
together they are a third of a small conversion's CPU time. The commands, which own their
process, skip both with :func:`skip_unused_setup`; ``build_raw`` called from a notebook leaves
numba as the user's other code may need it.
"""

from __future__ import annotations

import sys

__all__ = ["skip_unused_setup"]

_BLAS = "scipy.linalg.cython_blas"


def skip_unused_setup() -> None:
    """Import numba's array support with scipy's BLAS hidden (``np.dot`` and
    ``np.linalg`` stay uncompiled) and mark numba's extension entry points as run."""
    hide = _BLAS not in sys.modules
    if hide:
        sys.modules[_BLAS] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import numba.core.entrypoints as entrypoints
        import numba.np.arraymath  # noqa: F401  # its BLAS check runs now
    finally:
        if hide:
            del sys.modules[_BLAS]
    if hasattr(entrypoints, "_already_initialized"):
        entrypoints._already_initialized = True


def dask_setup(worker: object) -> None:
    """distributed's preload hook: the embedded cluster's workers, processes of rawconv's own,
    start numba the same way."""
    skip_unused_setup()
