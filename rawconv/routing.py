"""Routing decoded rows to buffers by key, for decoders that decode blocks of records.

A :class:`MergeRoute` serves one decoder's buffers (a RawBufferList). The decoder owns one
or more *parts*, block decoders that each decode their own records of a run: one part per
record layout (per data source, per waveform length, ...), or the decoder itself. Each part
decodes into its own staging table, or straight into a buffer when that buffer takes
exactly the part's keys and no other part feeds it; staged rows of several parts are merged
in packet-id order and scattered to the buffers of their keys, so that every table holds
its rows in input order whatever the number of parts. Rows of keys that no buffer takes are
dropped and counted in the owner's ``skipped_channels``.

:class:`DecoderRoute` is the one-part case, for a decoder that is its own part; it can also
decode as many records of a range as fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .arena import BufferArena, leaf, leaves, row_bytes
from .buffers import RawBuffer, RawBufferList
from .errors import RawconvError
from .lh5.columns import ArrayCol, TableCol, VectorCol

__all__ = ["BlockDecoderMixin", "DecoderRoute", "MergeRoute", "part_keys", "place_rows"]

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


def part_keys(part: Any) -> list[Any]:
    """Every key a part's rows can have."""
    return [k for kl in part.get_key_lists() for k in kl]


class MergeRoute:
    """Decodes runs of records with one or more parts and delivers rows to a RawBufferList.

    Parameters
    ----------
    owner
        the decoder owning the buffers (its ``skipped_channels`` counts unrouted rows).
    rbl
        the owner's buffers.
    parts
        block decoders (``decode_block``, ``row_keys``, ``make_table``,
        ``get_key_lists``, ``get_max_rows_in_packet``); tables of several parts need a
        ``packet_id`` column (the merge order).
    bytes_left
        the input bytes the stream has not read yet (None: unknown), where known: the
        buffers' memory for the rows they can make is then allocated ahead
        (:meth:`BufferArena.place`).
    """

    def __init__(self, owner: Any, rbl: RawBufferList, parts: list[Any],
                 bytes_left: Callable[[], int | None] | None = None) -> None:  # fmt: skip
        self.owner = owner
        self.bytes_left = bytes_left
        self.rbl = rbl
        self.keyed = rbl.get_keyed_dict()
        self.parts = list(parts)
        self._index = {id(rb): i for i, rb in enumerate(rbl)}
        self._staging: dict[int, TableCol] = {}
        self._dest_cache: dict[Any, int] = {}
        self.direct: dict[int, RawBuffer] = {}
        feeders: dict[int, int] = {}
        single: dict[int, RawBuffer] = {}
        for part in self.parts:
            dests = {id(self.keyed[k]) if k in self.keyed else None for k in part_keys(part)}
            for d in dests - {None}:
                feeders[d] = feeders.get(d, 0) + 1
            if len(dests) == 1 and None not in dests:
                single[id(part)] = self.keyed[part_keys(part)[0]]
        for pid, rb in single.items():
            if feeders[id(rb)] == 1:
                self.direct[pid] = rb
        self.per_record = {id(rb): max(int(rb.fill_safety), 1) for rb in rbl}
        """Most rows one record can put in each buffer (its fill_safety when opened)."""
        self._arenas: dict[int, BufferArena | None] = {}
        """The arena of the buffers each staging table feeds (see :mod:`rawconv.arena`)."""
        self._early: dict[int, BufferArena] = {}
        """The arena whose proc_spec processes the rows of each staging table before they
        reach the buffers (kept when the arena itself is left)."""

    def staging(self, part: Any) -> TableCol:
        """The staging table of `part` (allocated on first use)."""
        table = self._staging.get(id(part))
        if table is None:
            keys = part_keys(part)
            key = keys[0] if keys else None
            probe = part.make_table(key=key, size=1)
            rows = max(part.get_max_rows_in_packet(), STAGING_BYTES // row_bytes(probe))
            table = self._staging[id(part)] = part.make_table(key=key, size=rows)
        return table

    def fit(self, rows: np.ndarray, parts: list[Any]) -> int:
        """How many of the next records (`rows`: upper bound of the rows of each) a run may
        take: a record puts at most ``min(rows, per_record[b])`` rows in each buffer ``b``,
        and each staging table must hold all rows of its part. (The bound of the records at
        hand, not the worst case ``per_record``: sparse events of one trace among 132 would
        otherwise end runs at a tenth of a buffer.)"""
        if not self.rbl or len(rows) == 0:
            return len(rows)
        free: dict[int, int] = {}  # the least free rows among buffers of each bound
        for rb in self.rbl:
            per = self.per_record[id(rb)]
            free[per] = min(free.get(per, len(rb)), len(rb) - rb.loc)
        records = len(rows)
        for per, left in free.items():  # a record puts at most min(its rows, per) in each
            bound = np.minimum(rows, per) if per < int(rows.max()) else rows
            records = min(records, int(np.searchsorted(np.cumsum(bound), left, "right")))
        staging = [len(self.staging(p)) for p in parts if id(p) not in self.direct]
        if staging:
            records = min(records, int(np.searchsorted(np.cumsum(rows), min(staging), "right")))
        return max(min(records, len(rows)), 0)

    def make_room(self, rows: np.ndarray, parts: list[Any], want: int) -> bool:
        """Help the next run reach `want` records (`rows`: their row bounds): staging tables
        grow to hold the first record; buffers with rows that limit the run are marked full
        (``fill_safety``) so that ``read_chunk`` hands them out first.

        Returns whether anything changed; raises RawconvError when the first record can never
        fit (a buffer smaller than the rows it takes of one record)."""
        changed = False
        first = int(rows[0]) if len(rows) else 0
        for part in parts:
            if id(part) not in self.direct and len(self.staging(part)) < first:
                keys = part_keys(part)
                self._staging[id(part)] = part.make_table(key=keys[0] if keys else None, size=first)
                changed = True
        for rb in self.rbl:
            per = self.per_record[id(rb)]
            if len(rb) < per:
                raise RawconvError(
                    f"buffer {rb.out_name!r} holds {len(rb)} rows, fewer than the {per} one "
                    f"{self.owner.name} record can put in it; raise buffer_size"
                )
            free = len(rb) - rb.loc
            if rb.loc > 0 and free // per < max(1, min(want, len(rb) // per) // 2):
                rb.fill_safety = max(rb.fill_safety, free + 1)  # more than half used
                changed = True
        return changed

    def decode(self, jobs: list[tuple[Any, Any, int, int]], budget: float = math.inf) -> int:
        """Decode each job ``(part, block, first, last)`` completely; returns the rows kept.

        The caller sizes the run with :meth:`fit`. `budget` caps the rows kept, in
        merged (input) order.
        """
        if not self.rbl:
            return 0
        kept = 0
        staged = []
        for part, block, first, last in jobs:
            if last <= first:
                continue
            rb = self.direct.get(id(part)) if budget == math.inf else None
            if rb is not None:
                done, rows = part.decode_block(
                    block, first, last, rb.table, rb.loc, len(rb) - rb.loc
                )
                _check(done, last - first, part, block, first)
                rb.loc += rows
                kept += rows
                continue
            table = self.staging(part)
            done, rows = part.decode_block(block, first, last, table, 0, len(table))
            _check(done, last - first, part, block, first)
            if rows:
                staged.append((part, table, rows))
        if staged:
            kept += self._scatter(staged, budget)
        return kept

    # scatter ---------------------------------------------------------------------------

    def _scatter(self, staged: list, budget: float) -> int:
        dests, pids = [], []
        for part, table, rows in staged:
            dests.append(self._destinations(part.row_keys(table, 0, rows), rows))
            if len(staged) > 1:
                pids.append(table["packet_id"].nda[:rows].astype(np.int64))
        dest = np.concatenate(dests)
        if len(staged) == 1:
            return self._scatter_one(staged[0][1], _within_budget(dest, budget))
        piece = np.concatenate([np.full(len(d), k) for k, d in enumerate(dests)])
        row = np.concatenate([np.arange(len(d)) for d in dests])
        order = np.argsort(np.concatenate(pids), kind="stable")  # packet id, part, row
        dest, piece, row = _within_budget(dest[order], budget), piece[order], row[order]
        total = 0
        for d in np.unique(dest):
            if d < 0:
                continue
            sel = dest == d
            rb = self.rbl[int(d)]
            m = int(sel.sum())
            sel_piece, sel_row = piece[sel], row[sel]
            pieces = []
            for k, (_, table, _) in enumerate(staged):
                mine = np.flatnonzero(sel_piece == k)
                if len(mine):
                    pieces.append((table, sel_row[mine], mine))
            if rb.loc + m > len(rb):  # a record put more rows in it than keys (a damaged map)
                rb.table.resize(rb.loc + m)
            place_rows(rb.table, rb.loc, m, pieces)
            rb.loc += m
            total += m
        return total

    def _scatter_one(self, table: TableCol, dest: np.ndarray) -> int:
        """Rows of one staging table to their buffers (`dest`: buffer index per row, -1:
        none), in input order: with one copy per column into the buffers' arena where
        they have one, else each column gathered once in buffer order and each buffer
        taking its rows as one slice of it."""
        arena = self._arena(table)
        early = self._early.get(id(table))
        if early is not None:  # the buffers hold processed rows
            table = early.process(table, len(dest))
        if arena is not None:
            counts = arena.place(table, dest, len(dest), self._bytes_left())
            if counts is not None:
                return int(counts.sum())
        order = np.argsort(dest, kind="stable")
        order = order[dest[order] >= 0]
        if len(order) == 0:
            return 0
        buffers, starts, counts = np.unique(dest[order], return_index=True, return_counts=True)
        places = []
        for d, m in zip(buffers.tolist(), counts.tolist()):
            rb = self.rbl[d]
            if rb.loc + m > len(rb):  # a record put more rows in it than keys (a damaged map)
                rb.table.resize(rb.loc + m)
            places.append((rb, m))
        for path, col in leaves(table):
            if not isinstance(col, ArrayCol):  # vectors: row by row as place_rows does
                for (rb, m), a in zip(places, starts.tolist()):
                    rows = order[a : a + m]
                    place_rows(leaf(rb.table, path), rb.loc, m, [(col, rows, np.arange(m))])
                continue
            ordered = col.nda[order]
            for (rb, m), a in zip(places, starts.tolist()):
                leaf(rb.table, path).nda[rb.loc : rb.loc + m] = ordered[a : a + m]
        for rb, m in places:
            rb.loc += m
        return len(order)

    def _bytes_left(self) -> int | None:
        return None if self.bytes_left is None else self.bytes_left()

    def _arena(self, table: TableCol) -> BufferArena | None:
        """The arena of the buffers fed from staging table `table`, made on first use;
        None where there is none or a buffer left it (its table resized or replaced)."""
        key = id(table)
        if key not in self._arenas:  # processed rows only where no other path fills them
            early = getattr(self.rbl, "process_early", False)
            early = early and len(self.parts) == 1 and not self.direct
            arena = self._arenas[key] = BufferArena.adopt(self.rbl, table, early)
            if arena is not None and arena.spec is not None:
                self._early[key] = arena  # processes each block from now on
        arena = self._arenas[key]
        if arena is not None and not arena.intact():
            arena = self._arenas[key] = None
        return arena

    def _destinations(self, keys: Any, n: int) -> np.ndarray:
        if isinstance(keys, np.ndarray) and keys.dtype.kind in "iu":
            uniq, inv = np.unique(keys[:n], return_inverse=True)
            lut = np.array([self._dest(int(k)) for k in uniq.tolist()], dtype=np.int64)
            dest = lut[inv]
            counts = np.bincount(inv[dest < 0], minlength=len(uniq))
            unrouted = {int(k): int(c) for k, c in zip(uniq, counts) if c}
        else:
            listed = list(keys)[:n]
            dest = np.array([self._dest(k) for k in listed], dtype=np.int64)
            unrouted = {}
            for k, d in zip(listed, dest.tolist()):
                if d < 0:
                    unrouted[k] = unrouted.get(k, 0) + 1
        skipped = self.owner.skipped_channels
        for key, count in unrouted.items():
            skipped[key] = skipped.get(key, 0) + count
        return dest

    def _dest(self, key: Any) -> int:
        if key not in self._dest_cache:
            rb = self.keyed.get(key)
            self._dest_cache[key] = -1 if rb is None else self._index[id(rb)]
        return self._dest_cache[key]


class DecoderRoute(MergeRoute):
    """The one-part route of a decoder that decodes its records itself.

    Besides :meth:`MergeRoute.decode` on sized runs, :meth:`decode_records` decodes as many
    records of a range as the buffers hold.
    """

    def __init__(self, decoder: Any, rbl: RawBufferList,
                 bytes_left: Callable[[], int | None] | None = None) -> None:  # fmt: skip
        super().__init__(decoder, rbl, [decoder], bytes_left)
        self.decoder = decoder

    def capacity_records(self) -> int:
        """Records that can be decoded without any buffer (or the staging table)
        overflowing: each buffer takes at most its ``fill_safety`` rows of a record."""
        n = min(((len(rb) - rb.loc) // self.per_record[id(rb)] for rb in self.rbl), default=0)
        if self.rbl and id(self.decoder) not in self.direct:
            per_record = max(self.decoder.get_max_rows_in_packet(), 1)
            n = min(n, len(self.staging(self.decoder)) // per_record)
        return n

    def decode_records(
        self, block: Any, first: int, last: int, budget: float = math.inf
    ) -> tuple[int, int]:
        """Decode records ``[first, last)`` of `block`, as many as fit; returns
        ``(records decoded, rows kept)``.

        `budget` caps the rows kept: the record that reaches it is the last one decoded and
        its rows beyond the budget are dropped.
        """
        if not self.rbl:
            return last - first, 0
        part = self.decoder
        rb = self.direct.get(id(part))
        if rb is not None and budget == math.inf:
            done, rows = part.decode_block(block, first, last, rb.table, rb.loc, len(rb) - rb.loc)
            rb.loc += rows
            return done, rows
        table = self.staging(part)
        max_rows = len(table)
        last = min(last, first + self.capacity_records())  # no buffer may overflow
        if budget < math.inf:
            max_rows = min(max_rows, max(part.get_max_rows_in_packet(), int(budget)))
        done, rows = part.decode_block(block, first, last, table, 0, max_rows)
        return done, self._scatter([(part, table, rows)], budget) if rows else 0


def _check(done: int, expected: int, part: Any, block: Any, first: int) -> None:
    if done != expected:
        name = getattr(part, "name", type(part).__name__)
        raise RawconvError(
            f"{name} stopped after {done} of the {expected} records of a run sized for it",
            **block.where(first + done, name),
        )


def _within_budget(dest: np.ndarray, budget: float) -> np.ndarray:
    """`dest` (a buffer per row, in input order) with the rows after the first `budget`
    routed ones unrouted (-1)."""
    if budget < math.inf:
        routed = np.flatnonzero(dest >= 0)
        dest[routed[int(max(budget, 0)) :]] = -1
    return dest


def _contiguous(rows: np.ndarray) -> bool:
    return len(rows) > 0 and int(rows[-1]) - int(rows[0]) == len(rows) - 1


def place_rows(
    dst: Any, loc: int, m: int, pieces: list[tuple[Any, np.ndarray, np.ndarray]]
) -> None:
    """Write rows into `dst` at ``loc + pos``: each piece ``(src, rows, pos)`` puts rows
    `rows` of `src` at positions `pos` of the `m` new rows (together they fill all `m`)."""
    if isinstance(dst, TableCol):
        for name, col in dst.items():
            place_rows(col, loc, m, [(src[name], rows, pos) for src, rows, pos in pieces])
        return
    if isinstance(dst, VectorCol):
        _place_vov(dst, loc, m, pieces)
        return
    if not isinstance(dst, ArrayCol):
        raise TypeError(f"cannot place rows into {type(dst).__name__}")
    for src, rows, pos in pieces:
        values = src.nda[rows[0] : rows[-1] + 1] if _contiguous(rows) else src.nda[rows]
        if _contiguous(pos):
            dst.nda[loc + int(pos[0]) : loc + int(pos[-1]) + 1] = values
        else:
            dst.nda[loc + pos] = values


def _place_vov(dst: VectorCol, loc: int, m: int, pieces: list) -> None:
    lengths = np.zeros(m, dtype=np.int64)
    spans = []
    for src, rows, pos in pieces:
        cl = src.cumulative_length.nda
        starts = np.where(rows > 0, cl[rows - 1], 0)
        ln = cl[rows] - starts
        lengths[pos] = ln
        spans.append((src, starts, ln, pos))
    base = int(dst.cumulative_length.nda[loc - 1]) if loc > 0 else 0
    new_cl = base + np.cumsum(lengths)
    need = int(new_cl[-1]) if m else base
    fd = dst.flattened_data
    if need > len(fd):
        fd.resize(max(need, 2 * len(fd)))
    dst_starts = new_cl - lengths
    for src, starts, ln, pos in spans:
        count = int(ln.sum())
        if count == 0:
            continue
        within = np.arange(count) - np.repeat(np.cumsum(ln) - ln, ln)
        fd.nda[np.repeat(dst_starts[pos], ln) + within] = src.flattened_data.nda[
            np.repeat(starts, ln) + within
        ]
    dst.cumulative_length.nda[loc : loc + m] = new_cl
