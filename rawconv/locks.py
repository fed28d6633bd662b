"""Output locks: two runs pointed at the same outputs at once must not both write them.

Both commands (``build_raw`` and the parallel layer) lock every local output before writing
it. A lock names its holder (pid and host); one left by a process that is gone is taken
over, and the temporary files such a process left beside the output are removed.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path

from .errors import RawconvError

log = logging.getLogger(__name__)

__all__ = ["TEMP_SUFFIX", "OutputLocks", "lock_path", "remove_stale_temps"]

TEMP_SUFFIX = ".rawconv-tmp"
"""Ending of the hidden temporary files outputs are written to (``.<name>.<id>.rawconv-tmp``)."""


def lock_path(output: str) -> Path:
    """The lock file of an output: ``.<name>.rawconv-lock`` beside it."""
    p = Path(output)
    return p.with_name(f".{p.name}.rawconv-lock")


def _alive(info: dict) -> bool:
    """Whether the process holding a lock still runs (locks of other hosts count as held)."""
    if info.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(info["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, ValueError):
        return True
    return True


class OutputLocks:
    """Takes a lock file per output (O_EXCL); a lock left by a dead process is taken over."""

    def __init__(self, outputs: list[str]) -> None:
        self.outputs = outputs
        self.held: list[Path] = []

    def acquire(self) -> None:
        """Lock every output or none; RawconvError names the output and the holder."""
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
        try:
            for output in self.outputs:
                path = lock_path(output)
                path.parent.mkdir(parents=True, exist_ok=True)
                for _ in range(2):
                    try:
                        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                    except FileExistsError:
                        holder = self._holder(path)
                        if holder is not None and _alive(holder):
                            since = time.strftime(
                                "%H:%M:%S", time.localtime(holder.get("since", 0))
                            )
                            raise RawconvError(
                                f"another rawconv run (pid {holder.get('pid')} on "
                                f"{holder.get('host')}, since {since}) is writing this output; "
                                f"wait for it, or remove {path} if that run is gone",
                                path=output,
                            ) from None
                        path.unlink(missing_ok=True)  # stale: its process is gone
                        continue
                    with os.fdopen(fd, "w") as f:
                        f.write(info)
                    self.held.append(path)
                    break
        except BaseException:
            self.release()
            raise

    @staticmethod
    def _holder(path: Path) -> dict | None:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        """Remove the lock files this run holds."""
        for path in self.held:
            path.unlink(missing_ok=True)
        self.held = []

    def __enter__(self) -> OutputLocks:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def remove_stale_temps(outputs: list[str], warn: bool = True) -> None:
    """Temporary files of outputs whose locks this run holds belong to runs that died
    (killed before they could clean up), or to this run's own tasks cut short (``warn``
    False): remove them. Each folder is listed once, however many outputs it holds."""
    names_in: dict[Path, set[str]] = {}
    for output in outputs:
        p = Path(output)
        names_in.setdefault(p.parent, set()).add(p.name)
    for folder, names in names_in.items():
        try:
            entries = [e.name for e in os.scandir(folder)]
        except OSError:  # a folder that is not there holds no temporary file
            continue
        for entry in entries:
            if _is_temp_of(entry, names):
                temp = folder / entry
                if warn:
                    log.warning("removing %s, left by an interrupted run", temp)
                temp.unlink(missing_ok=True)


def _is_temp_of(entry: str, names: set[str]) -> bool:
    """Whether `entry` is ``.<name>.<anything>.rawconv-tmp`` for one of `names`."""
    if not (entry.startswith(".") and entry.endswith(TEMP_SUFFIX)):
        return False
    middle = entry[1 : -len(TEMP_SUFFIX)]
    return any(c == "." and middle[:i] in names for i, c in enumerate(middle))
