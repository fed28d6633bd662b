"""The FCIO readout configuration (FCIOConfig record, formats.md 1.3)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import CorruptDataError
from .event_kernels import (
    CFG_ADCBITS,
    CFG_ADCS,
    CFG_BLPRECISION,
    CFG_FCID,
    CFG_GPS,
    CFG_SAMPLES,
    CFG_SIZE,
    CFG_SUMLENGTH,
    CFG_TRIGGERS,
)
from .layout import (
    CONFIG_FIELDS,
    CONFIG_FRAME_STREAMID,
    CONFIG_FRAME_TRACEMAP,
    MAX_CHANNELS,
    MAX_SAMPLES,
)


@dataclass(frozen=True)
class FCIOConfig:
    """One FCIOConfig record: the shape of the events that follow it."""

    adcs: int
    triggers: int
    eventsamples: int
    blprecision: int
    sumlength: int
    adcbits: int
    mastercards: int
    triggercards: int
    adccards: int
    gps: int
    tracemap: np.ndarray = field(repr=False)
    streamid: int = 0

    @property
    def ntraces(self) -> int:
        """ADC plus trigger traces."""
        return self.adcs + self.triggers

    @property
    def fcid(self) -> int:
        """Listener / stream id: the low 16 bits of streamid."""
        return self.streamid & 0xFFFF

    @property
    def sampling_period_ns(self) -> float:
        """16 ns for the 16-bit (62.5 MHz) firmware, 4 ns for the 12-bit (250 MHz) one."""
        return 4.0 if self.adcbits == 12 else 16.0

    @property
    def trace_frame_bytes(self) -> int:
        """Bytes of one trace: two header words and the samples."""
        return 2 * (self.eventsamples + 2)

    def kernel_vector(self) -> np.ndarray:
        """The int64 configuration vector the event kernels read."""
        cfg = np.zeros(CFG_SIZE, dtype=np.int64)
        cfg[CFG_ADCS] = self.adcs
        cfg[CFG_TRIGGERS] = self.triggers
        cfg[CFG_SAMPLES] = self.eventsamples
        cfg[CFG_BLPRECISION] = self.blprecision
        cfg[CFG_SUMLENGTH] = self.sumlength
        cfg[CFG_ADCBITS] = self.adcbits
        cfg[CFG_GPS] = self.gps
        cfg[CFG_FCID] = self.fcid
        return cfg

    def same_shape(self, other: FCIOConfig) -> bool:
        """True if events of `other` fit the tables made for this configuration."""
        return (self.ntraces, self.eventsamples) == (other.ntraces, other.eventsamples)

    def card_ids(self) -> list[int]:
        """Status request ids of the cards: master, sub-masters, trigger, ADC cards."""
        ids = [0] if self.mastercards > 0 else []
        ids += [0x4000 + i for i in range(max(self.mastercards - 1, 0))]
        ids += [0x1000 + i for i in range(self.triggercards)]
        ids += [0x2000 + i for i in range(self.adccards)]
        return ids

    @classmethod
    def from_frames(
        cls, buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, where: dict
    ) -> FCIOConfig:
        """Parse the frames of a config record (missing tracemap: zeros, streamid: 0)."""
        if len(offsets) < len(CONFIG_FIELDS):
            raise CorruptDataError(
                f"FCIOConfig record has {len(offsets)} frames, at least "
                f"{len(CONFIG_FIELDS)} expected",
                **where,
            )
        values = {}
        for i, name in enumerate(CONFIG_FIELDS):
            if lengths[i] < 4:
                raise CorruptDataError(f"FCIOConfig field {name} has {lengths[i]} bytes", **where)
            values[name] = int(np.frombuffer(buf, dtype="<i4", count=1, offset=int(offsets[i]))[0])
        ntr = values["adcs"] + values["triggers"]
        if not (0 < ntr <= MAX_CHANNELS and values["adcs"] >= 0):
            raise CorruptDataError(f"FCIOConfig has an impossible trace count {ntr}", **where)
        for name in ("mastercards", "triggercards", "adccards"):  # a card reads >= 1 trace
            if not 0 <= values[name] <= MAX_CHANNELS:
                raise CorruptDataError(f"FCIOConfig has an impossible {name} {values[name]}",
                                       **where)  # fmt: skip
        if not 0 < values["eventsamples"] <= MAX_SAMPLES:
            raise CorruptDataError(
                f"FCIOConfig has an impossible eventsamples {values['eventsamples']}", **where
            )
        tracemap = np.zeros(ntr, dtype=np.uint32)
        if len(offsets) > CONFIG_FRAME_TRACEMAP:
            n = min(int(lengths[CONFIG_FRAME_TRACEMAP]) // 4, ntr)
            off = int(offsets[CONFIG_FRAME_TRACEMAP])
            tracemap[:n] = np.frombuffer(buf, dtype="<u4", count=n, offset=off)
        streamid = 0
        if len(offsets) > CONFIG_FRAME_STREAMID and lengths[CONFIG_FRAME_STREAMID] >= 4:
            off = int(offsets[CONFIG_FRAME_STREAMID])
            streamid = int(np.frombuffer(buf, dtype="<i4", count=1, offset=off)[0])
        return cls(tracemap=tracemap, streamid=streamid, **values)
