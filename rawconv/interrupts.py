"""SIGINT and SIGTERM: one exception for both, and sections they must not cut in half.

Both commands run inside :func:`handlers`: SIGINT and SIGTERM then raise :class:`Interrupted`
(a KeyboardInterrupt, so every cleanup path that handles Ctrl-C handles it too) and the
commands exit with ``128 + signal`` (130 for SIGINT, 143 for SIGTERM). Committing outputs
(closing them and moving them to their final names) runs inside :func:`deferred`: a signal
that arrives there is raised when the section ends, as :class:`Interrupted` with
``after_commit`` set, so that the command knows that the output it was writing is complete.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

__all__ = [
    "Interrupted", "checkpoint", "deferred", "exit_status", "handlers", "received", "signal_name",
]  # fmt: skip

_CHECKPOINT_ENV = "RAWCONV_INTERRUPT_AT"
"""Tests name a point (``build_raw:chunk:3``...) where :func:`checkpoint` raises."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM received.

    Parameters
    ----------
    signum
        the signal (``signal.SIGINT`` or ``signal.SIGTERM``).
    after_commit
        True when it arrived while outputs were being committed, which completed first.
    """

    def __init__(self, signum: int = signal.SIGINT, after_commit: bool = False) -> None:
        super().__init__(signal_name(signum))
        self.signum = int(signum)
        self.after_commit = after_commit


def signal_name(signum: int) -> str:
    """``SIGINT``, ``SIGTERM``..."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_status(exc: BaseException) -> int:
    """The exit status of a command ended by `exc` (a KeyboardInterrupt): 128 + signal."""
    return 128 + (exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)


_received: list[int] = []
"""The signal that the last :func:`handlers` block turned into :class:`Interrupted`."""

_active: list[bool] = []
"""Non-empty while a :func:`handlers` block runs."""


def _raise(signum: int, frame: Any) -> None:
    for other in (signal.SIGINT, signal.SIGTERM):  # one is enough: clean up undisturbed
        signal.signal(other, signal.SIG_IGN)
    _received.append(signum)
    raise Interrupted(signum)


def received() -> Interrupted | None:
    """The interruption of the last (or running) :func:`handlers` block, if a signal came.

    A signal that lands inside a library's C code that calls back into Python (h5py's type
    conversions) can come out as that library's error instead of :class:`Interrupted`; a
    command that catches errors asks this first, so that the run still ends as interrupted.
    """
    return Interrupted(_received[0]) if _received else None


def _lost_interrupt_hook(previous: Any) -> Any:
    """An unraisable-exception hook that keeps quiet about :class:`Interrupted` (recorded
    already: the next :func:`checkpoint` raises it) and passes anything else on."""

    def hook(info: Any) -> None:
        if not isinstance(info.exc_value, Interrupted):
            previous(info)

    return hook


@contextlib.contextmanager
def handlers(restore: bool = True) -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` while the block runs (a second signal
    is ignored: the first one's cleanup runs undisturbed). After the block the previous
    handlers come back, or with ``restore=False`` (a command whose work is done) signals
    are ignored until the process exits."""
    _received.clear()
    old = {s: signal.signal(s, _raise) for s in (signal.SIGINT, signal.SIGTERM)}
    old_hook = sys.unraisablehook
    sys.unraisablehook = _lost_interrupt_hook(old_hook)
    _active.append(True)
    try:
        yield
    finally:
        _active.pop()
        sys.unraisablehook = old_hook
        for signum, handler in old.items():
            signal.signal(signum, handler if restore else signal.SIG_IGN)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while the block runs; one that came is raised at its end
    (``after_commit=True``) unless the block raised. Outside the main thread (Dask workers),
    signals cannot arrive and nothing is changed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    old = {s: signal.signal(s, lambda n, _f: received.append(n))
           for s in (signal.SIGINT, signal.SIGTERM)}  # fmt: skip
    try:
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)
    if received:
        raise Interrupted(received[0], after_commit=True)


def checkpoint(name: str) -> None:
    """A point between steps of a run: raise :class:`Interrupted` for a signal whose
    exception was lost (it landed in a ``__del__`` or weakref callback, such as h5py's
    object registry runs, where Python prints an exception and goes on).

    Tests interrupt runs at named points with it: it sends this process SIGINT (as a
    Ctrl-C would) when ``$RAWCONV_INTERRUPT_AT`` is `name`, SIGTERM when it is
    ``name@SIGTERM``."""
    if _received and _active:
        raise Interrupted(_received[0])
    wanted = os.environ.get(_CHECKPOINT_ENV)
    if wanted and wanted.partition("@")[0] == name:
        os.kill(os.getpid(), signal.SIGTERM if wanted.endswith("@SIGTERM") else signal.SIGINT)
