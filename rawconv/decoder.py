"""The DataDecoder base class: describes the columns a record type decodes into.

A decoder's ``decoded_values`` maps field names to column descriptions; ``make_lgdo`` turns
them into an LGDO table:

- ``{"dtype": "uint16"}`` -> :class:`lgdo.Array`;
- ``{"dtype": ..., "datatype": "waveform", "wf_len": n, "dt": 16, "dt_units": "ns",
  "t0_units": "ns"}`` -> :class:`lgdo.WaveformTable` of ``n`` samples;
- ``{"dtype": ..., "datatype": "array_of_equalsized_arrays<1,1>{real}", "length": n}``
  -> :class:`lgdo.ArrayOfEqualSizedArrays`;
- ``{"dtype": ..., "datatype": "array<1>{array<1>{real}}", "length_guess": n}``
  -> :class:`lgdo.VectorOfVectors`; a ``length`` (the longest possible row) is stored as
  its ``length`` attribute, as legend-daq2lh5 stores it.

Other entries (``units``, ``description``, ...) become attributes; ``compression`` and
``hdf5_settings`` carry per-column write settings.

Built-in decoders decode whole blocks of records in numba kernels; :meth:`decode_packet`
is the per-record API for decoders written in Python.
"""

from __future__ import annotations

import copy
import logging
from enum import IntEnum
from typing import Any

import numpy as np

from .errors import RawconvError
from .lh5.columns import ArrayCol, TableCol, VectorCol, waveform_table
from .lh5.convert import to_lgdo

log = logging.getLogger(__name__)

__all__ = ["DataDecoder", "GarbageCode"]

_SETTINGS_KEYS = {"compression", "hdf5_settings"}
_LAYOUT_KEYS = {
    "dtype",
    "datatype",
    "kind",
    "length",
    "length_guess",
    "wf_len",
    "dt",
    "dt_units",
    "t0_units",
}


class GarbageCode(IntEnum):
    """Why a record went to the garbage table."""

    UNKNOWN = 0
    BAD_LENGTH = 1
    """the record's length word is impossible."""
    BAD_PAYLOAD = 2
    """the record's payload does not parse."""
    TRUNCATED = 3
    """the input ends inside the record."""
    UNKNOWN_TYPE = 4
    """no decoder knows the record's type."""


class DataDecoder:
    """Base class of decoders: one per record type of a DAQ format.

    Parameters
    ----------
    garbage_length
        initial capacity (rows) of the garbage table.
    packet_size_guess
        expected bytes per garbage packet, to size the garbage byte buffer.
    """

    decoded_values: dict[str, dict[str, Any]] = {}

    def __init__(self, garbage_length: int = 256, packet_size_guess: int = 1024) -> None:
        self.decoded_values = copy.deepcopy(type(self).decoded_values)
        self.garbage_table = self._make_garbage_table(garbage_length, packet_size_guess)
        self.n_garbage = 0
        self.skipped_channels: dict[Any, int] = {}

    @property
    def name(self) -> str:
        """The decoder's class name, as used in out_specs."""
        return type(self).__name__

    def get_key_lists(self) -> list[list[Any]]:
        """Lists of keys; the keys of one list share one table layout."""
        return [[None]]

    def get_decoded_values(self, key: Any = None) -> dict[str, dict[str, Any]]:
        """Column descriptions for the rows of `key`."""
        return self.decoded_values

    def get_max_rows_in_packet(self) -> int:
        """Largest number of rows one record can produce."""
        return 1

    def max_rows_for(self, keys: list[Any]) -> int:
        """Largest number of rows one record can put in a buffer taking `keys` (the
        buffer's ``fill_safety``); by default all of a record's rows."""
        return self.get_max_rows_in_packet()

    def make_table(self, key: Any = None, size: int | None = None) -> TableCol:
        """Allocate a table of `size` rows for the rows of `key` (light containers)."""
        size = 8192 if size is None else int(size)
        columns = {}
        for field, spec in self.get_decoded_values(key).items():
            columns[field] = make_column(field, spec, size)
        return TableCol(columns, size=size)

    def make_lgdo(self, key: Any = None, size: int | None = None) -> Any:
        """Allocate an LGDO table (``lgdo.Table``) of `size` rows for the rows of `key`."""
        return to_lgdo(self.make_table(key, size))

    def decode_packet(self, packet: bytes | np.ndarray, packet_id: int, rbl: Any) -> bool:
        """Decode one record into the buffers of `rbl` (a RawBufferList); per-record API.

        Returns True when the record was decoded. Built-in decoders implement the same
        through their block kernels.
        """
        raise NotImplementedError(f"{self.name} does not decode single packets")

    def buffer_is_full(self, rb: Any) -> bool:
        """True if `rb` has no room for another record of this decoder."""
        return len(rb) - rb.loc < self.get_max_rows_in_packet()

    # garbage ----------------------------------------------------------------------------

    @staticmethod
    def _make_garbage_table(length: int, packet_size_guess: int) -> TableCol:
        return TableCol(
            {
                "packet_id": ArrayCol(np.zeros(length, dtype="uint32")),
                "code": ArrayCol(np.zeros(length, dtype="uint32")),
                "offset": ArrayCol(np.zeros(length, dtype="int64"), {"units": "B"}),
                "packet": VectorCol.empty(length, packet_size_guess, "uint8"),
            },
            size=length,
        )

    def put_in_garbage(
        self, packet: bytes | np.ndarray, packet_id: int, code: int, offset: int = -1
    ) -> None:
        """Keep an undecodable record's bytes, with why (a :class:`GarbageCode`) and where."""
        tbl = self.garbage_table
        row = self.n_garbage
        if row >= len(tbl):
            tbl.resize(max(2 * len(tbl), 16))
        data = np.frombuffer(bytes(packet), dtype=np.uint8)
        tbl["packet_id"].nda[row] = packet_id
        tbl["code"].nda[row] = int(code)
        tbl["offset"].nda[row] = offset
        vov = tbl["packet"]
        start = 0 if row == 0 else int(vov.cumulative_length.nda[row - 1])
        stop = start + len(data)
        if stop > len(vov.flattened_data):
            vov.flattened_data.resize(max(stop, 2 * len(vov.flattened_data)))
        vov.flattened_data.nda[start:stop] = data
        vov.cumulative_length.nda[row] = stop
        self.n_garbage += 1

    def write_out_garbage(self, filename: str, group: str = "/", lh5_store: Any = None) -> None:
        """Append the garbage rows to ``filename:group/garbage`` and clear them."""
        if self.n_garbage == 0:
            return
        from .lh5.writer import LH5Writer

        writer = lh5_store if lh5_store is not None else LH5Writer(atomic=False)
        try:
            writer.write(
                self.garbage_table, "garbage", filename, group=group, n_rows=self.n_garbage
            )
        finally:
            if lh5_store is None:
                writer.close()
        self.n_garbage = 0


def make_column(field: str, spec: dict[str, Any], size: int) -> Any:
    """One column of `size` rows from its decoded_values description."""
    if "dtype" not in spec:
        raise RawconvError(f"decoded_values[{field!r}] has no 'dtype'")
    dtype = np.dtype(spec["dtype"])
    datatype = spec.get("datatype", "")
    attrs = {k: v for k, v in spec.items() if k not in _LAYOUT_KEYS}
    if datatype == "waveform":
        wf = waveform_table(
            size, int(spec["wf_len"]), dtype, float(spec.get("dt", 1)),
            spec.get("dt_units"), spec.get("t0_units"),
        )  # fmt: skip
        _apply_waveform_settings(wf, {k: v for k, v in attrs.items() if k in _SETTINGS_KEYS})
        return wf
    if datatype.startswith("array_of_equalsized_arrays"):
        return ArrayCol(np.empty((size, int(spec["length"])), dtype=dtype), attrs)
    if datatype.startswith("array<1>{array<1>"):
        guess = int(spec.get("length_guess", spec.get("length", 16)))
        if "length" in spec:
            attrs["length"] = np.int64(spec["length"])
        return VectorCol.empty(size, max(guess, 1), dtype, attrs)
    return ArrayCol(np.empty(size, dtype=dtype), attrs)


def _apply_waveform_settings(wf: TableCol, settings: dict[str, Any]) -> None:
    """Per-column ``compression`` / ``hdf5_settings`` of a waveform ({"values": ..., "t0": ...})."""
    for key, value in settings.items():
        if isinstance(value, dict) and set(value) <= {"values", "t0", "dt"}:
            for sub, sub_value in value.items():
                wf[sub].attrs[key] = sub_value
        else:
            wf["values"].attrs[key] = value
