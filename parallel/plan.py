"""Planning: cut indexed inputs into chunks of about a target size, on record boundaries.

A :class:`Chunk` is a small frozen spec (input, byte range, record range, position in its
file, and the decoder state at its first record, computed from the input's index): it
travels to a worker, which decodes exactly its records. Chunks of one file, merged in
order, give the serial output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .index import FileIndex

__all__ = ["DEFAULT_CHUNK_BYTES", "Chunk", "plan", "plan_file"]

DEFAULT_CHUNK_BYTES = 512 << 20
"""Target bytes per chunk: tasks of hundreds of MB keep per-task overhead small."""


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
    open_kwargs: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Extra ``open_stream`` arguments: the decoder state at the first record."""

    @property
    def n_bytes(self) -> int:
        return self.stop - self.start

    def __str__(self) -> str:
        records = f"records {self.first}-{self.last - 1}" if self.last > self.first else "all"
        return (
            f"{self.input} [{self.chunk_id + 1}/{self.n_chunks}] {records}, bytes "
            f"{self.start}-{self.stop}"
        )


def plan_file(fi: FileIndex, file_id: int, chunk_bytes: int) -> list[Chunk]:
    """Chunks of one indexed input (at least one; the last one ends at the end of the file,
    so that a truncated tail is handled as in a serial conversion)."""
    from .formats import backend_for

    if chunk_bytes < 1:
        raise ValueError(f"chunk size must be at least 1 byte, got {chunk_bytes}")
    bounds = backend_for(fi.stream_type).boundaries(fi.format_index)
    starts = fi.records["start"]
    edges = [0]
    if len(bounds):
        target = chunk_bytes
        for b in bounds[1:].tolist():
            if starts[b] - starts[edges[-1]] >= target:
                edges.append(b)
    n = len(fi.records)
    ranges = list(zip(edges, [*edges[1:], n]))
    spans = []
    for k, (first, last) in enumerate(ranges):
        start = 0 if k == 0 else int(starts[first])
        stop = fi.size if k == len(ranges) - 1 else int(starts[last])
        spans.append((first, last, start, stop))
    from rawconv.sources import open_source

    with open_source(fi.input) as source:
        kwargs = backend_for(fi.stream_type).open_kwargs(
            fi.format_index, source, [(a, b, stop) for a, b, _, stop in spans]
        )
    return [
        Chunk(fi.input, fi.stream_type, file_id, k, len(spans), a, b, start, stop, kw)
        for k, ((a, b, start, stop), kw) in enumerate(zip(spans, kwargs))
    ]


def plan(indexes: list[FileIndex], chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> list[Chunk]:
    """Chunks of several indexed inputs, in input order."""
    return [c for i, fi in enumerate(indexes) for c in plan_file(fi, i, chunk_bytes)]


def chunk_sizes(chunks: list[Chunk]) -> np.ndarray:
    """Bytes of each chunk."""
    return np.array([c.n_bytes for c in chunks], dtype=np.int64)
