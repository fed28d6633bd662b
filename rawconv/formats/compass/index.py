"""Starting CoMPASS decoding at any event: the index the parallel layer plans from and the
state a chunk needs there.

Events need no state from the events before them; a chunk needs the file's event layout
(header flags, found from the header word or the bytes), the sample count, the keys the
first events gave the tables, and its first packet id: :class:`CompassResume` carries
them, taken from a streamer opened on the whole file, so that every chunk decodes as a
serial conversion does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...buffers import RawBufferLibrary
from ...sources import Source, open_source
from ..base import RECORD_DTYPE, RecordIndex, RecordRange, ResumeState
from .resume_state import CompassResume

__all__ = ["CompassIndex", "CompassResume", "build_compass_index"]

TAG_EVENT = 0
"""The one record type (``tag`` of the record table)."""


@dataclass
class CompassIndex(RecordIndex):
    """The events of a CoMPASS input and the layout every chunk decodes them with."""

    records: np.ndarray
    """RECORD_DTYPE rows (byte range, tag 0, packet id) of the complete events."""
    size: int
    """Bytes of the input (a cut event at the end included)."""
    flags: int
    wave_fields: bool
    header: bool
    wf_len: int
    keys: np.ndarray
    """int64 keys the first events gave the tables (beyond the settings' channels)."""

    @classmethod
    def build(cls, source: Source) -> CompassIndex:
        return build_compass_index(source)

    def boundaries(self) -> np.ndarray:
        """Events where a chunk may start: any but the first, except the first
        RESYNC_CHAIN events after a damaged region (whose end a serial conversion finds
        by looking at them)."""
        from .streamer import RESYNC_CHAIN

        recs = self.records
        if len(recs) < 2:
            return np.zeros(0, np.int64)
        gap = np.zeros(len(recs), dtype=bool)
        gap[1:] = recs["start"][1:] != recs["stop"][:-1]
        near = np.convolve(gap, np.ones(RESYNC_CHAIN, dtype=int))[: len(recs)] > 0
        near[0] = True
        return np.flatnonzero(~near)

    def resume_states(self, source: Source, ranges: list[RecordRange]) -> list[ResumeState]:
        keys = tuple(int(k) for k in self.keys)
        pids = self.records["pid"]
        return [
            CompassResume(r.start, r.stop, r.first, pid_counter=int(pids[r.first]) - 1,
                          flags=int(self.flags),
                          wave_fields=bool(self.wave_fields), header=bool(self.header),
                          wf_len=int(self.wf_len), keys=keys)
            if i else ResumeState(0, r.stop)
            for i, r in enumerate(ranges)
        ]  # fmt: skip


def build_compass_index(source: Source | str) -> CompassIndex:
    """Walk a CoMPASS input with the streamer's block loop into its :class:`CompassIndex`.

    Damage that stops a serial conversion (a corrupted sample count) raises here too.
    """
    from .streamer import CompassStreamer

    source = open_source(source)
    streamer = CompassStreamer()
    streamer.open_stream(source, rb_lib=RawBufferLibrary())
    tables = []
    try:
        layout, wf_len = streamer.layout, streamer.wf_len
        blk = streamer._block
        size = layout.event_bytes(wf_len)
        while streamer._load():
            table = np.empty(blk.n, RECORD_DTYPE)
            table["start"] = blk.base + blk.starts[: blk.n]
            table["stop"] = table["start"] + size
            table["tag"], table["pid"] = TAG_EVENT, blk.pid[: blk.n]
            tables.append(table)
            streamer._cursor = blk.n
        total = source.size if source.size is not None else streamer.n_bytes_read
        keys = np.array(streamer.first_keys, np.int64)
    finally:
        streamer.close_stream()
    return CompassIndex(
        records=np.concatenate(tables) if tables else np.empty(0, RECORD_DTYPE),
        size=int(total), flags=layout.flags, wave_fields=layout.wave_fields,
        header=layout.header, wf_len=int(wf_len), keys=keys,
    )  # fmt: skip
