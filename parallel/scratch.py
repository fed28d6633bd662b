"""The scratch folder of a run: named after its process, removed on every exit path, and
removed by a later run when the process that made it is gone (killed with ``kill -9``)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import uuid
from pathlib import Path

from rawconv.locks import _alive

log = logging.getLogger(__name__)

__all__ = ["new_run_id", "remove_stale_folders", "remove_stale_scratch"]

_RUN_ID = re.compile(r"^run-(?P<host>[A-Za-z0-9_.-]+)-(?P<pid>\d+)-[0-9a-f]{8}$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"


def new_run_id() -> str:
    """``run-<host>-<pid>-<random>``: the name of this run's folder in the scratch folder."""
    return f"run-{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def remove_stale_scratch(scratch: str | os.PathLike) -> list[str]:
    """Remove the run folders in `scratch` of processes of this host that are gone;
    returns their paths. Folders of live runs and of other hosts are kept."""
    return remove_stale_folders(scratch, _RUN_ID, warn=True)


def remove_stale_folders(
    root: str | os.PathLike, pattern: re.Pattern[str], warn: bool = False
) -> list[str]:
    """Remove the folders in `root` whose names `pattern` matches, with a ``pid`` group,
    and a ``host`` group where folders of several hosts may meet there (without one they
    are this host's), whose process is gone; returns their paths."""
    removed = []
    try:
        entries = list(Path(root).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or not entry.is_dir():
            continue
        host = match.groupdict().get("host") or _host()
        if host != _host():
            continue
        if _alive({"host": socket.gethostname(), "pid": int(match["pid"])}):
            continue
        if warn:
            log.warning("removing %s, left by an interrupted run", entry)
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(str(entry))
    return removed
