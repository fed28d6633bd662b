"""Planning: cut indexed inputs into chunks of about a target size, on record boundaries.

A :class:`Chunk` is a small frozen spec (input, byte range, record range, position in its
file, and the decoder state at its first record, computed from the input's index): it
travels to a worker, which decodes exactly its records. Chunks of one file, merged in
order, give the serial output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rawconv.formats import RecordRange, ResumeState
from rawconv.sources import Source, open_source

from .index import FileIndex

__all__ = ["DEFAULT_CHUNK_BYTES", "Chunk", "chunk_edges", "plan", "plan_file"]

DEFAULT_CHUNK_BYTES = 512 << 20
"""Target bytes per chunk (at most, about: an input is cut into equal chunks no larger):
tasks of hundreds of MB keep per-task overhead small."""


@dataclass(frozen=True)
class Chunk:
    """Records ``[first, last)`` (bytes ``[start, stop)``) of input `input`; ``first ==
    last == 0`` for a whole input that was not indexed (no larger than a chunk)."""

    input: str
    stream_type: str
    file_id: int
    chunk_id: int
    n_chunks: int
    first: int
    last: int
    start: int
    stop: int
    resume: ResumeState = field(default_factory=ResumeState, compare=False, repr=False)
    """Where decoding starts and stops, with the decoder state at the first record
    (``open_stream(resume=...)``)."""
    staged: str | None = None
    """A local copy of a remote input in the run's scratch folder, read instead of the
    URL (:mod:`rawconv.parallel.staging`)."""

    @property
    def n_bytes(self) -> int:
        return self.stop - self.start

    def __str__(self) -> str:
        records = f"records {self.first}-{self.last - 1}" if self.last > self.first else "all"
        return (
            f"{self.input} [{self.chunk_id + 1}/{self.n_chunks}] {records}, bytes "
            f"{self.start}-{self.stop}"
        )


def plan_file(
    fi: FileIndex, file_id: int, chunk_bytes: int, source: Source | None = None
) -> list[Chunk]:
    """Chunks of one indexed input (at least one; the last one ends at the end of the file,
    so that a truncated tail is handled as in a serial conversion). `source`: the input
    already open (else it is opened by name)."""
    if chunk_bytes < 1:
        raise ValueError(f"chunk size must be at least 1 byte, got {chunk_bytes}")
    starts = fi.records["start"]
    n = len(fi.records)
    edges = chunk_edges(starts, fi.format_index.boundaries(), fi.size, chunk_bytes)
    ranges = list(zip(edges, [*edges[1:], n]))
    spans = []
    for k, (first, last) in enumerate(ranges):
        start = 0 if k == 0 else int(starts[first])
        stop = fi.size if k == len(ranges) - 1 else int(starts[last])
        spans.append(RecordRange(first, last, start, stop))
    if source is None:
        with open_source(fi.input) as opened:
            states = fi.format_index.resume_states(opened, spans)
    else:
        states = fi.format_index.resume_states(source, spans)
    if len(states) != len(spans):
        raise RuntimeError(f"{fi.stream_type} index gave {len(states)} states for {len(spans)}")
    return [
        Chunk(fi.input, fi.stream_type, file_id, k, len(spans), r.first, r.last, r.start,
              r.stop, state)
        for k, (r, state) in enumerate(zip(spans, states))
    ]  # fmt: skip


def chunk_edges(
    starts: np.ndarray, boundaries: np.ndarray, size: int, chunk_bytes: int
) -> list[int]:
    """The first record of each chunk. The bytes from the first record to the end of the
    input are shared out among as many chunks as `chunk_bytes` asks for (rounded up): the
    k-th cut is at the first allowed boundary at or past k shares. Chunks of about equal
    bytes keep every worker busy to the end (cut every `chunk_bytes`, 600 MB in chunks of
    512 MB were tasks of 512 and 88 MB); a chunk of one byte is one record. `starts`: the
    records' byte offsets; `boundaries`: the records where a chunk may start, ascending."""
    n = len(starts)
    if n == 0:
        return [0]
    first = int(starts[0])
    total = max(int(size) - first, 0)
    pieces = max(1, -(-total // chunk_bytes))
    edges, k = [0], 1  # k: the next cut's share count
    for b in np.asarray(boundaries).tolist():
        if k >= pieces:
            break
        done = (int(starts[b]) - first) * pieces if 0 < b < n else -1  # exact: Python ints
        if done >= k * total:
            edges.append(b)
            k = done // total + 1  # shares this cut passed are not cut again
    return edges


def plan(indexes: list[FileIndex], chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> list[Chunk]:
    """Chunks of several indexed inputs, in input order."""
    return [c for i, fi in enumerate(indexes) for c in plan_file(fi, i, chunk_bytes)]


def chunk_sizes(chunks: list[Chunk]) -> np.ndarray:
    """Bytes of each chunk."""
    return np.array([c.n_bytes for c in chunks], dtype=np.int64)
