"""A block of FCIO records in memory: the bytes and the record / frame tables over them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RecordBlock:
    """Records found in ``buf``; offsets in the tables are relative to ``buf``.

    ``base`` is the absolute input offset of ``buf[0]``.
    """

    path: str
    buf: np.ndarray
    base: int
    tag: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    frame0: np.ndarray
    nframes: np.ndarray
    pid: np.ndarray
    frame_off: np.ndarray
    frame_len: np.ndarray
    n: int = 0

    def where(self, i: int, decoder: str | None = None) -> dict:
        """Keyword arguments locating record `i` for an error."""
        return {
            "path": self.path,
            "offset": int(self.base + self.start[i]),
            "record": int(self.pid[i]) if self.pid[i] >= 0 else None,
            "decoder": decoder,
        }

    def frames(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Offsets and lengths of record `i`'s frames."""
        f0 = int(self.frame0[i])
        f1 = f0 + int(self.nframes[i])
        return self.frame_off[f0:f1], self.frame_len[f0:f1]

    @classmethod
    def allocate(cls, path: str, size: int, max_records: int, max_frames: int) -> RecordBlock:
        """An empty block with a byte buffer of `size` and room for the tables."""
        return cls(
            path=path,
            buf=np.empty(size, dtype=np.uint8),
            base=0,
            tag=np.zeros(max_records, dtype=np.int32),
            start=np.zeros(max_records, dtype=np.int64),
            stop=np.zeros(max_records, dtype=np.int64),
            frame0=np.zeros(max_records, dtype=np.int64),
            nframes=np.zeros(max_records, dtype=np.int64),
            pid=np.zeros(max_records, dtype=np.int64),
            frame_off=np.zeros(max_frames, dtype=np.int64),
            frame_len=np.zeros(max_frames, dtype=np.int64),
        )
