"""convert(): many DAQ files to LH5 on a Dask cluster, identical to serial build_raw.

1. index every input (workers; cached by file identity) and resolve its outputs;
2. plan chunks of about `chunk_size` bytes on record boundaries;
3. decode chunks into part files in a scratch folder (workers);
4. merge the parts of each output file, in chunk order, into the final file (workers; one
   merge per file), which appears under its final name only when complete.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rawconv.buffers import split_out_stream
from rawconv.build_raw import check_storage_options, spec_variables
from rawconv.errors import RemoteError
from rawconv.formats import format_options
from rawconv.locks import OutputLocks, remove_stale_temps
from rawconv.remote import check_output_url, filesystem, is_url, output_exists
from rawconv.validate import check_buffer_size, check_keywords

from .plan import DEFAULT_CHUNK_BYTES
from .report import FileReport, RunReport
from .tasks import FilePlan, JobSpec, PartResult, decode_chunk, index_task

log = logging.getLogger(__name__)

__all__ = ["convert"]


def _client(client: Any, n_workers: int | None, threads_per_worker: int) -> tuple[Any, Any]:
    """(client, cluster we started or None)."""
    if client is not None:
        return client, None
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - a dependency
        raise ImportError(
            "the parallel layer needs dask.distributed: pip install distributed"
        ) from exc
    cluster = LocalCluster(
        n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=threads_per_worker,
        processes=True, dashboard_address=":0", silence_logs=logging.CRITICAL,
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
        processes (default: one per core) with `threads_per_worker` threads.
    chunk_size
        target bytes of input per task; files are cut on record boundaries.
    scratch
        folder for part files (default: the system temp folder); on a multi-node cluster it
        must be shared by the workers.
    overwrite / resume
        replace existing outputs / skip inputs whose outputs all exist (finished outputs
        are complete files, unfinished ones never have their final name).
    dry_run
        index and plan only; the report lists the plan.
    storage_options
        fsspec options for inputs and outputs named by URLs, given to every task.
    **kwargs
        values for ``{variables}`` of the out_spec.

    Returns a :class:`~rawconv.parallel.report.RunReport`; inputs that failed are marked
    with the reason, the others are converted.
    """
    t0 = time.perf_counter()
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [os.fspath(inputs)]
    inputs = [os.fspath(i) for i in inputs]
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
            filesystem(inp, storage_options)
    scratch = os.path.abspath(scratch or Path(tempfile.gettempdir()) / "rawconv-scratch")
    job = JobSpec(
        out_spec=out_spec, kwargs=tuple(kwargs.items()), buffer_size=buffer_size,
        hdf5_settings=hdf5_settings, scratch=scratch, run_id=uuid.uuid4().hex[:12],
        compress_threads=threads_per_worker, db_dict=db_dict,
        storage_options=storage_options or None,
    )  # fmt: skip
    client, cluster = _client(client, n_workers, threads_per_worker)
    report = RunReport(workers=_n_workers(client), chunk_bytes=chunk_size)
    try:
        plans = _index(client, inputs, stream_type, cache_dir, job, chunk_size, report)
        report.index_seconds = time.perf_counter() - t0
        todo = _select(plans, report, overwrite, resume, storage_options)
        # locked: the outputs to write, and the finished ones (a stale lock of theirs goes)
        outputs = [o for i in sorted(plans) for o in report.files[i].outputs]
        for i in todo:
            report.files[i].chunks = len(plans[i].chunks)
            report.files[i].status = "planned"
        if not dry_run and todo:
            local = [o for o in outputs if not is_url(o)]
            with OutputLocks(local):
                remove_stale_temps(local)
                _run(client, {i: plans[i].chunks for i in todo}, job, report, progress)
    finally:
        if cluster is not None:
            client.close()
            cluster.close()
    report.seconds = time.perf_counter() - t0
    return report


def _index(client, inputs, stream_type, cache_dir, job, chunk_size, report) -> dict[int, FilePlan]:
    futures = [
        client.submit(index_task, inp, stream_type, cache_dir, job, i, chunk_size, pure=False)
        for i, inp in enumerate(inputs)
    ]
    plans: dict[int, FilePlan] = {}
    for i, (inp, fut) in enumerate(zip(inputs, futures)):
        fr = FileReport(input=inp)
        report.files.append(fr)
        try:
            plans[i] = fut.result()
        except RemoteError as exc:  # names the input and the cause already
            fr.status, fr.reason = "failed", str(exc)
            continue
        except Exception as exc:
            fr.status, fr.reason = "failed", f"{type(exc).__name__}: {exc}"
            continue
        fr.outputs = plans[i].outputs
    owners: dict[str, int] = {}
    for i in plans:
        for out in report.files[i].outputs:
            if out in owners:
                for j in (i, owners[out]):
                    report.files[j].status = "failed"
                    report.files[j].reason = (
                        f"{out} would receive the tables of both {report.files[owners[out]].input}"
                        f" and {report.files[i].input}; use {{orig_basename}} in the out_spec"
                    )
            owners[out] = i
    return {i: p for i, p in plans.items() if report.files[i].status != "failed"}


def _exists(output: str, storage_options: dict[str, Any]) -> bool:
    return output_exists(output, storage_options) if is_url(output) else Path(output).exists()


def _is_spec_file(name: str) -> bool:
    return name.lower().endswith((".json", ".yaml", ".yml"))


def _select(plans, report, overwrite, resume, storage_options) -> list[int]:
    """Inputs to convert: with `resume`, those whose outputs do not all exist."""
    todo, existing = [], []
    for i in sorted(plans):
        fr = report.files[i]
        for out in fr.outputs:
            if is_url(out):
                check_output_url(out, True, storage_options, probe=False)
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


def _run(client, plans, job, report, progress) -> None:
    from distributed import as_completed

    from .merge import remove_tree

    total = sum(c.n_bytes for chunks in plans.values() for c in chunks)
    bar = _bar(total, progress)
    pending: dict[int, int] = {i: len(chunks) for i, chunks in plans.items()}
    parts: dict[int, list[PartResult]] = {i: [] for i in plans}
    futures = [client.submit(decode_chunk, c, job, pure=False)
               for chunks in plans.values() for c in chunks]  # fmt: skip
    merges: dict[Any, tuple[int, str]] = {}
    queue = as_completed(futures)
    try:
        _collect(client, queue, futures, merges, plans, parts, pending, report, bar,
                 job.storage_options)  # fmt: skip
    finally:  # every exit path, Ctrl-C included: no task writes on, no part file stays
        client.cancel([f for f in [*futures, *merges] if not f.done()])
        if bar is not None:
            bar.close()
        remove_tree(Path(job.scratch) / job.run_id)
    for fr in report.files:
        if fr.status == "planned":
            fr.status = "done"


def _collect(client, queue, futures, merges, plans, parts, pending, report, bar,
             job_options) -> None:  # fmt: skip
    """Gather decode results as they come; submit each output's merge once its parts are in."""
    from .merge import merge_parts

    for fut in queue:
        if fut in merges:
            i, final = merges.pop(fut)
            _merge_done(report.files[i], final, fut)
            continue
        try:
            result: PartResult = fut.result()
        except Exception as exc:
            _fail_from_future(futures, fut, plans, report, exc)
            continue
        chunk = result.chunk
        fr = report.files[chunk.file_id]
        if fr.status == "failed":
            continue
        parts[chunk.file_id].append(result)
        fr.bytes += result.bytes_read
        fr.rows += result.rows
        fr.task_seconds += result.seconds
        fr.problems += result.problems
        if bar is not None:
            bar.update(chunk.n_bytes)
        pending[chunk.file_id] -= 1
        if pending[chunk.file_id] == 0:
            ordered = sorted(parts[chunk.file_id], key=lambda r: r.chunk.chunk_id)
            for final in fr.outputs:
                files = [r.parts[final] for r in ordered if final in r.parts]
                if not files:
                    continue
                mf = client.submit(merge_parts, final, files, False, job_options, pure=False)
                merges[mf] = (chunk.file_id, final)
                queue.add(mf)


def _merge_done(fr: FileReport, final: str, fut: Any) -> None:
    try:
        rows = fut.result()
    except Exception as exc:
        fr.status, fr.reason = "failed", f"merge of {final} failed: {type(exc).__name__}: {exc}"
        return
    for path, n in rows.items():
        fr.tables[f"{final}:{path}"] = n


def _fail_from_future(futures, fut, plans, report, exc) -> None:
    index = futures.index(fut)
    flat = [c for chunks in plans.values() for c in chunks]
    chunk = flat[index]
    fr = report.files[chunk.file_id]
    if fr.status != "failed":
        fr.status, fr.reason = "failed", f"{chunk}: {type(exc).__name__}: {exc}"
    for f, c in zip(futures, flat):
        if c.file_id == chunk.file_id and not f.done():
            f.cancel()


def _bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="rawconv-parallel",
                dynamic_ncols=True)  # fmt: skip
