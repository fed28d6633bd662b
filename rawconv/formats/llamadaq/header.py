"""The LlamaDAQ file header and channel configs (formats.md, section 4), the run start time
taken from the file name, and the ``LLAMAHeader`` decoder.

Run start time: llamaDAQ names files ``YYYYMMDD-HHMMSS...`` (or ``YYYYMMDDTHHMMSS``) after
the start of the run. rawconv reads that time as UTC, or with the offset the name gives
(``Z``, ``+HHMM``, ``+HH:MM``, ``-HH:MM``). The reference converter reads it in the time zone
of the machine that converts (a name without ``Z``), so the same file gets different unix
times on different machines.
"""

from __future__ import annotations

import calendar
import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import numpy as np

from ...decoder import DataDecoder
from ...errors import RawconvError
from ...lh5.columns import ScalarCol, TableCol
from . import layout as lay

__all__ = [
    "ChannelConfig",
    "LLAMAHeaderDecoder",
    "LlamaHeader",
    "parse_header",
    "run_start_from_name",
]

_NAME_TIME = re.compile(r"(\d{8})[-T](\d{6})(Z|[+]\d{2}:?\d{2}|-\d{2}:\d{2})?")


def run_start_from_name(name: str) -> float:
    """Unix time of the run start that a file name gives (``...YYYYMMDD-HHMMSS...``), read
    as UTC unless the name gives an offset; 0.0 when the name has no valid date-time (the
    last one in the name counts, as in the reference converter)."""
    base = PurePath(str(name).rstrip("/")).name
    matches = list(_NAME_TIME.finditer(base))
    if not matches:
        return 0.0
    day, clock, zone = matches[-1].groups()
    try:
        fields = (int(day[:4]), int(day[4:6]), int(day[6:]), int(clock[:2]), int(clock[2:4]),
                  int(clock[4:]))  # fmt: skip
        if not (1 <= fields[1] <= 12 and 1 <= fields[2] <= 31 and fields[3] < 24
                and fields[4] < 60 and fields[5] < 61):  # fmt: skip
            return 0.0
        seconds = calendar.timegm((*fields, 0, 0, 0))
    except (ValueError, OverflowError):
        return 0.0
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return float(seconds)


@dataclass(frozen=True)
class ChannelConfig:
    """One 88-byte channel config (formats.md 4); `fch` = FADC id << 4 | channel id."""

    fch: int
    words: tuple[int, ...]
    sample_freq: float
    gain: float

    @property
    def format_bits(self) -> int:
        return self.words[lay.CFG_FORMAT_BITS]

    @property
    def sample_length(self) -> int:
        return self.words[lay.CFG_SAMPLE_LENGTH]

    @property
    def avg_sample_length(self) -> int:
        return self.words[lay.CFG_AVG_SAMPLE_LENGTH]

    @property
    def avg_mode(self) -> int:
        return self.words[lay.CFG_AVG_MODE]

    @property
    def maw_buffer_length(self) -> int:
        return self.words[lay.CFG_MAW_BUFFER_LENGTH]

    @property
    def event_length(self) -> int:
        return self.words[lay.CFG_EVENT_LENGTH]

    @property
    def presummed(self) -> bool:
        """Whether events carry averaged (presummed) samples (as the reference decides)."""
        return self.avg_sample_length > 0 and self.avg_mode > 0

    @property
    def dt_raw(self) -> float:
        """Sample period in ns (computed as the reference computes it)."""
        return 1 / self.sample_freq * 1000

    @property
    def dt_avg(self) -> float:
        return self.dt_raw * (1 << (self.avg_mode + 1))

    @property
    def t0_windowed(self) -> float:
        return (float(self.words[lay.CFG_SAMPLE_START_INDEX])
                - float(self.words[lay.CFG_SAMPLE_PRETRIGGER])) * self.dt_raw  # fmt: skip

    @property
    def t0_presummed_base(self) -> float:
        """t0 of the presummed trace before the per-event averaging-count term."""
        return (-float(self.words[lay.CFG_SAMPLE_PRETRIGGER]) * float(self.dt_raw)
                - float(self.words[lay.CFG_AVG_SAMPLE_PRETRIGGER]) * self.dt_avg)  # fmt: skip

    def header_fields(self) -> dict[str, Any]:
        """The ``LLAMAHeader/fch_NN`` fields, with the reference's names and dtypes."""
        u32 = np.uint32
        w = self.words
        return {
            "14_bit_flag": u32(w[lay.CFG_FLAGS] & 1),
            "adc_offset": u32(w[lay.CFG_ADC_OFFSET]),
            "sample_freq": np.float64(self.sample_freq),
            "gain": np.float64(self.gain),
            "format_bits": u32(w[lay.CFG_FORMAT_BITS]),
            "sample_start_index": u32(w[lay.CFG_SAMPLE_START_INDEX]),
            "sample_pretrigger": u32(w[lay.CFG_SAMPLE_PRETRIGGER]),
            "avg_sample_pretrigger": u32(w[lay.CFG_AVG_SAMPLE_PRETRIGGER]),
            "avg_mode": u32(w[lay.CFG_AVG_MODE]),
            "sample_length": u32(w[lay.CFG_SAMPLE_LENGTH]),
            "avg_sample_length": u32(w[lay.CFG_AVG_SAMPLE_LENGTH]),
            "maw_buffer_length": u32(w[lay.CFG_MAW_BUFFER_LENGTH]),
            "event_length": u32(w[lay.CFG_EVENT_LENGTH]),
            "event_header_length": u32(w[lay.CFG_EVENT_HEADER_LENGTH]),
            "accum6_offset": u32(w[lay.CFG_ACCUM6_OFFSET]),
            "accum2_offset": u32(w[lay.CFG_ACCUM2_OFFSET]),
            "maw3_offset": u32(w[lay.CFG_MAW3_OFFSET]),
            "energy_offset": u32(w[lay.CFG_ENERGY_OFFSET]),
        }


@dataclass(frozen=True)
class LlamaHeader:
    """File header and channel configs, in file order."""

    version: tuple[int, int, int]
    """(major, minor, patch)."""
    length_econf: int
    channels: tuple[ChannelConfig, ...]
    raw: bytes = field(repr=False, default=b"")
    """The header bytes (file header and configs)."""

    @property
    def size(self) -> int:
        return lay.FILE_HEADER_BYTES + lay.CHANNEL_CONFIG_BYTES * len(self.channels)

    def by_fch(self) -> dict[int, ChannelConfig]:
        return {c.fch: c for c in self.channels}


def header_size(head: bytes, path: str) -> int:
    """Bytes of the header that starts with `head` (at least its first 16 bytes)."""
    if len(head) < lay.FILE_HEADER_BYTES:
        raise RawconvError(
            f"input ends inside the LlamaDAQ file header ({len(head)} of 16 bytes)",
            path=path, offset=0,
        )  # fmt: skip
    magic, _, _, _, length_econf, n_open = struct.unpack_from("<IHHHHI", head, 0)
    if magic != lay.MAGIC:
        raise RawconvError(
            f"not a LlamaDAQ file: magic word 0x{magic:08X}, not 0x{lay.MAGIC:08X}",
            path=path, offset=0,
        )  # fmt: skip
    if length_econf != lay.CHANNEL_CONFIG_BYTES:
        raise RawconvError(
            f"channel config size {length_econf} bytes in the file header; LlamaDAQ "
            f"configs are {lay.CHANNEL_CONFIG_BYTES} bytes", path=path, offset=10,
        )  # fmt: skip
    if n_open > lay.MAX_CHANNELS:
        raise RawconvError(
            f"{n_open} open channels in the file header (at most {lay.MAX_CHANNELS})",
            path=path, offset=12,
        )  # fmt: skip
    return lay.FILE_HEADER_BYTES + lay.CHANNEL_CONFIG_BYTES * n_open


def parse_header(data: bytes, path: str) -> LlamaHeader:
    """The header at the start of `data` (which holds at least all of it)."""
    size = header_size(data, path)
    if len(data) < size:
        raise RawconvError(
            f"input ends inside the LlamaDAQ channel configs ({len(data)} of {size} bytes)",
            path=path, offset=len(data),
        )  # fmt: skip
    patch, minor, major, length_econf = struct.unpack_from("<HHHH", data, 4)
    n_open = (size - lay.FILE_HEADER_BYTES) // lay.CHANNEL_CONFIG_BYTES
    channels: list[ChannelConfig] = []
    seen: set[int] = set()
    for i in range(n_open):
        at = lay.FILE_HEADER_BYTES + i * lay.CHANNEL_CONFIG_BYTES
        words = struct.unpack_from("<22I", data, at)
        freq, gain = struct.unpack_from("<dd", data, at + lay.CFG_SAMPLE_FREQ_BYTE)
        config = ChannelConfig(_fch(words, path, at), words, freq, gain)
        _check_config(config, path, at)
        if config.fch in seen:
            raise RawconvError(
                f"two channel configs for FADC {words[0]} channel {words[1]}",
                path=path, offset=at,
            )  # fmt: skip
        seen.add(config.fch)
        channels.append(config)
    return LlamaHeader((major, minor, patch), length_econf, tuple(channels), bytes(data[:size]))


def _fch(words: tuple[int, ...], path: str, at: int) -> int:
    fadc, channel = words[lay.CFG_FADC], words[lay.CFG_CHANNEL]
    if fadc > 0xFF or channel > 0xF:
        raise RawconvError(
            f"impossible channel config: FADC id {fadc}, channel id {channel} (an event's "
            "channel id has 8 + 4 bits)", path=path, offset=at,
        )  # fmt: skip
    return (fadc << 4) | channel


def _check_config(c: ChannelConfig, path: str, at: int) -> None:
    """Reject configs that no event can match (they would size tables absurdly)."""
    problem = ""
    if not (math.isfinite(c.sample_freq) and c.sample_freq > 0):
        problem = f"sample frequency {c.sample_freq} MHz"
    elif c.format_bits > 0xF:
        problem = f"format bits 0x{c.format_bits:X}"
    elif not 3 <= c.event_length <= lay.MAX_EVENT_WORDS:
        problem = f"event length {c.event_length} words"
    elif c.avg_mode > 16:
        problem = f"averaging mode {c.avg_mode}"
    else:
        need = lay.header_words(c.format_bits) + 1 + c.sample_length // 2
        if c.presummed:
            need += 1 + c.avg_sample_length // 2
        if need > c.event_length or c.maw_buffer_length > c.event_length:
            problem = (f"sample lengths {c.sample_length} + {c.avg_sample_length} that do not "
                       f"fit its event length of {c.event_length} words")  # fmt: skip
    if problem:
        raise RawconvError(f"impossible config of channel {c.fch}: {problem}", path=path, offset=at)


class LLAMAHeaderDecoder(DataDecoder):
    """The file header and channel configs -> ``LLAMAHeader`` (a struct of scalars, one
    ``fch_NN`` struct per channel)."""

    def __init__(self) -> None:
        super().__init__(garbage_length=1)
        self.header: LlamaHeader | None = None
        self.initial_timestamp = 0.0

    def set_header(self, header: LlamaHeader, initial_timestamp: float) -> None:
        self.header = header
        self.initial_timestamp = initial_timestamp

    def get_decoded_values(self, key: Any = None) -> dict[str, dict[str, Any]]:
        return {}

    def make_table(self, key: Any = None, size: int | None = None) -> TableCol:
        h = self.header
        u16 = np.uint16
        members: dict[str, Any] = {}
        if h is not None:
            major, minor, patch = h.version
            members = {
                "version_major": ScalarCol(u16(major)),
                "version_minor": ScalarCol(u16(minor)),
                "version_patch": ScalarCol(u16(patch)),
                "length_econf": ScalarCol(u16(h.length_econf)),
                "number_chOpen": ScalarCol(np.uint32(len(h.channels))),
                "initial_timestamp": ScalarCol(np.float64(self.initial_timestamp)),
                "initial_timestamp_accuracy": ScalarCol(np.float64(1.0)),
            }
            for c in h.channels:
                fields = {k: ScalarCol(v) for k, v in c.header_fields().items()}
                members[f"fch_{c.fch:02d}"] = TableCol(fields, size=1, kind="struct")
        return TableCol(members, size=1, kind="struct")

    def make_lgdo(self, key: Any = None, size: int | None = None) -> Any:
        return self.make_table(key, size)
