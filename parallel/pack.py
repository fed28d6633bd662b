"""Pack tasks: the whole final chunks of a part file, compressed in parallel before the merge.

The parts of a file cut into several chunks are stored uncompressed. Once every chunk of
the file is decoded, the client knows where each part's rows of each dataset land in the
merged dataset (:func:`plan_spans`), and one pack task per chunk (:func:`pack_chunk`)
compresses, with the merged dataset's settings, every final chunk that lies wholly inside
its part, into a side file next to the part. The merge then stores those chunks as they
are (:mod:`rawconv.parallel.chunkcopy`) and encodes only the chunks that straddle part
boundaries and the datasets no pack task takes.

A pack task takes a dataset (:func:`packable`) only when rawconv writes its merged chunks
itself with gzip (numeric, not bool, shuffle and deflate only), their rows do not depend
on how the merge slices its writes (:func:`rawconv.lh5.datasets.fixed_chunk_rows`: rows
of at least 1 KiB, such as waveforms), and it is not a ``cumulative_length`` nor inside an
encoded waveform group; every other dataset goes through the merge's usual path.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from rawconv.lh5.chunks import ChunkCodec, direct_chunks_supported
from rawconv.lh5.datasets import codec_of, deferred_settings, fixed_chunk_rows
from rawconv.lh5.encoded import AOEESA_DATATYPE, VOEV_DATATYPE
from rawconv.lh5.outfile import datatype_of
from rawconv.malloc import tune_malloc

__all__ = [
    "DatasetSpan",
    "PackedPart",
    "codec_key",
    "pack_chunk",
    "packable",
    "part_layout",
    "plan_spans",
]

READ_BYTES = 64 << 20
"""A pack task reads about this many bytes of rows at a time."""

CodecKey = tuple[int, int, bool, str, "int | None", int]
"""(chunk rows, item size, shuffle, method, level, elements per row) of a chunk encoding."""


def codec_key(rows: int, codec: ChunkCodec) -> CodecKey:
    """What must match for a chunk encoded elsewhere to be stored as it is."""
    return (rows, codec.itemsize, codec.shuffle, codec.method, codec.level, codec.row_elements)


@dataclass(frozen=True)
class DatasetSpan:
    """Where a part's rows of one dataset land in the merged dataset."""

    offset: int
    """Rows of the merged dataset before this part's."""
    chunk_rows: int
    """Rows per chunk of the merged dataset."""


@dataclass
class PackedPart:
    """The whole final chunks of a part, compressed into the side file `path`."""

    path: str
    chunks: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)
    """Dataset path -> (first row in the merged dataset, byte offset, bytes) per chunk."""
    interior: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Dataset path -> the part's rows ``[start, stop)`` those chunks hold."""
    offsets: dict[str, int] = field(default_factory=dict)
    """Dataset path -> rows of the merged dataset before this part's."""
    codecs: dict[str, CodecKey] = field(default_factory=dict)
    """Dataset path -> the encoding of its chunks."""


def part_layout(part: str) -> dict[str, tuple[int, int | None]]:
    """Dataset path -> (rows, rows per merged chunk) of the arrays of a part file a pack
    task may compress (:func:`packable`). The merge's writer picks chunk shapes with
    :func:`rawconv.lh5.datasets.chunk_shape` from the length of its first write; only
    datasets whose chunk rows do not depend on it are listed (wide rows such as
    waveforms, not narrow columns)."""
    out: dict[str, tuple[int, int | None]] = {}

    def visit(_: str, obj: Any) -> None:
        if not isinstance(obj, h5py.Dataset) or obj.ndim < 1:
            return
        rows = fixed_chunk_rows(obj.shape[1:], obj.dtype.itemsize)
        if rows is None:  # never packed: no attribute read (slow in h5py), no entry
            return
        settings = deferred_settings(obj)
        if settings is not None and packable(obj, settings):
            out[obj.name] = (int(obj.shape[0]), rows)

    with h5py.File(part, "r") as f:
        f.visititems(visit)
    return out


def plan_spans(
    layouts: list[dict[str, tuple[int, int | None]]],
) -> list[dict[str, DatasetSpan]]:
    """Per part of one output (in merge order), the spans in the merged file of its
    datasets that hold a whole merged chunk: offsets are the rows of the earlier parts;
    datasets a part has no chunk rows for are left out everywhere."""
    totals: dict[str, int] = {}
    rows_of: dict[str, int | None] = {}
    for layout in layouts:
        for path, (_, chunk_rows) in layout.items():
            if rows_of.setdefault(path, chunk_rows) != chunk_rows:
                rows_of[path] = None  # parts disagree: merged as before
    spans = []
    for layout in layouts:
        mine = {}
        for path, (n, _) in layout.items():
            k, offset = rows_of[path], totals.get(path, 0)
            if k and (offset + n) // k * k - k >= -(-offset // k) * k:
                mine[path] = DatasetSpan(offset, k)
            totals[path] = offset + n
        spans.append(mine)
    return spans


def packable(ds: h5py.Dataset, settings: dict[str, Any]) -> bool:
    """Whether the merged chunks of a part's dataset can be compressed by a pack task."""
    if ds.ndim < 1 or ds.name.rsplit("/", 1)[-1] == "cumulative_length":
        return False
    if settings.get("compression") != "gzip" or not direct_chunks_supported(settings, ds.dtype):
        return False
    if datatype_of(ds).endswith("{bool}"):
        return False
    parent = ds.parent
    for _ in range(2):  # encoded waveforms: group/encoded_data/flattened_data
        if parent.name == "/":
            break
        if datatype_of(parent) in (AOEESA_DATATYPE, VOEV_DATATYPE):
            return False
        parent = parent.parent
    return True


def _final_codec(ds: h5py.Dataset, settings: dict[str, Any], rows: int) -> ChunkCodec:
    """The codec of the merged dataset: read from an in-memory dataset created with its
    settings, as the merge's writer creates it."""
    kwargs = {k: v for k, v in settings.items() if k != "direct_chunks"}
    kwargs["chunks"] = (rows, *ds.shape[1:])
    name = f"pack-{uuid.uuid4().hex}.h5"
    with h5py.File(name, "w", driver="core", backing_store=False) as mem:
        probe = mem.create_dataset(
            "probe", shape=(0, *ds.shape[1:]), maxshape=(None, *ds.shape[1:]), dtype=ds.dtype,
            **kwargs,
        )  # fmt: skip
        return codec_of(probe)


def pack_part(part: str, spans: dict[str, DatasetSpan]) -> PackedPart | None:
    """Compress the whole final chunks of a part's packable datasets into ``<part>.chunks``
    (written under a temporary name, moved into place when complete); None when there is
    none."""
    packed = PackedPart(path=f"{part}.chunks")
    tmp = f"{packed.path}.tmp"
    pos = 0
    try:
        with h5py.File(part, "r") as f, open(tmp, "wb") as out:
            for path, span in spans.items():
                ds = f[path]
                settings = deferred_settings(ds)
                if settings is None or not packable(ds, settings):
                    continue
                k, n = span.chunk_rows, ds.shape[0]
                start = -span.offset % k  # the first row of a whole final chunk
                stop = start + (n - start) // k * k if n > start else start
                if stop <= start:
                    continue
                codec = _final_codec(ds, settings, k)
                row_bytes = max(1, ds.dtype.itemsize * int(np.prod(ds.shape[1:], dtype=np.int64)))
                step = max(1, READ_BYTES // (row_bytes * k)) * k
                table = packed.chunks[path] = []
                for first in range(start, stop, step):
                    rows = ds[first : min(stop, first + step)]
                    for c in range(0, len(rows), k):
                        data = codec.encode(np.ascontiguousarray(rows[c : c + k]))
                        out.write(data)
                        table.append((span.offset + first + c, pos, len(data)))
                        pos += len(data)
                packed.interior[path] = (start, stop)
                packed.offsets[path] = span.offset
                packed.codecs[path] = codec_key(k, codec)
        if not packed.chunks:
            Path(tmp).unlink(missing_ok=True)
            return None
        os.replace(tmp, packed.path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return packed


def pack_chunk(
    parts: dict[str, str], spans: dict[str, dict[str, DatasetSpan]]
) -> dict[str, PackedPart | None]:
    """The pack task of one chunk: final output -> its part packed (see :func:`pack_part`)."""
    tune_malloc()
    return {final: pack_part(parts[final], spans[final]) for final in spans}
