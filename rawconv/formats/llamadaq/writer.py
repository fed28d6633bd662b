"""Writes valid llamaDAQ files (formats.md, section 4): any channel count, trace lengths,
averaging, format bits, MAW test buffers and 48-bit timestamps (runs past 2^32 ticks).

Used by the tests, the demo and the benchmarks::

    chans = [ChannelSpec(fadc=0, channel=0, sample_length=100, format_bits=0xF)]
    with LlamaWriter("run-20250101T120000Z.bin", chans) as w:
        w.write(Event(fch=0, ticks=1000, raw=np.arange(100, dtype=np.uint16)))

:func:`grow_file` makes a large file from a small one (events repeated with the tick
counter continued and the samples varied), for throughput measurements.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .header import parse_header
from .layout import (
    CFG_EVENT_HEADER_LENGTH,
    CHANNEL_CONFIG_BYTES,
    FILE_HEADER_BYTES,
    MAGIC,
    MARKER_AVG,
    MARKER_PLAIN,
    MAW_TEST_BIT,
    STATUS_BIT,
    header_words,
)

__all__ = ["ChannelSpec", "Event", "LlamaWriter", "encode_event", "encode_header", "grow_file"]


@dataclass(frozen=True)
class ChannelSpec:
    """One channel's config as the file header gives it (words of formats.md 4)."""

    fadc: int = 0
    channel: int = 0
    format_bits: int = 0x3
    sample_length: int = 0
    avg_sample_length: int = 0
    avg_mode: int = 0
    maw_buffer_length: int = 0
    sample_freq: float = 250.0
    gain: float = 1.0
    adc_offset: int = 8191
    sample_start_index: int = 0
    sample_pretrigger: int = 0
    avg_sample_pretrigger: int = 0
    adc_14bit: bool = True

    def __post_init__(self) -> None:
        if not (0 <= self.fadc <= 0xFF and 0 <= self.channel <= 0xF):
            raise ValueError(f"FADC id {self.fadc} / channel {self.channel} out of range")
        if self.sample_length % 2 or self.avg_sample_length % 2:
            raise ValueError("sample lengths must be even (two samples per word)")
        if not 0 <= self.format_bits <= 0xF:
            raise ValueError(f"format bits {self.format_bits} out of range")

    @property
    def fch(self) -> int:
        return (self.fadc << 4) | self.channel

    @property
    def presummed(self) -> bool:
        return self.avg_sample_length > 0 and self.avg_mode > 0

    @property
    def event_header_length(self) -> int:
        """Words before the samples: fixed header, format-bit blocks, marker(s)."""
        return header_words(self.format_bits) + 1 + (1 if self.presummed else 0)

    @property
    def event_length(self) -> int:
        avg = self.avg_sample_length // 2 if self.presummed else 0
        return self.event_header_length + self.sample_length // 2 + avg + self.maw_buffer_length

    def config_bytes(self) -> bytes:
        """The 88-byte channel config."""
        fb = self.format_bits
        accum6 = 2
        accum2 = accum6 + 7 * (fb & 1)
        maw3 = accum2 + 2 * ((fb >> 1) & 1)
        energy = maw3 + 3 * ((fb >> 2) & 1)
        head = struct.pack("<4I", self.fadc, self.channel, int(self.adc_14bit) | 2,
                           self.adc_offset)  # fmt: skip
        freq = struct.pack("<dd", self.sample_freq, self.gain)
        tail = struct.pack(
            "<14I", fb, self.sample_start_index, self.sample_pretrigger,
            self.avg_sample_pretrigger, self.avg_mode, self.sample_length,
            self.avg_sample_length, self.maw_buffer_length, self.event_length,
            self.event_header_length, accum6, accum2, maw3, energy,
        )  # fmt: skip
        return head + freq + tail


@dataclass
class Event:
    """One event of channel `fch`: what the file holds (absent blocks are not written)."""

    fch: int
    ticks: int = 0
    """48-bit timestamp in sample clock ticks."""
    peak_value: int = 0
    peak_index: int = 0
    info: int = 0
    gates: tuple[int, ...] = (0,) * 8
    """accumulator gates 1-8 (gate 1 has 24 bits)."""
    maw: tuple[int, int, int] = (0, 0, 0)
    energy: tuple[int, int] = (0, 0)
    status: int = 0
    """the status (pile-up) flag (marker bit 26)."""
    avg_count: int = 0
    raw: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint16))
    avg: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint16))
    maw_test: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))


def encode_header(channels: list[ChannelSpec], version: tuple[int, int, int] = (2, 0, 0)) -> bytes:
    """File header and channel configs; `version` is (major, minor, patch)."""
    major, minor, patch = version
    head = struct.pack("<IHHHHI", MAGIC, patch, minor, major, CHANNEL_CONFIG_BYTES, len(channels))
    assert len(head) == FILE_HEADER_BYTES
    return head + b"".join(c.config_bytes() for c in channels)


def encode_event(spec: ChannelSpec, ev: Event) -> bytes:
    """The bytes of `ev` for a channel configured as `spec`."""
    if ev.fch != spec.fch:
        raise ValueError(f"event of channel {ev.fch} written with the config of {spec.fch}")
    if not 0 <= ev.ticks < 1 << 48:
        raise ValueError(f"timestamp {ev.ticks} does not fit 48 bits")
    fb = spec.format_bits
    words = [((ev.ticks >> 32) << 16) | (spec.fch << 4) | fb, ev.ticks & 0xFFFFFFFF]
    if fb & 1:
        words += [(ev.peak_index << 16) | (ev.peak_value & 0xFFFF),
                  ((ev.info & 0xFF) << 24) | (ev.gates[0] & 0xFFFFFF), *ev.gates[1:6]]  # fmt: skip
    if fb & 2:
        words += list(ev.gates[6:8])
    if fb & 4:
        words += list(ev.maw)
    if fb & 8:
        words += list(ev.energy)
    raw = np.asarray(ev.raw, np.uint16)
    avg = np.asarray(ev.avg, np.uint16)
    maw = np.asarray(ev.maw_test, np.uint32)
    if len(raw) != spec.sample_length or len(maw) != spec.maw_buffer_length:
        raise ValueError("raw / MAW test samples differ from the channel's config")
    if len(avg) != (spec.avg_sample_length if spec.presummed else 0):
        raise ValueError("averaged samples differ from the channel's config")
    flags = (int(bool(ev.status)) << STATUS_BIT) | (int(len(maw) > 0) << MAW_TEST_BIT)
    if spec.presummed:
        words.append((MARKER_AVG << 28) | flags | len(raw) // 2)
        words.append((MARKER_PLAIN << 28) | ((ev.avg_count & 0xFF) << 16) | len(avg) // 2)
    else:
        words.append((MARKER_PLAIN << 28) | flags | len(raw) // 2)
    out = np.asarray(words, dtype="<u4").tobytes() + raw.astype("<u2").tobytes()
    out += avg.astype("<u2").tobytes() + maw.astype("<u4").tobytes()
    assert len(out) == 4 * spec.event_length
    return out


class LlamaWriter:
    """Writes a llamaDAQ file: the header when opened, then events one by one.

    Parameters
    ----------
    target
        path or binary file object.
    channels
        the channel configs, in header order.
    version
        (major, minor, patch) of the file format.
    """

    def __init__(self, target: str | Path | BinaryIO, channels: list[ChannelSpec],
                 version: tuple[int, int, int] = (2, 0, 0)) -> None:  # fmt: skip
        self.channels = {c.fch: c for c in channels}
        if len(self.channels) != len(channels):
            raise ValueError("two channel configs with one fch id")
        self._own = isinstance(target, (str, Path))
        self._fh: Any = open(target, "wb") if self._own else target  # noqa: SIM115
        self._fh.write(encode_header(list(channels), version))
        self.n_events = 0

    def write(self, ev: Event) -> None:
        spec = self.channels.get(ev.fch)
        if spec is None:
            raise ValueError(f"event of channel {ev.fch}, which the header does not list")
        self._fh.write(encode_event(spec, ev))
        self.n_events += 1

    def close(self) -> None:
        if self._own:
            self._fh.close()

    def __enter__(self) -> LlamaWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def grow_file(src: str | Path, dst: str | Path, target_bytes: int, seed: int = 0,
              tick_step: int | None = None) -> int:  # fmt: skip
    """Write `dst`: the header of `src`, then its events repeated until `dst` has at least
    `target_bytes`, each pass with the tick counter continued (pass k adds k x
    `tick_step`, default: one tick past the last event of `src`) and the samples varied by
    a random offset in [-8, 8] per event. Returns the number of events written."""
    data = Path(src).read_bytes()
    header = parse_header(data, str(src))
    lengths = {c.fch: 4 * c.event_length for c in header.channels}
    pos, events = header.size, []
    while pos + 4 <= len(data):
        fch = (struct.unpack_from("<I", data, pos)[0] >> 4) & 0xFFF
        length = lengths[fch]
        if pos + length > len(data):
            break
        events.append((pos, length, header.by_fch()[fch]))
        pos += length
    if not events:
        raise ValueError(f"{src} has no complete event to repeat")
    ticks = [_ticks(data, p) for p, _, _ in events]
    step = tick_step if tick_step is not None else max(ticks) + 1
    rng = np.random.default_rng(seed)
    written = 0
    with open(dst, "wb") as fh:
        fh.write(data[: header.size])
        size, k = header.size, 0
        while size < target_bytes:
            for (p, length, cfg), t in zip(events, ticks):
                words = np.frombuffer(data, "<u4", length // 4, p).copy()
                new = t + k * step
                words[0] = (words[0] & 0xFFFF) | (((new >> 32) & 0xFFFF) << 16)
                words[1] = new & 0xFFFFFFFF
                first = cfg.words[CFG_EVENT_HEADER_LENGTH] or header_words(cfg.format_bits) + 1
                samples = words[first:].view("<u2")
                n_samples = 2 * (len(words) - first - cfg.maw_buffer_length)
                shift = np.int32(rng.integers(-8, 9))
                samples[:n_samples] = np.clip(samples[:n_samples].astype(np.int32) + shift,
                                              0, 0xFFFF).astype(np.uint16)  # fmt: skip
                fh.write(words.tobytes())
                size += length
                written += 1
            k += 1
    return written


def _ticks(data: bytes, pos: int) -> int:
    w0, w1 = struct.unpack_from("<II", data, pos)
    return ((w0 >> 16) << 32) | w1
