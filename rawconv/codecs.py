"""LEGEND waveform codecs: ``radware_sigcompress`` and ``uleb128_zigzag_diff``.

The codec objects mirror legend-lh5io's ``lh5.compression.RadwareSigcompress`` and
``ULEB128ZigZagDiff`` (same ``codec`` name and ``asdict()``, which become the attributes of
the encoded array on disk), without importing legend-pydataobj. :func:`parse_codec` accepts
what the reference's ``str2wfcodec`` accepts (``"RadwareSigcompress(codec_shift=-32768)"``,
``"ULEB128ZigZagDiff()"``), the snake_case names (``"radware_sigcompress"``, optionally with
arguments), attribute dicts (``{"codec": "radware_sigcompress", "codec_shift": -32768}``)
and lh5io's codec objects.

:func:`encode_rows` and :func:`encode_vectors` encode integer signals with the numba kernels
of :mod:`rawconv.codec_kernels`, byte for byte as lh5io's encoders do; they raise
:class:`CodecError` instead of writing a signal that would not decode to the original.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from . import codec_kernels as kernels
from .errors import RawconvError

__all__ = [
    "CODEC_NAMES",
    "CodecError",
    "RadwareSigcompress",
    "ULEB128ZigZagDiff",
    "WaveformCodec",
    "as_codec",
    "encode_rows",
    "encode_vectors",
    "parse_codec",
]

SUPPORTED_DTYPES = ("int16", "int32", "int64", "uint16", "uint32", "uint64")
"""Sample types the codecs encode (those of legend-lh5io's encoders)."""


class CodecError(RawconvError, ValueError):
    """A codec specification is malformed, or data cannot be encoded losslessly."""


@dataclass(frozen=True)
class WaveformCodec:
    """Base of the codecs; ``asdict()`` gives the attributes stored with encoded data."""

    name: ClassVar[str] = ""

    @property
    def codec(self) -> str:
        """The codec's name, as stored in the ``codec`` attribute."""
        return self.name

    def asdict(self) -> dict[str, Any]:
        """``{"codec": name, **parameters}``, as legend-lh5io's codecs."""
        return {"codec": self.name, **asdict(self)}


@dataclass(frozen=True)
class RadwareSigcompress(WaveformCodec):
    """D. Radford's radware-sigcompress: sections of bit-packed values or differences.

    Samples plus `codec_shift` must fit int16 (use ``codec_shift=-32768`` for uint16 data).
    """

    name: ClassVar[str] = "radware_sigcompress"
    codec_shift: int | float = 0


@dataclass(frozen=True)
class ULEB128ZigZagDiff(WaveformCodec):
    """Differences of consecutive samples, zigzag-mapped and written as ULEB128 varints."""

    name: ClassVar[str] = "uleb128_zigzag_diff"


_CODECS: dict[str, type[WaveformCodec]] = {
    "radwaresigcompress": RadwareSigcompress,
    "radware_sigcompress": RadwareSigcompress,
    "uleb128zigzagdiff": ULEB128ZigZagDiff,
    "uleb128_zigzag_diff": ULEB128ZigZagDiff,
}

CODEC_NAMES = ("radware_sigcompress", "uleb128_zigzag_diff")

_EXPR = re.compile(r"^\s*(\w+)\s*(?:\((.*)\))?\s*$", re.DOTALL)


def _value(text: str) -> Any:
    """A codec argument as ``str2wfcodec`` reads it: a float if it is a number."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        return text.strip("'\"")


def _build(cls: type[WaveformCodec], params: Mapping[str, Any], spec: Any) -> WaveformCodec:
    allowed = {"codec_shift"} if cls is RadwareSigcompress else set()
    unknown = set(params) - allowed
    if unknown:
        raise CodecError(f"{cls.name} has no parameter {', '.join(sorted(unknown))} ({spec!r})")
    shift = params.get("codec_shift", 0)
    if isinstance(shift, str) or float(shift) != int(float(shift)):
        raise CodecError(f"codec_shift must be an integer ({spec!r})")
    return cls(**params)


@functools.lru_cache(maxsize=256)
def _parse_text(text: str) -> WaveformCodec | None:
    match = _EXPR.match(text)
    if match is None:
        return None
    cls = _CODECS.get(match.group(1).lower())
    if cls is None:
        return None
    params: dict[str, Any] = {}
    for item in (match.group(2) or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise CodecError(f"invalid codec expression {text!r}: expected name=value")
        params[key.strip()] = _value(value)
    return _build(cls, params, text)


def as_codec(spec: Any) -> WaveformCodec | None:
    """The codec `spec` names, or None when it names no codec (an HDF5 filter, None...).

    Malformed codec expressions (a codec name with bad arguments) raise CodecError.
    """
    if spec is None or isinstance(spec, WaveformCodec):
        return spec
    if isinstance(spec, str):
        return _parse_text(spec)
    if isinstance(spec, Mapping):
        name = spec.get("codec")
        cls = _CODECS.get(str(name).lower()) if name is not None else None
        if cls is None:
            return None
        return _build(cls, {k: v for k, v in spec.items() if k != "codec"}, spec)
    if hasattr(spec, "asdict") and isinstance(getattr(spec, "codec", None), str):
        return as_codec(dict(spec.asdict()))  # legend-lh5io's WaveformCodec objects
    return None


def parse_codec(spec: Any) -> WaveformCodec:
    """The codec `spec` names; CodecError when it names none."""
    codec = as_codec(spec)
    if codec is None:
        raise CodecError(
            f"unknown waveform codec {spec!r}; known: {', '.join(CODEC_NAMES)} "
            "(e.g. 'RadwareSigcompress(codec_shift=-32768)', 'ULEB128ZigZagDiff()')"
        )
    return codec


def _check_dtype(dtype: np.dtype, codec: WaveformCodec) -> None:
    if dtype.name not in SUPPORTED_DTYPES:
        raise CodecError(
            f"{codec.name} encodes integer samples ({', '.join(SUPPORTED_DTYPES)}), "
            f"not {dtype.name}"
        )


def _lossy(codec: WaveformCodec, row: int, what: str) -> CodecError:
    if isinstance(codec, RadwareSigcompress):
        hint = (
            f"its samples + codec_shift ({int(codec.codec_shift)}) do not all fit int16; "
            "uint16 data need codec_shift=-32768"
        )
    else:
        hint = "a difference of consecutive samples does not fit int32"
    return CodecError(f"{codec.name} cannot encode {what} {row} losslessly: {hint}")


def encode_rows(values: np.ndarray, codec: WaveformCodec) -> tuple[np.ndarray, np.ndarray]:
    """Encode each row of a 2-D integer array.

    Returns
    -------
    data, cumulative_length
        the encoded rows one after the other (uint8) and the end of each row in `data`
        (uint32), i.e. the ``encoded_data`` vector of vectors of an
        ArrayOfEncodedEqualSizedArrays.
    """
    if values.ndim != 2:
        raise CodecError(f"{codec.name} encodes rows of a 2-D array, not {values.ndim}-D data")
    _check_dtype(values.dtype, codec)
    rows, samples = values.shape
    cl = np.empty(rows, dtype=np.uint32)
    if isinstance(codec, RadwareSigcompress):
        if samples > 0xFFFF:
            raise CodecError(f"radware_sigcompress encodes at most 65535 samples, not {samples}")
        out = np.empty(rows * kernels.radware_bound(samples), dtype=np.uint8)
        n = kernels.radware_encode_rows(values, int(codec.codec_shift), out, cl)
    else:
        out = np.empty(rows * kernels.uleb128_bound(samples), dtype=np.uint8)
        n = kernels.uleb128_encode_rows(values, out, cl)
    if n < 0:
        raise _lossy(codec, -1 - n, "row")
    return out[:n], cl


def encode_vectors(
    flat: np.ndarray, cumulative_length: np.ndarray, codec: WaveformCodec
) -> tuple[np.ndarray, np.ndarray]:
    """Encode the rows of a vector of vectors (``flat`` split at ``cumulative_length``).

    Each row is encoded with its own length (legend-lh5io 0.3 pads rows to the longest one
    first, and cannot decode what it writes). Returns as :func:`encode_rows`.
    """
    _check_dtype(flat.dtype, codec)
    ends = np.asarray(cumulative_length, dtype=np.int64)
    rows = len(ends)
    lengths = np.diff(ends, prepend=0)
    if rows and lengths.min() < 0:
        raise CodecError("cumulative_length must not decrease")
    total = int(ends[-1]) if rows else 0
    flat = flat[:total]
    cl = np.empty(rows, dtype=np.uint32)
    if isinstance(codec, RadwareSigcompress):
        if rows and lengths.max() > 0xFFFF:
            raise CodecError("radware_sigcompress encodes at most 65535 samples per row")
        size = kernels.radware_bound(total) + rows * kernels.radware_bound(0)
        out = np.empty(size, dtype=np.uint8)
        n = kernels.radware_encode_vectors(flat, ends, int(codec.codec_shift), out, cl)
    else:
        out = np.empty(kernels.uleb128_bound(total), dtype=np.uint8)
        n = kernels.uleb128_encode_vectors(flat, ends, out, cl)
    if n < 0:
        raise _lossy(codec, -1 - n, "vector")
    return out[:n], cl
