"""Decoders of the legacy (pre-FCIO) FlashCam records of ORCA files (formats.md 2.4).

* ``ORFlashCamListenerConfigDecoder``: one row per config record (table
  ``ORFlashCamListenerConfig``); also sets the listener state the waveforms need (gps mode,
  tracemap).
* ``ORFlashCamListenerStatusDecoder``: one row per status record, per-card values as
  vectors (``n_cards`` entries, or ``n_cards * k`` for k values per card).
* ``ORFlashCamADCWaveformDecoder`` / ``ORFlashCamWaveformDecoder`` (input/channel bits
  13-10/9-0 vs 13-9/8-0): one row per record, keyed ``fcid * 1e6 + address * 100 + input``,
  waveform length from the records (the listener config's nsamples), not from the
  header's ``eventSamples``; the card address is restored from the header (records keep
  only its low 8 bits).
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...lh5.columns import TableCol
from ..fcio.fields import event_fields
from ..kernel_outputs import columns_of
from .block import OrcaBlock
from .decoders import OrcaDecoder
from .flashcam_kernels import N_SLOTS, decode_fc_waveforms
from .flashcam_status import STATUS_FIELDS, decode_status_record
from .header import FC_CARD_CLASSES, FlashCamListener, OrcaHeader
from .layout import (
    FC_CONFIG_FIELDS,
    FC_CONFIG_TRACEMAP,
    KIND_FC_CONFIG,
    KIND_FC_STATUS,
    KIND_FC_WAVEFORM,
    KIND_FC_WAVEFORM_V2,
)

__all__ = [
    "LegacyState",
    "ORFlashCamADCWaveformDecoder",
    "ORFlashCamListenerConfigDecoder",
    "ORFlashCamListenerStatusDecoder",
    "ORFlashCamWaveformDecoder",
]

_VOV = "array<1>{array<1>{real}}"


@dataclass
class LegacyState:
    """What legacy waveform decoding needs besides the record: from the header (listeners,
    card addresses per crate/slot) and from each listener's config record."""

    listeners: dict[int, FlashCamListener] = field(default_factory=dict)
    slot_fcid: np.ndarray = field(default_factory=lambda: np.full(N_SLOTS, -1, np.int64))
    slot_addr: np.ndarray = field(default_factory=lambda: np.zeros(N_SLOTS, np.int64))
    gps: dict[int, int] = field(default_factory=dict)
    tm_board: dict[int, np.ndarray] = field(default_factory=dict)
    nsamples: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_header(cls, header: OrcaHeader) -> LegacyState:
        state = cls(listeners=header.flashcam_listeners(FC_CARD_CLASSES))
        for fcid, lst in state.listeners.items():
            for crate, slot, address in lst.cards:
                if 0 <= crate < 32 and 0 <= slot < 32:
                    state.slot_fcid[crate * 32 + slot] = fcid
                    state.slot_addr[crate * 32 + slot] = address
        return state


def _col(dtype: str, description: str = "", **extra: Any) -> dict[str, Any]:
    return {"dtype": dtype, "description": description, **extra}


CONFIG_FIELDS: dict[str, dict[str, Any]] = {
    "packet_id": _col("uint32", "Index of the record (packet) in the input."),
    "packet_len": _col("uint32", "Length of the record in 32-bit words."),
    "readout_id": _col("uint16", "FlashCam readout id (word 1, bits 31-16)."),
    "fcid": _col("uint16", "Listener id (word 1, bits 15-0)."),
    **{name: _col("int32", f"FlashCam config {name}.") for name in FC_CONFIG_FIELDS},
    "ch_board_id": _col("uint16", "Card address per trace.", datatype=_VOV, length_guess=64),
    "ch_inputnum": _col("uint16", "Card input per trace.", datatype=_VOV, length_guess=64),
    "board_rev": _col("uint8", "Revision per ADC card.", datatype=_VOV, length_guess=16),
    "board_uid": _col("uint64", "Unique id per ADC card.", datatype=_VOV, length_guess=16),
}


class ORFlashCamListenerConfigDecoder(OrcaDecoder):
    """Legacy listener config records -> ``ORFlashCamListenerConfig`` (one row each).

    Words: 1 readout_id << 16 | fcid; 2-12 streamid, nadcs, ntriggers, nsamples, adcbits,
    sumlength, blprecision, mastercards, triggercards, adccards, gps; 13.. tracemap[nadcs]
    (address << 16 | input); then, when the record is longer, ceil(adccards / 4) words of
    board revisions (one byte each) and 2 words per board of 64-bit unique ids.
    """

    kind = KIND_FC_CONFIG
    decoded_values = CONFIG_FIELDS

    def __init__(self, header: OrcaHeader | None = None, state: LegacyState | None = None):
        self.state = state or LegacyState()
        super().__init__(header)

    def apply(self, block: OrcaBlock, i: int) -> dict[str, Any]:
        """Parse record `i` and update the listener state; returns the row values."""
        w = block.words_of(i)
        iw = w.view(np.int32)
        values: dict[str, Any] = {
            "packet_len": len(w), "readout_id": int(w[1] >> 16), "fcid": int(w[1] & 0xFFFF),
        }  # fmt: skip
        for k, name in enumerate(FC_CONFIG_FIELDS):
            values[name] = int(iw[2 + k])
        nadcs = values["nadcs"]
        tmap = w[FC_CONFIG_TRACEMAP : FC_CONFIG_TRACEMAP + nadcs]
        values["ch_board_id"] = (tmap >> 16).astype(np.uint16)
        values["ch_inputnum"] = (tmap & 0xFFFF).astype(np.uint16)
        rev = np.zeros(0, np.uint8)
        uid = np.zeros(0, np.uint64)
        extra = w[FC_CONFIG_TRACEMAP + nadcs :]
        if len(extra) > 0:
            boards = max(values["adccards"], 0)
            n_rev = -(-boards // 4)
            rev_words = np.zeros(n_rev, dtype="<u4")
            rev_words[: min(n_rev, len(extra))] = extra[:n_rev]
            rev = rev_words.view(np.uint8)[:boards].copy()
            pairs = np.zeros(2 * boards, dtype=np.uint64)
            got = extra[n_rev : n_rev + 2 * boards].astype(np.uint64)
            pairs[: len(got)] = got
            uid = (pairs[0::2] << np.uint64(32)) | pairs[1::2]
        values["board_rev"], values["board_uid"] = rev, uid
        fcid = values["fcid"]
        self.state.gps[fcid] = values["gps"]
        self.state.tm_board[fcid] = (tmap >> 16).astype(np.int64)
        self.state.nsamples[fcid] = values["nsamples"]
        return values

    def decode_block(
        self, block: OrcaBlock, first: int, last: int, table: TableCol, row0: int, max_rows: int
    ) -> tuple[int, int]:
        rows = min(last - first, max_rows)
        for r in range(rows):
            values = self.apply(block, first + r)
            values["packet_id"] = int(block.pid[first + r])
            for name, value in values.items():
                col = table[name]
                if name in ("ch_board_id", "ch_inputnum", "board_rev", "board_uid"):
                    col.set_row(row0 + r, value)
                else:
                    col.nda[row0 + r] = value
        return rows, rows


class ORFlashCamListenerStatusDecoder(OrcaDecoder):
    """Legacy listener status records -> ``ORFlashCamListenerStatus`` (one row each).

    The reference converter allocates this table and never fills it; rawconv decodes it
    (layout in :mod:`.flashcam_status`).
    """

    kind = KIND_FC_STATUS
    decoded_values = STATUS_FIELDS

    def decode_block(
        self, block: OrcaBlock, first: int, last: int, table: TableCol, row0: int, max_rows: int
    ) -> tuple[int, int]:
        rows = min(last - first, max_rows)
        for r in range(rows):
            decode_status_record(block.words_of(first + r), int(block.pid[first + r]), table,
                                 row0 + r)  # fmt: skip
        return rows, rows


def waveform_fields(wf_len: int) -> dict[str, dict[str, Any]]:
    """Columns of the legacy waveform tables (the FCEvent columns, ORCA's integer types)."""
    fields = event_fields(wf_len, 16.0)
    waveform = fields.pop("waveform")
    for name, dtype in (("event_type", "uint8"), ("fcid", "uint8"), ("fc_input", "uint8"),
                        ("board_id", "uint16")):  # fmt: skip
        fields[name] = dict(fields[name], dtype=dtype)
    fields["crate"] = _col("uint8", "ORCA crate of the card.")
    fields["slot"] = _col("uint8", "ORCA slot of the card.")
    fields["waveform"] = waveform
    return fields


FlashCamWaveformColumns = namedtuple("FlashCamWaveformColumns", tuple(waveform_fields(1)))
"""The output struct of the legacy waveform kernel: one field per column (kernel_outputs)."""


class ORFlashCamWaveformDecoder(OrcaDecoder):
    """Legacy FlashCam waveform records (input bits 13-9, channel bits 8-0)."""

    kind = KIND_FC_WAVEFORM_V2
    input_shift, input_mask, channel_mask = 9, 0x3E00, 0x1FF

    def __init__(self, header: OrcaHeader | None = None, state: LegacyState | None = None):
        self.state = state or LegacyState()
        self.counters = np.zeros(3, dtype=np.int64)
        self._parts: dict[int, _WaveformPart] = {}
        super().__init__(header)

    def set_header(self, header: OrcaHeader) -> None:
        super().set_header(header)
        if not self.state.listeners:
            self.state = LegacyState.from_header(header)
        self._parts = {fcid: _WaveformPart(self, fcid) for fcid in self.state.listeners}

    def wf_len(self, fcid: int) -> int:
        """Samples per waveform of listener `fcid`: its config's, else the header's."""
        n = self.state.nsamples.get(fcid) or self.state.listeners[fcid].event_samples
        return max(int(n), 1)

    def get_key_lists(self) -> list[list[Any]]:
        return [list(lst.keys) for lst in self.state.listeners.values()]

    def get_decoded_values(self, key: Any = None) -> dict[str, dict[str, Any]]:
        fcid = next(iter(self.state.listeners), 0) if key is None else int(key) // 1_000_000
        return waveform_fields(self.wf_len(fcid) if fcid in self.state.listeners else 1)

    def parts(self) -> list[Any]:
        return list(self._parts.values())

    def decode_part(
        self, fcid: int, block: OrcaBlock, first: int, last: int, table: TableCol, row0: int,
        max_rows: int, keys: np.ndarray,
    ) -> tuple[int, int]:  # fmt: skip
        """Decode the records of listener `fcid` among ``[first, last)``."""
        tm = self.state.tm_board.get(fcid, np.zeros(0, np.int64))
        done, rows = decode_fc_waveforms(
            block.buf, block.start, block.words, block.pid, block.bad, first, last, max_rows,
            fcid, self.input_shift, self.input_mask, self.channel_mask, self.state.slot_fcid,
            self.state.slot_addr, self.state.gps.get(fcid, 0),
            self.state.listeners[fcid].n_adc, tm, self.counters,
            columns_of(table, FlashCamWaveformColumns, row0), keys[row0:],
        )  # fmt: skip
        if rows:
            table["waveform"]["t0"].nda[row0 : row0 + rows] = 0
            table["waveform"]["dt"].nda[row0 : row0 + rows] = 16.0
        return done, rows


class ORFlashCamADCWaveformDecoder(ORFlashCamWaveformDecoder):
    """Legacy FlashCam ADC waveform records (input bits 13-10, channel bits 9-0)."""

    kind = KIND_FC_WAVEFORM
    input_shift, input_mask, channel_mask = 10, 0x3C00, 0x3FF


class _WaveformPart:
    """The records of one listener, for :class:`~rawconv.routing.MergeRoute`."""

    def __init__(self, owner: ORFlashCamWaveformDecoder, fcid: int) -> None:
        self.owner = owner
        self.fcid = fcid
        self.name = owner.name
        self._keys = np.zeros(0, dtype=np.int64)

    def get_key_lists(self) -> list[list[Any]]:
        return [list(self.owner.state.listeners[self.fcid].keys)]

    def get_max_rows_in_packet(self) -> int:
        return 1

    def make_table(self, key: Any = None, size: int | None = None) -> TableCol:
        return self.owner.make_table(key=self.fcid * 1_000_000, size=size)

    def decode_block(
        self, block: OrcaBlock, first: int, last: int, table: TableCol, row0: int, max_rows: int
    ) -> tuple[int, int]:
        if len(self._keys) < row0 + max_rows:
            self._keys = np.zeros(max(row0 + max_rows, 2 * len(self._keys)), dtype=np.int64)
        return self.owner.decode_part(self.fcid, block, first, last, table, row0, max_rows,
                                      self._keys)  # fmt: skip

    def row_keys(self, table: TableCol, row0: int, n: int) -> np.ndarray:
        return self._keys[row0 : row0 + n]
