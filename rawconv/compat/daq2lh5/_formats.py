"""Names of rawconv's format folders looked up on use, for the formats being written.

``compass.*`` and ``llama.*`` re-export the objects of rawconv's CoMPASS and LlamaDAQ
format folders, which are found through the format registry when a name is first used.
Where this rawconv has no such format, the name is still importable (so that a module
importing it loads) but stands for a class whose use raises an ImportError naming the
format.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = ["MissingFormatObject", "format_getattr"]


class MissingFormatObject:
    """Stands for an object of a format this rawconv lacks; using it raises ImportError."""

    format_name = ""
    object_name = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _missing(self.format_name, self.object_name)


def _missing(format_name: str, object_name: str) -> NoReturn:
    raise ImportError(
        f"{object_name} needs rawconv's {format_name} format, which this installation of "
        f"rawconv does not have (no format {format_name!r} in rawconv.formats)"
    )


def _find_format(format_name: str) -> Any:
    from ...formats.registry import formats

    for fmt in formats():
        if format_name.lower() in fmt.names:
            return fmt
    return None


def _find_in_package(fmt: Any, object_name: str) -> Any:
    """`object_name` from the modules of the package that holds `fmt`'s streamer."""
    streamer = fmt.streamer
    streamer_module = (
        streamer.partition(":")[0] if isinstance(streamer, str) else streamer.__module__
    )
    package_name = streamer_module.rpartition(".")[0]
    package = importlib.import_module(package_name)
    if hasattr(package, object_name):
        return getattr(package, object_name)
    for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
        module = importlib.import_module(f"{package_name}.{info.name}")
        if hasattr(module, object_name):
            return getattr(module, object_name)
    return None


def format_getattr(
    format_name: str, module_name: str, names: dict[str, str | None]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving `names` (legend-daq2lh5 name -> rawconv name, or
    None for "the format's streamer class") from rawconv's format `format_name`."""

    placeholders: dict[str, type] = {}

    def __getattr__(name: str) -> Any:  # noqa: N807 (a module's __getattr__)
        if name not in names:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        fmt = _find_format(format_name)
        if fmt is not None:
            own = names[name]
            found = fmt.streamer_class() if own is None else _find_in_package(fmt, own)
            if found is not None:
                return found
        if name not in placeholders:
            placeholders[name] = type(name, (MissingFormatObject,), {
                "format_name": format_name, "object_name": name, "__module__": module_name,
            })  # fmt: skip
        return placeholders[name]

    return __getattr__
