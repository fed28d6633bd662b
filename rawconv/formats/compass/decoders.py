"""CompassEventDecoder: CoMPASS events -> ``CompassEvent`` rows (one per event).

Fields, dtypes and units are the reference converter's (reference-converter.md,
section 4): packet_id, board, channel, energy, energy_short, flags (uint32), timestamp
(float64, ps), num_samples (int64), waveform (uint16; t0 0, dt in ns). Where the
reference is wrong, rawconv writes:

* ``energy_calibrated`` (float64) only when the file has calibrated energies (the
  reference writes uninitialised memory otherwise), read after the ADC energy when both
  are present (the reference reads it 2 bytes early when it is alone, and reads the
  energy short and flags 8 bytes early when both are present);
* ``waveform.dt`` from the board's sampling rate in the settings XML (2 ns for a DT5730;
  the reference always writes 16 ns), :data:`~.config.DEFAULT_DT_NS` without settings;
* no ``waveform`` column for files without samples (a table of zero-sample rows cannot
  be stored); ``energy`` and ``energy_short`` are 0 when the file has none (as the
  reference writes the latter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...decoder import DataDecoder
from ...errors import CorruptDataError
from ...lh5.columns import TableCol
from ...routing import BlockDecoderMixin
from .config import DEFAULT_DT_NS
from .kernels import decode_events
from .layout import EventLayout

__all__ = ["CompassBlock", "CompassEventDecoder"]

_FIELDS: dict[str, dict[str, Any]] = {
    "packet_id": {"dtype": "uint32"},
    "board": {"dtype": "uint32"},
    "channel": {"dtype": "uint32"},
    "timestamp": {"dtype": "float64", "units": "ps"},
    "energy": {"dtype": "uint32"},
    "energy_calibrated": {"dtype": "float64"},
    "energy_short": {"dtype": "uint32"},
    "flags": {"dtype": "uint32"},
    "num_samples": {"dtype": "int64"},
}
_NO_BYTES = np.zeros(0, np.uint8)
_NO_VALUES = np.zeros((0, 0), np.uint8)


@dataclass
class CompassBlock:
    """Events found in ``buf``: event i starts at ``starts[i]`` (relative to ``buf``;
    ``base`` is the input offset of ``buf[0]``) and has packet id ``pid[i]``."""

    path: str
    buf: np.ndarray
    starts: np.ndarray
    pid: np.ndarray
    base: int = 0
    n: int = 0

    def where(self, i: int, decoder: str | None = None) -> dict:
        """Keyword arguments locating event `i` for an error."""
        return {"path": self.path, "offset": int(self.base + self.starts[i]),
                "record": int(self.pid[i]), "decoder": decoder}  # fmt: skip


class CompassEventDecoder(DataDecoder, BlockDecoderMixin):
    """CoMPASS events -> one row each; key ``(board << 9) + channel``."""

    def __init__(self) -> None:
        super().__init__()
        self.layout = EventLayout(0)
        self.wf_len = 0
        self.keys: list[int] = [0]
        self.dt_of_board = np.zeros(0, np.float32)
        self.dt_default = DEFAULT_DT_NS
        self._offsets = np.zeros(6, np.int64)

    def set_layout(self, layout: EventLayout, wf_len: int, keys: list[int],
                   dt_of_board: list[float], dt_default: float) -> None:  # fmt: skip
        """The file's event layout, samples per event, keys and sampling period per board."""
        self.layout, self.wf_len = layout, int(wf_len)
        self.keys = list(keys) or [0]
        self.dt_of_board = np.asarray(dt_of_board, np.float32)
        self.dt_default = float(dt_default)
        self._offsets = np.array(
            [layout.off_energy, layout.off_calibrated, layout.off_short, layout.off_flags,
             layout.off_nsamples, layout.head], np.int64,
        )  # fmt: skip

    def get_key_lists(self) -> list[list[Any]]:
        return [list(self.keys)]

    def get_decoded_values(self, key: Any = None) -> dict[str, dict[str, Any]]:
        values = {k: dict(v) for k, v in _FIELDS.items()}
        if not self.layout.has_calibrated:
            del values["energy_calibrated"]
        if self.wf_len > 0:
            dt = float(self.dt_of_board[0]) if len(self.dt_of_board) else self.dt_default
            values["waveform"] = {"dtype": "uint16", "datatype": "waveform", "wf_len": self.wf_len,
                                  "dt": dt, "dt_units": "ns", "t0_units": "ns"}  # fmt: skip
        return values

    def decode_block(self, block: CompassBlock, first: int, last: int, table: TableCol,
                     row0: int, max_rows: int) -> tuple[int, int]:  # fmt: skip
        """Decode events ``[first, last)`` (at most `max_rows`) into `table` from `row0`."""
        last = min(last, first + max(int(max_rows), 0), block.n)
        if last <= first:
            return 0, 0
        cols = [table[name].nda[row0:] for name in
                ("packet_id", "board", "channel", "timestamp", "energy")]  # fmt: skip
        cal = table["energy_calibrated"].nda[row0:].view(np.uint8) if (
            "energy_calibrated" in table) else _NO_BYTES  # fmt: skip
        rest = [table[name].nda[row0:] for name in ("energy_short", "flags", "num_samples")]
        if "waveform" in table:
            wf = table["waveform"]
            dt, values = wf["dt"].nda[row0:], wf["values"].nda[row0:].view(np.uint8)
        else:
            dt, values = np.zeros(last - first, np.float32), _NO_VALUES
        done = decode_events(
            block.buf, block.starts, block.pid, first, last, self._offsets,
            self.wf_len if "waveform" in table else 0, self.dt_of_board, self.dt_default,
            *cols, cal, *rest, dt, values,
        )  # fmt: skip
        if done < 0:
            raise CorruptDataError(
                "event extends past the bytes read", **block.where(-done - 1, self.name)
            )
        if "waveform" in table:
            table["waveform"]["t0"].nda[row0 : row0 + done] = 0
        return done, done

    def row_keys(self, table: TableCol, row0: int, n: int) -> np.ndarray:
        board = table["board"].nda[row0 : row0 + n].astype(np.int64)
        return (board << 9) + table["channel"].nda[row0 : row0 + n].astype(np.int64)
