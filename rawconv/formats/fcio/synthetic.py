"""Realistic-looking synthetic FCIO runs for demos, tests and benchmarks.

`write_synthetic_run` writes a config (with a tracemap), then events with increasing
timestamps, carried-forward dead regions and waveforms made of a baseline, noise and
occasional pulses, optionally interleaved with status records. Waveforms are drawn from
a pool generated once (vectorised), so writing runs at disk speed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .layout import MAX_CARDS
from .writer import CARD_STATUS_DTYPE, FCIOWriter

__all__ = ["write_synthetic_run"]

MAXTICKS = 249999999
"""Tick count at the last PPS of a 250 MHz clock."""

_POOL_BYTES = 32 * 2**20
_CHUNK = 65536
"""Events whose timestamps are generated at once."""


def _channels_per_card(adcbits: int) -> int:
    return 6 if adcbits == 16 else 24


def _waveform_pool(rng: np.random.Generator, n: int, ns: int, adcbits: int):
    """``n`` waveforms (uint16, (n, ns)) and their FPGA headers (uint16, (n, 2))."""
    top = 65535 if adcbits == 16 else 4095
    base = 8000.0 if adcbits == 16 else 2000.0
    baselines = (base + rng.normal(0.0, 20.0, n)).astype(np.float32)
    wf = rng.standard_normal((n, ns), dtype=np.float32)
    wf *= 4.0
    wf += baselines[:, None]
    amp = np.where(rng.random(n) < 0.3, rng.exponential(0.15 * (top - base), n), 0.0)
    amp = np.minimum(amp, top - base - 100).astype(np.float32)
    t0 = rng.uniform(0.4, 0.6, n).astype(np.float32) * ns
    dt = np.maximum(np.arange(ns, dtype=np.float32)[None, :] - t0[:, None], 0.0)
    rise, decay = 4.0, max(ns / 4.0, 1.0)
    wf += amp[:, None] * (-np.expm1(-dt / rise)) * np.exp(-dt / decay)
    wf = np.clip(np.rint(wf), 0, top).astype(np.uint16)
    hdr = np.empty((n, 2), dtype=np.uint16)
    pretrigger = max(1, min(int(0.35 * ns), 256))  # pulses start after 0.4 * ns
    hdr[:, 0] = np.rint(wf[:, :pretrigger].mean(axis=1)).astype(np.uint16)
    energy = np.rint(amp).astype(np.int64)
    if adcbits == 12:  # hdr1 is the integrator: daqenergy = sumlength/blprecision*(hdr1-hdr0)
        energy += hdr[:, 0]
    hdr[:, 1] = np.clip(energy, 0, 65535)
    return wf, hdr


def _pps_ticks(ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return ns // 1_000_000_000, (ns % 1_000_000_000) // 4


class _Clock:
    """Event times and dead regions, generated in chunks (state carried across chunks)."""

    def __init__(self, rng, *, adcs: int, gps: int, start_unix: int, rate_hz: float) -> None:
        self.rng, self.adcs, self.rate_hz = rng, adcs, rate_hz
        self.offsets = np.zeros(10, np.int32)
        self.offsets[[0, 1, 2, 5]] = (start_unix, 123456, start_unix if gps else 0, 1)
        self.t_prev = 1_000_000_000  # run enabled at FPGA time 1 s (to_start = 1 s, 0 µs)
        self.dead_prev = np.zeros(2, np.int64)  # last dead interval (start, stop) in ns
        self.evno = 0

    def chunk(self, n: int):
        """Timestamp, timeoffset and deadregion rows (int32, (n, 10) each) of `n` events."""
        rng = self.rng
        gaps = np.maximum(4 * np.rint(rng.exponential(1e9 / self.rate_hz / 4, n)), 4)
        t = self.t_prev + np.cumsum(gaps.astype(np.int64))
        timestamp = np.zeros((n, 10), np.int32)
        timestamp[:, 0] = np.arange(self.evno, self.evno + n)
        timestamp[:, 1], timestamp[:, 2] = _pps_ticks(t)
        timestamp[:, 3] = MAXTICKS
        timeoffset = np.repeat(self.offsets[None, :], n, axis=0)
        timeoffset[:, 3] = rng.integers(-3, 4, n)
        timeoffset[:, 4] = np.abs(timeoffset[:, 3])
        # occasional dead intervals after the previous readout, carried forward like FlashCam
        start = np.concatenate(([self.t_prev], t[:-1])) + 1000
        stop = np.minimum(start + rng.integers(1000, 50000, n), t - 4)
        valid = (rng.random(n) < 0.02) & (stop > start)
        last = np.maximum.accumulate(np.where(valid, np.arange(n), -1))
        pick = np.maximum(last, 0)
        dead = np.where(last[:, None] >= 0, np.stack([start[pick], stop[pick]], 1), self.dead_prev)
        deadregion = np.zeros((n, 10), np.int32)
        deadregion[:, 0], deadregion[:, 1] = _pps_ticks(dead[:, 0])
        deadregion[:, 2], deadregion[:, 3] = _pps_ticks(dead[:, 1])
        deadregion[:, 4], deadregion[:, 6] = MAXTICKS, self.adcs
        self.t_prev, self.dead_prev, self.evno = int(t[-1]), dead[-1], self.evno + n
        return timestamp, timeoffset, deadregion


def _status_cards(rng, adccards: int, ts: np.ndarray) -> np.ndarray:
    """One master and `adccards` ADC card status blocks at event timestamp `ts`."""
    adccards = min(adccards, MAX_CARDS - 1)  # a status record holds at most 256 cards
    cards = np.zeros(1 + adccards, dtype=CARD_STATUS_DTYPE)
    cards["reqid"] = [0, *(0x2000 + i for i in range(adccards))]
    cards["eventno"], cards["pps"], cards["ticks"] = ts[0], ts[1], ts[2]
    cards["maxticks"] = MAXTICKS
    cards["numenv"] = 13
    cards["numenv"][1:] = 15
    env = cards["environment"]
    env[:, 0:5] = rng.normal(40000, 2000, (cards.size, 5))
    env[:, 5:11] = [1000, 1800, 2500, 3300, 5000, 12000]
    env[:, 11] = rng.normal(1500, 50, cards.size)
    env[:, 12] = rng.normal(300, 10, cards.size)
    env[1:, 13:15] = rng.normal(45000, 1000, (adccards, 2))
    cards["numlinks"][0] = adccards
    cards["linkstates"][0, : min(adccards, cards["linkstates"].shape[1])] = 1
    return cards


def write_synthetic_run(
    target: str | os.PathLike | BinaryIO,
    *,
    n_events: int,
    adcs: int,
    eventsamples: int,
    mode: str = "full",
    adcbits: int = 16,
    traces_per_event: int | None = None,
    status_every: int = 0,
    seed: int = 0,
    tracemap: bool = True,
    gps: int = 0,
    rate_hz: float = 1000.0,
    start_unix: int = 1_700_000_000,
) -> None:
    """Write a realistic-looking FCIO run.

    Parameters
    ----------
    target
        output path or binary file object (see `FCIOWriter`).
    n_events
        number of event records.
    adcs, eventsamples
        number of ADC traces and samples per trace (no trigger traces).
    mode
        ``"full"`` (tag 3), ``"sparse"`` (tag 6) or ``"header"`` (tag 7 event headers).
    adcbits
        16 (6 inputs per card, baseline ~8000) or 12 (24 inputs per card, baseline ~2000).
    traces_per_event
        listed traces per sparse/header event (a random sorted subset). None: a random
        count in ``1..adcs`` per sparse event, all traces per header event.
    status_every
        write a status record (1 master + adccards cards) after every this many events;
        0 writes none.
    seed
        seed of the numpy random generator (the output is a function of the arguments).
    tracemap
        write the tracemap: card address ``0x210 + board``, inputs ``0..5`` / ``0..23``.
    gps
        config gps value; when non-zero, timeoffset[2] (to_master_sec) holds the unix start.
    rate_hz
        mean event rate (exponential gaps, 4 ns ticks).
    start_unix
        unix seconds of the FPGA clock's zero (timeoffset[0]).
    """
    if mode not in ("full", "sparse", "header"):
        raise ValueError(f"mode must be 'full', 'sparse' or 'header', got {mode!r}")
    if n_events < 0 or status_every < 0:
        raise ValueError("n_events and status_every must be >= 0")
    if traces_per_event is not None and not 1 <= traces_per_event <= adcs:
        raise ValueError(f"traces_per_event must lie in [1, {adcs}], got {traces_per_event}")
    if adcbits not in (12, 16):
        raise ValueError(f"adcbits must be 12 or 16, got {adcbits}")
    rng = np.random.default_rng(seed)
    per_card = _channels_per_card(adcbits)
    adccards = -(-adcs // per_card)
    index = np.arange(adcs)
    tmap = ((0x210 + index // per_card) << 16) | (index % per_card) if tracemap else None
    # a large pool: repeated waveforms would make the data unrealistically compressible
    pool_n = int(max(8, _POOL_BYTES // (2 * eventsamples)))
    pool, pool_hdr = _waveform_pool(rng, pool_n, eventsamples, adcbits)
    clock = _Clock(rng, adcs=adcs, gps=gps, start_unix=start_unix, rate_hz=rate_hz)
    with FCIOWriter(target) as writer:
        writer.write_config(
            adcs=adcs,
            eventsamples=eventsamples,
            adcbits=adcbits,
            adccards=adccards,
            gps=gps,
            tracemap=tmap,
        )
        for first in range(0, n_events, _CHUNK):
            count = min(_CHUNK, n_events - first)
            chunk = clock.chunk(count)
            full_rows = rng.integers(0, pool_n, (count if mode == "full" else 0, adcs))
            for i, (ts, to, dr) in enumerate(zip(*chunk, strict=True)):
                meta = {"timestamp": ts, "timeoffset": to, "deadregion": dr}
                if mode == "full":
                    rows = full_rows[i]
                    writer.write_event(pool[rows], pool_hdr[rows], **meta)
                else:
                    n = traces_per_event
                    if n is None:
                        n = adcs if mode == "header" else int(rng.integers(1, adcs + 1))
                    tl = index if n == adcs else np.sort(rng.choice(adcs, n, replace=False))
                    rows = rng.integers(0, pool_n, n)
                    if mode == "sparse":
                        writer.write_sparse_event(tl, pool[rows], pool_hdr[rows], **meta)
                    else:
                        writer.write_event_header(tl, pool_hdr[rows], **meta)
                if status_every and (int(ts[0]) + 1) % status_every == 0:
                    pps, usec = int(ts[1]), int(ts[2]) * 4 // 1000
                    statustime = [pps, usec, start_unix + pps, usec, 0, 1, 0, 0, 0, 0]
                    cards = _status_cards(rng, adccards, ts)
                    writer.write_status(status=1, statustime=statustime, cards=cards)


def write_demo_run(out_dir: Path, events: int) -> Path:
    """The demo run of ``python -m rawconv.demo``: sparse events of 3 of 6 traces x 6000
    samples, a status record every 1000 events; returns its path."""
    path = Path(out_dir) / "demo_run.fcio"
    write_synthetic_run(path, n_events=events, adcs=6, eventsamples=6000, mode="sparse",
                        traces_per_event=3, status_every=1000, seed=1)  # fmt: skip
    return path
