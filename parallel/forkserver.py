"""The embedded cluster's workers: forked from one server process that imported rawconv.

Dask starts each worker as a new interpreter ("spawn") that imports Dask, numpy, numba,
h5py and rawconv before its first task: half a second of CPU per worker on every run, most
of the cost of a small one. The embedded cluster instead forks its workers from
multiprocessing's fork server, started with those modules imported. ``rawconv-parallel``
starts the server as soon as it knows it will need workers, so that the server imports
while the command goes on with its own imports and the scheduler starts; the workers then
come up at once. The server is single-threaded, so forking it is safe (this process, whose
Dask event loop runs in a thread, is not forked). In a notebook the server outlives a run
and the next run's cluster starts at once too.

The server ignores SIGINT, and so do the workers forked from it: a Ctrl-C in a terminal
reaches the whole process group, and only the command handles it. It has the environment
Dask gives the workers it spawns (``distributed.nanny.pre-spawn-environ``). Its socket lies
in a folder of its own (``rawconv-workers-<pid>-<random>``, in the temporary folder),
removed when this process exits and by a later run if this process was killed. Where the
server cannot start, Dask spawns the workers as usual.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = [
    "WORKER_MODULES",
    "sigint_ignored",
    "start_worker_server",
    "stop_worker_server",
    "worker_start_method",
]

WORKER_MODULES = (
    "distributed",
    "rawconv.numba_startup",  # the workers' Dask preload
    "rawconv.parallel.worker_imports",  # the tasks, the formats, h5py
)
_FOLDER = re.compile(r"^rawconv-workers-(?P<pid>\d+)-[0-9a-f]{8}$")
_SOCKET_PATH_MAX = 107  # bytes of a Unix socket's path (sun_path, its final NUL excluded)
_lock = threading.Lock()
_started: bool | None = None  # None: not tried yet


def start_worker_server() -> bool:
    """Start the fork server with :data:`WORKER_MODULES` imported (it imports them in the
    background: this returns at once), unless it runs already; False where it cannot be
    started (no folder for its socket, a failed start): Dask then spawns its workers."""
    global _started
    import multiprocessing
    import multiprocessing.forkserver as forkserver

    with _lock:
        if _started is False:
            return False
        try:
            if not _socket_folder():
                raise OSError("no temporary folder with a path short enough for a socket")
            multiprocessing.get_context("forkserver").set_forkserver_preload(list(WORKER_MODULES))
            with sigint_ignored(), _environment(_worker_environment()):
                forkserver.ensure_running()
        except (OSError, ValueError) as exc:
            log.debug("workers are spawned: the fork server did not start (%s)", exc)
            _started = False
        else:
            _started = True
        return _started


def stop_worker_server() -> None:
    """End the fork server, at once (SIGTERM: no interpreter shutdown), once its workers
    are gone: what a command does at its end. Left to end by itself after the command, the
    server would keep a pipe on the command's output open for another 0.15 s."""
    global _started
    import multiprocessing.forkserver as forkserver

    with _lock:
        server = forkserver._forkserver
        pid = getattr(server, "_forkserver_pid", None)
        if not _started or pid is None:
            return
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(AttributeError, OSError):
            server._stop()  # closes its pipe, reaps it, removes its socket
        _started = None


@contextlib.contextmanager
def worker_start_method() -> Iterator[None]:
    """Dask's workers started in this block are forked from the server (started here if
    it is not running yet), or spawned where it cannot start."""
    import dask

    if not start_worker_server():
        yield
        return
    _keep_dask_preload()
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        yield


def _socket_folder() -> bool:
    """multiprocessing's temporary folder, where the server's socket goes: our own,
    ``rawconv-workers-<pid>-<random>`` in the temporary folder (or /tmp where that path
    would be too long for a socket), removed at exit; the folders of processes that are
    gone (killed) are removed first. False where no folder fits."""
    from multiprocessing import process, util

    from .scratch import remove_stale_folders

    config = process.current_process()._config
    if config.get("tempdir") is not None:  # chosen already (by us, or multiprocessing)
        return _fits(config["tempdir"])
    name = f"rawconv-workers-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    roots = list(dict.fromkeys([Path(tempfile.gettempdir()), Path("/tmp")]))
    for root in roots:  # the folders of processes that were killed
        remove_stale_folders(root, _FOLDER)
    for root in roots:
        folder = root / name
        if not _fits(str(folder)):
            continue
        try:
            folder.mkdir(0o700)
        except OSError:
            continue
        config["tempdir"] = str(folder)
        util.Finalize(None, shutil.rmtree, args=(str(folder), True), exitpriority=-100)
        return True
    return False


def _fits(folder: str) -> bool:
    """Whether a socket in `folder` (multiprocessing names it ``listener-<8 chars>``) has
    a path short enough."""
    return len(os.fsencode(folder)) + len("/listener-12345678") <= _SOCKET_PATH_MAX


def _worker_environment() -> dict[str, str]:
    """The variables Dask's nanny sets before it spawns a worker (Dask's defaults, read
    without importing Dask's distributed package, under the user's configuration)."""
    import importlib.util

    import dask.config
    import yaml

    spec = importlib.util.find_spec("distributed")
    if spec is not None and spec.submodule_search_locations:
        defaults = Path(next(iter(spec.submodule_search_locations))) / "distributed.yaml"
        with contextlib.suppress(OSError, yaml.YAMLError):
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            dask.config.update_defaults(yaml.load(defaults.read_text(), Loader=loader))
    variables = dask.config.get("distributed.nanny.pre-spawn-environ", default=None) or {}
    env = {k: str(v) for k, v in variables.items()}
    if env.get("PYTHONHASHSEED") in (None, "0"):
        env["PYTHONHASHSEED"] = "6640"  # Dask's own choice, for the same hashes on workers
    return env


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in this block, where worker processes start (they inherit it);
    outside the main thread signal handlers cannot be changed, and nothing is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _keep_dask_preload() -> None:
    """Stop Dask from choosing the server's modules itself: it would import them here first
    (pandas among them) to no use, the server running already."""
    import distributed.utils

    if hasattr(distributed.utils, "_forkserver_preload_set"):
        distributed.utils._forkserver_preload_set = True
