"""Writes valid CoMPASS files (and settings XMLs): for tests, benchmarks and demos.

Events are given as columns (:class:`CompassEvents`) and written with any flags, with or
without the 2-byte header and with or without the waveform fields (formats.md,
section 3). Encoding is one numpy structured array per call, so large files are quick to
make.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from .layout import EventLayout, header_word

__all__ = ["CompassEvents", "event_dtype", "random_events", "write_compass", "write_settings"]


@dataclass
class CompassEvents:
    """Columns of events to write (all of one length; `waveforms` is n x samples)."""

    board: np.ndarray
    channel: np.ndarray
    timestamp: np.ndarray
    energy: np.ndarray
    calibrated: np.ndarray
    energy_short: np.ndarray
    flags: np.ndarray
    waveforms: np.ndarray
    code: int = 1

    def __len__(self) -> int:
        return len(self.board)

    def take(self, index: np.ndarray | slice) -> CompassEvents:
        """The events `index` (rows of every column)."""
        return CompassEvents(
            *(getattr(self, f)[index] for f in ("board", "channel", "timestamp", "energy",
                                                "calibrated", "energy_short", "flags",
                                                "waveforms")), code=self.code,
        )  # fmt: skip


def event_dtype(layout: EventLayout, wf_len: int) -> np.dtype:
    """The packed numpy dtype of one event of `layout` with `wf_len` samples."""
    fields = [("board", "<u2"), ("channel", "<u2"), ("timestamp", "<u8")]
    if layout.has_energy:
        fields.append(("energy", "<u2"))
    if layout.has_calibrated:
        fields.append(("calibrated", "<f8"))
    if layout.has_short:
        fields.append(("energy_short", "<u2"))
    fields.append(("flags", "<u4"))
    if layout.wave_fields:
        fields += [("code", "u1"), ("nsamples", "<u4")]
        if wf_len:
            fields.append(("samples", "<u2", (wf_len,)))
    return np.dtype(fields)


def encode_events(events: CompassEvents, layout: EventLayout) -> bytes:
    """The bytes of `events` (no file header)."""
    wf_len = events.waveforms.shape[1] if layout.wave_fields else 0
    if wf_len and not layout.has_waveform:
        raise ValueError("waveform samples need flag bit 3")
    out = np.zeros(len(events), event_dtype(layout, wf_len))
    for name in ("board", "channel", "timestamp", "flags"):
        out[name] = getattr(events, name)
    for name, present in (("energy", layout.has_energy), ("calibrated", layout.has_calibrated),
                          ("energy_short", layout.has_short)):  # fmt: skip
        if present:
            out[name] = getattr(events, name)
    if layout.wave_fields:
        out["code"] = events.code
        out["nsamples"] = wf_len
        if wf_len:
            out["samples"] = events.waveforms
    return out.tobytes()


def write_compass(
    target: str | os.PathLike | BinaryIO,
    events: CompassEvents,
    flags: int,
    header: bool = True,
    wave_fields: bool = True,
) -> int:
    """Write `events` as a CoMPASS file with `flags` (bits 0-3); returns bytes written.

    ``header=False`` leaves out the 2-byte header (as in later parts of a split run);
    ``wave_fields=False`` (bit 3 clear only) ends every event after its flags.
    """
    layout = EventLayout(flags, wave_fields or bool(flags & 0x8), header)
    data = encode_events(events, layout)
    if header:
        data = int(header_word(flags)).to_bytes(2, "little") + data
    if hasattr(target, "write"):
        target.write(data)
    else:
        with open(target, "wb") as fh:
            fh.write(data)
    return len(data)


def random_events(
    n: int,
    wf_len: int,
    keys: Iterable[tuple[int, int]] = ((0, 0), (0, 1)),
    seed: int = 0,
    t0_ps: int = 0,
    period_ps: int = 1_000_000,
) -> CompassEvents:
    """`n` events cycling over (board, channel) `keys`, timestamps rising from `t0_ps`,
    pulse-like waveforms with noise."""
    rng = np.random.default_rng(seed)
    keys = list(keys)
    which = np.arange(n) % len(keys)
    board = np.array([k[0] for k in keys], np.uint16)[which]
    channel = np.array([k[1] for k in keys], np.uint16)[which]
    ts = t0_ps + np.cumsum(rng.integers(1, 2 * period_ps, n, dtype=np.int64)).astype(np.uint64)
    energy = rng.integers(0, 1 << 15, n).astype(np.uint16)
    base = rng.integers(2000, 3000, n).astype(np.int64)[:, None]
    t = np.arange(wf_len)[None, :]
    pulse = (energy.astype(np.int64)[:, None] // 4) * (t >= wf_len // 4)
    wf = base + pulse + rng.integers(-3, 4, (n, wf_len))
    return CompassEvents(
        board=board, channel=channel, timestamp=ts, energy=energy,
        calibrated=energy * 0.37 + rng.random(n), energy_short=energy // 6,
        flags=rng.choice(np.array([0x4000, 0x4040, 0x0], np.uint32), n),
        waveforms=np.clip(wf, 0, 0xFFFF).astype(np.uint16),
    )  # fmt: skip


@dataclass
class SettingsBoard:
    """A board of a settings XML: model, sample time (ps), record length (ns), channels
    (index -> its own settings; ``SRV_PARAM_CH_ENABLED`` "true" / "false")."""

    model: str = "DT5730"
    adc_bits: int = 14
    sample_time_ps: float | None = 2000.0
    reclen_ns: float = 2000.0
    channels: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    n_channels: int = 8


def write_settings(path: str | os.PathLike, boards: Iterable[SettingsBoard]) -> None:
    """Write a CoMPASS settings XML with the elements rawconv reads."""
    root = ET.Element("configuration")
    for b in boards:
        board = ET.SubElement(root, "board")
        ET.SubElement(board, "modelName").text = b.model
        ET.SubElement(board, "adcBitCount").text = str(b.adc_bits)
        if b.sample_time_ps is not None:
            ET.SubElement(board, "sampleTime").text = f"{b.sample_time_ps:g}"
        params = ET.SubElement(board, "parameters")
        for key, value in (("SRV_PARAM_RECLEN", f"{b.reclen_ns!r}"),
                           ("SRV_PARAM_CH_ENABLED", "false")):  # fmt: skip
            entry = ET.SubElement(params, "entry")
            ET.SubElement(entry, "key").text = key
            ET.SubElement(ET.SubElement(entry, "value"), "value").text = value
        for ch in range(b.n_channels):
            channel = ET.SubElement(board, "channel")
            ET.SubElement(channel, "index").text = str(ch)
            values = ET.SubElement(channel, "values")
            for key, value in b.channels.get(ch, {}).items():
                entry = ET.SubElement(values, "entry")
                ET.SubElement(entry, "key").text = key
                ET.SubElement(entry, "value").text = value
    ET.ElementTree(root).write(os.fspath(path), encoding="UTF-8", xml_declaration=True)
