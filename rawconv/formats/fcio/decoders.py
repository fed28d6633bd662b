"""FCIO decoders: FCConfig, FCEvent and FCStatus tables, decoded in blocks by numba kernels.

Keys (reference-converter.md, section 2): FCEvent rows are keyed
``fcid * 1000000 + board_id * 100 + fc_input``; the config and status tables use string
keys ``fcid_N/config`` and ``fcid_N/status/card<reqid>``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...decoder import DataDecoder
from ...errors import CorruptDataError
from ...lh5.columns import TableCol as Table
from ...routing import BlockDecoderMixin
from ..kernel_outputs import columns_of
from .block import RecordBlock
from .config import FCIOConfig
from .event_kernels import decode_events
from .fields import (
    CONFIG_FIELDS,
    STATUS_FIELDS,
    FCEventColumns,
    FCEventHeaderColumns,
    FCStatusColumns,
    event_fields,
    event_header_fields,
)
from .header_kernels import decode_event_headers
from .kernels import DEAD_QUEUE, DECODE_BAD_RECORD, DECODE_DEAD_QUEUE_FULL
from .status_kernels import decode_status

__all__ = [
    "FCConfigDecoder",
    "FCEventDecoder",
    "FCEventHeaderDecoder",
    "FCIOEventState",
    "FCStatusDecoder",
]


def _raise_decode_error(status: int, block: RecordBlock, bad: int, decoder: str) -> None:
    reason = {
        DECODE_BAD_RECORD: "record frames do not match the layout of its tag and configuration",
        DECODE_DEAD_QUEUE_FULL: f"more than {DEAD_QUEUE} pending dead intervals on a trace",
    }.get(status, f"decode status {status}")
    raise CorruptDataError(reason, **block.where(bad, decoder))


class FCIOEventState:
    """Event state carried from record to record: the last timeoffset / timestamp /
    deadregion arrays (short frames keep older entries) and the dead-time bookkeeping."""

    def __init__(self, ntraces: int) -> None:
        self.timeoffset = np.zeros(10, dtype=np.int32)
        self.timestamp = np.zeros(10, dtype=np.int32)
        self.deadregion = np.zeros(10, dtype=np.int32)
        self.sizes = np.zeros(3, dtype=np.int32)
        self.enable_ns = np.full(ntraces, -1, dtype=np.int64)
        self.cur_dead = np.zeros(ntraces, dtype=np.int64)
        self.total_dead = np.zeros(ntraces, dtype=np.int64)
        self.q_begin = np.zeros((ntraces, DEAD_QUEUE), dtype=np.int64)
        self.q_end = np.zeros((ntraces, DEAD_QUEUE), dtype=np.int64)
        self.q_read = np.zeros(ntraces, dtype=np.int32)
        self.q_write = np.full(ntraces, DEAD_QUEUE - 1, dtype=np.int32)
        self.q_fill = np.zeros(ntraces, dtype=np.int32)

    def kernel_args(self) -> tuple:
        return (
            self.timeoffset, self.timestamp, self.deadregion, self.sizes,
            self.enable_ns, self.cur_dead, self.total_dead,
            self.q_begin, self.q_end, self.q_read, self.q_write, self.q_fill,
        )  # fmt: skip


class FCIODecoder(DataDecoder, BlockDecoderMixin):
    """Common part of the FCIO decoders: the configuration they decode against."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config: FCIOConfig | None = None
        self._keys = np.zeros(0, dtype=np.int64)

    def set_config(self, config: FCIOConfig) -> None:
        """Use `config` for the records that follow."""
        self.config = config

    def _key_scratch(self, n: int) -> np.ndarray:
        if len(self._keys) < n:
            self._keys = np.zeros(max(n, 2 * len(self._keys)), dtype=np.int64)
        return self._keys


class FCConfigDecoder(FCIODecoder):
    """FCIOConfig records -> FCConfig table (one row per record)."""

    decoded_values = CONFIG_FIELDS

    def key(self) -> str:
        return f"fcid_{0 if self.config is None else self.config.fcid}/config"

    def get_key_lists(self) -> list[list[Any]]:
        return [[self.key()]]

    def get_decoded_values(self, key: Any = None) -> dict[str, dict[str, Any]]:
        values = dict(self.decoded_values)
        if self.config is not None:
            values["tracemap"] = dict(values["tracemap"], length_guess=self.config.ntraces)
        return values

    def parse(self, block: RecordBlock, i: int) -> FCIOConfig:
        """The configuration held by record `i` of `block`."""
        offsets, lengths = block.frames(i)
        return FCIOConfig.from_frames(block.buf, offsets, lengths, block.where(i, self.name))

    def decode_block(
        self, block: RecordBlock, first: int, last: int, table: Table, row0: int, max_rows: int
    ) -> tuple[int, int]:
        rows = min(last - first, max_rows)
        for r in range(rows):
            cfg = self.parse(block, first + r)
            self.write_row(table, row0 + r, cfg, int(block.pid[first + r]))
        return rows, rows

    @staticmethod
    def write_row(table: Table, row: int, cfg: FCIOConfig, packet_id: int) -> None:
        """Fill row `row` of an FCConfig table."""
        values = {
            "packet_id": packet_id,
            "nsamples": cfg.eventsamples,
            "nadcs": cfg.adcs,
            "ntriggers": cfg.triggers,
            "streamid": cfg.streamid,
            "adcbits": cfg.adcbits,
            "sumlength": cfg.sumlength,
            "blprecision": cfg.blprecision,
            "mastercards": cfg.mastercards,
            "triggercards": cfg.triggercards,
            "adccards": cfg.adccards,
            "gps": cfg.gps,
        }
        for name, value in values.items():
            table[name].nda[row] = value
        vov = table["tracemap"]
        start = int(vov.cumulative_length.nda[row - 1]) if row > 0 else 0
        stop = start + len(cfg.tracemap)
        if stop > len(vov.flattened_data):
            vov.flattened_data.resize(max(stop, 2 * len(vov.flattened_data)))
        vov.flattened_data.nda[start:stop] = cfg.tracemap
        vov.cumulative_length.nda[row] = stop

    def row_keys(self, table: Table, row0: int, n: int) -> list:
        return [self.key()] * n


class FCEventDecoder(FCIODecoder):
    """FCIOEvent and FCIOSparseEvent records -> FCEvent table (one row per trace)."""

    decoded_values = event_fields(1, 16.0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state: FCIOEventState | None = None

    def set_config(self, config: FCIOConfig, state: FCIOEventState | None = None) -> None:
        super().set_config(config)
        self.state = state if state is not None else FCIOEventState(config.ntraces)
        self._cfg_vector = config.kernel_vector()
        self.decoded_values = event_fields(config.eventsamples, config.sampling_period_ns)

    def get_key_lists(self) -> list[list[Any]]:
        if self.config is None:
            return [[]]
        keys = _trace_keys(self.config)
        return [list(dict.fromkeys(keys.tolist()))]

    def get_max_rows_in_packet(self) -> int:
        return 1 if self.config is None else self.config.ntraces

    def max_rows_for(self, keys: list[Any]) -> int:
        """Traces of an event whose key is in `keys` (one per channel, unless the tracemap
        maps several traces to one key)."""
        if self.config is None:
            return 1
        wanted = set(keys)
        return max(1, sum(1 for k in _trace_keys(self.config).tolist() if k in wanted))

    def decode_block(
        self, block: RecordBlock, first: int, last: int, table: Table, row0: int, max_rows: int
    ) -> tuple[int, int]:
        assert self.config is not None and self.state is not None
        keys = self._key_scratch(row0 + max_rows)
        done, rows, status, bad = decode_events(
            block.buf, block.tag, block.start, block.frame0, block.nframes, block.pid,
            block.frame_off, block.frame_len, first, last, max_rows,
            self._cfg_vector, self.config.tracemap, *self.state.kernel_args(),
            columns_of(table, FCEventColumns, row0), keys[row0:],
        )  # fmt: skip
        wf = table["waveform"]
        if rows:
            wf["t0"].nda[row0 : row0 + rows] = 0
            wf["dt"].nda[row0 : row0 + rows] = self.config.sampling_period_ns
        if status:
            _raise_decode_error(status, block, bad, self.name)
        return done, rows

    def row_keys(self, table: Table, row0: int, n: int) -> np.ndarray:
        return self._keys[row0 : row0 + n]


_HEADER_VOVS = ("tracelist", "board_id", "fc_input", "runtime", "lifetime", "deadtime",
                "deadinterval_nsec", "baseline", "daqenergy")  # fmt: skip


class FCEventHeaderDecoder(FCIODecoder):
    """FCIOEventHeader records -> FCEventHeader table (one row per record, per-trace
    values as vectors)."""

    decoded_values = event_header_fields(1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state: FCIOEventState | None = None

    def set_config(self, config: FCIOConfig, state: FCIOEventState | None = None) -> None:
        super().set_config(config)
        self.state = state if state is not None else FCIOEventState(config.ntraces)
        self._cfg_vector = config.kernel_vector()
        self.decoded_values = event_header_fields(config.ntraces)

    def key(self) -> str:
        return f"fcid_{0 if self.config is None else self.config.fcid}/evt_hdr"

    def get_key_lists(self) -> list[list[Any]]:
        return [[self.key()]]

    def decode_block(
        self, block: RecordBlock, first: int, last: int, table: Table, row0: int, max_rows: int
    ) -> tuple[int, int]:
        assert self.config is not None and self.state is not None
        start = int(table["tracelist"].cumulative_length.nda[row0 - 1]) if row0 > 0 else 0
        need = start + max_rows * self.config.ntraces
        for name in _HEADER_VOVS:
            fd = table[name].flattened_data
            if len(fd) < need:
                fd.resize(need)
        done, rows, status, bad = decode_event_headers(
            block.buf, block.tag, block.frame0, block.nframes, block.pid, block.frame_off,
            block.frame_len,
            first, last, max_rows, start, self._cfg_vector, self.config.tracemap,
            *self.state.kernel_args(), columns_of(table, FCEventHeaderColumns, row0),
        )  # fmt: skip
        if status:
            _raise_decode_error(status, block, bad, self.name)
        return done, rows

    def row_keys(self, table: Table, row0: int, n: int) -> list:
        return [self.key()] * n


def _trace_keys(config: FCIOConfig) -> np.ndarray:
    tm = config.tracemap.astype(np.int64)
    return config.fcid * 1_000_000 + (tm >> 16) * 100 + (tm & 0xFFFF)


_STATUS_VOVS = ("adc_temps", "cti_links", "link_states")
_STATUS_VOV_MAX = {"adc_temps": 16, "cti_links": 4, "link_states": 256}


class FCStatusDecoder(FCIODecoder):
    """FCIOStatus records -> FCStatus table (one row per card)."""

    decoded_values = STATUS_FIELDS

    def _card_key(self, reqid: int) -> str:
        fcid = 0 if self.config is None else self.config.fcid
        return f"fcid_{fcid}/status/card{reqid}"

    def get_key_lists(self) -> list[list[Any]]:
        ids = [0] if self.config is None else self.config.card_ids()
        return [[self._card_key(i) for i in ids]]

    def get_max_rows_in_packet(self) -> int:
        return max(1, len(self.get_key_lists()[0]))

    def decode_block(
        self, block: RecordBlock, first: int, last: int, table: Table, row0: int, max_rows: int
    ) -> tuple[int, int]:
        flat = np.zeros(3, dtype=np.int64)
        for k, name in enumerate(_STATUS_VOVS):
            vov = table[name]
            flat[k] = int(vov.cumulative_length.nda[row0 - 1]) if row0 > 0 else 0
            need = flat[k] + max_rows * _STATUS_VOV_MAX[name]
            if need > len(vov.flattened_data):
                vov.flattened_data.resize(int(need))
        done, rows, status, bad = decode_status(
            block.buf, block.frame0, block.nframes, block.pid, block.frame_off, block.frame_len,
            first, last, max_rows, flat, columns_of(table, FCStatusColumns, row0),
        )  # fmt: skip
        if status:
            _raise_decode_error(status, block, bad, self.name)
        return done, rows

    def row_keys(self, table: Table, row0: int, n: int) -> list:
        return [self._card_key(int(i)) for i in table["id"].nda[row0 : row0 + n]]
