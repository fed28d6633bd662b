"""The record index of an ORCA file: a walk over record headers (word-0 lengths) only.

The parallel layer plans chunks from this table: any record boundary is a valid split
point, given the file header (and, for FCIO-wrapped records, each listener's config).
"""

from __future__ import annotations

import numpy as np

from ...blockreader import BlockReader
from ...errors import RawconvError
from ...sources import Source
from .kernels import IDX_BAD_LENGTH, IDX_FULL, IDX_UNDESCRIBED, walk_headers
from .layout import MAX_RECORD_WORDS

__all__ = ["INDEX_DTYPE", "walk_records"]

INDEX_DTYPE = np.dtype(
    [("offset", "<i8"), ("words", "<i8"), ("data_id", "<i8"), ("packet_id", "<i8")]
)
"""offset (bytes), words (record length), data_id (shifted; short records ``0x10000 | id``),
packet_id (record index, the file header is 0)."""


def walk_records(
    source: Source, header_bytes: int, order: str, kind_long: np.ndarray,
    kind_short: np.ndarray, block_bytes: int = 16 << 20,
) -> np.ndarray:  # fmt: skip
    """The record table of `source`, whose header record is `header_bytes` long.

    A record cut by the end of the input is not in the table. Raises RawconvError at a
    damaged record header (a serial conversion resynchronises there; an index cannot).
    """
    parts = []
    reader = BlockReader(source, block_bytes, start=header_bytes, swap=4 if order == ">" else 0)
    pid = 0
    starts, words, ids = (np.zeros(1 << 16, np.int64) for _ in range(3))
    while True:
        reader.read()
        base = reader.base
        k, nxt, status = walk_headers(reader.buf, reader.fill, 0, kind_long, kind_short,
                                      MAX_RECORD_WORDS, starts, words, ids)  # fmt: skip
        rows = np.zeros(k, dtype=INDEX_DTYPE)
        rows["offset"], rows["words"], rows["data_id"] = base + starts[:k], words[:k], ids[:k]
        rows["packet_id"] = pid + 1 + np.arange(k)
        parts.append(rows)
        pid += k
        if status in (IDX_BAD_LENGTH, IDX_UNDESCRIBED):
            raise RawconvError(
                "damaged record header: the index stops here (a serial conversion "
                "resynchronises)", path=source.name, offset=int(base + nxt), record=pid + 1,
            )  # fmt: skip
        if reader.eof and status != IDX_FULL:
            break
        if k == 0 and reader.fill == len(reader.buf):
            reader.grow()
        reader.compact(nxt)
    return np.concatenate(parts)
