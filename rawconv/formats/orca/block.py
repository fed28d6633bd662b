"""A block of ORCA records in memory: the bytes, the record table and the FCIO records
found inside FCIO-wrapped records (offsets relative to ``buf``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..fcio.block import RecordBlock

MAX_RECORDS = 1 << 16
MAX_FCIO_RECORDS = 1 << 17
MAX_FRAMES = 1 << 19


@dataclass
class OrcaBlock:
    """Records found in ``buf``; ``base`` is the absolute input offset of ``buf[0]``.

    ORCA records ``i < n``: ``start`` (byte offset in buf), ``words``, ``kind`` (payload
    kind, layout.KIND_*), ``ident`` (shifted data id; short records ``0x10000 | id``),
    ``bad`` (layout.REC_*), ``pid`` (packet id), ``fcio`` (first FCIO record; n + 1 entries).
    FCIO records ``k < nf``: ``f_*`` columns; ``f_orec`` is the ORCA record holding them,
    ``f_pid`` its packet id, ``f_fcid`` its listener id.
    """

    path: str
    buf: np.ndarray
    base: int = 0
    n: int = 0
    nf: int = 0
    start: np.ndarray = field(default_factory=lambda: np.zeros(MAX_RECORDS + 1, np.int64))
    words: np.ndarray = field(default_factory=lambda: np.zeros(MAX_RECORDS + 1, np.int64))
    kind: np.ndarray = field(default_factory=lambda: np.zeros(MAX_RECORDS + 1, np.int8))
    ident: np.ndarray = field(default_factory=lambda: np.zeros(MAX_RECORDS + 1, np.int64))
    bad: np.ndarray = field(default_factory=lambda: np.zeros(MAX_RECORDS + 1, np.int8))
    pid: np.ndarray = field(default_factory=lambda: np.zeros(MAX_RECORDS + 1, np.int64))
    fcio: np.ndarray = field(default_factory=lambda: np.zeros(MAX_RECORDS + 1, np.int64))
    f_tag: np.ndarray = field(default_factory=lambda: np.zeros(MAX_FCIO_RECORDS, np.int32))
    f_start: np.ndarray = field(default_factory=lambda: np.zeros(MAX_FCIO_RECORDS, np.int64))
    f_stop: np.ndarray = field(default_factory=lambda: np.zeros(MAX_FCIO_RECORDS, np.int64))
    f_frame0: np.ndarray = field(default_factory=lambda: np.zeros(MAX_FCIO_RECORDS, np.int64))
    f_nframes: np.ndarray = field(default_factory=lambda: np.zeros(MAX_FCIO_RECORDS, np.int64))
    f_fcid: np.ndarray = field(default_factory=lambda: np.zeros(MAX_FCIO_RECORDS, np.int64))
    f_orec: np.ndarray = field(default_factory=lambda: np.zeros(MAX_FCIO_RECORDS, np.int64))
    f_pid: np.ndarray = field(default_factory=lambda: np.zeros(MAX_FCIO_RECORDS, np.int64))
    frame_off: np.ndarray = field(default_factory=lambda: np.zeros(MAX_FRAMES, np.int64))
    frame_len: np.ndarray = field(default_factory=lambda: np.zeros(MAX_FRAMES, np.int64))

    def where(self, i: int, decoder: str | None = None) -> dict:
        """Keyword arguments locating ORCA record `i` for an error."""
        return {
            "path": self.path,
            "offset": int(self.base + self.start[i]),
            "record": int(self.pid[i]),
            "decoder": decoder,
        }

    def record_bytes(self, i: int) -> np.ndarray:
        """The bytes of ORCA record `i` (a view)."""
        s = int(self.start[i])
        return self.buf[s : s + 4 * int(self.words[i])]

    def words_of(self, i: int, count: int | None = None) -> np.ndarray:
        """The first `count` words of record `i` as uint32 (a copy; little-endian)."""
        raw = self.record_bytes(i)
        count = len(raw) // 4 if count is None else min(count, len(raw) // 4)
        return np.frombuffer(raw[: 4 * count].tobytes(), dtype="<u4")

    def fcio_subset(self, idx: np.ndarray) -> RecordBlock:
        """The FCIO records `idx` (indices into the f_* tables) as an FCIO RecordBlock over
        the same bytes, for the FCIO decoders."""
        return RecordBlock(
            path=self.path,
            buf=self.buf,
            base=self.base,
            tag=self.f_tag[idx],
            start=self.f_start[idx],
            stop=self.f_stop[idx],
            frame0=self.f_frame0[idx],
            nframes=self.f_nframes[idx],
            pid=self.f_pid[idx],
            frame_off=self.frame_off,
            frame_len=self.frame_len,
            n=len(idx),
        )
