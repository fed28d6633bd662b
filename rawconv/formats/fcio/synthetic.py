"""Realistic-looking synthetic FCIO runs for demos, tests and benchmarks.

`write_synthetic_run` writes a config (with a tracemap), then events with increasing
timestamps, carried-forward dead regions and waveforms made of a baseline, noise and
occasional pulses, optionally interleaved with status records. Waveforms are drawn from
a pool generated once (vectorised), so writing runs at disk speed.
"""

from __future__ import annotations

import os
from typing import BinaryIO

import numpy as np

from .writer import CARD_STATUS_DTYPE, FCIOWriter

__all__ = ["write_synthetic_run"]

MAXTICKS = 249999999
"""Tick count at the last PPS of a 250 MHz clock."""

_POOL_BYTES = 32 * 2**20


def _channels_per_card(adcbits: int) -> int:
    return 6 if adcbits == 16 else 24


def _waveform_pool(rng: np.random.Generator, n: int, ns: int, adcbits: int):
    """``n`` waveforms (uint16, (n, ns)) and their FPGA headers (uint16, (n, 2))."""
    top = 65535 if adcbits == 16 else 4095
    base = 8000.0 if adcbits == 16 else 2000.0
    baselines = base + rng.normal(0.0, 20.0, n)
    wf = baselines[:, None] + rng.normal(0.0, 4.0, (n, ns))
    amp = np.where(rng.random(n) < 0.3, rng.exponential(0.15 * (top - base), n), 0.0)
    amp = np.minimum(amp, top - base - 100)
    t0 = rng.uniform(0.4, 0.6, n) * ns
    dt = np.arange(ns)[None, :] - t0[:, None]
    rise, decay = 4.0, max(ns / 4.0, 1.0)
    with np.errstate(over="ignore"):
        shape = np.where(dt > 0, (1 - np.exp(-dt / rise)) * np.exp(-dt / decay), 0.0)
    wf += amp[:, None] * shape
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


def _event_arrays(rng, n: int, adcs: int, gps: int, start_unix: int, rate_hz: float):
    """Per-event timestamp, timeoffset and deadregion rows (int32, (n, 10) each)."""
    run_start = 1_000_000_000  # run enabled at FPGA time 1 s (to_start = 1 s, 0 µs)
    gaps = np.maximum(4 * np.rint(rng.exponential(1e9 / rate_hz / 4, n)).astype(np.int64), 4)
    t = run_start + np.cumsum(gaps)
    pps, ticks = _pps_ticks(t)
    timestamp = np.zeros((n, 10), np.int32)
    timestamp[:, 0] = np.arange(n)
    timestamp[:, 1], timestamp[:, 2], timestamp[:, 3] = pps, ticks, MAXTICKS

    timeoffset = np.zeros((n, 10), np.int32)
    timeoffset[:, 0], timeoffset[:, 1] = start_unix, 123456
    timeoffset[:, 2] = start_unix if gps else 0
    timeoffset[:, 3] = rng.integers(-3, 4, n)
    timeoffset[:, 4] = np.abs(timeoffset[:, 3])
    timeoffset[:, 5], timeoffset[:, 6] = 1, 0

    # occasional dead intervals after the previous readout, carried forward like FlashCam
    prev = np.concatenate(([run_start], t[:-1]))
    start = prev + 1000
    stop = np.minimum(start + rng.integers(1000, 50000, n), t - 4)
    valid = (rng.random(n) < 0.02) & (stop > start)
    last = np.maximum.accumulate(np.where(valid, np.arange(n), -1))
    have = last >= 0
    deadregion = np.zeros((n, 10), np.int32)
    for col, values in ((0, start), (2, stop)):
        p, k = _pps_ticks(values[np.maximum(last, 0)])
        deadregion[:, col] = np.where(have, p, 0)
        deadregion[:, col + 1] = np.where(have, k, 0)
    deadregion[:, 4], deadregion[:, 5], deadregion[:, 6] = MAXTICKS, 0, adcs
    return timestamp, timeoffset, deadregion


def _status_cards(rng, adccards: int, ts: np.ndarray) -> np.ndarray:
    """One master and `adccards` ADC card status blocks at event timestamp `ts`."""
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
    pool_n = int(max(8, min(4 * adcs, 512, _POOL_BYTES // (2 * eventsamples))))
    pool, pool_hdr = _waveform_pool(rng, pool_n, eventsamples, adcbits)
    timestamp, timeoffset, deadregion = _event_arrays(rng, n_events, adcs, gps, start_unix, rate_hz)
    with FCIOWriter(target) as writer:
        writer.write_config(
            adcs=adcs,
            eventsamples=eventsamples,
            adcbits=adcbits,
            adccards=adccards,
            gps=gps,
            tracemap=tmap,
        )
        for i in range(n_events):
            meta = {
                "timeoffset": timeoffset[i],
                "timestamp": timestamp[i],
                "deadregion": deadregion[i],
            }
            if mode == "full":
                rows = rng.integers(0, pool_n, adcs)
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
            if status_every and (i + 1) % status_every == 0:
                ts = timestamp[i]
                usec = int(ts[2]) * 4 // 1000
                pps = int(ts[1])
                statustime = [pps, usec, start_unix + pps, usec, 0, 1, 0, 0, 0, 0]
                cards = _status_cards(rng, adccards, ts)
                writer.write_status(status=1, statustime=statustime, cards=cards)
