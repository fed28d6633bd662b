"""Starting ORCA decoding at any record: the index the parallel layer plans from, and the
state a chunk needs there.

:func:`build_orca_index` walks the input with the streamer's own block loop (record
headers, the FCIO records inside FCIO-wrapped records, damaged regions resynchronised as a
serial conversion resynchronises) into the record table and, per FlashCam listener, the
event state every FCIO event record leaves (:mod:`..fcio.index_kernels`).
:func:`orca_resume_states` turns it into an :class:`OrcaResume` per chunk: its byte range,
the packet counter, the configuration records to apply again, and each listener's event
state with the dead-time bookkeeping replayed once per file.

Table shapes come from the first block of the file, which every chunk reads as a serial
conversion does (:mod:`.prepare`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...buffers import RawBufferLibrary
from ...errors import CorruptDataError
from ...sources import Source, open_source
from ..base import RECORD_DTYPE, RecordIndex, RecordRange, ResumeState
from ..fcio.decoders import FCIOEventState
from ..fcio.index import compact_dead_time, event_arrays
from ..fcio.index_kernels import STATE_FIELDS, event_states, replay_dead_time
from .layout import KIND_FC_CONFIG, KIND_FCIO_CONFIG
from .recovery import N_CHAIN
from .resume_state import OrcaResume

__all__ = ["OrcaIndex", "OrcaResume", "build_orca_index", "orca_resume_states"]

CONFIG_KINDS = (KIND_FC_CONFIG, KIND_FCIO_CONFIG)
_EVENT_TAGS = (3, 6, 7)


@dataclass
class OrcaIndex(RecordIndex):
    """Records of an ORCA input and the per-listener event state to resume decoding."""

    records: np.ndarray
    """RECORD_DTYPE rows (byte range, payload kind layout.KIND_* as ``tag``, packet id) of
    the data records (the file header is not one), in file order."""
    ev_rec: np.ndarray
    """Record index of every FCIO event row (events and event headers of any listener)."""
    ev_fcid: np.ndarray
    """Listener of every event row."""
    ev_state: np.ndarray
    """int32 (n, STATE_FIELDS): the state each event leaves for its listener."""
    fcids: np.ndarray
    """Listeners with an FCIO configuration, with their ``adcs`` and ``ntraces``."""
    adcs: np.ndarray
    ntraces: np.ndarray
    size: int
    """Bytes the records and damaged regions cover."""

    @classmethod
    def build(cls, source: Source) -> OrcaIndex:
        return build_orca_index(source)

    def resume_states(self, source: Source, ranges: list[RecordRange]) -> list[ResumeState]:
        if not ranges:
            return []
        return [ResumeState(0, ranges[0].stop), *orca_resume_states(self, ranges[1:], source)]

    def boundaries(self) -> np.ndarray:
        """Record indices where a chunk may start: any record but the first, except near a
        damaged region (bytes skipped before one of the last N_CHAIN + 1 records), where
        the resynchronisation of a serial conversion looks past the record."""
        recs = self.records
        if len(recs) < 2:
            return np.zeros(0, np.int64)
        gap = np.zeros(len(recs), dtype=bool)
        gap[1:] = recs["start"][1:] != recs["stop"][:-1]
        near = np.convolve(gap, np.ones(N_CHAIN + 1, dtype=int))[: len(recs)] > 0
        ok = ~near
        ok[0] = False
        return np.flatnonzero(ok)


def build_orca_index(source: Source | str) -> OrcaIndex:
    """Walk an ORCA input and build its :class:`OrcaIndex`."""
    from .streamer import OrcaStreamer

    source = open_source(source)
    streamer = OrcaStreamer()
    streamer.open_stream(source, rb_lib=RawBufferLibrary())
    try:
        configured = {f: lst for f, lst in sorted(streamer.listeners.items()) if lst.config}
        running = {f: FCIOEventState(lst.config.ntraces) for f, lst in configured.items()}
        tables, ev_rec, ev_fcid, ev_state = [], [], [], []
        blk, n_before = streamer._block, 0
        while True:
            n = blk.n
            table = np.empty(n, RECORD_DTYPE)
            table["start"] = blk.base + blk.start[:n]
            table["stop"] = table["start"] + 4 * blk.words[:n]
            table["tag"], table["pid"] = blk.kind[:n], blk.pid[:n]
            tables.append(table)
            for fcid, lst in configured.items():
                sub = lst.block
                if sub is None or sub.n == 0:
                    continue
                st = running[fcid]
                rows = np.zeros((sub.n, STATE_FIELDS), np.int32)
                k = event_states(
                    sub.buf, sub.tag[: sub.n], sub.frame0[: sub.n], sub.nframes[: sub.n],
                    sub.frame_off, sub.frame_len, sub.n, lst.config.ntraces, st.timeoffset,
                    st.timestamp, st.deadregion, st.sizes, rows,
                )  # fmt: skip
                if k < 0:
                    raise CorruptDataError(
                        "FCIO event prefix frames do not parse", **sub.where(-k - 1)
                    )
                is_event = np.isin(sub.tag[: sub.n], _EVENT_TAGS)
                ev_rec.append(blk.f_orec[lst.idx[is_event]] + n_before)
                ev_fcid.append(np.full(k, fcid, np.int64))
                ev_state.append(rows[:k])
            n_before += n
            streamer._cursor = blk.n
            if not streamer._load():
                break
        size = streamer.n_bytes_read
    finally:
        streamer.close_stream()
    records = np.concatenate(tables) if tables else np.empty(0, RECORD_DTYPE)
    return OrcaIndex(
        records=records,
        ev_rec=_cat(ev_rec, np.empty(0, np.int64)).astype(np.int64),
        ev_fcid=_cat(ev_fcid, np.empty(0, np.int64)),
        ev_state=_cat(ev_state, np.empty((0, STATE_FIELDS), np.int32)),
        fcids=np.array(list(configured), np.int64),
        adcs=np.array([lst.config.adcs for lst in configured.values()], np.int64),
        ntraces=np.array([lst.config.ntraces for lst in configured.values()], np.int64),
        size=int(size),
    )


def _cat(parts: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
    return np.concatenate(parts) if parts else empty


def orca_resume_states(
    index: OrcaIndex, ranges: list[RecordRange], source: Any = None
) -> list[OrcaResume]:
    """States to decode each record range of `ranges` (ascending, none at record 0); the
    dead-time bookkeeping of each listener is replayed once, from range to range."""
    recs = index.records
    configs = np.flatnonzero(np.isin(recs["tag"], CONFIG_KINDS))
    states = {int(f): FCIOEventState(int(nt)) for f, nt in zip(index.fcids, index.ntraces)}
    adcs = {int(f): int(a) for f, a in zip(index.fcids, index.adcs)}
    mine = {f: np.flatnonzero(index.ev_fcid == f) for f in states}
    done = dict.fromkeys(states, 0)
    out = []
    for rng in ranges:
        first = rng.first
        before = configs[configs < first]
        listeners = {}
        for fcid, state in states.items():
            rows = mine[fcid]
            n_events = int(np.searchsorted(index.ev_rec[rows], first))
            if n_events == 0:
                continue
            todo = index.ev_state[rows[done[fcid] : n_events]]
            ok = replay_dead_time(
                todo, len(todo), adcs[fcid], state.enable_ns, state.cur_dead, state.total_dead,
                state.q_begin, state.q_end, state.q_read, state.q_write, state.q_fill,
            )  # fmt: skip
            if not ok:
                raise CorruptDataError(
                    f"listener {fcid}: dead interval queue overflow", path=str(source or ""),
                    record=int(recs["pid"][first]),
                )  # fmt: skip
            done[fcid] = n_events
            last = index.ev_state[rows[n_events - 1]]
            listeners[fcid] = (event_arrays(last), compact_dead_time(state))
        out.append(
            OrcaResume(
                start=int(recs["start"][first]), stop=rng.stop, first_record=first,
                pid_counter=int(recs["pid"][first]) - 1,
                configs=tuple(zip(recs["start"][before].tolist(), recs["stop"][before].tolist())),
                listeners=listeners,
            )
        )
    return out
