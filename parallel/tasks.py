"""The work a Dask worker does: index a file, decode a chunk into part files, merge parts.

Tasks take small frozen specs and return small results; they open their inputs themselves
and write to the scratch folder, so that a task lost with its worker can simply run again
(part files are written under temporary names and moved into place when complete).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rawconv.buffers import split_out_stream, write_to_lh5_and_clear
from rawconv.build_raw import (
    layout_out_spec,
    nothing_to_write,
    orig_basename,
    out_spec_library,
)
from rawconv.errors import CorruptDataError, RawconvError
from rawconv.formats import (
    detect_format,
    get_format,
    get_streamer,
    implied_format,
    normalize_stream_type,
)
from rawconv.layouts import apply_buffer_memory, chunk_index_k
from rawconv.lh5.chunks import compress_threads
from rawconv.lh5.writer import LH5Writer
from rawconv.malloc import tune_malloc
from rawconv.remote import is_url
from rawconv.sources import CompressedSource, PrefixSource, Source, open_source
from rawconv.url_source import FsspecSource
from rawconv.validate import check_env_expanded

from .index import FileIndex, index_file
from .pack import part_layout
from .plan import Chunk, plan_file
from .staging import check_stage_space, decompress_threads, open_staged, stage, staged_path

log = logging.getLogger(__name__)

__all__ = ["FilePlan", "JobSpec", "PartResult", "decode_chunk", "index_task", "outputs_of"]


@dataclass(frozen=True)
class JobSpec:
    """How every chunk of a run is converted (the same for all chunks)."""

    out_spec: Any = None
    kwargs: tuple = ()
    """build_raw keywords (values for ``{variables}``) as (name, value) pairs, per file
    extended with ``orig_basename``."""
    buffer_size: int = 8192
    hdf5_settings: Any = None
    scratch: str = ""
    run_id: str = "run"
    compress_threads: int | None = 0
    """Threads that compress a task's chunks besides its own (0: the task compresses
    them; :func:`rawconv.parallel.convert.task_compress_threads`)."""
    db_dict: Any = None
    storage_options: Any = None
    """fsspec options for inputs and outputs named by URLs (a dict, or None)."""
    cwd: str = ""
    """The client's working folder: relative output names resolve against it, not against
    a worker's (on a cluster started elsewhere the two differ)."""
    layout: str | None = None
    """A named layout (:mod:`rawconv.layouts`): `out_spec` is then None or an output name."""
    decompress_threads: int = 1
    """Threads to decompress a ``.gz`` / ``.bz2`` input larger than a chunk with (its index
    task stages it decompressed): the cluster's threads over the number of such inputs,
    at most the worker's cores."""
    versions: tuple[tuple[str, str], ...] = ()
    """The client's package versions (name, version): every task checks its worker's
    against them first (:func:`rawconv.parallel.versions.run_checked`)."""

    @property
    def fs_options(self) -> dict[str, Any]:
        """The storage options as keywords."""
        return dict(self.storage_options or {})


@dataclass
class PartResult:
    """What one chunk produced: part file per final output, rows, bytes, problems."""

    chunk: Chunk
    parts: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    worker: str = ""
    layouts: dict[str, dict[str, tuple[int, int | None]]] = field(default_factory=dict)
    """Per final output of a chunk of several: its part's arrays, their rows and merged
    chunk rows (:func:`rawconv.parallel.pack.part_layout`: what the pack tasks plan with)."""


def final_name(name: str, job: JobSpec) -> str:
    """An output as the client named it: a URL unchanged, a local name made absolute
    against the client's working folder."""
    if is_url(name):
        return name
    return os.path.abspath(Path(job.cwd, name) if job.cwd else name)


def file_library(job: JobSpec, source: Source, kwargs: dict[str, Any]) -> tuple[Any, str]:
    """(library, default out_stream) of one input, as build_raw makes them (a layout's
    out_spec writing where the job's out_spec says, with a layout)."""
    out_spec = job.out_spec
    if job.layout is not None:
        out_spec = layout_out_spec(job.layout, out_spec, source, kwargs)
    return out_spec_library(out_spec, source, kwargs)


def file_kwargs(job: JobSpec, input: str) -> dict[str, Any]:
    """build_raw keywords for one input: the job's, plus ``orig_basename``."""
    kwargs = dict(job.kwargs)
    kwargs.setdefault("orig_basename", orig_basename(input))
    return kwargs


HEADER_BLOCK_BYTES = 64 << 10
"""The first read of a header whose end is not known (the streamer's reader grows when a
record needs more): a remote input converted whole by one task is not fetched twice."""


def outputs_of(
    input: str, stream_type: str, job: JobSpec, source: Source | None = None,
    header_bytes: int | None = None,
) -> list[str]:  # fmt: skip
    """Final output files of an input: its library resolved against its header (`source`:
    the input already open; `header_bytes`: where its header ends at the latest, so that
    no data is read)."""
    source = source if source is not None else open_source(input, **job.fs_options)
    kwargs = file_kwargs(job, input)
    streamer = get_streamer(stream_type, **kwargs)  # with the format's options
    if not header_bytes and getattr(streamer, "block_bytes", 0) > HEADER_BLOCK_BYTES:
        streamer.block_bytes = HEADER_BLOCK_BYTES  # read as little as the header needs
    rb_lib, default_out = file_library(job, source, kwargs)
    head = PrefixSource(source, header_bytes) if header_bytes else source
    try:  # reads the header only
        streamer.open_stream(
            head, rb_lib=rb_lib, buffer_size=job.buffer_size, out_stream=default_out
        )
        files = []
        for rb in streamer.rb_lib.all_buffers():
            name = split_out_stream(rb.out_stream)[0]
            check_env_expanded(name)
            if name and final_name(name, job) not in files:
                files.append(final_name(name, job))
        if not files:
            raise nothing_to_write(streamer)  # the failure line names the input
        return files
    finally:
        streamer.close_stream()


@dataclass
class FilePlan:
    """An input indexed and planned (on a worker): its outputs and its chunks."""

    input: str
    stream_type: str
    size: int
    outputs: list[str]
    chunks: list[Chunk]
    from_cache: bool = False
    """Its chunks were planned from a cached index."""
    split_deferred: bool = False
    """A compressed input larger than a chunk, not yet decompressed and split (a dry run,
    or a resumed run that may skip it): planned as one chunk until then."""


def index_task(
    input: str, stream_type: str | None, cache_dir: str | None, job: JobSpec, file_id: int,
    chunk_bytes: int, refresh: bool = False, split_compressed: bool = True,
) -> FilePlan:  # fmt: skip
    """Index and plan an input and resolve its outputs (runs on a worker: the index stays
    there, only the small plan travels). An input no larger than a chunk is one chunk:
    it needs no index. A ``.gz`` / ``.bz2`` input larger than a chunk is decompressed once
    into the scratch folder and its copy split (:func:`_split_compressed`); a smaller one
    is one chunk. `refresh`: drop its cache entry and index it anew. Without
    `split_compressed` a compressed input is not decompressed: its plan says so
    (``split_deferred``)."""
    tune_malloc()
    with open_source(input, **job.fs_options) as source:  # opened once for all three steps
        size = source.size
        kind = _stream_type(stream_type, source, job)
        indexed = get_format(kind).index_class() is not None
        if isinstance(source, CompressedSource):
            packed = source.inner.size or 0  # compressed bytes: what a whole task reads
            split = indexed and packed > chunk_bytes and bool(job.scratch)
            if split and split_compressed:
                return _split_compressed(input, kind, source, job, file_id, chunk_bytes)
            whole = Chunk(input, kind, file_id, 0, 1, 0, 0, 0, packed)
            outputs = outputs_of(input, kind, job, source)
            return FilePlan(input, kind, packed, outputs, [whole], split_deferred=split)
        if (size is not None and size <= chunk_bytes) or not indexed:
            size = size if size is not None else 0  # converted whole by one task
            whole = Chunk(input, kind, file_id, 0, 1, 0, 0, 0, size)
            return FilePlan(input, kind, size, outputs_of(input, kind, job, source), [whole])
        path = _staging(input, source, job, file_id)
        stager = (lambda src: stage(src, path)) if path else None
        try:
            fi = index_file(input, kind, cache_dir, refresh=refresh, source=source, stage=stager)
        except CorruptDataError as exc:  # damaged: one task decodes it as build_raw does
            return _whole_damaged(input, kind, file_id, size, job, path, exc)
        return _plan_indexed(fi, file_id, chunk_bytes, job, source, path)


def _split_compressed(
    input: str, kind: str, source: CompressedSource, job: JobSpec, file_id: int,
    chunk_bytes: int,
) -> FilePlan:  # fmt: skip
    """Decompress a compressed input once into the scratch folder (with the job's
    decompression threads), index the copy (never cached: it goes with the run) and plan
    chunks that read the copy. Errors while decompressing name the input and the offset
    in its decompressed bytes, as a serial conversion's."""
    path = staged_path(job.scratch, job.run_id, file_id, _plain_name(input))
    check_stage_space(source, path)
    source.close()
    threads = decompress_threads(job.decompress_threads)
    with CompressedSource(source.inner, source.codec, threads) as stream:  # threads stopped
        copy = stage(stream, path)
    try:
        fmt_index = get_format(kind).index_class().build(copy)
    except CorruptDataError as exc:
        copy.close()
        return _whole_damaged(input, kind, file_id, copy.size, job, path, exc)
    fi = FileIndex(input, kind, copy.identity(), copy.size, fmt_index.records, fmt_index,
                   staged=copy)  # fmt: skip
    return _plan_indexed(fi, file_id, chunk_bytes, job, copy, path)


def _plain_name(input: str) -> str:
    """The name of a compressed input without its ``.gz`` / ``.bz2`` suffix."""
    return input.rsplit(".", 1)[0] if input.lower().endswith((".gz", ".bz2")) else input


def _whole_damaged(input: str, kind: str, file_id: int, size: int | None, job: JobSpec,
                   path: str | None, exc: CorruptDataError) -> FilePlan:  # fmt: skip
    """A damaged input, converted whole by one task as build_raw converts it (its record
    index stops at the damage); it reads its staged copy if there is one."""
    log.warning("%s: converted whole by one task: its record index stops at damage (%s)",
                input, exc.reason)  # fmt: skip
    copy = path if path and Path(path).exists() else None
    whole = Chunk(input, kind, file_id, 0, 1, 0, 0, 0, size if size is not None else 0,
                  staged=copy)  # fmt: skip
    return FilePlan(input, kind, size or 0, outputs_of(input, kind, job), [whole])


def _plan_indexed(fi: FileIndex, file_id: int, chunk_bytes: int, job: JobSpec, source: Source,
                  path: str | None) -> FilePlan:  # fmt: skip
    """Chunks and outputs of an indexed input; chunks read its staged copy if there is one."""
    read = fi.staged if fi.staged is not None else source
    try:
        chunks = plan_file(fi, file_id, chunk_bytes, read)
        outputs = outputs_of(fi.input, fi.stream_type, job, read, _header_end(fi))
    finally:
        read.close()
    if fi.staged is not None:
        chunks = [dataclasses.replace(c, staged=path) for c in chunks]
    return FilePlan(fi.input, fi.stream_type, fi.size, outputs, chunks, fi.from_cache)


def _staging(input: str, source: Source, job: JobSpec, file_id: int) -> str | None:
    """Where a remote input is staged if it has to be indexed (None: a local or compressed
    input, or one of unknown size, is read where it is)."""
    if not isinstance(source, FsspecSource) or source.size is None or not job.scratch:
        return None
    return staged_path(job.scratch, job.run_id, file_id, input)


def _header_end(fi: Any) -> int | None:
    """Where the first record a chunk may start at begins: the header is before it."""
    bounds = np.asarray(fi.format_index.boundaries())
    later = bounds[bounds > 0]
    return int(fi.records["start"][later[0]]) if len(later) else None


def _stream_type(stream_type: str | None, source: Any, job: JobSpec) -> str:
    """The given stream type, else the one the job's format options imply, else detected."""
    if stream_type:
        return normalize_stream_type(stream_type)
    return implied_format(dict(job.kwargs)) or detect_format(source)


def part_path(job: JobSpec, chunk: Chunk, final: str) -> str:
    """Where a chunk writes its part of the output `final`."""
    tag = hashlib.sha1(final.encode()).hexdigest()[:12]
    return str(
        Path(job.scratch) / job.run_id / f"f{chunk.file_id}" / f"c{chunk.chunk_id}" / f"{tag}.lh5"
    )


def decode_chunk(chunk: Chunk, job: JobSpec) -> PartResult:
    """Decode the records of `chunk` into part files; returns where they are. Its chunks
    are compressed with the job's compression threads (the process's setting is restored
    after: in a notebook, the tasks of a small run execute in the user's process)."""
    with compress_threads(job.compress_threads):
        return _decode_chunk(chunk, job)


def _decode_chunk(chunk: Chunk, job: JobSpec) -> PartResult:
    t0 = time.perf_counter()
    tune_malloc()
    if chunk.staged:  # a remote input copied to the scratch folder by its index task
        source: Source = open_staged(chunk.staged, chunk.input)
    else:
        source = open_source(chunk.input, **job.fs_options)
    kwargs = file_kwargs(job, chunk.input)
    streamer = get_streamer(chunk.stream_type, **kwargs)  # with the format's options
    apply_buffer_memory(streamer, job.layout)  # as build_raw gives it
    streamer.process_early = True  # as build_raw: the buffers are only written
    rb_lib, default_out = file_library(job, source, kwargs)
    result = PartResult(chunk=chunk, worker=os.environ.get("DASK_WORKER_NAME", str(os.getpid())))
    try:
        header = streamer.open_stream(
            source, rb_lib=rb_lib, buffer_size=job.buffer_size, chunk_mode="only_full",
            out_stream=default_out, resume=chunk.resume,
        )  # fmt: skip
        for rb in streamer.rb_lib.all_buffers():
            name, group = split_out_stream(rb.out_stream)
            if name:  # a local file of one chunk is written in place, as build_raw writes it
                final = final_name(name, job)
                in_place = chunk.n_chunks == 1 and not is_url(final)
                result.parts.setdefault(final, final if in_place else part_path(job, chunk, final))
                rb.out_stream = f"{result.parts[final]}:{group}"
        # several parts are stored uncompressed and compressed once by the merge
        writer = LH5Writer(
            hdf5_settings=job.hdf5_settings, atomic=True, defer_compression=chunk.n_chunks > 1,
            chunk_index_k=chunk_index_k(job.layout),  # a part of one chunk is the output
        )
        try:
            write_to_lh5_and_clear(header, writer, job.db_dict)
            while buffers := streamer.read_chunk():
                result.rows += sum(rb.loc for rb in buffers)
                write_to_lh5_and_clear(buffers, writer, job.db_dict)
            if streamer.garbage.n_garbage and result.parts:
                first = next(iter(result.parts.values()))
                streamer.garbage.write_out_garbage(first, "/", lh5_store=writer)
            written = set(writer.commit())
        except RawconvError as exc:
            writer.abort()
            raise _named_after_output(exc, result.parts, job) from None
        except BaseException:
            writer.abort()
            raise
    finally:
        streamer.close_stream()
    result.parts = {f: p for f, p in result.parts.items() if p in written}
    if chunk.n_chunks > 1:
        result.layouts = {f: part_layout(p) for f, p in result.parts.items() if p != f}
    result.bytes_read = streamer.n_bytes_read
    result.problems = list(streamer.problems)
    result.seconds = time.perf_counter() - t0
    return result


def _named_after_output(exc: RawconvError, parts: dict[str, str], job: JobSpec) -> RawconvError:
    """An error about a part file, told about the output it is a part of (the part's name
    means nothing to the user; the scratch folder may be on another disk)."""
    for final, part in parts.items():
        if exc.path == part and part != final:
            return RawconvError(
                f"{exc.reason} (writing its part in the scratch folder {job.scratch})",
                path=final,
            )
    return exc
