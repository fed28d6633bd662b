"""The entry points of one group, found without importing :mod:`importlib.metadata`.

``importlib.metadata.entry_points`` imports the email parser and reads every installed
distribution's metadata: 60 ms of CPU, a tenth of a small conversion. Entry points of
packages installed in folders on ``sys.path`` are in their ``*.dist-info`` /
``*.egg-info`` folders' ``entry_points.txt``; this reads those files alone, with the
rules of ``importlib.metadata``: ``sys.path`` in order, a distribution found twice counts
once (the first), and the same file syntax. Where distributions may come from elsewhere
(a zip file or an ``.egg`` on ``sys.path``, an import hook that lists distributions), it
asks ``importlib.metadata`` itself.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["EntryPoint", "entry_points"]


@dataclass(frozen=True)
class EntryPoint:
    """``name = module:attribute`` of a group."""

    name: str
    value: str
    group: str

    def load(self) -> Any:
        """The object named by :attr:`value` (its module imported)."""
        match = re.fullmatch(r"\s*([\w.]+)\s*(?::\s*([\w.]+)\s*)?(\[.*\])?\s*", self.value)
        if match is None:
            raise ValueError(f"malformed entry point value {self.value!r}")
        obj: Any = importlib.import_module(match.group(1))
        for attr in filter(None, (match.group(2) or "").split(".")):
            obj = getattr(obj, attr)
        return obj


def entry_points(group: str) -> list[EntryPoint]:
    """The entry points of `group` of every installed distribution, as
    ``importlib.metadata.entry_points(group=group)`` lists them."""
    if not _paths_alone():
        from importlib import metadata

        return [EntryPoint(ep.name, ep.value, group) for ep in metadata.entry_points(group=group)]
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for folder in sys.path:
        for info in _infos(Path(folder or ".")):
            name = _normalized(info.name.rpartition(".")[0].partition("-")[0])
            if name in seen:
                continue
            seen.add(name)
            found += _read(info / "entry_points.txt", group)
    return found


def _paths_alone() -> bool:
    """Whether every distribution is in a folder on ``sys.path``."""
    from importlib.machinery import PathFinder

    for finder in sys.meta_path:
        if finder is not PathFinder and hasattr(finder, "find_distributions"):
            return False
    return not any(Path(p).is_file() or p.lower().endswith(".egg") for p in sys.path if p)


def _infos(folder: Path) -> list[Path]:
    """The distributions' metadata folders in `folder` (in listing order)."""
    try:
        children = list(folder.iterdir())
    except OSError:  # absent or unreadable: importlib.metadata skips it too
        return []
    return [c for c in children if c.name.lower().endswith((".dist-info", ".egg-info"))]


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _read(path: Path, group: str) -> list[EntryPoint]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:  # no entry points (or an egg-info that is a file)
        return []
    found = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section == group:
            name, sep, value = line.partition("=")
            if sep:
                found.append(EntryPoint(name.strip(), value.strip(), group))
    return found
