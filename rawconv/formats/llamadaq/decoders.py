"""The ``LLAMAEvent`` decoder: SIS3316 events -> one table per channel group.

Keys are fch ids (FADC id << 4 | channel id). Channels whose configs have equal
``sample_length``, ``avg_sample_length`` and ``avg_mode`` share a key list (one table), as
in the reference converter; a table has the columns that any of its channels' format bits
give (fields a row's channel does not record are ``layout.ABSENT``). Waveform ``dt`` and
``t0`` are per row, from each row's channel config. Events are decoded in blocks by
:func:`.event_kernels.decode_events`, once per table layout ("part"): channels of key
lists with identical layouts are decoded together, so that a buffer taking several of
them gets its rows in input order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...decoder import DataDecoder, make_column
from ...errors import CorruptDataError
from ...lh5.columns import ArrayCol, TableCol
from ...routing import BlockDecoderMixin
from .block import EventBlock
from .event_kernels import DECODE_OK, decode_events
from .header import ChannelConfig, LlamaHeader
from .layout import FIELDS_OF_BIT, MAX_CHANNELS, SCALAR_FIELDS

__all__ = ["EventPart", "LLAMAEventDecoder"]

_BASE_FIELDS: dict[str, dict[str, Any]] = {
    "packet_id": {"dtype": "uint32"},
    "fadc_channel_id": {"dtype": "uint32"},
    "time_since_run_start": {"dtype": "float64", "units": "s"},
    "unixtime": {"dtype": "float64", "units": "s"},
    "unixtime_accuracy": {"dtype": "float64", "units": "s"},
    "fadc_status_bits": {"dtype": "uint32"},
}
_UNITLESS = {"info_bits"}
_WAVEFORMS = ("waveform_windowed", "waveform_presummed", "waveform_maw")


def _waveform(wf_len: int, dt: float, dtype: str = "uint16") -> dict[str, Any]:
    return {"dtype": dtype, "datatype": "waveform", "wf_len": wf_len, "dt": dt,
            "dt_units": "ns", "t0_units": "ns"}  # fmt: skip


def group_fields(configs: list[ChannelConfig]) -> dict[str, dict[str, Any]]:
    """decoded_values of a key list's table (the reference's, per format bit)."""
    first = configs[0]
    values = dict(_BASE_FIELDS)
    if first.sample_length > 0:
        values["waveform_windowed"] = _waveform(first.sample_length, first.dt_raw)
    if first.presummed:
        values["waveform_presummed"] = _waveform(first.avg_sample_length, first.dt_avg)
    bits = 0
    for c in configs:
        bits |= c.format_bits
    for b, (lo, hi) in enumerate(FIELDS_OF_BIT):
        if (bits >> b) & 1:
            for name in SCALAR_FIELDS[lo:hi]:
                values[name] = {"dtype": "uint32"} if name in _UNITLESS else {
                    "dtype": "uint32", "units": "adc"}  # fmt: skip
    maw = max(c.maw_buffer_length for c in configs)
    if maw > 0:
        values["waveform_maw"] = _waveform(maw, first.dt_raw, "uint32")
    return values


def layout_signature(values: dict[str, dict[str, Any]]) -> tuple:
    return tuple(sorted((k, v.get("dtype"), v.get("wf_len", 0)) for k, v in values.items()))


class LLAMAEventDecoder(DataDecoder, BlockDecoderMixin):
    """SIS3316 events of a llamaDAQ file -> ``LLAMAEvent`` tables."""

    def __init__(self) -> None:
        super().__init__()
        self.header: LlamaHeader | None = None
        self.initial_timestamp = 0.0
        self.key_lists: list[list[int]] = []
        self.values_of: dict[int, dict[str, dict[str, Any]]] = {}
        self.parts: list[EventPart] = []
        self.part_of = np.full(MAX_CHANNELS, -1, np.int64)
        self.index_of = np.full(MAX_CHANNELS, -1, np.int64)
        self.dt_raw = self.dt_avg = self.t0_win = self.t0_pre = np.zeros(0)

    def set_header(self, header: LlamaHeader, initial_timestamp: float) -> None:
        """Key lists, layouts and per-channel constants from the file header."""
        self.header = header
        self.initial_timestamp = float(initial_timestamp)
        configs = header.channels
        lists: list[list[ChannelConfig]] = []
        for c in configs:
            for kl in lists:
                a = kl[0]
                if (a.sample_length, a.avg_sample_length, a.avg_mode) == (
                        c.sample_length, c.avg_sample_length, c.avg_mode):  # fmt: skip
                    kl.append(c)
                    break
            else:
                lists.append([c])
        self.key_lists = [[c.fch for c in kl] for kl in lists]
        self.values_of = {}
        by_layout: dict[tuple, list[int]] = {}
        for kl in lists:
            values = group_fields(kl)
            for c in kl:
                self.values_of[c.fch] = values
            by_layout.setdefault(layout_signature(values), []).extend(c.fch for c in kl)
        self.parts = [EventPart(self, i, keys) for i, keys in enumerate(by_layout.values())]
        self.part_of[:] = -1
        self.index_of[:] = -1
        for part in self.parts:
            self.part_of[part.keys] = part.index
        for i, c in enumerate(configs):
            self.index_of[c.fch] = i
        self.dt_raw = np.array([c.dt_raw for c in configs], np.float64)
        self.dt_avg = np.array([c.dt_avg for c in configs], np.float64)
        self.t0_win = np.array([c.t0_windowed for c in configs], np.float64)
        self.t0_pre = np.array([c.t0_presummed_base for c in configs], np.float64)

    def get_key_lists(self) -> list[list[Any]]:
        return [list(kl) for kl in self.key_lists]

    def get_decoded_values(self, key: Any = None) -> dict[str, dict[str, Any]]:
        if key is None:
            key = self.key_lists[0][0] if self.key_lists else None
        return self.values_of.get(key, dict(_BASE_FIELDS))

    def make_table(self, key: Any = None, size: int | None = None) -> TableCol:
        """A table for `key`'s rows; waveform ``dt`` is float64 (as the reference has it)."""
        size = 8192 if size is None else int(size)
        columns = {}
        for name, spec in self.get_decoded_values(key).items():
            col = make_column(name, spec, size)
            if name in _WAVEFORMS:
                col["dt"] = ArrayCol(np.full(size, spec["dt"], np.float64), col["dt"].attrs)
            columns[name] = col
        return TableCol(columns, size=size)

    def make_lgdo(self, key: Any = None, size: int | None = None) -> Any:
        return self.make_table(key, size)


class EventPart(BlockDecoderMixin):
    """The channels of one table layout: decodes their events of a block."""

    def __init__(self, owner: LLAMAEventDecoder, index: int, keys: list[int]) -> None:
        self.owner = owner
        self.index = index
        self.keys = list(keys)
        self.name = owner.name
        self.skipped_channels = owner.skipped_channels
        self._scratch = np.zeros((0, len(SCALAR_FIELDS)), np.uint32)
        self._keys = np.zeros(0, np.int64)

    def get_key_lists(self) -> list[list[Any]]:
        return [list(self.keys)]

    def get_max_rows_in_packet(self) -> int:
        return 1

    def make_table(self, key: Any = None, size: int | None = None) -> TableCol:
        return self.owner.make_table(self.keys[0] if key is None else key, size)

    def decode_block(self, block: EventBlock, first: int, last: int, table: TableCol,
                     row0: int, max_rows: int) -> tuple[int, int]:  # fmt: skip
        owner = self.owner
        if len(self._scratch) < max_rows:
            self._scratch = np.zeros((max(max_rows, 2 * len(self._scratch)),
                                      len(SCALAR_FIELDS)), np.uint32)  # fmt: skip
        if len(self._keys) < row0 + max_rows:
            self._keys = np.zeros(max(row0 + max_rows, 2 * len(self._keys)), np.int64)
        r = slice(row0, None)
        wf = [_wf_args(table.get(name), r, absent) for name, absent in zip(_WAVEFORMS, _ABSENT)]
        done, rows, status, bad = decode_events(
            block.buf, block.start, block.stop, block.kind, block.fch, block.pid, first,
            last, max_rows, owner.part_of, self.index, owner.index_of, owner.dt_raw,
            owner.dt_avg, owner.t0_win, owner.t0_pre, owner.initial_timestamp,
            table["packet_id"].nda[r], self._keys[r], table["fadc_status_bits"].nda[r],
            table["time_since_run_start"].nda[r], table["unixtime"].nda[r],
            table["unixtime_accuracy"].nda[r], self._scratch, *wf[0], *wf[1], *wf[2],
        )  # fmt: skip
        if status != DECODE_OK:
            raise CorruptDataError("event layout does not match its channel's table",
                                   **block.where(bad, self.name))  # fmt: skip
        table["fadc_channel_id"].nda[row0 : row0 + rows] = self._keys[row0 : row0 + rows]
        for j, name in enumerate(SCALAR_FIELDS):
            if name in table:
                table[name].nda[row0 : row0 + rows] = self._scratch[:rows, j]
        return done, rows

    def row_keys(self, table: TableCol, row0: int, n: int) -> np.ndarray:
        return self._keys[row0 : row0 + n]


_NO_F32 = np.zeros(1, np.float32)
_NO_F64 = np.zeros(1, np.float64)
_ABSENT = (np.zeros((1, 0), np.uint8), np.zeros((1, 0), np.uint8), np.zeros((1, 0), np.uint32))
"""Values arrays of absent waveform columns (the kernel's argument types)."""


def _wf_args(wf: TableCol | None, r: slice, absent: np.ndarray) -> tuple[np.ndarray, ...]:
    """(values, t0, dt) of a waveform column for the kernel (uint16 values as bytes)."""
    if wf is None:
        return absent, _NO_F32, _NO_F64
    values = wf["values"].nda[r]
    if values.dtype == np.uint16:
        values = values.view(np.uint8)
    return values, wf["t0"].nda[r], wf["dt"].nda[r]
