"""Package namespaces whose names are imported on first use (PEP 562).

``rawconv --help`` and ``rawconv-parallel --help`` must not pay for numba, h5py or Dask;
the packages' public names therefore come from their modules only when first looked up.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any


class _LazyPackage(types.ModuleType):
    """A package whose exported names win over its submodules of the same name.

    Python sets a package attribute for every submodule it loads; ``rawconv.build_raw``
    and ``rawconv.parallel.convert`` must stay the functions (the modules remain
    reachable through ``sys.modules``).
    """

    _lazy_exports: dict[str, str] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in self._lazy_exports:
            return
        super().__setattr__(name, value)


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable, Callable]:
    """Make `package` import each of `exports` (name -> relative module) on first use.

    Returns the ``__getattr__`` and ``__dir__`` the package must bind at module level.
    """
    module = sys.modules[package]

    def lookup(name: str) -> Any:
        source = exports.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source, package), name)
        types.ModuleType.__setattr__(module, name, value)
        return value

    def names() -> list[str]:
        return sorted(set(vars(module)) | set(exports))

    module.__class__ = type("LazyPackage", (_LazyPackage,), {"_lazy_exports": dict(exports)})
    return lookup, names
