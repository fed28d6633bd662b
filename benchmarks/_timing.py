"""Wall and CPU seconds of a command run by a benchmark (not part of rawconv)."""

from __future__ import annotations

import resource
import subprocess
import time

__all__ = ["timed"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the process and the descendants it waited for) of one command;
    RuntimeError with the end of its stderr when it fails."""
    cpu0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return wall, cpu
