"""A slow pure-Python reading of CoMPASS bytes (formats.md, section 3), independent of
rawconv's kernels, and helpers to read rawconv's output."""

from __future__ import annotations

import struct
from pathlib import Path

import h5py
import numpy as np


def walk(data: bytes, flags: int, wave_fields: bool, start: int) -> list[dict] | None:
    """Every event of `data` from `start` with this layout; None if the bytes do not end
    on an event boundary or the sample counts differ."""
    events, pos, wf_len = [], start, None
    while pos < len(data):
        ev = {}
        if pos + 12 > len(data):
            return None
        ev["board"], ev["channel"], ev["timestamp"] = struct.unpack_from("<HHQ", data, pos)
        pos += 12
        for bit, name, fmt in ((1, "energy", "<H"), (2, "calibrated", "<d"),
                               (4, "energy_short", "<H")):  # fmt: skip
            if flags & bit:
                if pos + struct.calcsize(fmt) > len(data):
                    return None
                (ev[name],) = struct.unpack_from(fmt, data, pos)
                pos += struct.calcsize(fmt)
        if pos + 4 > len(data):
            return None
        (ev["flags"],) = struct.unpack_from("<I", data, pos)
        pos += 4
        ns = 0
        if wave_fields:
            if pos + 5 > len(data):
                return None
            (ns,) = struct.unpack_from("<I", data, pos + 1)
            pos += 5
            if pos + 2 * ns > len(data) or (wf_len is not None and ns != wf_len):
                return None
        wf_len = ns
        ev["samples"] = list(struct.unpack_from(f"<{ns}H", data, pos))
        pos += 2 * ns
        events.append(ev)
    return events


def layouts_explaining(data: bytes) -> list[tuple[int, bool]]:
    """(flags, wave_fields) of every header-less layout that reads all of `data` with a
    plausible board (< 4096), channel (< 512) and calibrated energy (0 or of magnitude
    1e-6 to 1e12) in every event, the waveform bit set exactly when events have samples."""
    found = []
    for energy in (1, 2, 3):
        for short in (0, 4):
            for wave_fields in (True, False):
                for wave in (8, 0) if wave_fields else (0,):
                    flags = energy | short | wave
                    events = walk(data, flags, wave_fields, 0)
                    if not events:
                        continue
                    if any(e["board"] >= 4096 or e["channel"] >= 512 for e in events):
                        continue
                    cal = [abs(e["calibrated"]) for e in events if "calibrated" in e]
                    if not all(c == 0 or 1e-6 <= c < 1e12 for c in cal):  # NaN fails too
                        continue
                    if wave_fields and (len(events[0]["samples"]) > 0) != bool(wave):
                        continue
                    found.append((flags, wave_fields))
    return found


def read_events(path: str | Path, table: str = "CompassEvent") -> dict[str, np.ndarray]:
    """Column name -> values of an output table (``waveform/values`` etc. flattened)."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
        f[table].visititems(visit)
    return out
