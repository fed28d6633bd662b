"""Files of any size grown from the real test files (used by the benchmarks; not rawconv).

The data records of a real file (FCIO events, ORCA waveform and FCIO-wrapped event records)
are repeated until the file reaches the requested size, each repeat with its counters
continued (event numbers, PPS counts) and its samples varied: every trace gets a random
baseline offset and every sample +-2 ADC of noise. Exact copies of a few records would
compress unrealistically well in a column-chunked layout; varied repeats compress like
real data. Everything before the first data record (headers, configs) is written once,
everything after the last one (closing run records) once at the end.

The patches are made in place on the record bytes, at positions found by walking the
records once (FCIO frames, ORCA record headers), so every other byte is the real file's.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["grow"]

_PROTOCOL = -1000000001
_FCIO_EVENT_TAGS = (3, 6, 7)  # FCIOEvent, FCIOSparseEvent, FCIOEventHeader
_FCIO_DATA_TAGS = (*_FCIO_EVENT_TAGS, 4, 8, 9, 10)  # plus status and FSP records


@dataclass
class _Patches:
    """Where a block of data records holds its counters and its samples (byte offsets
    into the block)."""

    event_numbers: list[int] = field(default_factory=list)  # i32
    pps: list[int] = field(default_factory=list)  # i32
    traces: list[tuple[int, int]] = field(default_factory=list)  # (u16 samples start, n)


def _fcio_frames(data: bytes, pos: int, end: int) -> list[tuple[int, int]]:
    """(payload offset, payload bytes) of the frames of the record whose tag word is at
    `pos`, up to the next record or `end`."""
    frames = []
    pos += 4
    while pos + 4 <= end:
        (h,) = struct.unpack_from("<i", data, pos)
        if h < 0:
            break
        frames.append((pos + 4, h))
        pos += 4 + h
    return frames


def _fcio_records(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(tag, start, stop) of the FCIO records in ``data[start:end]``."""
    records = []
    pos = start
    while pos + 4 <= end:
        (h,) = struct.unpack_from("<i", data, pos)
        if h == _PROTOCOL:
            pos += 68
            continue
        if h >= 0:  # a frame: belongs to the record before
            pos += 4 + h
            continue
        rec_start = pos
        pos += 4
        while pos + 4 <= end:
            (f,) = struct.unpack_from("<i", data, pos)
            if f < 0:
                break
            pos += 4 + f
        records.append((-h, rec_start, min(pos, end)))
    return records


def _fcio_event_patches(data: bytes, tag: int, pos: int, end: int, samples: int,
                        patches: _Patches, base: int) -> None:  # fmt: skip
    """Counters and sample ranges of one FCIO event record (offsets relative to `base`)."""
    frames = _fcio_frames(data, pos, end)
    if len(frames) < 4:
        return
    ts_off, ts_len = frames[3]
    if ts_len >= 8:
        patches.event_numbers.append(ts_off - base)
        patches.pps.append(ts_off + 4 - base)
    if tag == 3 and len(frames) >= 5:  # traces: one frame, (samples + 2) u16 per trace
        off, n = frames[4]
        for t in range(n // (2 * (samples + 2))):
            patches.traces.append((off + 2 * (t * (samples + 2) + 2) - base, samples))
    elif tag == 6:  # one frame per listed trace after deadregion, num_traces, trace_list
        for off, n in frames[7:]:
            if n >= 4:
                patches.traces.append((off + 4 - base, n // 2 - 2))


def _fcio_samples(data: bytes, start: int, end: int) -> int:
    """eventsamples of the first FCIOConfig in ``data[start:end]``."""
    for tag, pos, stop in _fcio_records(data, start, end):
        if tag == 1:
            frames = _fcio_frames(data, pos, stop)
            return struct.unpack_from("<i", data, frames[2][0])[0]
    raise ValueError("no FCIOConfig record")


def _plan_fcio(data: bytes) -> tuple[int, int, _Patches]:
    """(body start, body stop, patches) of an FCIO file: the body runs from the first
    to the end of the last data record."""
    samples = _fcio_samples(data, 0, len(data))
    records = [r for r in _fcio_records(data, 0, len(data)) if r[0] in _FCIO_DATA_TAGS]
    start, stop = records[0][1], records[-1][2]
    patches = _Patches()
    for tag, pos, end in records:
        if tag in _FCIO_EVENT_TAGS:
            _fcio_event_patches(data, tag, pos, end, samples, patches, start)
    return start, stop, patches


def _orca_records(data: bytes) -> list[tuple[int, int, int]]:
    """(data id, start, stop) of the ORCA records after the header (little-endian)."""
    words = np.frombuffer(data, dtype="<u4", count=len(data) // 4)
    pos = int(words[0] & 0x3FFFF)
    records = []
    while pos < len(words):
        w = int(words[pos])
        n = w & 0x3FFFF or int(words[pos + 1])
        records.append((w >> 18, 4 * pos, 4 * (pos + n)))
        pos += n
    return records


def _plan_orca(data: bytes) -> tuple[int, int, _Patches]:
    """(body start, body stop, patches) of an ORCA file: legacy FlashCam waveform records
    (ADC samples from word 20) and FCIO-wrapped event records (an FCIO stream from word 3,
    whose config is in the file's FCIOConfig-wrapping records)."""
    records = _orca_records(data)
    legacy, wrapped, samples = [], [], {}
    for _, start, stop in records:
        words = np.frombuffer(data, dtype="<u4", count=(stop - start) // 4, offset=start)
        if len(words) > 20 and (words[1] >> 28) == 3 and ((words[1] >> 22) & 0x3F) == 17:
            legacy.append((start, stop, int((words[1] >> 6) & 0xFFFF)))
        elif len(words) > 3 and int(words[1]) == len(words):  # FCIO wrapped by ORCA
            inner = _fcio_records(data, start + 12, stop)
            tags = {t for t, _, _ in inner}
            if 1 in tags:  # a config: the samples of its listener
                samples[int(words[2]) & 0xFFFF] = _fcio_samples(data, start + 12, stop)
            elif tags & set(_FCIO_EVENT_TAGS):
                wrapped.append((start, stop, int(words[2]) & 0xFFFF, inner))
    data_records = sorted([r[:2] for r in legacy] + [r[:2] for r in wrapped])
    if not data_records:
        raise ValueError("no ORCA data records to repeat")
    start, stop = data_records[0][0], data_records[-1][1]
    patches = _Patches()
    for rec_start, _, nsamples in legacy:
        patches.event_numbers.append(rec_start + 15 * 4 - start)
        patches.pps.append(rec_start + 16 * 4 - start)
        patches.traces.append((rec_start + 20 * 4 - start, nsamples))
    for _, _, fcid, inner in wrapped:
        for tag, pos, end in inner:
            if tag in _FCIO_EVENT_TAGS:
                _fcio_event_patches(data, tag, pos, end, samples[fcid], patches, start)
    return start, stop, patches


def _positions(patches: _Patches, body: int) -> tuple[np.ndarray, ...]:
    """Index arrays of the patches: counters (byte offsets of i32), sample u16 indices and
    the trace each sample belongs to."""
    starts = np.array([s for s, n in patches.traces], dtype=np.int64)
    lengths = np.array([n for s, n in patches.traces], dtype=np.int64)
    if len(starts) and (starts % 2).any():
        raise ValueError("samples at odd byte offsets")
    trace_of = np.repeat(np.arange(len(starts)), lengths)
    first = np.repeat(starts // 2 - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    samples = first + np.arange(int(lengths.sum()))
    samples = samples[samples < body // 2]
    events = np.array(patches.event_numbers, dtype=np.int64)
    pps = np.array(patches.pps, dtype=np.int64)
    return events, pps, samples, trace_of[: len(samples)]


def _add_i32(block: np.ndarray, offsets: np.ndarray, value: int) -> None:
    """Add `value` to the little-endian i32 at each byte offset (any alignment)."""
    if not len(offsets):
        return
    idx = offsets[:, None] + np.arange(4)
    words = block[idx].copy().view("<i4").ravel()
    block[idx] = (words + np.int32(value)).astype("<i4").view(np.uint8).reshape(-1, 4)


def grow(src: str | Path, dst: str | Path, size_bytes: int, seed: int = 7) -> int:
    """Write `dst`: the real file `src` with its data records repeated (counters continued,
    samples varied) until at least `size_bytes`; returns the bytes written."""
    data = Path(src).read_bytes()
    is_orca = struct.unpack_from("<I", data, 8)[0] == struct.unpack("<I", b"<?xm")[0]
    start, stop, patches = (_plan_orca if is_orca else _plan_fcio)(data)
    body = np.frombuffer(data, dtype=np.uint8, count=stop - start, offset=start)
    events, pps, samples, trace_of = _positions(patches, len(body))
    n_events = max(1, len(events))
    pps_step = 1
    if len(pps):  # the next repeat starts one second after this one ends
        values = body[pps[:, None] + np.arange(4)].copy().view("<i4").ravel()
        pps_step = int(values.max()) - int(values.min()) + 1
    rng = np.random.default_rng(seed)
    head, tail = data[:start], data[stop:]
    repeats = max(1, -(-(size_bytes - len(head) - len(tail)) // len(body)))
    with open(dst, "wb") as out:
        out.write(head)
        for k in range(repeats):
            block = body.copy()
            if k:
                _add_i32(block, events, k * n_events)
                _add_i32(block, pps, k * pps_step)
                if len(samples):
                    u16 = block[: len(block) // 2 * 2].view("<u2")
                    offset = rng.integers(-40, 41, size=len(patches.traces))[trace_of]
                    noise = rng.integers(-2, 3, size=len(samples))
                    varied = u16[samples].astype(np.int32) + offset + noise
                    u16[samples] = np.clip(varied, 0, 65535).astype("<u2")
            out.write(block.tobytes())
        out.write(tail)
    return len(head) + repeats * len(body) + len(tail)
