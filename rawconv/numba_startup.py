"""Starting numba (and numpy) without the set-up that rawconv's kernels do not use.

Before numba compiles or loads its first kernel it runs the ``numba_extensions`` entry point
of every installed package (awkward's imports all of awkward), and it "refreshes" its
compiler contexts: every typing and lowering registry of numba is installed, and one of them
imports scipy's BLAS bindings to learn whether ``np.dot`` can be compiled. A kernel loaded
from numba's cache needs none of this, only numba's runtime; together they are over a third
of a small conversion's CPU time. The commands, which own their process, skip them with
:func:`skip_unused_setup`: the entry points are marked as run, a cached kernel loads with
the runtime alone, and a kernel that is not cached refreshes before it compiles, with scipy's
BLAS hidden (``np.dot`` and ``np.linalg`` stay uncompiled). ``build_raw`` called from a
notebook leaves numba as the user's other code may need it.

numpy starts a BLAS thread per core when it is imported (0.08 CPU s on two cores); rawconv
calls no BLAS routine, so the commands ask for one with :func:`one_blas_thread` before numpy
is imported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["one_blas_thread", "skip_unused_setup"]

_BLAS = "scipy.linalg.cython_blas"


def one_blas_thread() -> None:
    """Have numpy's BLAS start one thread, unless numpy is imported already or the user set
    the thread count (a command's own process; Dask's workers are given one already)."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def skip_unused_setup() -> None:
    """Mark numba's extension entry points as run, load cached kernels without refreshing
    numba's compiler contexts, and refresh them with scipy's BLAS hidden when a kernel is
    compiled. Idempotent."""
    import numba.core.entrypoints as entrypoints
    from numba.core.base import BaseContext

    if hasattr(entrypoints, "_already_initialized"):
        entrypoints._already_initialized = True
    if not getattr(BaseContext.refresh, "_rawconv", False):
        BaseContext.refresh = _without_blas(BaseContext.refresh)  # type: ignore[method-assign]
    _load_cached_kernels_without_refresh()


def _without_blas(refresh: Callable[[Any], None]) -> Callable[[Any], None]:
    """`refresh` run with scipy's BLAS hidden, unless something imported it already."""

    def hidden(self: Any) -> None:
        hide = _BLAS not in sys.modules
        if hide:
            sys.modules[_BLAS] = None  # type: ignore[assignment]  # import raises ImportError
        try:
            refresh(self)
        finally:
            if hide:
                del sys.modules[_BLAS]

    hidden._rawconv = True  # type: ignore[attr-defined]
    return hidden


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
