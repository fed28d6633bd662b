"""Starting numba without the set-up that rawconv's kernels do not use.

Before numba compiles or loads its first kernel it runs the ``numba_extensions`` entry point
of every installed package (awkward's imports all of awkward) and imports scipy's BLAS
bindings to learn whether ``np.dot`` can be compiled. rawconv's kernels need neither, and
together they are a third of a small conversion's CPU time. And each kernel loaded from
numba's cache first "refreshes" numba's compiler contexts: every typing and lowering
registry of numba is installed (0.25 s of CPU), which only a compilation uses. The commands,
which own their process, skip all three with :func:`skip_unused_setup` (a kernel that is not
in the cache still refreshes before it compiles); ``build_raw`` called from a notebook leaves
numba as the user's other code may need it.
"""

from __future__ import annotations

import sys
from typing import Any

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
    _load_cached_kernels_without_refresh()


def _load_cached_kernels_without_refresh() -> None:
    """Make numba's cache load a kernel with only the runtime it calls initialised; the full
    refresh of the compiler contexts runs when a kernel is not in the cache (before numba
    compiles it). Left as is if this numba's cache lacks the methods relied on."""
    from numba.core import caching
    from numba.core.runtime import rtsys

    cache = caching.Cache
    needed = ("load_overload", "_load_overload", "_guard_against_spurious_io_errors")
    if getattr(cache.load_overload, "_rawconv", False) or not all(
        hasattr(cache, name) for name in needed
    ):
        return

    def load_overload(self: Any, sig: Any, target_context: Any) -> Any:
        rtsys.initialize(target_context)  # what the loaded machine code calls into
        data = None
        with self._guard_against_spurious_io_errors():
            data = self._load_overload(sig, target_context)
        if data is None:  # numba compiles it next: with every registry
            target_context.refresh()
        return data

    load_overload._rawconv = True  # type: ignore[attr-defined]
    cache.load_overload = load_overload


def dask_setup(worker: object) -> None:
    """distributed's preload hook: the embedded cluster's workers, processes of rawconv's own,
    start numba the same way."""
    skip_unused_setup()
