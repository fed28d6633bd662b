"""The FCIO record index, and the state that lets decoding start at any record.

:func:`build_index` walks an FCIO input once (large sequential reads, frame headers only,
plus the few prefix frames of event records) into:

- the record table: start / stop offsets, tag and packet id of every record;
- per event record, the state it leaves (see :mod:`.index_kernels`).

:func:`resume_state` turns the index into an :class:`FCIOResume` for a record: the config in
force, the event arrays, the dead-time bookkeeping replayed up to that record and the packet
counter, so that a decoder started there produces exactly the rows of a full decode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ...blockreader import BlockReader
from ...errors import CorruptDataError
from ...sources import Source, open_source
from ..base import RECORD_DTYPE, RecordIndex, RecordRange, ResumeState
from .block import RecordBlock
from .config import FCIOConfig
from .decoders import FCIOEventState
from .index_kernels import STATE_FIELDS, event_states, replay_dead_time
from .kernels import (
    INDEX_BAD_FRAME_SIZE,
    INDEX_BAD_HEADER,
    INDEX_FULL,
    INDEX_NEED_MORE,
    INDEX_ORPHAN_FRAME,
    TAG_PROTOCOL,
    assign_packet_ids,
    index_records,
)
from .layout import FSP_TAGS, MAX_FRAME_BYTES, TAG_CONFIG

__all__ = [
    "FCIOIndex", "FCIOResume", "advance_event_state", "build_index", "compact_dead_time",
    "event_arrays", "expand_dead_time", "resume_state", "resume_states",
]  # fmt: skip


@dataclass
class FCIOIndex(RecordIndex):
    """Records of an FCIO input and the per-event state to resume decoding."""

    records: np.ndarray
    """RECORD_DTYPE rows, in file order (protocol headers have tag 0, packet id -1)."""
    event_rows: np.ndarray
    """Record index of every event record (tags 3, 6, 7)."""
    event_state: np.ndarray
    """int32 (n_events, STATE_FIELDS): the state each event leaves."""
    size: int
    """Bytes covered by complete records (a truncated tail is not)."""

    @classmethod
    def build(cls, source: Source) -> FCIOIndex:
        return build_index(source)

    def resume_states(self, source: Source, ranges: list[RecordRange]) -> list[ResumeState]:
        if not ranges:
            return []
        first = ResumeState(0, ranges[0].stop)
        return [first, *resume_states(self, source, ranges[1:])]

    def boundaries(self) -> np.ndarray:
        """Record indices where a chunk may start: after the first config (which the first
        chunk writes as its header), not after an FSP record (it belongs to the record that
        follows it) and not on a protocol header."""
        tags = self.records["tag"]
        ok = np.ones(len(tags), dtype=bool)
        ok[1:] &= ~np.isin(tags[:-1], FSP_TAGS)
        ok &= tags != TAG_PROTOCOL
        configs = np.flatnonzero(tags == TAG_CONFIG)
        ok[: configs[0] + 1 if len(configs) else len(tags)] = False
        return np.flatnonzero(ok)


@dataclass(frozen=True)
class FCIOResume(ResumeState):
    """What an FCIOStreamer needs to start decoding at a record inside an input: the
    FCIOConfig record in force, the packet counter before the record, the event arrays and
    the dead-time bookkeeping (:func:`compact_dead_time`) that the events before it leave."""

    config_bytes: bytes = b""
    pid_counter: int = -1
    event_arrays: tuple[np.ndarray, ...] = field(repr=False, default=())
    dead_time: Mapping[str, np.ndarray] = field(repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.config_bytes:
            raise ValueError("an FCIOResume needs the FCIOConfig record in force")
        if self.event_arrays and [len(a) for a in self.event_arrays] != [10, 10, 10, 3]:
            raise ValueError("FCIOResume.event_arrays must be 4 arrays of 10, 10, 10, 3")

    def event_state(self, ntraces: int) -> FCIOEventState:
        """The FCIOEventState at the start record."""
        state = FCIOEventState(ntraces)
        if self.event_arrays:
            state.timeoffset[:], state.timestamp[:], state.deadregion[:], state.sizes[:] = (
                self.event_arrays
            )
        if self.dead_time:
            expand_dead_time(self.dead_time, state)
        return state


def event_arrays(row: np.ndarray) -> tuple[np.ndarray, ...]:
    """The timeoffset / timestamp / deadregion / sizes arrays an event state row leaves."""
    arrays = tuple(np.zeros(n, np.int32) for n in (10, 10, 10, 3))
    arrays[0][:7], arrays[1][:4], arrays[2][:7] = row[1:8], row[8:12], row[12:19]
    arrays[3][2] = row[19]
    return arrays


def compact_dead_time(state: FCIOEventState) -> dict[str, np.ndarray]:
    """The dead-time bookkeeping without its mostly empty queues (small enough to ship)."""
    q = state.q_begin.shape[1]
    traces, begins, ends = [], [], []
    for t in np.flatnonzero(state.q_fill).tolist():
        slots = (state.q_read[t] + np.arange(state.q_fill[t])) % q
        traces += [t] * len(slots)
        begins += state.q_begin[t, slots].tolist()
        ends += state.q_end[t, slots].tolist()
    last_end = state.q_end[np.arange(len(state.q_write)), state.q_write]
    return {
        "enable_ns": state.enable_ns.copy(), "cur_dead": state.cur_dead.copy(),
        "total_dead": state.total_dead.copy(), "last_end": last_end.copy(),
        "q_trace": np.asarray(traces, np.int64), "q_begin": np.asarray(begins, np.int64),
        "q_end": np.asarray(ends, np.int64),
    }  # fmt: skip


def expand_dead_time(compact: dict[str, np.ndarray], state: FCIOEventState) -> None:
    state.enable_ns[:] = compact["enable_ns"]
    state.cur_dead[:] = compact["cur_dead"]
    state.total_dead[:] = compact["total_dead"]
    q = state.q_begin.shape[1]
    state.q_write[:] = q - 1
    state.q_end[:, q - 1] = compact["last_end"]  # what a new interval must end after
    for t in np.unique(compact["q_trace"]).tolist():
        mine = compact["q_trace"] == t
        k = int(mine.sum())
        state.q_begin[t, :k] = compact["q_begin"][mine]
        state.q_end[t, :k] = compact["q_end"][mine]
        state.q_read[t], state.q_write[t], state.q_fill[t] = 0, k - 1, k


def advance_event_state(
    state: FCIOEventState, block: RecordBlock, lo: int, hi: int, ntraces: int, adcs: int
) -> None:
    """Advance `state` over the event records ``[lo, hi)`` of `block` without decoding them
    (what decoding them would leave; other records are passed over)."""
    n = hi - lo
    if n <= 0:
        return
    rows = np.zeros((n, STATE_FIELDS), np.int32)
    sl = slice(lo, hi)
    k = event_states(
        block.buf, block.tag[sl], block.frame0[sl], block.nframes[sl], block.frame_off,
        block.frame_len, n, ntraces, state.timeoffset, state.timestamp, state.deadregion,
        state.sizes, rows,
    )  # fmt: skip
    if k < 0:
        raise CorruptDataError("event record prefix frames do not parse", **block.where(lo - k - 1))
    ok = replay_dead_time(
        rows, k, adcs, state.enable_ns, state.cur_dead, state.total_dead, state.q_begin,
        state.q_end, state.q_read, state.q_write, state.q_fill,
    )  # fmt: skip
    if not ok:
        raise CorruptDataError("dead interval queue overflow", **block.where(hi - 1))


def _raise_index_error(status: int, source: Source, offset: int) -> None:
    reason = {
        INDEX_BAD_HEADER: "impossible frame header",
        INDEX_ORPHAN_FRAME: "data frame before any record tag",
        INDEX_BAD_FRAME_SIZE: "frame length larger than any frame of this configuration",
    }[status]
    raise CorruptDataError(reason, path=source.name, offset=offset)


def build_index(source: Source | str, block_bytes: int = 16 << 20) -> FCIOIndex:
    """Walk an FCIO input and build its :class:`FCIOIndex`."""
    source = open_source(source)
    block = RecordBlock.allocate(source.name, 0, 1 << 16, 1 << 18)
    reader = BlockReader(source, block_bytes, mirror=block)
    records, event_rows, states = [], [], []
    st = [
        np.zeros(10, np.int32),
        np.zeros(10, np.int32),
        np.zeros(10, np.int32),
        np.zeros(3, np.int32),
    ]
    counter, n_before = -1, 0
    ntraces, max_frame = 0, MAX_FRAME_BYTES
    while True:
        reader.read()
        n, _, nxt, status, spos = index_records(
            block.buf, reader.fill, 0, reader.eof, max_frame, block.tag, block.start,
            block.stop, block.frame0, block.nframes, block.frame_off, block.frame_len,
        )  # fmt: skip
        if status == INDEX_NEED_MORE and n == 0:
            reader.grow()
            continue
        base = reader.base
        if status in (INDEX_BAD_HEADER, INDEX_ORPHAN_FRAME, INDEX_BAD_FRAME_SIZE):
            _raise_index_error(status, source, base + spos)
        counter = assign_packet_ids(block.tag, n, counter, min(FSP_TAGS), max(FSP_TAGS), block.pid)
        table = np.empty(n, RECORD_DTYPE)
        table["start"], table["stop"] = block.start[:n] + base, block.stop[:n] + base
        table["tag"], table["pid"] = block.tag[:n], block.pid[:n]
        # configs change the trace count that full events imply: walk the block in pieces
        first = 0
        for c in [*np.flatnonzero(block.tag[:n] == TAG_CONFIG).tolist(), n]:
            if c > first:
                rows = np.zeros((c - first, STATE_FIELDS), np.int32)
                sub = slice(first, c)
                k = event_states(
                    block.buf, block.tag[sub], block.frame0[sub], block.nframes[sub],
                    block.frame_off, block.frame_len, c - first, ntraces, *st, rows,
                )  # fmt: skip
                if k < 0:
                    raise CorruptDataError(
                        "event record prefix frames do not parse", **block.where(first - k - 1)
                    )
                is_event = np.isin(block.tag[sub], (3, 6, 7))
                event_rows.append(np.flatnonzero(is_event) + first + n_before)
                states.append(rows[:k])
            if c < n:
                offsets, lengths = block.frames(c)
                cfg = FCIOConfig.from_frames(block.buf, offsets, lengths, block.where(c))
                ntraces = cfg.ntraces
                max_frame = max(cfg.ntraces * cfg.trace_frame_bytes, 1 << 20)
            first = c + 1
        records.append(table)
        n_before += n
        if reader.eof and status != INDEX_FULL:
            break
        reader.compact(nxt)
    all_records = np.concatenate(records) if records else np.empty(0, RECORD_DTYPE)
    size = int(all_records["stop"][-1]) if len(all_records) else 0
    return FCIOIndex(
        records=all_records,
        event_rows=np.concatenate(event_rows) if event_rows else np.empty(0, np.int64),
        event_state=np.concatenate(states) if states else np.empty((0, STATE_FIELDS), np.int32),
        size=size,
    )


def resume_state(index: FCIOIndex, source: Source | str, record: int, stop: int) -> FCIOResume:
    """The state to decode records ``[record, stop)`` (record indices) of `source`."""
    recs = index.records
    start = int(recs["start"][record])
    end = int(recs["stop"][stop - 1]) if stop > record else start
    return resume_states(index, source, [RecordRange(record, stop, start, end)])[0]


def resume_states(
    index: FCIOIndex, source: Source | str, ranges: list[RecordRange]
) -> list[FCIOResume]:
    """States to decode each record range of `ranges` (ascending, none starting at record
    0); the dead-time bookkeeping is replayed once, from range to range."""
    source = open_source(source)
    recs = index.records
    configs = np.flatnonzero(recs["tag"] == TAG_CONFIG)
    state: FCIOEventState | None = None
    done = 0
    out = []
    for rng in ranges:
        record = rng.first
        before = configs[configs <= record]
        if len(before) == 0:
            raise CorruptDataError(
                "no FCIOConfig before the record", path=source.name, record=record
            )
        cfg_rec = recs[before[-1]]
        config_bytes = source.read(int(cfg_rec["start"]), int(cfg_rec["stop"]))
        pids = recs["pid"][record:]
        valid = pids[pids >= 0]
        counter = int(valid[0]) - 1 if len(valid) else int(recs["pid"].max(initial=-1))
        where = {"start": rng.start, "stop": rng.stop, "first_record": record}
        n_events = int(np.searchsorted(index.event_rows, record))
        if n_events == 0:
            out.append(FCIOResume(**where, config_bytes=config_bytes, pid_counter=counter))
            continue
        cfg = _parse_config(config_bytes, source)
        last = index.event_state[n_events - 1]
        if state is None:
            state = FCIOEventState(cfg.ntraces)
        # as in FCIOStreamer, the bookkeeping runs on across configs of the same shape
        ok = replay_dead_time(
            index.event_state[done:n_events], n_events - done, cfg.adcs,
            state.enable_ns, state.cur_dead, state.total_dead, state.q_begin, state.q_end,
            state.q_read, state.q_write, state.q_fill,
        )  # fmt: skip
        if not ok:
            raise CorruptDataError("dead interval queue overflow", path=source.name, record=record)
        done = n_events
        out.append(
            FCIOResume(
                **where, config_bytes=config_bytes, pid_counter=counter,
                event_arrays=event_arrays(last), dead_time=compact_dead_time(state),
            )
        )
    return out


def _parse_config(config_bytes: bytes, source: Source) -> FCIOConfig:
    block = RecordBlock.allocate(source.name, len(config_bytes), 4, 64)
    block.buf[:] = np.frombuffer(config_bytes, np.uint8)
    n, *_ = index_records(
        block.buf, len(config_bytes), 0, True, MAX_FRAME_BYTES, block.tag, block.start,
        block.stop, block.frame0, block.nframes, block.frame_off, block.frame_len,
    )  # fmt: skip
    if n != 1 or block.tag[0] != TAG_CONFIG:
        raise CorruptDataError("config record of the index does not parse", path=source.name)
    offsets, lengths = block.frames(0)
    return FCIOConfig.from_frames(block.buf, offsets, lengths, block.where(0))
