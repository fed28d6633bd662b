"""The versions of the packages that decide the output, on the client and on every worker.

A cluster started elsewhere (``--scheduler``, ``--cluster``, ``convert(client=...)``) may
run another environment than the client's: another rawconv, numpy, numba or h5py writes
other bytes or fails far from the cause. The run is refused before any work when a worker
differs; a worker that joins later is checked by every task before it does anything
(:func:`submit_checked`), and the run is refused with the same message.
"""

from __future__ import annotations

import importlib
import pickle
import uuid
from collections.abc import Callable
from typing import Any

from rawconv.errors import RawconvError

__all__ = [
    "PACKAGES",
    "WorkerVersionError",
    "check_worker_versions",
    "package_versions",
    "run_checked",
    "submit_checked",
]

PACKAGES = ("rawconv", "numpy", "numba", "h5py")
"""The packages compared."""


class WorkerVersionError(RawconvError):
    """A worker runs another version of a package than the client."""


def package_versions() -> dict[str, str]:
    """Name -> ``__version__`` of each of :data:`PACKAGES` in this process ("not
    installed" for a package that cannot be imported)."""
    versions = {}
    for name in PACKAGES:
        try:
            module = importlib.import_module("rawconv._version" if name == "rawconv" else name)
        except ImportError:
            versions[name] = "not installed"
            continue
        versions[name] = str(getattr(module, "__version__", "unknown"))
    return versions


def _first_difference(theirs: dict[str, str], ours: dict[str, str]) -> str | None:
    """The first of :data:`PACKAGES` whose version differs between the two, or None."""
    return next((name for name in PACKAGES if theirs.get(name) != ours.get(name)), None)


def _version_error(worker: str, name: str, theirs: dict[str, str],
                   ours: dict[str, str]) -> WorkerVersionError:  # fmt: skip
    """The error naming package `name`, its version on `worker` (`theirs`) and on this
    client (`ours`)."""
    return WorkerVersionError(
        f"worker {worker} runs {name} {theirs.get(name)}, this client {name} "
        f"{ours.get(name)}: install the same versions of {', '.join(PACKAGES)} on the "
        "client and the workers"
    )


def check_worker_versions(client: Any) -> None:
    """Raise :class:`WorkerVersionError` naming the package, both versions and the worker
    when a worker of `client` runs another version of one of :data:`PACKAGES` than this
    process (the first difference, in the order of worker addresses)."""
    ours = package_versions()
    theirs = client.run(package_versions)
    for worker, versions in sorted(theirs.items()):
        name = _first_difference(versions, ours)
        if name is not None:
            raise _version_error(worker, name, versions, ours)


def submit_checked(client: Any, client_versions: tuple[tuple[str, str], ...],
                   fn: Callable[..., Any], *args: Any, priority: int = 0,
                   **kwargs: Any) -> Any:  # fmt: skip
    """``client.submit`` of ``fn(*args, **kwargs)`` through :func:`run_checked` (the task
    keeps the name of `fn`; Dask's `priority`: higher runs before queued tasks of lower).
    The call travels pickled apart: a worker whose environment cannot even load its
    arguments (numba refuses another numpy) still checks first. Futures among `args` (or
    in lists of them) travel beside the call, so that the task gets their results, as
    with a plain ``client.submit``."""
    import cloudpickle

    futures: list[Any] = []

    def lift(value: Any) -> Any:
        if isinstance(value, list):
            return [lift(v) for v in value]
        if _is_future(value):
            futures.append(value)
            return _Result(len(futures) - 1)
        return value

    call = cloudpickle.dumps((fn, tuple(lift(a) for a in args), kwargs))
    key = f"{getattr(fn, '__name__', 'task')}-{uuid.uuid4().hex}"
    return client.submit(run_checked, client_versions, call, futures, key=key, pure=False,
                         priority=priority)  # fmt: skip


class _Result:
    """Where the result of the n-th future of a checked call goes."""

    def __init__(self, n: int) -> None:
        self.n = n


def _is_future(value: Any) -> bool:
    return type(value).__name__ in ("Future", "InlineFuture") and hasattr(value, "result")


def _filled(value: Any, results: list[Any]) -> Any:
    if isinstance(value, list):
        return [_filled(v, results) for v in value]
    return results[value.n] if isinstance(value, _Result) else value


def run_checked(client_versions: tuple[tuple[str, str], ...], call: bytes,
                results: list[Any] | None = None) -> Any:  # fmt: skip
    """Run as a task on a worker: the pickled ``(fn, args, kwargs)`` `call`, once this
    worker's versions are found equal to `client_versions` (the client's
    :func:`package_versions` as pairs); else :class:`WorkerVersionError` and nothing is
    done (no versions given: no check). Checks the workers that join after the run's start
    (``check_worker_versions`` sees those present then). `results`: those of the futures
    the call was given."""
    if client_versions:
        mine, theirs = package_versions(), dict(client_versions)
        name = _first_difference(mine, theirs)
        if name is not None:  # only then is the worker's address asked for
            raise _version_error(_worker_address(), name, mine, theirs)
    fn, args, kwargs = pickle.loads(call)
    return fn(*(_filled(a, results or []) for a in args), **kwargs)


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):  # not in a worker: a local call
        return "(this process)"
