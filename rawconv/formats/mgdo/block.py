"""One MGDO basket parsed: its entries, traces and samples, and where each entry's rows are.

:func:`parse_basket` is the thin wrapper around :func:`.kernels.parse_entries`: it checks
the entry offsets, allocates the tables (grown when an entry needs more room) and returns
a :class:`ParsedBasket`. Entries with bad bytes keep their status code and have no rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import CorruptDataError
from .kernels import parse_entries
from .layout import (
    AUX_DTYPE,
    ENTRY_DTYPE,
    MIN_DIGITIZER_BYTES,
    MIN_WAVEFORM_BYTES,
    OK,
    STATUS_MESSAGES,
    TRACE_DTYPE,
)

__all__ = ["ParsedBasket", "check_offsets", "parse_basket"]


@dataclass
class ParsedBasket:
    """The parsed entries of one basket (rows of entry k: ``traces[main0[k]:][:n_main[k]]``).

    ``first_entry`` is the tree entry number of entry 0 (its packet id); ``seek`` the
    basket's byte offset in the file (-1 when it has none).
    """

    data: np.ndarray
    offsets: np.ndarray
    first_entry: int
    seek: int
    entries: np.ndarray
    traces: np.ndarray
    main_values: np.ndarray
    aux: np.ndarray
    aux_values: np.ndarray
    flags: np.ndarray

    @property
    def n(self) -> int:
        """Entries in the basket (good and bad)."""
        return len(self.entries)

    def bad_entries(self) -> np.ndarray:
        """Indices of the entries that did not parse."""
        return np.flatnonzero(self.entries["status"] != OK)

    def problem(self, k: int) -> str:
        """Why entry `k` did not parse, in words."""
        e = self.entries[k]
        reason = STATUS_MESSAGES.get(int(e["status"]), f"status {int(e['status'])}")
        value = int(e["err_value"])
        reason = reason.format(value=value & 0xFFFFFFFF if "#x" in reason else value)
        return (
            f"entry {self.first_entry + k} (byte {int(e['err_pos']) - int(self.offsets[k])} "
            f"of the entry, in the basket at offset {self.seek}): {reason}"
        )

    def entry_bytes(self, k: int) -> np.ndarray:
        """The bytes of entry `k`."""
        return self.data[int(self.offsets[k]) : int(self.offsets[k + 1])]


def _grow(a: np.ndarray, rows: int) -> np.ndarray:
    out = np.zeros((rows, *a.shape[1:]), dtype=a.dtype)
    out[: len(a)] = a
    return out


def check_offsets(
    data: np.ndarray, offsets: np.ndarray, seek: int = -1, first_entry: int = 0,
    path: str = "<input>",
) -> None:  # fmt: skip
    """CorruptDataError unless `offsets` ascend inside `data`."""
    if (
        offsets.ndim != 1
        or len(offsets) < 1
        or offsets[0] < 0
        or offsets[-1] > len(data)
        or np.any(np.diff(offsets) < 0)
    ):
        raise CorruptDataError(
            f"basket with an impossible entry offset table ({len(offsets) - 1} entries in "
            f"{len(data)} bytes)",
            path=path, offset=seek if seek >= 0 else None, record=first_entry,
        )  # fmt: skip


def parse_basket(
    data: np.ndarray,
    offsets: np.ndarray,
    main_len: int,
    aux_len: int,
    max_traces: int = 0,
    first_entry: int = 0,
    seek: int = -1,
    path: str = "<input>",
) -> ParsedBasket:
    """Parse the entries of a decompressed basket.

    Parameters
    ----------
    data
        the basket's entry bytes (uint8).
    offsets
        entry k is ``data[offsets[k]:offsets[k + 1]]``; ascending, inside `data`.
    main_len, aux_len
        samples of every main / aux trace (-1: any length, samples not kept).
    max_traces
        most traces of one kind in an entry (0: no limit).
    first_entry, seek, path
        where the basket is (for packet ids and messages).
    """
    data = np.ascontiguousarray(data, dtype=np.uint8)
    offsets = np.asarray(offsets, dtype=np.int64)
    check_offsets(data, offsets, seek, first_entry, path)
    n = len(offsets) - 1
    size = max(int(offsets[-1] - offsets[0]), 1)
    cap_main = size // (1 + MIN_WAVEFORM_BYTES + 1 + MIN_DIGITIZER_BYTES + max(main_len, 0)) + 1
    cap_aux = size // (1 + MIN_WAVEFORM_BYTES + max(aux_len, 0)) + 1
    entries = np.zeros(n, ENTRY_DTYPE)
    traces = np.zeros(cap_main, TRACE_DTYPE)
    aux = np.zeros(cap_aux, AUX_DTYPE)
    main_values = np.zeros((cap_main, max(main_len, 0)), np.uint16)
    aux_values = np.zeros((cap_aux, max(aux_len, 0)), np.uint16)
    flags = np.zeros(max(64, 4 * n), np.uint16)
    lens = np.array([main_len, aux_len], np.int64)
    counts = np.zeros(4, np.int64)  # rows of traces, aux, flags; the table out of room
    k = 0
    while True:
        k = parse_entries(data, offsets[:-1], offsets[1:], k, lens, max_traces, entries,
                          traces, main_values, aux, aux_values, flags, counts)  # fmt: skip
        if k >= n:
            break
        if len(traces) + len(aux) + len(flags) > 4 * size + 256:  # more rows than bytes
            raise CorruptDataError(
                f"the entry parser asks for more room than {len(data)} bytes can fill",
                path=path, offset=seek if seek >= 0 else None, record=first_entry + k,
            )  # fmt: skip
        # a table needs more room than estimated (flags; traces never when well-formed)
        if counts[3] == 0:
            traces, main_values = (
                _grow(traces, 2 * len(traces)),
                _grow(main_values, 2 * len(traces)),
            )
        elif counts[3] == 1:
            aux, aux_values = _grow(aux, 2 * len(aux)), _grow(aux_values, 2 * len(aux))
        else:
            flags = _grow(flags, 2 * len(flags))
    n_main, n_aux, n_flag = (int(c) for c in counts[:3])
    return ParsedBasket(
        data=data, offsets=offsets, first_entry=first_entry, seek=seek, entries=entries,
        traces=traces[:n_main], main_values=main_values[:n_main], aux=aux[:n_aux],
        aux_values=aux_values[:n_aux], flags=flags[:n_flag],
    )  # fmt: skip
