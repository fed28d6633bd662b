"""Decoding FCIO-wrapped ORCA records: runs of events / event headers in one kernel call
per listener and decoder, configs and status records one at a time.

Events and event headers of one listener share its event state, so a run stops where a
listener switches between the two; within a run, the rows of every listener are merged in
packet order by :class:`~rawconv.routing.MergeRoute`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...errors import CorruptDataError, RawconvError
from ..fcio.index import advance_event_state
from .fcio_kernels import fcio_row_bounds
from .layout import FCIO_HOT_KINDS, KIND_FCIO_CONFIG, KIND_FCIO_EVENT

RUN_MIN = 64
"""Shortest run decoded while a buffer with rows limits it (such buffers are handed out)."""
_EVENT_TAGS = (3, 5, 6)
_HEADER_TAG = 7
_FSP_TAGS = (8, 9, 10)


class FcioRunsMixin:
    """FCIO part of :class:`~.streamer.OrcaStreamer`."""

    def _fcio_hot_end(self, i: int, single: bool) -> int:
        """End of the run of FCIO event / event-header records from ORCA record `i`."""
        blk = self._block
        if single:
            return i + 1
        kinds = blk.kind[i : blk.n]
        ok = np.isin(kinds, FCIO_HOT_KINDS) & (blk.bad[i : blk.n] == 0)
        end = i + (int(np.argmin(ok)) if not ok.all() else len(ok))
        fi, fj = int(blk.fcio[i]), int(blk.fcio[end])
        tags = blk.f_tag[fi:fj]
        stateful = np.where(np.isin(tags, _EVENT_TAGS), 1, np.where(tags == _HEADER_TAG, 2, 0))
        fcids = blk.f_fcid[fi:fj]
        for fcid in np.unique(fcids).tolist():
            sel = np.flatnonzero((fcids == fcid) & (stateful != 0))
            switch = np.flatnonzero(stateful[sel] != stateful[sel[0]]) if len(sel) else []
            if len(switch):
                end = min(end, int(blk.f_orec[fi + sel[switch[0]]]))
        return end

    def _decode_fcio_hot(self, i: int, single: bool) -> None:
        blk = self._block
        end = self._fcio_hot_end(i, single)
        fi, fj = int(blk.fcio[i]), int(blk.fcio[end])
        bounds = fcio_row_bounds(blk.buf, blk.f_tag, blk.f_fcid, blk.f_frame0, blk.f_nframes,
                                 blk.frame_off, blk.frame_len, fi, fj, self.ntr_lut)  # fmt: skip
        per_record = np.bincount(blk.f_orec[fi:fj] - i, weights=bounds, minlength=end - i)
        per_record = per_record.astype(np.int64)
        is_event = blk.kind[i:end] == KIND_FCIO_EVENT
        present = [self.listeners[f] for f in np.unique(blk.f_fcid[fi:fj]).tolist()]
        limit = end - i
        for route, mask in ((self._route("ORFCIOEventDecoder"), is_event),
                            (self._route("ORFCIOEventHeaderDecoder"), ~is_event)):  # fmt: skip
            if route is None or not mask.any():
                continue
            mine = np.flatnonzero(mask)
            parts = [p for lst in present for p in route.owner.parts_of(lst)]
            k = self._fit(i, route, per_record[mine], parts)
            if k is None:
                return  # buffers marked full: read_chunk hands them out first
            if k < len(mine):
                limit = min(limit, int(mine[k]))
        budget = self.rows_left()
        if budget < math.inf and limit > 1 and per_record[:limit].sum() > budget:
            limit = 1
        end = i + limit
        fj = int(blk.fcio[end])
        jobs: dict[int, tuple[Any, list]] = {}
        for lst in present:
            lo, hi = lst.span(fi, fj)
            if hi <= lo:
                continue
            tags = lst.block.tag[lo:hi]
            event_kind = bool(np.isin(tags, _EVENT_TAGS).any())
            route = self._route("ORFCIOEventDecoder" if event_kind else "ORFCIOEventHeaderDecoder")
            if route is None:  # not written, but the state goes on as in a full decode
                if lst.state is not None and lst.config is not None:
                    advance_event_state(lst.state, lst.block, lo, hi, lst.config.ntraces,
                                        lst.config.adcs)  # fmt: skip
                continue
            entry = jobs.setdefault(id(route), (route, []))
            entry[1].extend((p, lst.block, lo, hi) for p in route.owner.parts_of(lst))
        for route, route_jobs in jobs.values():
            self.n_rows_read += route.decode(route_jobs, self.rows_left())
        self._advance(end)

    def _decode_fcio_single(self, i: int) -> None:
        """A config or status record: one FCIO record (and its FSP companion)."""
        blk = self._block
        fi, fj = int(blk.fcio[i]), int(blk.fcio[i + 1])
        lst = self.listeners[int(blk.f_fcid[fi])]
        kind = int(blk.kind[i])
        by_tag = {int(blk.f_tag[k]): k for k in range(fi, fj)}
        if kind == KIND_FCIO_CONFIG:
            why = self._apply_fcio_config(i)
            if why is not None:
                self._garbage_record(i, why)
                self._advance(i + 1)
                return
        decoder = self._by_ident[int(blk.ident[i])]
        route = self._route(decoder.name)
        if route is None:
            self.skipped_records[decoder.name] = self.skipped_records.get(decoder.name, 0) + 1
            self._advance(i + 1)
            return
        parts = route.owner.parts_of(lst)
        if self._fit(i, route, np.array([decoder.get_max_rows_in_packet()]), parts) is None:
            return
        jobs = []
        for part in parts:
            tag = _part_tag(part, kind)
            if tag in by_tag:
                jobs.append((part, blk.fcio_subset(np.array([by_tag[tag]])), 0, 1))
        self.n_rows_read += route.decode(jobs, self.rows_left())
        self._advance(i + 1)

    def _apply_fcio_config(self, i: int) -> str | None:
        """Apply the FCIOConfig (and FSPConfig) of ORCA record `i` to its listener; the
        reason when it does not parse or does not fit."""
        blk = self._block
        fi, fj = int(blk.fcio[i]), int(blk.fcio[i + 1])
        lst = self.listeners[int(blk.f_fcid[fi])]
        by_tag = {int(blk.f_tag[k]): k for k in range(fi, fj)}
        try:
            config = lst.config_dec.parse(blk.fcio_subset(np.array([by_tag[1]])), 0)
            if 8 in by_tag:
                lst.fsp_config.parse(blk.fcio_subset(np.array([by_tag[8]])), 0)
            lst.apply(config)
        except CorruptDataError as exc:
            return exc.reason
        return None

    def _fit(self, i: int, route: Any, rows: np.ndarray, parts: list) -> int | None:
        """How many of the records from `i` (row bounds `rows`) the next run takes; None
        when buffers were marked full to make room (no progress now: read_chunk hands
        them out first). Runs shorter than RUN_MIN records are avoided that way."""
        k = route.fit(rows, parts)
        want = min(len(rows), RUN_MIN)
        if k < want:
            if route.make_room(rows, parts, want):
                return None
            if k == 0:
                raise RawconvError(
                    "a record does not fit in its buffers; raise buffer_size",
                    **self._block.where(i, self._id_name(int(self._block.ident[i]))),
                )
        return k


def _part_tag(part: Any, kind: int) -> int:
    """The FCIO tag a config / status part decodes."""
    fsp = part.keys and str(part.keys[0]).startswith("swtid_")
    if kind == KIND_FCIO_CONFIG:
        return 8 if fsp else 1
    return 10 if fsp else 4
