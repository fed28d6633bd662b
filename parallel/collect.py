"""Running the decode and merge tasks of a run and gathering their results.

Decode results arrive in any order. A chunk's pack task is submitted as soon as every chunk
before it is in (where its part's rows land in the merged file is then known), ahead of the
decode tasks still queued, and an output's merge once every chunk of its input is in. A
chunk planned from a cached index that fails to decode drops that cache entry: its input is
indexed anew and all of its chunks decoded again (part files of the first attempt go to
another folder, so that a task still running cannot overwrite new parts).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from rawconv.errors import OutputError
from rawconv.interrupts import checkpoint
from rawconv.layouts import chunk_index_k

from .inline import completion_queue
from .pack import pack_chunk, plan_spans
from .plan import Chunk
from .progress import Bars
from .report import FileReport, RunReport
from .tasks import FilePlan, JobSpec, PartResult, decode_chunk, index_task
from .versions import WorkerVersionError, submit_checked

log = logging.getLogger(__name__)

__all__ = ["Collector", "IndexArgs"]


@dataclasses.dataclass(frozen=True)
class IndexArgs:
    """How the run indexed its inputs (to index one again)."""

    stream_type: str | None
    cache_dir: str | None
    chunk_bytes: int


class Collector:
    """The tasks of a run in flight, and what they returned so far."""

    def __init__(self, client: Any, job: JobSpec, report: RunReport, index: IndexArgs,
                 bars: Bars | None = None) -> None:  # fmt: skip
        self.client, self.job, self.report, self.index = client, job, report, index
        self.bars = bars if bars is not None else Bars(False)
        self.n_merges = 0
        self.queue = completion_queue(client)
        self.plans: dict[int, FilePlan] = {}
        self.chunk_of: dict[Any, tuple[Chunk, int]] = {}
        """Decode future -> (its chunk, the attempt of its input it belongs to)."""
        self.attempt: dict[int, int] = {}
        self.merges: dict[Any, tuple[int, str]] = {}
        self.reindexing: dict[Any, int] = {}
        self.pending: dict[int, int] = {}
        self.parts: dict[int, list[PartResult]] = {}
        self.packs: list[Any] = []
        """Pack tasks (their results go to the merges)."""
        self.pack_of: dict[int, dict[int, Any]] = {}
        """Input -> chunk id -> its pack task (None: nothing of it to pack), for the chunks
        whose earlier chunks are all decoded."""
        self.decoded_at = 0.0
        """When the last decode result came in (perf_counter)."""

    # --- submitting -------------------------------------------------------------------

    def submit(self, file_id: int, plan: FilePlan, attempt: int = 0) -> None:
        """Decode every chunk of an input (`attempt` 1: from a fresh index)."""
        self.attempt[file_id] = attempt
        job = self.job
        if attempt:  # parts of another folder than the first attempt's
            job = dataclasses.replace(job, run_id=f"{job.run_id}/retry{attempt}")
        self.plans[file_id] = plan
        self.pending[file_id] = len(plan.chunks)
        self.parts[file_id] = []
        self.pack_of[file_id] = {}
        for chunk in plan.chunks:
            fut = self._submit(decode_chunk, chunk, job)
            self.chunk_of[fut] = (chunk, attempt)
            self.queue.add(fut)

    def _submit(self, fn: Any, *args: Any, priority: int = 0, **kwargs: Any) -> Any:
        """A task of `fn` that first checks its worker's versions (a worker may join late);
        a higher `priority` runs before the queued tasks of lower ones."""
        return submit_checked(self.client, self.job.versions, fn, *args, priority=priority,
                              **kwargs)  # fmt: skip

    def futures(self) -> list[Any]:
        """Every task submitted (to cancel those not done)."""
        return [*self.chunk_of, *self.merges, *self.reindexing, *self.packs]

    # --- gathering --------------------------------------------------------------------

    def run(self) -> None:
        """Gather results as they come until every task is done."""
        for fut in self.queue:
            if fut in self.merges:
                i, final = self.merges.pop(fut)
                _merge_done(self.report.files[i], final, fut)
                self.report.after_decode_seconds = time.perf_counter() - self.decoded_at
                self.bars.update("merge")
                checkpoint("parallel:merged")
            elif fut in self.reindexing:
                self._reindexed(self.reindexing.pop(fut), fut)
            else:
                self._decoded(fut)

    def _decoded(self, fut: Any) -> None:
        chunk, attempt = self.chunk_of[fut]
        fr = self.report.files[chunk.file_id]
        if attempt != self.attempt[chunk.file_id] or fr.status == "failed":
            return  # of an attempt given up
        try:
            result: PartResult = fut.result()
        except WorkerVersionError:  # a worker that joined late: the run is refused
            raise
        except Exception as exc:
            self._failed(chunk, exc)
            return
        self.parts[chunk.file_id].append(result)
        self.decoded_at = time.perf_counter()
        checkpoint("parallel:part")
        fr.bytes += result.bytes_read
        fr.rows += result.rows
        fr.task_seconds += result.seconds
        fr.problems += result.problems
        self.bars.update("decode", chunk.n_bytes)
        self.pending[chunk.file_id] -= 1
        self._pack_ready(chunk.file_id)
        if self.pending[chunk.file_id] == 0:
            self._merge(chunk.file_id, fr)

    def _merge(self, file_id: int, fr: FileReport) -> None:
        from .merge import merge_task

        ordered = sorted(self.parts[file_id], key=lambda r: r.chunk.chunk_id)
        packs = self.pack_of[file_id]
        for final in fr.outputs:
            files = [r.parts[final] for r in ordered if final in r.parts]
            if not files:
                continue
            # the pack results of its parts (a part with nothing packed: None, or a pack
            # task of the chunk's other outputs, whose result has no entry for this one)
            mine = [packs[r.chunk.chunk_id] for r in ordered if final in r.parts]
            if len(files) < 2 or all(p is None for p in mine):
                mine = []
            if self.n_merges == 0:  # the first merge: the decode phase is over for one file
                self.bars.start("merge", sum(len(f.outputs) for f in self.report.files
                                             if f.status == "planned"), "output")  # fmt: skip
            self.n_merges += 1
            mf = self._submit(merge_task, final, files, self.job.storage_options, mine or None,
                              chunk_index_k(self.job.layout), priority=1)  # fmt: skip
            self.merges[mf] = (file_id, final)
            self.queue.add(mf)
            checkpoint("parallel:merging")

    def _pack_ready(self, file_id: int) -> None:
        """Submit the pack task of each chunk whose earlier chunks are all decoded (the
        first chunk's with the second's: an output written by one chunk alone is not
        packed). Its part's offsets in the merged file are the rows of the parts before it
        (:func:`~rawconv.parallel.pack.plan_spans` of the parts so far)."""
        done = {r.chunk.chunk_id: r for r in self.parts[file_id]}
        packs = self.pack_of[file_id]
        n = len(self.plans[file_id].chunks)
        while len(packs) < n and len(packs) in done:
            i = len(packs)
            last = max(i, min(n - 1, 1))  # the first chunk with the second
            if last not in done:
                return
            packs[i] = self._pack([done[k] for k in range(last + 1)], done[i])

    def _pack(self, ordered: list[PartResult], r: PartResult) -> Any:
        """The pack task of the chunk of `r`, one of the first chunks of its input,
        `ordered`, all decoded (None where none is needed)."""
        spans: dict[str, Any] = {}
        for final in r.layouts:
            having = [p for p in ordered if final in p.parts]
            if len(having) < 2 or any(final not in p.layouts for p in having):
                continue
            span = plan_spans([p.layouts[final] for p in having])[having.index(r)]
            if span:  # a whole merged chunk of some dataset lies in this part
                spans[final] = span
        if not spans:
            return None
        fut = self._submit(pack_chunk, r.parts, spans, priority=1)
        self.packs.append(fut)
        return fut

    def _failed(self, chunk: Chunk, exc: BaseException) -> None:
        i = chunk.file_id
        fr, plan = self.report.files[i], self.plans[i]
        self._cancel_chunks(i)
        if plan.from_cache and self.attempt[i] == 0 and not isinstance(exc, OutputError):
            self.attempt[i] = 1  # what the first attempt still returns is ignored
            log.warning(
                "%s: a chunk planned from the cached index failed to decode (%s: %s); the "
                "cache entry is dropped and the file indexed again",
                plan.input, type(exc).__name__, exc,
            )  # fmt: skip
            self._drop_parts(i)
            fut = self._submit(
                index_task, plan.input, self.index.stream_type, self.index.cache_dir, self.job,
                i, self.index.chunk_bytes, refresh=True,
            )  # fmt: skip
            self.reindexing[fut] = i
            self.queue.add(fut)
            return
        fr.status, fr.reason = "failed", f"{chunk}: {type(exc).__name__}: {exc}"

    def _reindexed(self, file_id: int, fut: Any) -> None:
        fr = self.report.files[file_id]
        try:
            plan: FilePlan = fut.result()
        except WorkerVersionError:
            raise
        except Exception as exc:
            fr.status, fr.reason = "failed", f"indexing again: {type(exc).__name__}: {exc}"
            return
        fr.bytes = fr.rows = 0
        fr.task_seconds, fr.problems, fr.chunks = 0.0, [], len(plan.chunks)
        self.submit(file_id, plan, attempt=1)

    def _cancel_chunks(self, file_id: int) -> None:
        for f, (c, _) in self.chunk_of.items():
            if c.file_id == file_id and not f.done():
                f.cancel()

    def _drop_parts(self, file_id: int) -> None:
        scratch = Path(self.job.scratch)
        for result in self.parts[file_id]:
            for part in result.parts.values():
                if scratch in Path(part).parents:
                    Path(part).unlink(missing_ok=True)
        self.parts[file_id] = []


def _merge_done(fr: FileReport, final: str, fut: Any) -> None:
    try:
        rows, seconds = fut.result()
    except WorkerVersionError:
        raise
    except Exception as exc:
        fr.status, fr.reason = "failed", f"merge of {final} failed: {type(exc).__name__}: {exc}"
        return
    fr.merge_seconds += seconds
    for path, n in rows.items():
        fr.tables[f"{final}:{path}"] = n
