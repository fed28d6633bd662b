"""MGDO decoders: the rows of parsed baskets (:class:`.block.ParsedBasket`) into tables.

The kernels (:mod:`.kernels`) parse a whole basket at once; a decoder copies the rows of a
run of its entries into a buffer table with numpy slices. Records are entries; an entry
that did not parse has no rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...decoder import DataDecoder
from ...lh5.columns import TableCol, VectorCol
from ...routing import BlockDecoderMixin
from .block import ParsedBasket
from .fields import AUX_SCALARS, EVENT_SCALARS, aux_fields, event_fields

__all__ = ["MGDOAuxWaveformDecoder", "MGDOEventDecoder", "MGDOShape"]


@dataclass(frozen=True)
class MGDOShape:
    """What the first entries of a file say about all of them: trace lengths, sampling
    periods (ns), channels (the keys) and the most traces of one kind in an entry."""

    main_len: int = 0
    aux_len: int = 0
    main_dt: float = 1.0
    aux_dt: float = 1.0
    channels: tuple[int, ...] = ()
    max_traces: int = 1


def _fit(rows_per_entry: np.ndarray, max_rows: int) -> int:
    """Entries (from the first) whose rows together fit in `max_rows`."""
    return int(np.searchsorted(np.cumsum(rows_per_entry), max_rows, side="right"))


def _period_ns(freq_ghz: np.ndarray) -> np.ndarray:
    out = np.zeros(len(freq_ghz), np.float64)
    np.divide(1.0, freq_ghz, out=out, where=freq_ghz > 0)
    return out


class _MGDODecoder(DataDecoder, BlockDecoderMixin):
    """Shared parts: keys (channels) and row bounds from the file's :class:`MGDOShape`."""

    def __init__(self) -> None:
        super().__init__(garbage_length=1)
        self.shape = MGDOShape()
        self.set_shape(self.shape)

    def set_shape(self, shape: MGDOShape) -> None:
        """Configure from the file (trace lengths, channels)."""
        self.shape = shape

    def get_key_lists(self) -> list[list[Any]]:
        return [list(self.shape.channels)]

    def get_max_rows_in_packet(self) -> int:
        return max(self.shape.max_traces, 1)

    def max_rows_for(self, keys: list[Any]) -> int:
        """A channel has at most one trace of a kind in an entry (the parser checks)."""
        return min(self.get_max_rows_in_packet(), max(len(keys), 1))

    def row_keys(self, table: TableCol, row0: int, n: int) -> np.ndarray:
        return table["channel"].nda[row0 : row0 + n]

    def _fill_waveform(
        self, table: TableCol, row0: int, rows: int, meta: np.ndarray, values: np.ndarray
    ) -> None:
        wf = table["waveform"]
        sl = slice(row0, row0 + rows)
        wf["values"].nda[sl] = values
        wf["t0"].nda[sl] = meta["t0"]
        wf["dt"].nda[sl] = _period_ns(meta["sampling_frequency"])


class MGDOEventDecoder(_MGDODecoder):
    """Main traces -> ``MGDOEvent``: one row per trace (digitizer data, event fields, the
    event's active channels and the waveform)."""

    def set_shape(self, shape: MGDOShape) -> None:
        super().set_shape(shape)
        self.decoded_values = event_fields(shape.main_len, shape.main_dt, len(shape.channels))

    def decode_block(
        self, block: ParsedBasket, first: int, last: int, table: TableCol, row0: int,
        max_rows: int,
    ) -> tuple[int, int]:  # fmt: skip
        ent = block.entries[first:last]
        done = _fit(ent["n_main"], max_rows)
        ent = ent[:done]
        counts = ent["n_main"].astype(np.int64)
        rows = int(counts.sum())
        if rows == 0:
            return done, 0
        r0 = int(ent["main0"][0])
        tr = block.traces[r0 : r0 + rows]
        sl = slice(row0, row0 + rows)
        pid = block.first_entry + first + np.arange(done)
        table["packet_id"].nda[sl] = np.repeat(pid, counts)
        for name in ("event_type", "event_energy", "event_time", "event_number"):
            table[name].nda[sl] = np.repeat(ent[name], counts)
        table["numtraces"].nda[sl] = np.repeat(ent["n_main"], counts)
        table["use_aux_waveforms"].nda[sl] = np.repeat(ent["use_aux"] != 0, counts)
        for name in EVENT_SCALARS:
            if name in tr.dtype.names:
                table[name].nda[sl] = tr[name]
        table["timestamp"].nda[sl] = tr["timestamp_sec"] + tr["timestamp_nsec"] * 1e-9
        self._fill_waveform(table, row0, rows, tr, block.main_values[r0 : r0 + rows])
        _fill_flags(table["active_channels"], row0, block.flags,
                    np.repeat(ent["flag0"], counts), np.repeat(ent["n_flag"], counts))  # fmt: skip
        return done, rows


class MGDOAuxWaveformDecoder(_MGDODecoder):
    """Aux traces -> ``MGDOAuxWaveform``: one row per trace (channel and waveform)."""

    def set_shape(self, shape: MGDOShape) -> None:
        super().set_shape(shape)
        self.decoded_values = aux_fields(shape.aux_len, shape.aux_dt)

    def decode_block(
        self, block: ParsedBasket, first: int, last: int, table: TableCol, row0: int,
        max_rows: int,
    ) -> tuple[int, int]:  # fmt: skip
        ent = block.entries[first:last]
        done = _fit(ent["n_aux"], max_rows)
        ent = ent[:done]
        counts = ent["n_aux"].astype(np.int64)
        rows = int(counts.sum())
        if rows == 0:
            return done, 0
        r0 = int(ent["aux0"][0])
        tr = block.aux[r0 : r0 + rows]
        sl = slice(row0, row0 + rows)
        table["packet_id"].nda[sl] = np.repeat(block.first_entry + first + np.arange(done), counts)
        for name in AUX_SCALARS:
            if name != "packet_id":
                table[name].nda[sl] = tr[name]
        self._fill_waveform(table, row0, rows, tr, block.aux_values[r0 : r0 + rows])
        return done, rows


def _fill_flags(vov: VectorCol, row0: int, flags: np.ndarray, starts: np.ndarray,
                lengths: np.ndarray) -> None:  # fmt: skip
    """Rows ``row0...`` of a VectorOfVectors: ``flags[starts[i]:starts[i] + lengths[i]]``."""
    lengths = lengths.astype(np.int64)
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if len(ends) else 0
    base = int(vov.cumulative_length.nda[row0 - 1]) if row0 > 0 else 0
    if base + total > len(vov.flattened_data):
        vov.flattened_data.resize(max(base + total, 2 * len(vov.flattened_data)))
    idx = np.repeat(starts.astype(np.int64) - (ends - lengths), lengths) + np.arange(total)
    vov.flattened_data.nda[base : base + total] = flags[idx]
    vov.cumulative_length.nda[row0 : row0 + len(lengths)] = base + ends
