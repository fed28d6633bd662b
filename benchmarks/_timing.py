"""Wall and CPU seconds of a command run by a benchmark (not part of rawconv)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import subprocess
import sys
import time

import psutil

__all__ = ["timed"]

_PR_SET_CHILD_SUBREAPER = 36


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _adopt_orphans() -> None:
    """Become the subreaper of the processes this one starts (Linux): a process a command
    leaves behind (the fork server its Dask workers were forked from, the workers) is
    adopted here when its parent ends, and reaped here, so that its CPU time counts."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap_adopted(before: set[int], timeout: float = 60.0) -> None:
    """Wait for the children that were not ours before the command (adopted orphans)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        adopted = [p.pid for p in psutil.Process().children() if p.pid not in before]
        if not adopted:
            return
        for pid in adopted:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.01)
    raise RuntimeError(f"processes left running by the command: {adopted}")


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the process and every process it started, those it left to end
    after it included) of one command; RuntimeError with the end of its stderr when it
    fails. The wall time ends when the command does."""
    _adopt_orphans()
    before = {p.pid for p in psutil.Process().children()}
    cpu0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    _reap_adopted(before)
    cpu = _children_cpu() - cpu0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return wall, cpu
