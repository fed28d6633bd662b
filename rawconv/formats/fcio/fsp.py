"""FSP decoders: FSPConfig, FSPEvent and FSPStatus records (libfsp software trigger).

An FSP record precedes the FCIO record it annotates and shares its packet id
(formats.md 1.2, 1.6). Keys, as the reference converter's (reference-converter.md 2, 4),
with N = the stream's fcid (streamid & 0xFFFF):

* ``swtid_N/config``: FSPConfig, one row per record;
* ``swtid_N/event``: FSPEvent before an Event / SparseEvent (or RecEvent) record;
* ``swtid_N/evt_hdr``: FSPEvent before an EventHeader record;
* ``swtid_N/status``: FSPStatus, one row per record.

FSPEvent keys share one key list, so the default out_spec puts both in one table named
``FSPEvent``, as the reference converter does for FCIO files; an out_spec can split them.
An FSPEvent followed by no event record gives no row (counted in ``n_unannotated``).

The record layout is not versioned: records are matched to the known layouts by frame count
(`fsp_fields`); anything else raises CorruptDataError with the record's location.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ...errors import CorruptDataError
from ...lh5.columns import TableCol as Table
from ...lh5.columns import VectorCol
from ..kernel_outputs import columns_of
from .block import RecordBlock
from .decoders import FCIODecoder
from .fsp_fields import (
    CONFIG_FRAME,
    CONFIG_FRAMES,
    EVENT_NFRAMES,
    EVENT_VOVS,
    FSP_CONFIG_FIELDS,
    FSP_EVENT_FIELDS,
    FSP_STATUS_FIELDS,
    FSP_STATUS_STRUCT,
    LABEL_BYTES,
    LABEL_DTYPE,
    LABEL_FIELDS,
    FSPEventColumns,
)
from .fsp_kernels import FSP_BAD_LAYOUT, FSP_NEED_ROOM, FSP_TOO_MANY, decode_fsp_events
from .layout import MAX_CHANNELS, TAG_FSPEVENT

log = logging.getLogger(__name__)

__all__ = ["FSPConfigDecoder", "FSPEventDecoder", "FSPStatusDecoder", "parse_fsp_config"]


class _Frames:
    """Bounds-checked readers over one record's frames (a short frame reads as zeros)."""

    def __init__(self, buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> None:
        self.data = [buf[int(o) : int(o) + int(n)] for o, n in zip(offsets, lengths)]

    def scalar(self, i: int, dtype: str, pos: int = 0) -> Any:
        dt = np.dtype(dtype)
        raw = self.data[i][pos : pos + dt.itemsize]
        return np.frombuffer(raw.tobytes(), dt)[0] if len(raw) == dt.itemsize else dt.type(0)

    def long(self, i: int) -> int:
        """A C ``long`` frame: 8 bytes, or 4 from a 32-bit writer."""
        return int(self.scalar(i, "<i8" if len(self.data[i]) >= 8 else "<i4"))

    def array(self, i: int, dtype: str, count: int | None = None) -> np.ndarray:
        """The frame as an array (`count` entries: cut or padded with zeros)."""
        dt = np.dtype(dtype)
        raw = self.data[i]
        vals = np.frombuffer(raw[: len(raw) // dt.itemsize * dt.itemsize].tobytes(), dt)
        if count is None:
            return vals.copy()
        out = np.zeros(count, dt)
        out[: min(count, len(vals))] = vals[:count]
        return out

    def labels(self, i: int, count: int) -> np.ndarray:
        raw = self.data[i].tobytes()
        out = np.zeros(count, LABEL_DTYPE)
        for k in range(min(count, len(raw) // LABEL_BYTES)):
            out[k] = raw[k * LABEL_BYTES : (k + 1) * LABEL_BYTES].split(b"\0", 1)[0][:7]
        return out


def parse_fsp_config(
    buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, where: dict[str, Any]
) -> dict[str, Any]:
    """The FSPConfig table values (without packet_id) of one record's frames.

    Per-trace vectors have one entry per mapped trace of their processor (HWM, CT, WPS), as
    the reference converter writes them; entries missing from a short frame are 0.

    Raises
    ------
    CorruptDataError
        the frame count is not the 48 of the known layouts, or a trace map is too long.
    """
    if len(offsets) != len(CONFIG_FRAMES):
        raise CorruptDataError(
            f"FSPConfig record with {len(offsets)} frames; the known layouts have "
            f"{len(CONFIG_FRAMES)}",
            **where,
        )
    f = _Frames(buf, offsets, lengths)
    F = CONFIG_FRAME
    n = {}
    for proc in ("hwm", "ct", "wps"):
        n[proc] = len(f.data[F[f"{proc}_map"]]) // 4
        if n[proc] > MAX_CHANNELS:
            raise CorruptDataError(
                f"FSPConfig {proc} trace map holds {n[proc]} traces (at most {MAX_CHANNELS})",
                **where,
            )
    out: dict[str, Any] = {
        "buffer_max_states": f.scalar(F["buffer_max_states"], "<i4"),
        "buffer_window_nsec": _ns(f, "buffer_window"),
        "trg_hwm_min_multiplicity": f.scalar(F["hwm_min_multiplicity"], "<i4"),
        "trg_hwm_prescale_ratio": f.array(F["hwm_prescale_ratio"], "<i4", n["hwm"]),
        "trg_wps_prescale_ratio": f.scalar(F["wps_prescale_ratio"], "<i4"),
        "trg_wps_coincident_sum_threshold": f.scalar(F["wps_coincident_sum_threshold"], "<f4"),
        "trg_wps_sum_threshold": f.scalar(F["wps_sum_threshold"], "<f4"),
        "trg_wps_prescale_rate": f.scalar(F["wps_prescale_rate"], "<f4"),
        "trg_hwm_prescale_rate": f.array(F["hwm_prescale_rate"], "<f4", n["hwm"]),
        "trg_wps_ref_flags_hwm": f.scalar(F["wps_ref_flags_hwm"], "<i8"),
        "trg_wps_ref_flags_ct": f.scalar(F["wps_ref_flags_ct"], "<i8"),
        "trg_wps_ref_flags_wps": f.scalar(F["wps_ref_flags_wps"], "<i8"),
        "trg_wps_ref_map_idx": f.array(F["wps_ref_map_idx"], "<i4")[:MAX_CHANNELS],
        "trg_enabled_write_flags_trigger": f.scalar(F["enabled_flags"], "<i8", 8),
        "trg_enabled_write_flags_event": f.scalar(F["enabled_flags"], "<i8", 0),
        "trg_pre_trigger_window_nsec": _ns(f, "pre_window"),
        "trg_post_trigger_window_nsec": _ns(f, "post_window"),
    }
    for proc in ("wps", "hwm", "ct"):
        out[f"dsp_{proc}_tracemap_format"] = f.scalar(F[f"{proc}_format"], "<i4")
        out[f"dsp_{proc}_tracemap_indices"] = f.array(F[f"{proc}_map"], "<i4")
        out[f"dsp_{proc}_tracemap_enabled"] = f.array(F[f"{proc}_enabled"], "<i4")[:MAX_CHANNELS]
        out[LABEL_FIELDS[proc]] = f.labels(F[f"{proc}_labels"], n[proc])
    out["dsp_hwm_fpga_energy_threshold_adc"] = f.array(F["hwm_thresholds"], "<u2", n["hwm"])
    out["dsp_ct_thresholds"] = f.array(F["ct_thresholds"], "<u2", n["ct"])
    for name, dtype in (("gains", "<f4"), ("thresholds", "<f4"), ("lowpass", "<f4"),
                        ("shaping_widths", "<i4"), ("margin_front", "<i4"),
                        ("margin_back", "<i4"), ("start_sample", "<i4"),
                        ("stop_sample", "<i4")):  # fmt: skip
        out[f"dsp_wps_{name}"] = f.array(F[f"wps_{name}"], dtype, n["wps"])
    for name in ("apply_gain_scaling", "sum_window_size", "sum_window_start_sample",
                 "sum_window_stop_sample"):  # fmt: skip
        out[f"dsp_wps_{name}"] = f.scalar(F[f"wps_{name}"], "<i4")
    out["dsp_wps_sub_event_sum_threshold"] = f.scalar(F["wps_sub_event_sum_threshold"], "<f4")
    out["dsp_wps_dsp_max_margin_front"] = f.scalar(F["wps_max_margin_front"], "<i4")
    out["dsp_wps_dsp_max_margin_back"] = f.scalar(F["wps_max_margin_back"], "<i4")
    return out


def _ns(f: _Frames, name: str) -> int:
    """A (seconds, nanoseconds) pair of frames in ns (int64 arithmetic, wrapping)."""
    sec = np.array([f.long(CONFIG_FRAME[f"{name}_sec"])], dtype=np.int64)
    nsec = np.array([f.long(CONFIG_FRAME[f"{name}_nsec"])], dtype=np.int64)
    return int((sec * 1_000_000_000 + nsec)[0])


class _FSPDecoder(FCIODecoder):
    """Common part: keys ``swtid_<fcid>/<what>``."""

    def _key(self, what: str) -> str:
        return f"swtid_{0 if self.config is None else self.config.fcid}/{what}"


class FSPConfigDecoder(_FSPDecoder):
    """FSPConfig records -> FSPConfig table (one row per record, 47 columns).

    The label columns are ``MAX_CHANNELS`` labels wide, as the reference's: a record's labels
    (one per mapped trace, at most ``MAX_CHANNELS``) then empty ones, so that no label of any
    config is lost and the tables join the reference converter's.
    """

    decoded_values = FSP_CONFIG_FIELDS

    def get_key_lists(self) -> list[list[Any]]:
        return [[self._key("config")]]

    def parse(self, block: RecordBlock, i: int) -> dict[str, Any]:
        """The table values of record `i` of `block`."""
        offsets, lengths = block.frames(i)
        return parse_fsp_config(block.buf, offsets, lengths, block.where(i, self.name))

    def decode_block(
        self, block: RecordBlock, first: int, last: int, table: Table, row0: int, max_rows: int
    ) -> tuple[int, int]:
        rows = min(last - first, max_rows)
        for r in range(rows):
            values = self.parse(block, first + r)
            values["packet_id"] = int(block.pid[first + r])
            self._write_row(table, row0 + r, values)
        return rows, rows

    def _write_row(self, table: Table, row: int, values: dict[str, Any]) -> None:
        for name, value in values.items():
            col = table[name]
            if isinstance(col, VectorCol):
                col.set_row(row, value)
            elif col.nda.ndim == 2:  # labels: at most MAX_CHANNELS (parse_fsp_config)
                col.nda[row] = b""
                col.nda[row, : len(value)] = value
            else:
                col.nda[row] = value

    def row_keys(self, table: Table, row0: int, n: int) -> list:
        return [self._key("config")] * n


class FSPEventDecoder(_FSPDecoder):
    """FSPEvent records -> FSPEvent table (one row per record that precedes an event)."""

    decoded_values = FSP_EVENT_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kind = np.zeros(0, dtype=np.int8)
        self._flat = np.zeros(2, dtype=np.int64)
        self._out_key: tuple[int, ...] | None = None
        self._out: FSPEventColumns | None = None
        self.n_unannotated = 0
        """FSPEvent records followed by no event record (no row)."""

    def keys(self) -> tuple[str, str]:
        """The keys of rows before event records and before event headers."""
        return self._key("event"), self._key("evt_hdr")

    def get_key_lists(self) -> list[list[Any]]:
        return [list(self.keys())]

    def _columns(self, table: Table) -> FSPEventColumns:
        """The table's output struct from its first row (cached: the decoder may be called
        once per record; the struct holds the arrays, so their ids identify them)."""
        key = (id(table["packet_id"].nda), *(id(table[n].flattened_data.nda) for n in EVENT_VOVS))
        if self._out is None or self._out_key != key:
            self._out = columns_of(table, FSPEventColumns)
            self._out_key = key
        return self._out

    def decode_block(
        self, block: RecordBlock, first: int, last: int, table: Table, row0: int, max_rows: int
    ) -> tuple[int, int]:
        if len(self._kind) < row0 + max_rows:
            self._kind = np.zeros(max(row0 + max_rows, 2 * len(self._kind)), dtype=np.int8)
        flat = self._flat
        out = self._columns(table)
        ps_cl = out.obs_ps_hwm_prescaled_trace_idx.cumulative_length
        flat[0] = out.obs_ct_trace_idx.cumulative_length[row0 - 1] if row0 > 0 else 0
        flat[1] = ps_cl[row0 - 1] if row0 > 0 else 0
        done = rows = 0
        while True:
            d, n, status, bad = decode_fsp_events(
                block.buf, block.tag, block.stop, block.frame0, block.nframes, block.pid,
                block.frame_off, block.frame_len, block.n, first + done, last, row0 + rows,
                max_rows - rows, flat, self._columns(table), self._kind,
            )  # fmt: skip
            done, rows = done + d, rows + n
            if status != FSP_NEED_ROOM:
                break
            for name, used in zip(EVENT_VOVS, (flat[0], flat[0], flat[1])):
                fd = table[name].flattened_data
                fd.resize(max(2 * len(fd), int(used) + MAX_CHANNELS))
        fsp_records = int(np.count_nonzero(block.tag[first : first + done] == TAG_FSPEVENT))
        self.n_unannotated += fsp_records - rows
        if status == FSP_BAD_LAYOUT:
            raise CorruptDataError(
                f"FSPEvent record with {int(block.nframes[bad])} frames; the known layouts "
                f"have {' or '.join(map(str, EVENT_NFRAMES))}",
                **block.where(bad, self.name),
            )
        if status == FSP_TOO_MANY:
            raise CorruptDataError(
                f"FSPEvent trace list longer than {MAX_CHANNELS} entries",
                **block.where(bad, self.name),
            )
        return done, rows

    def row_keys(self, table: Table, row0: int, n: int) -> list:
        keys = self.keys()
        return [keys[k] for k in self._kind[row0 : row0 + n].tolist()]


class FSPStatusDecoder(_FSPDecoder):
    """FSPStatus records -> FSPStatus table (one row per record, 18 columns)."""

    decoded_values = FSP_STATUS_FIELDS

    def get_key_lists(self) -> list[list[Any]]:
        return [[self._key("status")]]

    def decode_block(
        self, block: RecordBlock, first: int, last: int, table: Table, row0: int, max_rows: int
    ) -> tuple[int, int]:
        rows = min(last - first, max_rows)
        size = FSP_STATUS_STRUCT.itemsize
        for r in range(rows):
            i = first + r
            offsets, lengths = block.frames(i)
            if len(offsets) != 1:
                raise CorruptDataError(
                    f"FSPStatus record with {len(offsets)} frames; the known layout has 1",
                    **block.where(i, self.name),
                )
            o, n = int(offsets[0]), min(int(lengths[0]), size)
            raw = np.zeros(size, dtype=np.uint8)
            raw[:n] = block.buf[o : o + n]
            stats = raw.view(FSP_STATUS_STRUCT)[0]
            table["packet_id"].nda[row0 + r] = block.pid[i]
            for name in FSP_STATUS_STRUCT.names:
                table[name].nda[row0 + r] = stats[name]
        return rows, rows

    def row_keys(self, table: Table, row0: int, n: int) -> list:
        return [self._key("status")] * n
