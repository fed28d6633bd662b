"""ORCA records one at a time, as 32-bit words: legend-daq2lh5's ``load_packet`` API.

:class:`PacketAccess` (a mixin of :class:`~.streamer.OrcaStreamer`) walks the record
headers of the open input (:meth:`~.streamer.OrcaStreamer.index`) and reads records by
number; record 0 is the file header. It keeps its own position: decoding with
``read_chunk`` does not move it, nor does it move decoding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import RawconvError

__all__ = ["PacketAccess"]


class PacketAccess:
    """Records of an open ORCA input by number (0: the header record)."""

    _packet_table: np.ndarray | None = None
    _packet_source: Any = None
    _packet_next: int = 1

    def _packets(self) -> np.ndarray:
        """The record table of the open input: offset and words of each record, the header
        record first."""
        if self.source is None or self.header is None:
            raise RawconvError("load_packet needs an open stream (call open_stream first)")
        if self._packet_source is not self.source:
            records = self.index()
            table = np.zeros(len(records) + 1, dtype=[("offset", "<i8"), ("words", "<i8"),
                                                      ("data_id", "<i8")])  # fmt: skip
            table["words"][0] = self._header_bytes // 4
            for name in ("offset", "words", "data_id"):
                table[name][1:] = records[name]
            self._packet_table, self._packet_source, self._packet_next = table, self.source, 1
        return self._packet_table

    def count_packets(self) -> int:
        """Number of records in the input, its header record included."""
        return len(self._packets())

    def load_packet(
        self, index: int | None = None, skip_unknown_ids: bool = False
    ) -> np.ndarray | None:
        """Record `index` (default: the one after the last loaded; after ``open_stream``,
        the first after the header) as uint32 words in the machine's byte order; None past
        the last record. With `skip_unknown_ids`, records of data ids that no decoder of
        this stream reads are passed over."""
        table = self._packets()
        i = self._packet_next if index is None else int(index)
        if i < 0:
            raise IndexError(f"record {i} of {self.name}: records count from 0")
        while i < len(table):
            ident = int(table["data_id"][i])
            if not skip_unknown_ids or i == 0 or ident in self._by_ident:
                break
            i += 1
        if i >= len(table):
            self._packet_next = len(table)
            return None
        self._packet_next = i + 1
        start = int(table["offset"][i])
        raw = self.source.read(start, start + 4 * int(table["words"][i]))
        return np.frombuffer(raw, dtype=f"{self.order}u4").astype(np.uint32)
