"""Routing decoded rows to buffers by key, for decoders that decode blocks of records.

A block decoder fills rows of an LGDO table from a block of records. When one buffer takes
every key of the decoder, rows are decoded straight into that buffer. Otherwise (per-channel
buffers, keys left out, a row budget) they are decoded into a staging table and copied to
the buffer of their key; rows of keys no buffer takes are dropped and counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .buffers import RawBuffer, RawBufferList
from .lh5.columns import ArrayCol, TableCol, VectorCol

__all__ = ["BlockDecoderMixin", "DecoderRoute", "copy_rows"]

STAGING_BYTES = 32 << 20
"""Memory of a staging table (bounded below by one record's rows)."""


class BlockDecoderMixin:
    """Interface of decoders that decode blocks of records in one kernel call."""

    def decode_block(
        self, block: Any, first: int, last: int, table: TableCol, row0: int, max_rows: int
    ) -> tuple[int, int]:
        """Decode records ``[first, last)`` of `block` into `table` from row `row0`.

        Stops before a record whose rows would exceed `max_rows`. Returns
        ``(records_done, rows_written)``; raises CorruptDataError on bad records.
        """
        raise NotImplementedError

    def row_keys(self, table: TableCol, row0: int, n: int) -> np.ndarray | list:
        """The keys of rows ``[row0, row0 + n)`` of a table this decoder filled."""
        raise NotImplementedError


def row_bytes(table: TableCol) -> int:
    """Approximate bytes per row of a table (VoV columns by their current capacity)."""
    total = 0
    for _, col in table.items():
        total += _col_row_bytes(col, len(table))
    return max(total, 1)


def _col_row_bytes(col: Any, n: int) -> int:
    if isinstance(col, TableCol):
        return sum(_col_row_bytes(c, n) for c in col.values())
    if isinstance(col, VectorCol):
        fd = col.flattened_data
        flat = fd.nda.nbytes if isinstance(fd, ArrayCol) else 0
        return 8 + flat // max(n, 1)
    if isinstance(col, ArrayCol):
        return col.nda.itemsize * int(np.prod(col.nda.shape[1:], dtype=np.int64))
    return 0


class DecoderRoute:
    """Decodes runs of one decoder's records and delivers the rows to its buffers."""

    def __init__(self, decoder: Any, rbl: RawBufferList) -> None:
        self.decoder = decoder
        self.rbl = rbl
        self.keyed = rbl.get_keyed_dict()
        all_keys = [k for kl in decoder.get_key_lists() for k in kl]
        dests = {id(self.keyed.get(k)) for k in all_keys}
        self.direct: RawBuffer | None = None
        if len(rbl) == 1 and dests == {id(rbl[0])}:
            self.direct = rbl[0]
        self._staging: TableCol | None = None
        self._dest_ids: dict[Any, int] = {}
        self.n_skipped = 0

    def staging(self) -> TableCol:
        """The staging table (allocated on first use)."""
        if self._staging is None:
            probe = self.decoder.make_table(key=self._first_key(), size=1)
            rows = max(self.decoder.get_max_rows_in_packet(), STAGING_BYTES // row_bytes(probe))
            self._staging = self.decoder.make_table(key=self._first_key(), size=rows)
        return self._staging

    def _first_key(self) -> Any:
        for kl in self.decoder.get_key_lists():
            if kl:
                return kl[0]
        return None

    def capacity_records(self) -> int:
        """Records of this decoder that can be decoded without any buffer (or the staging
        table) overflowing: each buffer takes at most its fill_safety rows per record."""
        n = min(((len(rb) - rb.loc) // max(rb.fill_safety, 1) for rb in self.rbl), default=0)
        if self.direct is None and self.rbl:
            n = min(n, len(self.staging()) // max(self.decoder.get_max_rows_in_packet(), 1))
        return n

    def free_rows(self) -> int:
        """Rows that can be decoded without any destination (or the staging table)
        overflowing."""
        free = min((len(rb) - rb.loc for rb in self.rbl), default=0)
        if self.direct is None and self.rbl:
            free = min(free, len(self.staging()))
        return free

    def decode(
        self, block: Any, first: int, last: int, budget: float, sized: bool = False
    ) -> tuple[int, int]:
        """Decode records ``[first, last)`` (as many as fit); returns (records, rows kept).

        `budget` caps the rows kept: the record that reaches it is the last one decoded
        and its rows beyond the budget are dropped. `sized`: the caller made sure that the
        range fits (it may hold other decoders' records, which do not count).
        """
        if not self.rbl:
            return last - first, 0
        free = self.free_rows()
        if self.direct is not None and budget == float("inf"):
            rb = self.direct
            done, rows = self.decoder.decode_block(block, first, last, rb.table, rb.loc, free)
            rb.loc += rows
            return done, rows
        table = self.staging()
        max_rows = len(table)
        if not sized:  # no buffer may overflow
            last = min(last, first + self.capacity_records())
        if budget < float("inf"):
            per_record = self.decoder.get_max_rows_in_packet()
            max_rows = min(max_rows, max(per_record, int(budget)))
        done, rows = self.decoder.decode_block(block, first, last, table, 0, max_rows)
        keys = self.decoder.row_keys(table, 0, rows)
        kept = self._scatter(table, keys, rows, int(min(budget, rows)))
        return done, kept

    def _scatter(self, table: TableCol, keys: Any, n: int, limit: int) -> int:
        if n == 0:
            return 0
        dest = self._destinations(keys, n)
        unrouted = dest < 0
        if unrouted.any():
            skipped = np.asarray(list(keys)[:n] if not isinstance(keys, np.ndarray) else keys[:n])
            uniq, counts = np.unique(skipped[unrouted], return_counts=True)
            for key, count in zip(uniq.tolist(), counts.tolist()):
                self.decoder.skipped_channels[key] = (
                    self.decoder.skipped_channels.get(key, 0) + count
                )
            self.n_skipped += int(counts.sum())
        if limit < n:  # the row budget ends inside these rows: keep the first `limit` kept rows
            kept_idx = np.flatnonzero(dest >= 0)
            dest[kept_idx[limit:]] = -1
        total = 0
        for d in np.unique(dest):
            if d < 0:
                continue
            rows = np.flatnonzero(dest == d)
            rb = self.rbl[int(d)]
            copy_rows(table, rows, rb.table, rb.loc)
            rb.loc += len(rows)
            total += len(rows)
        return total

    def _destinations(self, keys: Any, n: int) -> np.ndarray:
        index = {id(rb): i for i, rb in enumerate(self.rbl)}
        if isinstance(keys, np.ndarray) and keys.dtype.kind in "iu":
            uniq, inv = np.unique(keys[:n], return_inverse=True)
            lut = np.array([self._dest(int(k), index) for k in uniq], dtype=np.int64)
            return lut[inv]
        return np.array([self._dest(k, index) for k in list(keys)[:n]], dtype=np.int64)

    def _dest(self, key: Any, index: dict[int, int]) -> int:
        if key not in self._dest_ids:
            rb = self.keyed.get(key)
            self._dest_ids[key] = -1 if rb is None else index[id(rb)]
        return self._dest_ids[key]


def copy_rows(src: Any, rows: np.ndarray, dst: Any, loc: int) -> None:
    """Copy rows `rows` of LGDO `src` into `dst` from row `loc` (tables, arrays, VoVs)."""
    if isinstance(src, TableCol):
        for name, col in src.items():
            copy_rows(col, rows, dst[name], loc)
        return
    if isinstance(src, VectorCol):
        _copy_vov_rows(src, rows, dst, loc)
        return
    dst.nda[loc : loc + len(rows)] = src.nda[rows]


def _copy_vov_rows(src: VectorCol, rows: np.ndarray, dst: VectorCol, loc: int) -> None:
    cl = src.cumulative_length.nda
    starts = np.where(rows > 0, cl[rows - 1], 0)
    stops = cl[rows]
    lengths = stops - starts
    base = int(dst.cumulative_length.nda[loc - 1]) if loc > 0 else 0
    new_cl = base + np.cumsum(lengths)
    need = int(new_cl[-1]) if len(new_cl) else base
    fd = dst.flattened_data
    if need > len(fd):
        fd.resize(max(need, 2 * len(fd)))
    if len(lengths):
        idx = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        idx += np.arange(int(lengths.sum()))
        fd.nda[base:need] = src.flattened_data.nda[idx]
    dst.cumulative_length.nda[loc : loc + len(rows)] = new_cl
