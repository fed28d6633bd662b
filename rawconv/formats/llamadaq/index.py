"""The record index of a LlamaDAQ file, and the state that lets decoding start at any event.

An event needs nothing from the events before it: only the file header (channel configs)
and the packet counter. :class:`LlamaIndex` walks the input with the streamer's own block
reader (damaged regions found as a serial conversion finds them) into the record table;
:class:`LlamaResume` carries the header bytes and the packet counter to a chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...sources import Source, open_source
from ..base import RECORD_DTYPE, RecordIndex, RecordRange, ResumeState
from .block import BlockReader, ChannelTables
from .header import header_size, parse_header
from .layout import REC_DAMAGED, REC_EVENT

__all__ = ["TAG_DAMAGED", "TAG_TRUNCATED", "LlamaIndex", "LlamaResume", "build_index"]

TAG_DAMAGED = -1
"""record table tag of a damaged region (events have their fch id as tag)."""
TAG_TRUNCATED = -2
"""record table tag of an event cut by the end of the input."""


@dataclass(frozen=True)
class LlamaResume(ResumeState):
    """What an LLAMAStreamer needs to start decoding at an event inside an input: the file
    header (channel configs) and the packet id of the event before it."""

    header_bytes: bytes = field(default=b"", repr=False)
    pid_counter: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.header_bytes) < 16:
            raise ValueError("a LlamaResume needs the file header and channel configs")
        if self.pid_counter < 0:
            raise ValueError(f"LlamaResume.pid_counter {self.pid_counter} is negative")
        if self.start < len(self.header_bytes):
            raise ValueError(f"LlamaResume starts at {self.start}, inside the file header")


@dataclass
class LlamaIndex(RecordIndex):
    """Records of a LlamaDAQ input: events (tag = fch id), damaged regions and a truncated
    tail (negative tags, packet id -1)."""

    records: np.ndarray
    header_bytes: np.ndarray
    """uint8: the file header and channel configs."""
    size: int
    """Bytes the header and records cover."""

    @classmethod
    def build(cls, source: Source) -> LlamaIndex:
        return build_index(source)

    def boundaries(self) -> np.ndarray:
        """Chunks start at events only (a damaged region stays with the event before it)."""
        rows = np.flatnonzero(self.records["tag"] >= 0)
        return rows[rows > 0]

    def resume_states(self, source: Source, ranges: list[RecordRange]) -> list[ResumeState]:
        header = bytes(self.header_bytes)
        out: list[ResumeState] = []
        for k, r in enumerate(ranges):
            if k == 0:
                out.append(ResumeState(0, r.stop))
                continue
            pid = int(self.records["pid"][r.first])
            if pid < 1:
                raise ValueError(f"a chunk starts at record {r.first}, which is not an event")
            out.append(LlamaResume(r.start, r.stop, r.first, header_bytes=header,
                                   pid_counter=pid - 1))  # fmt: skip
        return out


def build_index(source: Source | str, block_bytes: int | None = None) -> LlamaIndex:
    """Walk a LlamaDAQ input into its :class:`LlamaIndex`."""
    source = open_source(source)
    head = source.read(0, 16)
    data = source.read(0, header_size(head, source.name))
    header = parse_header(data, source.name)
    stop = source.size if source.size is not None else 2**62
    kwargs = {} if block_bytes is None else {"block_bytes": block_bytes}
    reader = BlockReader(source, ChannelTables.from_header(header), header.size, stop, **kwargs)
    parts = []
    while reader.load():
        blk = reader.block
        n = blk.n
        rows = np.empty(n, RECORD_DTYPE)
        rows["start"] = blk.start[:n] + blk.base
        rows["stop"] = blk.stop[:n] + blk.base
        kind = blk.kind[:n]
        bad = np.where(kind == REC_DAMAGED, TAG_DAMAGED, TAG_TRUNCATED)
        rows["tag"] = np.where(kind == REC_EVENT, blk.fch[:n], bad)
        rows["pid"] = blk.pid[:n]
        parts.append(rows)
    records = np.concatenate(parts) if parts else np.empty(0, RECORD_DTYPE)
    size = int(records["stop"][-1]) if len(records) else header.size
    return LlamaIndex(records=records, header_bytes=np.frombuffer(header.raw, np.uint8).copy(),
                      size=size)  # fmt: skip
