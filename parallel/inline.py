"""Runs of little work: done in this process, without starting a cluster.

A run of one local input no larger than a chunk is one decode task that writes its output
in place; workers could not share it. Starting the embedded cluster for it (worker
processes, about 0.85 s) would cost more than the conversion; so would it for a few small
inputs, converted one after the other in a fraction of that. Such runs execute their tasks
here, one after the other, through the same task functions and the same bookkeeping as on
a cluster: the outputs, the report and the clean-up are the same.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rawconv.remote import is_url

__all__ = ["INLINE_TOTAL_BYTES", "InlineClient", "completion_queue", "runs_inline"]

INLINE_TOTAL_BYTES = 64 << 20
"""Several inputs run in this process while they total no more: converting them one after
the other (about 0.25 s of CPU) costs less than starting the workers that would share
them, on any number of cores."""


def runs_inline(inputs: Sequence[str], client: Any, chunk_bytes: int) -> bool:
    """True for a run without a client given whose inputs are local files, each no larger
    than a chunk (one task each), and, if there are several, together no larger than
    :data:`INLINE_TOTAL_BYTES`: no cluster is started for it."""
    if client is not None or not inputs or any(is_url(i) for i in inputs):
        return False
    total = 0
    for inp in inputs:  # stops at the first input past a limit (a glob of many files)
        try:
            size = Path(inp).stat().st_size
        except OSError:  # missing: its index task reports it, as on a cluster
            size = 0
        total += size
        if size > chunk_bytes or (len(inputs) > 1 and total > INLINE_TOTAL_BYTES):
            return False
    return True


class InlineFuture:
    """The outcome of a task already run (what a Dask future gives when done)."""

    def __init__(self, value: Any = None, error: Exception | None = None) -> None:
        self._value, self._error = value, error

    def done(self) -> bool:
        return True

    def cancel(self) -> None:
        pass

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value


class InlineClient:
    """The part of ``distributed.Client`` a run uses, running each task when submitted.

    A task's exception is kept in its future, as Dask keeps it; an interruption (Ctrl-C,
    SIGTERM) is not an outcome of the task and ends the run at once.
    """

    dashboard_link = None

    def submit(self, func: Callable[..., Any], *args: Any, pure: bool = True,
               key: str | None = None, priority: int = 0,
               **kwargs: Any) -> InlineFuture:  # fmt: skip
        """Run ``func(*args, **kwargs)`` now (`pure`, `key` and `priority` are Dask's,
        unused)."""
        args = tuple(_result_of(a) for a in args)  # as Dask hands over futures' results
        try:
            return InlineFuture(func(*args, **kwargs))
        except Exception as exc:
            return InlineFuture(error=exc)

    def cancel(self, futures: Sequence[InlineFuture]) -> None:
        pass

    def scheduler_info(self) -> dict[str, Any]:
        return {"workers": {}}  # no worker: the report says "in this process"

    def close(self) -> None:
        pass


def _result_of(value: Any) -> Any:
    if isinstance(value, list):
        return [_result_of(v) for v in value]
    return value.result() if isinstance(value, InlineFuture) else value


class _InlineQueue:
    """Futures in the order they were added (``distributed.as_completed`` for inline runs)."""

    def __init__(self) -> None:
        self._queue: deque[InlineFuture] = deque()

    def add(self, future: InlineFuture) -> None:
        self._queue.append(future)

    def __iter__(self) -> Iterator[InlineFuture]:
        while self._queue:
            yield self._queue.popleft()


def completion_queue(client: Any) -> Any:
    """Where a run's futures are gathered as they complete."""
    if isinstance(client, InlineClient):
        return _InlineQueue()
    from distributed import as_completed

    return as_completed()
