"""convert(): many DAQ files to LH5 on a Dask cluster, identical to serial build_raw.

1. index every input (workers; cached by file identity) and resolve its outputs;
2. plan chunks of about `chunk_size` bytes on record boundaries;
3. decode chunks into part files in a scratch folder (workers);
4. merge the parts of each output file, in chunk order, into the final file (workers; one
   merge per file), which appears under its final name only when complete.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rawconv.buffers import split_out_stream
from rawconv.build_raw import check_storage_options, spec_variables
from rawconv.diskspace import check_free_space, estimate_output_bytes
from rawconv.errors import RawconvError, RemoteError
from rawconv.formats import format_options
from rawconv.interrupts import Interrupted, checkpoint, deferred
from rawconv.layouts import check_layout_out_spec, get_layout
from rawconv.locks import OutputLocks, remove_stale_temps
from rawconv.remote import check_input_url, check_output_url, is_url, output_exists
from rawconv.validate import (
    check_buffer_size,
    check_keywords,
    check_not_the_input,
    check_output_path,
)

from .collect import Collector, IndexArgs
from .forkserver import sigint_ignored, worker_start_method
from .inline import InlineClient, runs_inline
from .plan import DEFAULT_CHUNK_BYTES
from .progress import Bars
from .report import FileReport, RunReport
from .scratch import new_run_id, remove_stale_scratch
from .tasks import FilePlan, JobSpec, index_task
from .versions import WorkerVersionError, check_worker_versions, package_versions, submit_checked

log = logging.getLogger(__name__)

__all__ = ["convert"]


def _client(
    client: Any, n_workers: int | None, threads_per_worker: int, folder: Path, dashboard: bool
) -> tuple[Any, Any]:
    """(client, cluster we started or None). The workers of a cluster we start are forked
    from :mod:`rawconv.parallel.forkserver`, keep their files in `folder` (this run's
    scratch folder) and ignore SIGINT: a Ctrl-C in a terminal reaches the whole process
    group, and only this process handles it."""
    if client is not None:
        return client, None
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - a dependency
        raise ImportError(
            "the parallel layer needs dask.distributed: pip install distributed"
        ) from exc
    import dask

    workers_folder = {"temporary-directory": str(folder / "dask")}
    with sigint_ignored(), worker_start_method(), dask.config.set(workers_folder):
        cluster = LocalCluster(
            n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=threads_per_worker,
            processes=True, dashboard_address=":0", silence_logs=logging.CRITICAL,
            scheduler_kwargs={"dashboard": dashboard},  # its HTTP server, without bokeh's
            local_directory=str(folder / "dask"),
            preload=["rawconv.numba_startup"],  # workers of our own: numba without extensions
        )  # fmt: skip
    return Client(cluster), cluster


def _n_workers(client: Any) -> int:
    try:
        return len(client.scheduler_info()["workers"])
    except Exception:  # pragma: no cover - informational only
        return 0


def convert(
    inputs: Sequence[str] | str,
    out_spec: Any = None,
    client: Any = None,
    *,
    chunk_size: int = DEFAULT_CHUNK_BYTES,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    scratch: str | os.PathLike | None = None,
    overwrite: bool = False,
    resume: bool = False,
    dry_run: bool = False,
    stream_type: str | None = None,
    buffer_size: int = 8192,
    hdf5_settings: Any = None,
    db_dict: Any = None,
    cache_dir: str | None = None,
    progress: bool = False,
    storage_options: dict[str, Any] | None = None,
    layout: str | None = None,
    on_client: Callable[[Any], None] | None = None,
    dashboard: bool = True,
    **kwargs: Any,
) -> RunReport:
    """Convert `inputs` (paths or fsspec URLs) with the parallel layer.

    Parameters
    ----------
    out_spec
        as for :func:`rawconv.build_raw`; ``{orig_basename}`` names per-input outputs
        (the default writes ``<input>.lh5`` beside each input).
    client
        a ``distributed.Client``; None starts an embedded LocalCluster of `n_workers`
        processes (default: one per core) with `threads_per_worker` threads, except for a
        run of one local input no larger than `chunk_size`, or of several that total at
        most 64 MiB: their tasks run in this process (:mod:`rawconv.parallel.inline`), as
        fast as ``rawconv`` would.
    chunk_size
        target bytes of input per task: each input is cut, on record boundaries, into the
        chunks this asks for (its size divided by `chunk_size`, rounded up), of about equal
        bytes.
    scratch
        folder for part files (default: the system temp folder); on a multi-node cluster it
        must be shared by the workers.
    overwrite / resume
        replace existing outputs / skip inputs whose outputs all exist (finished outputs
        are complete files, unfinished ones never have their final name).
    dry_run
        index and plan only; the report lists the plan.
    progress
        one progress bar per phase (index: files, decode: input bytes, merge: outputs),
        with ``tqdm.auto`` (widgets in a notebook with ipywidgets).
    storage_options
        fsspec options for inputs and outputs named by URLs, given to every task.
    layout
        a named layout (``"l200"``: LEGEND-200's production raw tier), as for
        :func:`rawconv.build_raw`: it brings the out_spec and, unless `hdf5_settings` is
        given, the write settings; `out_spec` is then None or an output name.
    on_client
        called with the Dask client once it is connected, before any work
        (``rawconv-parallel`` prints the dashboard link with it; not called for a run done
        in this process). Then the workers of a
        `client` given are checked: a worker whose rawconv, numpy, numba or h5py
        differs from this process's refuses the run (``WorkerVersionError``); so does
        one that joins later, when its first task starts (every task checks first).
    dashboard
        start the embedded cluster's dashboard (when bokeh, ``rawconv[dashboard]``, is
        installed; starting it costs about 0.4 s). ``rawconv-parallel -q`` starts none:
        nobody would see its link.
    **kwargs
        values for ``{variables}`` of the out_spec.

    Returns a :class:`~rawconv.parallel.report.RunReport`; inputs that failed are marked
    with the reason, the others are converted.
    """
    t0 = time.perf_counter()
    if layout is not None:  # refused before any work: an unknown name, an out_spec file
        preset = get_layout(layout)
        check_layout_out_spec(out_spec)
        layout = preset.name
        hdf5_settings = preset.hdf5_settings if hdf5_settings is None else hdf5_settings
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [os.fspath(inputs)]
    # absolute on the client: the workers of a cluster started elsewhere have other folders
    inputs = [i if is_url(i) else os.path.abspath(i) for i in map(os.fspath, inputs)]
    if isinstance(out_spec, (str, os.PathLike)) and _is_spec_file(os.fspath(out_spec)):
        out_spec = os.fspath(out_spec)
        out_spec = out_spec if is_url(out_spec) else os.path.abspath(out_spec)
    cache_dir = os.path.abspath(cache_dir) if cache_dir is not None else None
    check_buffer_size(buffer_size)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an integer of at least 1 byte, not {chunk_size!r}")
    for name, value in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be an integer of at least 1, not {value!r}")
    check_keywords(kwargs, spec_variables(out_spec), format_options())
    storage_options = check_storage_options(storage_options)
    if isinstance(out_spec, str) and is_url(out_spec) and not _is_spec_file(out_spec):
        # a scheme that cannot be written, or a missing backend: refused before any work
        check_output_url(split_out_stream(out_spec)[0], overwrite, storage_options, probe=False)
    for inp in inputs:  # a missing backend, an unset S3 endpoint: refused before any work
        if is_url(inp):
            check_input_url(inp, storage_options)
    scratch = os.path.abspath(scratch or Path(tempfile.gettempdir()) / "rawconv-scratch")
    job = JobSpec(
        out_spec=out_spec, kwargs=tuple(kwargs.items()), buffer_size=buffer_size,
        hdf5_settings=hdf5_settings, scratch=scratch, run_id=new_run_id(),
        compress_threads=task_compress_threads(threads_per_worker), db_dict=db_dict,
        storage_options=storage_options or None, cwd=str(Path.cwd()), layout=layout,
        versions=tuple(package_versions().items()),
    )  # fmt: skip
    remove_stale_scratch(scratch)
    cluster = None
    locks = OutputLocks([])
    try:
        if runs_inline(inputs, client, chunk_size):  # little work: here, with no cluster
            client, cluster = InlineClient(), None
            job = dataclasses.replace(job, compress_threads=None)  # all cores, as rawconv
        else:
            client, cluster = _client(
                client, n_workers, threads_per_worker, Path(job.scratch) / job.run_id, dashboard
            )
            if on_client is not None:
                on_client(client)
            if cluster is None:  # a cluster started elsewhere: its environment may differ
                check_worker_versions(client)  # and every task checks its worker (late joiners)
            job = dataclasses.replace(
                job, decompress_threads=_decompress_threads(client, inputs, chunk_size)
            )
        report = RunReport(workers=_n_workers(client), chunk_bytes=chunk_size)
        checkpoint("parallel:cluster")
        bars = Bars(progress)
        try:
            plans = _index(client, inputs, stream_type, cache_dir, job, chunk_size, report, bars,
                           split=not (dry_run or resume))  # fmt: skip
        finally:
            bars.close()
        report.index_seconds = time.perf_counter() - t0
        checkpoint("parallel:indexed")
        todo = _select(plans, report, overwrite, resume, storage_options)
        if not dry_run:  # compressed inputs left whole to decide: decompressed and split now
            todo = _split_deferred(client, plans, todo, stream_type, cache_dir, job,
                                   chunk_size, report)  # fmt: skip
        # locked: the outputs to write, and the finished ones (a stale lock of theirs goes)
        outputs = [o for i in sorted(plans) for o in report.files[i].outputs]
        for i in todo:
            report.files[i].chunks = len(plans[i].chunks)
            report.files[i].status = "planned"
            if plans[i].split_deferred:  # a dry run
                report.files[i].note = "compressed: decompressed and split when converted"
        if not dry_run and todo:
            _check_space([plans[i] for i in todo], hdf5_settings, scratch)
            local = [o for o in outputs if not is_url(o)]
            locks = OutputLocks(local)
            locks.acquire()
            remove_stale_temps(local)
            checkpoint("parallel:locked")
            index = IndexArgs(stream_type, cache_dir, chunk_size)
            _run(client, {i: plans[i] for i in todo}, job, report, progress, index)
    except BaseException:
        _clean_up(client, cluster, job, locks)
        raise
    try:
        with deferred():  # the work is done: a signal now is raised after the cleanup
            checkpoint("parallel:finished")
            _clean_up(client, cluster, job, locks)
    except Interrupted as exc:
        exc.report = report  # type: ignore[attr-defined] # the outputs are complete
        raise
    report.seconds = time.perf_counter() - t0
    return report


def task_compress_threads(threads_per_worker: int) -> int:
    """Compression threads of a task besides its own: none for a worker of one thread,
    which compresses the chunks it decodes itself (one core per worker, no chunk copied
    to hand over: about 10 % less CPU than one compression thread beside it, at the same
    speed on a machine that every worker keeps busy); else one per worker thread."""
    return 0 if threads_per_worker == 1 else threads_per_worker


def _decompress_threads(client: Any, inputs: list[str], chunk_size: int) -> int:
    """Threads for each ``.gz`` / ``.bz2`` input that is split (decompressed once by its
    index task): the cluster's threads shared among those inputs, at least 1. A URL's
    compressed size is not asked for here: it counts as split."""
    try:
        total = sum(client.nthreads().values())
    except Exception:  # pragma: no cover - informational only
        total = 1
    split = 0
    for inp in inputs:
        if not inp.lower().endswith((".gz", ".bz2")):
            continue
        try:
            split += is_url(inp) or Path(inp).stat().st_size > chunk_size
        except OSError:  # a missing input fails in its index task
            continue
    return max(1, total // max(split, 1))


def _check_space(plans: list[FilePlan], hdf5_settings: Any, scratch: str) -> None:
    """Refuse a run whose outputs (input size x compression factor) do not fit their disks,
    or whose scratch folder cannot hold the uncompressed parts of its largest split input
    and their packed chunks (compressed as the outputs). A split ``.gz`` / ``.bz2`` input
    counts with its decompressed size; its decompressed copy is in the scratch folder
    already (its index task checked the space for it first where the gzip trailer tells
    the size), so the free space seen here is what is left."""
    needs = []
    for plan in plans:
        share = estimate_output_bytes(plan.size, hdf5_settings) // max(len(plan.outputs), 1)
        needs += [(o, share) for o in plan.outputs]
    check_free_space(needs)
    split = [p.size for p in plans if len(p.chunks) > 1]
    if split:
        part = str(Path(scratch) / "part.lh5")
        need = estimate_output_bytes(max(split), "none")
        need += estimate_output_bytes(max(split), hdf5_settings)  # pack side files
        check_free_space([(part, need)], "parts")


def _clean_up(client: Any, cluster: Any, job: JobSpec, locks: OutputLocks) -> None:
    """On every exit path: stop the embedded cluster (its tasks write nothing more), then
    remove this run's scratch folder and the temporary files of merges cut short, then
    release the output locks."""
    try:
        if cluster is not None:
            client.close()
            cluster.close()
    finally:
        shutil.rmtree(Path(job.scratch) / job.run_id, ignore_errors=True)
        remove_stale_temps(locks.outputs if locks.held else [], warn=False)
        locks.release()


def _index(client, inputs, stream_type, cache_dir, job, chunk_size, report, bars: Bars,
           split: bool = True) -> dict[int, FilePlan]:  # fmt: skip
    bars.start("index", len(inputs), "file")
    args = (stream_type, cache_dir, job)
    kwargs = {"split_compressed": split}
    futures = [
        submit_checked(client, job.versions, index_task, inp, *args, i, chunk_size, **kwargs)
        for i, inp in enumerate(inputs)
    ]
    plans: dict[int, FilePlan] = {}
    for i, (inp, fut) in enumerate(zip(inputs, futures)):
        fr = FileReport(input=inp)
        report.files.append(fr)
        try:
            plans[i] = _plan_of(fut, inp, fr)
        except _FailedError:
            pass
        finally:
            bars.update("index")
        if i in plans:
            fr.outputs = plans[i].outputs
    owners: dict[str, int] = {}
    for i in plans:
        for out in report.files[i].outputs:
            if out in owners:
                first, again = report.files[owners[out]].input, report.files[i].input
                reason = (
                    "given twice (a pattern and a name may both match it)"
                    if first == again
                    else f"{out} would receive the tables of both {first} and {again}; "
                    "use {orig_basename} in the out_spec"
                )
                for j in (i, owners[out]):
                    report.files[j].status = "failed"
                    report.files[j].reason = reason
            owners[out] = i
    return {i: p for i, p in plans.items() if report.files[i].status != "failed"}


def _exists(output: str, storage_options: dict[str, Any]) -> bool:
    return output_exists(output, storage_options) if is_url(output) else Path(output).exists()


def _is_spec_file(name: str) -> bool:
    return name.lower().endswith((".json", ".yaml", ".yml"))


class _FailedError(Exception):
    """An index task failed; its FileReport says why."""


def _plan_of(future: Any, inp: str, fr: FileReport) -> FilePlan:
    """An index task's plan; a failure is written in `fr` and raises _FailedError."""
    try:
        return future.result()
    except WorkerVersionError:  # a worker that joined late: the run is refused
        raise
    except RemoteError as exc:  # names the input and the cause already
        fr.status, fr.reason = "failed", str(exc)
    except RawconvError as exc:
        # a plain RawconvError about the input (a stream that does not decompress) as
        # the serial conversion words it; a subclass's name tells the kind of failure
        plain = type(exc) is RawconvError and exc.path == inp
        fr.status, fr.reason = "failed", str(exc) if plain else f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        fr.status, fr.reason = "failed", f"{type(exc).__name__}: {exc}"
    raise _FailedError


def _split_deferred(client, plans, todo, stream_type, cache_dir, job, chunk_size, report,
                    ) -> list[int]:  # fmt: skip
    """`todo` with the compressed inputs whose split was deferred (to know first whether
    a resumed run skips them) decompressed and split by their index tasks; an input that
    fails there is reported failed and left out."""
    deferred = [i for i in todo if plans[i].split_deferred]
    args = (stream_type, cache_dir, job)
    futures = {
        i: submit_checked(client, job.versions, index_task, plans[i].input, *args, i, chunk_size)
        for i in deferred
    }
    failed = set()
    for i, fut in futures.items():
        try:
            plans[i] = _plan_of(fut, plans[i].input, report.files[i])
        except _FailedError:
            failed.add(i)
    return [i for i in todo if i not in failed]


def _select(plans, report, overwrite, resume, storage_options) -> list[int]:
    """Inputs to convert: with `resume`, those whose outputs do not all exist."""
    todo, existing = [], []
    for i in sorted(plans):
        fr = report.files[i]
        for out in fr.outputs:
            if is_url(out):
                check_output_url(out, True, storage_options, probe=False)
            else:  # a folder, device or dangling link: refused before any work, as by rawconv
                check_output_path(out, True)
                if not is_url(plans[i].input):
                    check_not_the_input(out, plans[i].input)
        present = [o for o in fr.outputs if _exists(o, storage_options)]
        if resume and fr.outputs and len(present) == len(fr.outputs):
            fr.status = "skipped"
            continue
        if present and not overwrite and not resume:
            existing += present
        todo.append(i)
    if existing:
        shown = ", ".join(existing[:5]) + (" ..." if len(existing) > 5 else "")
        raise FileExistsError(
            f"{len(existing)} output(s) exist: {shown}; use overwrite (or resume to skip "
            "inputs whose outputs are complete)"
        )
    return todo


def _run(client, plans: dict[int, FilePlan], job, report, progress, index: IndexArgs) -> None:
    from .merge import remove_tree

    bars = Bars(progress)
    bars.start("decode", sum(c.n_bytes for p in plans.values() for c in p.chunks), "B")
    tasks = Collector(client, job, report, index, bars)
    try:
        for i, plan in plans.items():
            tasks.submit(i, plan)
        tasks.run()
    finally:  # every exit path, Ctrl-C included: no task writes on, no part file stays
        client.cancel([f for f in tasks.futures() if not f.done()])
        bars.close()
        remove_tree(Path(job.scratch) / job.run_id)
    for fr in report.files:
        if fr.status == "planned":
            fr.status = "done"
