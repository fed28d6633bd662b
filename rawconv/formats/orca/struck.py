"""Struck digitizer decoders: ORSIS3302DecoderForEnergy and ORSIS3316WaveformDecoder.

Record layouts in :mod:`.struck_kernels`. Keys are the reference's
``(crate << 9) + ((card & 0x1F) << 4) + (channel & 0xF)``, one key list (table) per enabled
channel; waveform lengths come from the header (SIS3302 ``sampleLengths[channel // 2]``,
SIS3316 ``rawDataBufferLen``). Differences from the reference converter, which has bugs
here (reference-converter.md 8.5):

* several SIS3316 events per record are all kept, with their packet id, and
  ``get_max_rows_in_packet`` says how many a record can hold;
* SIS3316 gates follow the format bits (the reference reads gate 6 twice and shifts
  gate 7, 8 and the MAW values by one word); absent fields are 0xFFFFFFFF (the reference
  meant -1); ``energy`` / ``energy_first`` are the max / start energy (never set there);
* SIS3316 channels are the bits of ``enabledMask`` (the reference reads them in reverse)
  in every crate (the reference: crate 0 only);
* timestamps keep bits 47-32 (lost to uint32 arithmetic in the reference);
* SIS3302 wrap mode starts at the oldest sample as ORCA's own decoder does (the reference
  starts one sample later and ignores the wrap length).
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from ...lh5.columns import TableCol
from ..kernel_outputs import columns_of
from .block import OrcaBlock
from .decoders import OrcaDecoder
from .header import OrcaHeader
from .layout import KIND_SIS3302, KIND_SIS3316, ccc_key
from .struck_kernels import N_CCC, decode_sis3302, decode_sis3316, sis3316_events

__all__ = ["ORSIS3302DecoderForEnergy", "ORSIS3316WaveformDecoder"]

_ADC = {"dtype": "uint32", "units": "adc"}

SIS3302_FIELDS: dict[str, dict[str, Any]] = {
    "packet_id": {"dtype": "uint32"},
    "energy": _ADC,
    "energy_first": {"dtype": "uint32"},
    "timestamp": {"dtype": "uint64", "units": "clock_ticks"},
    "crate": {"dtype": "uint8"},
    "card": {"dtype": "uint8"},
    "channel": {"dtype": "uint8"},
}
SIS3302Columns = namedtuple("SIS3302Columns", (*SIS3302_FIELDS, "waveform"))
"""The output struct of the SIS3302 kernel: one field per column (kernel_outputs)."""

SIS3316_FIELDS: dict[str, dict[str, Any]] = {
    "packet_id": {"dtype": "uint32"},
    "energy": _ADC,
    "peakHighValue": _ADC,
    "peakHighIndex": _ADC,
    "accSum1": _ADC,
    "information": {"dtype": "uint32"},
    **{f"accSum{g}": _ADC for g in range(2, 9)},
    "mawMax": _ADC,
    "mawBefore": _ADC,
    "mawAfter": _ADC,
    "startEnergy": _ADC,
    "maxEnergy": _ADC,
    "energy_first": {"dtype": "uint32"},
    "timestamp": {"dtype": "uint64", "units": "clock_ticks"},
    "crate": {"dtype": "uint8"},
    "card": {"dtype": "uint8"},
    "channel": {"dtype": "uint8"},
}
SIS3316Columns = namedtuple("SIS3316Columns", (*SIS3316_FIELDS, "waveform"))
"""The output struct of the SIS3316 kernel: one field per column (kernel_outputs)."""


def _waveform(wf_len: int, dt: float) -> dict[str, Any]:
    return {"dtype": "uint16", "datatype": "waveform", "wf_len": wf_len, "dt": dt,
            "dt_units": "ns", "t0_units": "ns"}  # fmt: skip


class _StruckDecoder(OrcaDecoder):
    """Common part: one key per enabled channel, parts grouped by waveform length."""

    model = ""
    dt = 10.0
    fields: dict[str, dict[str, Any]] = {}

    def __init__(self, header: OrcaHeader | None = None) -> None:
        self.wf_len: dict[int, int] = {}
        self.group_of = np.full(N_CCC, -1, dtype=np.int64)
        self.counters = np.zeros(1, dtype=np.int64)
        self._parts: list[_StruckPart] = []
        super().__init__(header)

    def channels(self, header: OrcaHeader) -> dict[int, int]:
        """key -> waveform length of every enabled channel."""
        raise NotImplementedError

    def set_header(self, header: OrcaHeader) -> None:
        super().set_header(header)
        self.wf_len = self.channels(header)
        lengths = sorted(set(self.wf_len.values()))
        self.group_of[:] = -1
        for key, n in self.wf_len.items():
            self.group_of[key] = lengths.index(n)
        self._parts = [
            _StruckPart(self, g, [k for k, n in self.wf_len.items() if n == length])
            for g, length in enumerate(lengths)
        ]

    def get_key_lists(self) -> list[list[Any]]:
        return [[key] for key in self.wf_len]

    def get_decoded_values(self, key: Any = None) -> dict[str, dict[str, Any]]:
        if key is None:
            key = next(iter(self.wf_len), None)
        values = dict(self.fields)
        values["waveform"] = _waveform(self.wf_len.get(key, 1), self.dt)
        return values

    def parts(self) -> list[Any]:
        return list(self._parts)


class ORSIS3302DecoderForEnergy(_StruckDecoder):
    """SIS3302 energy records (one event each) -> one row per record."""

    kind = KIND_SIS3302
    model = "ORSIS3302Model"
    dt = 10.0
    fields = SIS3302_FIELDS

    def channels(self, header: OrcaHeader) -> dict[int, int]:
        out = {}
        for crate, cards in header.object_info(self.model).items():
            for card, info in cards.items():
                mask = int(info.get("internalTriggerEnabledMask", 0)) | int(
                    info.get("externalTriggerEnabledMask", 0)
                )
                lengths = info.get("sampleLengths") or []
                for ch in range(8):
                    if (mask >> ch) & 1 and ch // 2 < len(lengths):
                        out[ccc_key(crate, card, ch)] = _checked_length(lengths[ch // 2])
        return out

    def decode_part(self, part: _StruckPart, block: OrcaBlock, first: int, last: int,
                    table: TableCol, row0: int, max_rows: int) -> tuple[int, int]:  # fmt: skip
        done, rows = decode_sis3302(
            block.buf, block.start, block.words, block.pid, block.bad, first, last, max_rows,
            self.group_of, part.group, self.counters, columns_of(table, SIS3302Columns, row0),
            part.keys_out(row0 + max_rows)[row0:],
        )  # fmt: skip
        _waveform_axes(table, row0, rows, self.dt)
        return done, rows


class ORSIS3316WaveformDecoder(_StruckDecoder):
    """SIS3316 waveform records (several events each) -> one row per event."""

    kind = KIND_SIS3316
    model = "ORSIS3316Model"
    dt = 8.0
    fields = SIS3316_FIELDS

    def __init__(self, header: OrcaHeader | None = None) -> None:
        self.max_events = 1
        """Most events in one record of the first block (buffers are sized for it; a
        later record with more makes the streamer hand out buffers first)."""
        super().__init__(header)

    def channels(self, header: OrcaHeader) -> dict[int, int]:
        out = {}
        for crate, cards in header.object_info(self.model).items():
            for card, info in cards.items():
                mask = int(info.get("enabledMask", 0))
                for ch in range(16):
                    if (mask >> ch) & 1:
                        out[ccc_key(crate, card, ch)] = _checked_length(
                            info.get("rawDataBufferLen", 0)
                        )
        return out

    def get_max_rows_in_packet(self) -> int:
        return max(self.max_events, 1)

    def max_rows_for(self, keys: list[Any]) -> int:
        return self.get_max_rows_in_packet()  # all events of a record have its channel

    def record_rows(self, block: OrcaBlock, first: int, last: int) -> np.ndarray:
        return sis3316_events(block.buf, block.start, block.bad, first, last)

    def decode_part(self, part: _StruckPart, block: OrcaBlock, first: int, last: int,
                    table: TableCol, row0: int, max_rows: int) -> tuple[int, int]:  # fmt: skip
        done, rows = decode_sis3316(
            block.buf, block.start, block.pid, block.bad, first, last, max_rows, self.group_of,
            part.group, self.counters, columns_of(table, SIS3316Columns, row0),
            part.keys_out(row0 + max_rows)[row0:],
        )  # fmt: skip
        _waveform_axes(table, row0, rows, self.dt)
        return done, rows


def _checked_length(value: Any) -> int:
    n = int(value)
    if not 0 < n <= 1 << 16:
        raise ValueError(f"impossible Struck trace length {n} in the ORCA header")
    return n


def _waveform_axes(table: TableCol, row0: int, rows: int, dt: float) -> None:
    table["waveform"]["t0"].nda[row0 : row0 + rows] = 0
    table["waveform"]["dt"].nda[row0 : row0 + rows] = dt


class _StruckPart:
    """The channels of one waveform length, for :class:`~rawconv.routing.MergeRoute`."""

    def __init__(self, owner: _StruckDecoder, group: int, keys: list[int]) -> None:
        self.owner = owner
        self.group = group
        self.keys = keys
        self.name = owner.name
        self._keys = np.zeros(0, dtype=np.int64)

    def keys_out(self, n: int) -> np.ndarray:
        if len(self._keys) < n:
            self._keys = np.zeros(max(n, 2 * len(self._keys)), dtype=np.int64)
        return self._keys

    def get_key_lists(self) -> list[list[Any]]:
        return [self.keys]

    def get_max_rows_in_packet(self) -> int:
        return self.owner.get_max_rows_in_packet()

    def make_table(self, key: Any = None, size: int | None = None) -> TableCol:
        return self.owner.make_table(key=self.keys[0], size=size)

    def decode_block(self, block: OrcaBlock, first: int, last: int, table: TableCol, row0: int,
                     max_rows: int) -> tuple[int, int]:  # fmt: skip
        return self.owner.decode_part(self, block, first, last, table, row0, max_rows)

    def row_keys(self, table: TableCol, row0: int, n: int) -> np.ndarray:
        return self._keys[row0 : row0 + n]
