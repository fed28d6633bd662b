"""ORCA decoder base class and the run-control decoder (formats.md 2.3).

An :class:`OrcaDecoder` is configured from the file header (``set_header``) and decodes
runs of its records through one or more *parts* (block decoders, see
:mod:`rawconv.routing`); ``record_rows`` bounds the rows each record can produce, so that the
streamer sizes runs to the free room of the buffers.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ...decoder import DataDecoder
from ...lh5.columns import TableCol
from ...routing import BlockDecoderMixin
from .block import OrcaBlock
from .header import OrcaHeader
from .layout import KIND_RUN

__all__ = ["ORRunDecoderForRun", "OrcaDecoder"]


class OrcaDecoder(DataDecoder, BlockDecoderMixin):
    """Base class of rawconv's ORCA decoders."""

    kind: ClassVar[int] = -1
    """Payload kind of the records (layout.KIND_*)."""

    def __init__(self, header: OrcaHeader | None = None) -> None:
        super().__init__(garbage_length=1)
        self.header: OrcaHeader | None = None
        if header is not None:
            self.set_header(header)

    def set_header(self, header: OrcaHeader) -> None:
        """Configure from the file header (keys, table layouts)."""
        self.header = header

    def parts(self) -> list[Any]:
        """The block decoders that decode this decoder's records (default: itself)."""
        return [self]

    def record_rows(self, block: OrcaBlock, first: int, last: int) -> np.ndarray:
        """Upper bound of the rows each record ``[first, last)`` produces (default 1)."""
        return np.ones(last - first, dtype=np.int64)

    def max_rows_for(self, keys: list[Any]) -> int:
        """Most rows one record can put in a buffer taking `keys` (one per key, default)."""
        return min(self.get_max_rows_in_packet(), max(len(keys), 1))

    def row_keys(self, table: TableCol, row0: int, n: int) -> list:
        return [None] * n


def _bool(description: str) -> dict[str, Any]:
    return {"dtype": "bool", "description": description}


class ORRunDecoderForRun(OrcaDecoder):
    """Run-control records (4 words) -> ``ORRunDecoderForRun`` table, one row per record.

    Word 1: bit 0 run start (1) / stop (0), bit 1 quick start, bit 2 remote control,
    bit 3 heartbeat, bit 4 end of sub-run, bit 5 start of sub-run, bits 31-16 sub-run number;
    word 2: run number (the heartbeat period in heartbeat records); word 3: unix time (s).
    The table has no packet_id column, as the reference's.
    """

    kind = KIND_RUN
    FLAGS = (
        "runstartorstop", "quickstartrun", "remotecontrolrun", "heartbeatrecord",
        "endsubrunrecord", "startsubrunrecord",
    )  # fmt: skip
    decoded_values = {
        "subrun_number": {"dtype": "uint16", "description": "Sub-run number."},
        "runstartorstop": _bool("1: run start, 0: run stop."),
        "quickstartrun": _bool("Quick start run."),
        "remotecontrolrun": _bool("Run started by remote control."),
        "heartbeatrecord": _bool("Heartbeat record (run_number then holds the period, s)."),
        "endsubrunrecord": _bool("End of a sub-run."),
        "startsubrunrecord": _bool("Start of a sub-run."),
        "run_number": {"dtype": "int32", "description": "Run number."},
        "time": {"dtype": "int32", "description": "Unix time of the record (s)."},
    }

    def decode_block(
        self, block: OrcaBlock, first: int, last: int, table: TableCol, row0: int, max_rows: int
    ) -> tuple[int, int]:
        rows = min(last - first, max_rows)
        for r in range(rows):
            w = block.words_of(first + r, 4)
            w = np.concatenate([w, np.zeros(4 - len(w), dtype=w.dtype)])
            row = row0 + r
            table["subrun_number"].nda[row] = w[1] >> 16
            for bit, name in enumerate(self.FLAGS):
                table[name].nda[row] = bool((w[1] >> bit) & 1)
            table["run_number"].nda[row] = np.int32(np.uint32(w[2]).view(np.int32))
            table["time"].nda[row] = np.int32(np.uint32(w[3]).view(np.int32))
        return rows, rows
