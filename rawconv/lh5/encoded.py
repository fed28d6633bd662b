"""Encoded waveforms in LH5: ArrayOfEncodedEqualSizedArrays and VectorOfEncodedVectors.

The on-disk layout is legend-lh5io's, so that ``lh5.read`` decodes what rawconv writes:

- a group with ``datatype`` ``array_of_encoded_equalsized_arrays<1,1>{real}`` (equal-sized
  rows) or ``array<1>{encoded_array<1>{real}}`` (rows of any length), and the codec's
  attributes (``codec``, ``codec_shift``...);
- ``encoded_data``: a vector of vectors (``array<1>{array<1>{real}}``) of the encoded bytes:
  ``flattened_data`` (uint8, stored without a compression filter: it is compressed already)
  and ``cumulative_length`` (uint32, which lh5io's decoders require);
- ``decoded_size``: the samples per row, an int64 scalar (``real``) for equal-sized rows, a
  uint32 array (``array<1>{real}``) otherwise.

(legend-lh5io 0.3 can neither encode nor decode VectorOfEncodedVectors; it reads them with
``decompress=False``, and its row decoders decode each row.)

Columns reach :func:`write_encoded` either as :class:`EncodedCol` (already encoded, e.g.
from an LGDO) or as an ArrayCol / VectorCol whose ``compression`` attribute names a
waveform codec (from decoded_values or a proc_spec), encoded here as they are written. An
``hdf5_settings`` attribute of such a column applies to its encoded bytes but for the
compression filter, which the codec replaces (LEGEND's production files store them with the
shuffle filter alone).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..codecs import WaveformCodec, as_codec, encode_rows, encode_vectors
from ..errors import RawconvError
from .columns import ArrayCol, ScalarCol, TableCol, VectorCol
from .compression import resolve_settings
from .datasets import append_dataset, obj_settings, write_scalar
from .encode_ahead import start, take
from .outfile import OpenFile, set_attrs

__all__ = [
    "EncodedCol",
    "encode_column",
    "encoded_from_lgdo",
    "is_encoded",
    "write_encoded",
]

AOEESA_DATATYPE = "array_of_encoded_equalsized_arrays<1,1>{real}"
VOEV_DATATYPE = "array<1>{encoded_array<1>{real}}"
_SETTING_ATTRS = ("compression", "hdf5_settings", "datatype")


class EncodedCol:
    """Encoded rows: ``encoded_data`` (bytes per row) and ``decoded_size``.

    Parameters
    ----------
    encoded_data
        the encoded bytes of each row (uint8 flattened data, uint32 cumulative lengths).
    decoded_size
        samples per row: an int when all rows have that many
        (ArrayOfEncodedEqualSizedArrays), an ArrayCol of one length per row otherwise
        (VectorOfEncodedVectors).
    attrs
        the codec's attributes (``codec``, ``codec_shift``...) and any others.
    """

    def __init__(
        self,
        encoded_data: VectorCol,
        decoded_size: int | ArrayCol,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self.encoded_data = encoded_data
        self.decoded_size = decoded_size
        self.attrs = dict(attrs or {})

    @property
    def equal_sized(self) -> bool:
        """True for an ArrayOfEncodedEqualSizedArrays."""
        return not isinstance(self.decoded_size, ArrayCol)

    def __len__(self) -> int:
        return len(self.encoded_data.cumulative_length)

    def form_datatype(self) -> str:
        return AOEESA_DATATYPE if self.equal_sized else VOEV_DATATYPE

    def to_lgdo(self) -> Any:
        """The legend-pydataobj object (imports lgdo), sharing the arrays."""
        import lgdo

        cl = self.encoded_data.cumulative_length.nda
        encoded = lgdo.VectorOfVectors(
            flattened_data=lgdo.Array(self.encoded_data.flattened_data.nda[: _end(cl)]),
            cumulative_length=lgdo.Array(cl),
        )
        attrs = {k: v for k, v in self.attrs.items() if k != "datatype"}
        if self.equal_sized:
            return lgdo.ArrayOfEncodedEqualSizedArrays(
                encoded_data=encoded, decoded_size=int(self.decoded_size), attrs=attrs
            )
        return lgdo.VectorOfEncodedVectors(
            encoded_data=encoded, decoded_size=lgdo.Array(self.decoded_size.nda), attrs=attrs
        )


def _end(cl: np.ndarray) -> int:
    return int(cl[-1]) if len(cl) else 0


def _user_attrs(col: Any) -> dict[str, Any]:
    return {k: v for k, v in col.attrs.items() if k not in _SETTING_ATTRS}


def encode_column(
    col: ArrayCol | VectorCol, codec: WaveformCodec, n_rows: int | None = None
) -> EncodedCol:
    """Encode the first `n_rows` rows of a 2-D ArrayCol or a VectorCol with `codec`.

    The result carries the column's attributes (but its write settings) and the codec's.
    """
    attrs = {**_user_attrs(col), **codec.asdict()}
    if isinstance(col, ArrayCol):
        if col.nda.ndim != 2:
            raise RawconvError(
                f"{codec.name} encodes arrays of equal-sized arrays or vectors of vectors, "
                f"not {col.nda.ndim}-D arrays"
            )
        values = col.nda if n_rows is None else col.nda[:n_rows]
        data, cl = encode_rows(values, codec)
        return EncodedCol(VectorCol(ArrayCol(data), ArrayCol(cl)), values.shape[1], attrs)
    if isinstance(col, VectorCol) and isinstance(col.flattened_data, ArrayCol):
        ends = col.cumulative_length.nda
        ends = ends if n_rows is None else ends[:n_rows]
        data, cl = encode_vectors(col.flattened_data.nda, ends, codec)
        sizes = np.diff(ends, prepend=0).astype(np.uint32)
        return EncodedCol(VectorCol(ArrayCol(data), ArrayCol(cl)), ArrayCol(sizes), attrs)
    raise RawconvError(f"{codec.name} cannot encode a {type(col).__name__}")


def encodable_columns(table: Any) -> list[ArrayCol]:
    """The 2-D array columns of `table` (sub-tables walked) that a waveform codec
    encodes when written."""
    found: list[ArrayCol] = []
    if isinstance(table, TableCol):
        for col in table.values():
            if isinstance(col, TableCol):
                found += encodable_columns(col)
            elif isinstance(col, ArrayCol) and col.nda.ndim == 2 and column_codec(col):
                found.append(col)
    return found


def encode_table_ahead(ahead: dict[int, Any], table: Any, n_rows: int) -> int:
    """Queue the encoding of the first `n_rows` rows of each of `table`'s
    :func:`encodable_columns` on the encoding thread (:mod:`.encode_ahead`); returns how
    many were queued."""
    columns = [(col, column_codec(col)) for col in encodable_columns(table)]
    return start(ahead, columns, n_rows, encode_column)


def column_codec(obj: Any) -> WaveformCodec | None:
    """The waveform codec named by a column's ``compression`` attribute, if any."""
    attrs = getattr(obj, "attrs", None)
    if not attrs or "compression" not in attrs:
        return None
    return as_codec(attrs["compression"])


def is_encoded(obj: Any) -> bool:
    """True for what :func:`write_encoded` writes: an EncodedCol, or an ArrayCol /
    VectorCol whose ``compression`` attribute is a waveform codec."""
    if isinstance(obj, EncodedCol):
        return True
    return isinstance(obj, (ArrayCol, VectorCol)) and column_codec(obj) is not None


def encoded_from_lgdo(obj: Any) -> EncodedCol:
    """An EncodedCol for legend-pydataobj's ArrayOfEncodedEqualSizedArrays or
    VectorOfEncodedVectors, sharing the arrays."""
    ed = obj.encoded_data
    encoded = VectorCol(ArrayCol(ed.flattened_data.nda), ArrayCol(ed.cumulative_length.nda))
    size = obj.decoded_size
    decoded: int | ArrayCol = ArrayCol(size.nda) if hasattr(size, "nda") else int(size.value)
    attrs = {k: v for k, v in obj.attrs.items() if k != "datatype"}
    return EncodedCol(encoded, decoded, attrs)


def _head(col: EncodedCol, n_rows: int | None) -> EncodedCol:
    if n_rows is None or n_rows >= len(col):
        return col
    cl = col.encoded_data.cumulative_length.nda[:n_rows]
    flat = col.encoded_data.flattened_data.nda[: _end(cl)]
    size = col.decoded_size
    size = size if col.equal_sized else ArrayCol(size.nda[:n_rows])
    return EncodedCol(VectorCol(ArrayCol(flat), ArrayCol(cl)), size, col.attrs)


def _attr_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bytes):
        a = a.decode()
    if isinstance(b, bytes):
        b = b.decode()
    try:
        return bool(np.all(a == b))
    except (TypeError, ValueError):
        return False


def _differ(path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> RawconvError | None:
    for key in sorted(old.keys() | new.keys(), key=lambda k: (k != "codec", k)):
        if key not in old or key not in new or not _attr_equal(old[key], new[key]):
            return RawconvError(
                f"cannot append to {path}: its {key!r} is {old.get(key)!r}, "
                f"the new rows' is {new.get(key)!r}"
            )
    return None


def _group(out: OpenFile, parent: Any, name: str, attrs: Mapping[str, Any]) -> Any:
    """An existing group (its attributes checked) or a new one listed in its parent."""
    grp = out.lookup(parent, name)
    if grp is not None:
        if not hasattr(grp, "create_group"):
            raise RawconvError(f"{grp.name} exists and is not a group", path=out.path)
        error = _differ(grp.name, {k: grp.attrs[k] for k in grp.attrs}, attrs)
        if error is not None:
            raise error
        return grp
    grp = out.new_group(parent, name)
    set_attrs(grp, {k: v for k, v in attrs.items() if v is not None})
    return grp


def write_encoded(
    out: OpenFile,
    parent: Any,
    name: str,
    obj: Any,
    n_rows: int | None,
    settings: Mapping[str, Any],
) -> None:
    """Append the first `n_rows` rows of an encoded column to ``parent[name]``.

    `out` is the LH5 writer's open file and `settings` the h5py settings in force, used
    for ``cumulative_length`` and ``decoded_size``. What was written to each encoded group
    is remembered in ``out.encoded``, so that later appends are checked in memory.
    """
    hdf5_settings = obj.attrs.get("hdf5_settings")
    if isinstance(obj, EncodedCol):
        col = _head(obj, n_rows)
    else:
        col = take(out.ahead, obj, n_rows)  # encoded while the tables before were written
        if col is None:
            col = encode_column(obj, column_codec(obj), n_rows)
    attrs = {k: v for k, v in col.attrs.items() if k not in _SETTING_ATTRS}
    attrs["datatype"] = col.form_datatype()
    size = int(col.decoded_size) if col.equal_sized else None
    known = out.encoded
    path = out.child_path(parent, name)
    if path in known:  # written before by this writer: check in memory
        error = _differ(path, known[path][0], attrs)
        if error is not None:
            raise error
        old_size = known[path][1]
        grp = out.lookup(parent, name)
        ed = out.lookup(grp, "encoded_data")
    else:
        grp = _group(out, parent, name, attrs)
        ed = _group(out, grp, "encoded_data", {"datatype": "array<1>{array<1>{real}}"})
        old_size = int(grp["decoded_size"][()]) if size and "decoded_size" in grp else size
    if old_size != size:
        raise RawconvError(
            f"cannot append rows of {size} samples to {path}, whose rows have {old_size}"
        )

    cl = np.asarray(col.encoded_data.cumulative_length.nda, dtype=np.int64)
    offset = 0
    cl_ds = out.lookup(ed, "cumulative_length")
    if cl_ds is not None:
        last = out.last_row(cl_ds)
        offset = 0 if last is None else int(last)
    if offset + _end(cl) > np.iinfo(np.uint32).max:
        raise RawconvError(
            f"{path}: more than 4 GiB of encoded data in one table; the uint32 "
            "cumulative_length that legend-lh5io's decoders need cannot index it "
            "(split the output, e.g. per channel)"
        )
    flat_settings = resolve_settings(settings, "none")
    if hdf5_settings is not None:  # the codec replaces the compression filter, as in
        flat_settings = resolve_settings(flat_settings, hdf5_settings)  # legend-lh5io; the
        flat_settings.update(compression=None, compression_opts=None)  # rest (shuffle) holds
    flat = col.encoded_data.flattened_data.nda[: _end(cl)]
    array_attrs = {"datatype": "array<1>{real}"}
    if not out.create_only:  # a table template: the bytes are chunked by their first write
        append_dataset(out, ed, "flattened_data", flat, array_attrs, flat_settings)
    cl_settings = obj_settings(col.encoded_data.cumulative_length, settings)  # a merge's
    append_dataset(  # part files carry each dataset's settings
        out, ed, "cumulative_length", (cl + offset).astype(np.uint32), array_attrs, cl_settings
    )
    if size is None:
        sizes = np.asarray(col.decoded_size.nda, dtype=np.uint32)
        size_settings = obj_settings(col.decoded_size, settings)
        append_dataset(out, grp, "decoded_size", sizes, array_attrs, size_settings)
    elif path not in known and "decoded_size" not in grp:
        write_scalar(out, grp, "decoded_size", ScalarCol(np.int64(size)))
    known[path] = (attrs, size)
