"""ORCA records one at a time, as 32-bit words: legend-daq2lh5's ``load_packet`` API and
its helpers for one record's words (``get_data_id``, ``get_n_words``, ``hex_dump``...).

:class:`PacketAccess` (a mixin of :class:`~.streamer.OrcaStreamer`) walks the record
headers of the open input (:meth:`~.streamer.OrcaStreamer.index`) and reads records by
number; record 0 is the file header. It keeps its own position: decoding with
``read_chunk`` does not move it, nor does it move decoding.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ...errors import RawconvError

log = logging.getLogger(__name__)

__all__ = ["PacketAccess", "get_data_id", "get_n_words", "hex_dump", "is_extended", "is_short"]


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


# --- one record's words -------------------------------------------------------------------


def is_short(packet: np.ndarray) -> bool:
    """Whether a record is short (one word: bit 31 of its first word set)."""
    return bool(int(packet[0]) >> 31)


def is_extended(packet: np.ndarray) -> bool:
    """Whether a long record keeps its length in its second word (length bits 0)."""
    return not is_short(packet) and (int(packet[0]) & 0x3FFFF) == 0


def get_n_words(packet: np.ndarray) -> int:
    """The length of a record in 32-bit words."""
    if is_short(packet):
        return 1
    if is_extended(packet):
        return int(packet[1])
    return int(packet[0]) & 0x3FFFF


def get_data_id(packet: np.ndarray, shift: bool = True) -> int:
    """The data id of a record: bits 31-26 of short records, 31-18 of long ones, shifted
    down (or in place, as the header's data id map writes them, with ``shift=False``)."""
    word = int(packet[0])
    mask, bits = (0xFC000000, 26) if is_short(packet) else (0xFFFC0000, 18)
    return (word & mask) >> bits if shift else word & mask


def hex_dump(
    packet: np.ndarray,
    shift_data_id: bool = True,
    print_n_words: bool = False,
    max_words: float = np.inf,
    as_int: bool = False,
    as_short: bool = False,
    id_dict: dict | None = None,
    use_logging: bool = True,
    return_output: bool = False,
) -> list[str] | None:
    """A record's words, one line each (``index 0x%08x``), after a line naming its data id
    (and decoder, from `id_dict`); logged at DEBUG level (or printed). Returns the lines
    with `return_output`."""
    data_id = get_data_id(packet, shift=shift_data_id)
    n_words = get_n_words(packet)
    heading = f"data ID = {data_id}"
    if id_dict is not None:
        heading = f"{id_dict.get(data_id, '[unknown]')} (data ID = {data_id})"
    lines = [f"{heading}: {n_words} words" if print_n_words else f"{heading}:"]
    if not print_n_words:
        n = int(min(n_words, max_words, len(packet)))
        width = len(str(max(n - 1, 0)))
        for i in range(n):
            word = int(packet[i])
            line = f"{i:0{width}d} 0x{word:08x}"
            if as_int:
                line += f" {word}"
            if as_short:
                line += f" {np.array([word], dtype=np.uint32).view(np.uint16)}"
            lines.append(line)
    for line in lines:
        if use_logging:
            log.debug(line)
        else:
            print(line)
    return lines if return_output else None
