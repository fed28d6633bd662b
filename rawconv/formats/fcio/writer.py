"""Write FCIO (tmio) streams: configs, full/sparse events, event headers, status records.

Used by tests, demos and benchmarks. The byte layout follows formats.md, section 1:
every record is an int32 ``-tag`` followed by frames (int32 byte length, then the
bytes); everything is little-endian and unaligned. Each record is assembled with a
handful of numpy operations, so multi-GB files are written at disk speed.

Examples
--------
>>> import io
>>> import numpy as np
>>> w = FCIOWriter(io.BytesIO())
>>> w.write_config(adcs=2, eventsamples=4)
>>> w.write_event(np.zeros((2, 4), np.uint16), np.zeros((2, 2), np.uint16))
>>> w.bytes_written
300
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import ArrayLike

from . import layout
from .fsp_writer import fsp_config_frames, fsp_event_frames, fsp_status_frames

__all__ = ["CARD_STATUS_DTYPE", "DEFAULT", "FCIOWriter", "make_card_status"]

_HDR = struct.Struct("<i")
_U16 = np.dtype("<u2")
_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1
_DEFAULT_TIMEOFFSET = (0,) * 10
_DEFAULT_TIMESTAMP = (0, 0, 0, 249999999, 0)

CARD_STATUS_DTYPE = np.dtype(
    {
        "names": [*layout.STATUS_WORDS, "othererrors", "environment", "ctilinks", "linkstates"],
        "formats": [
            *(["<u4"] * len(layout.STATUS_WORDS)),
            ("<u4", (layout.STATUS_N_OTHERERRORS,)),
            ("<i4", (layout.STATUS_N_ENVIRONMENT,)),
            ("<u4", (layout.STATUS_N_CTILINKS,)),
            ("<u4", (layout.STATUS_N_LINKSTATES,)),
        ],
        "offsets": [
            *range(0, 4 * len(layout.STATUS_WORDS), 4),
            layout.STATUS_OTHERERRORS_OFFSET,
            layout.STATUS_ENVIRONMENT_OFFSET,
            layout.STATUS_CTILINKS_OFFSET,
            layout.STATUS_LINKSTATES_OFFSET,
        ],
        "itemsize": layout.STATUS_CARD_SIZE,
    }
)
"""Structured dtype of one card's 1180-byte status block (formats.md 1.5)."""


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT = _Default()
"""Default of the ``deadregion`` arguments: ``(0, 0, 0, 0, 249999999, 0, adcs)``."""


def _checked_ints(values: ArrayLike, name: str, dtype: Any, ndim: int = 1) -> np.ndarray:
    """Convert `values` to an integer array of `dtype`; ValueError if they do not fit."""
    dtype = np.dtype(dtype)
    arr = np.asarray(values)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.dtype == dtype:
        return arr
    if arr.dtype.kind not in "iub" and arr.size:
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.size:
        info = np.iinfo(dtype)
        if int(arr.min()) < info.min or int(arr.max()) > info.max:
            raise ValueError(f"{name} values must lie in [{info.min}, {info.max}]")
    return arr.astype(dtype)


def _i32(value: int, name: str) -> bytes:
    """Frame holding one int32."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not _I32_MIN <= value <= _I32_MAX:
        raise ValueError(f"{name}={value} does not fit int32")
    return _HDR.pack(4) + _HDR.pack(int(value))


def _array_frame(values: ArrayLike, name: str, dtype: Any, max_len: int | None = None) -> bytes:
    """Frame holding a 1-d integer array."""
    arr = _checked_ints(values, name, dtype)
    if max_len is not None and arr.size > max_len:
        raise ValueError(f"{name} holds at most {max_len} values, got {arr.size}")
    return _HDR.pack(arr.nbytes) + arr.tobytes()


def make_card_status(**fields: Any) -> np.void:
    """Build one card status block.

    Parameters
    ----------
    **fields
        values of `CARD_STATUS_DTYPE` fields (``reqid``, ``status``, ``eventno``, ``pps``,
        ``ticks``, ``maxticks``, ``numenv``, ``numctilinks``, ``numlinks``, ``dummy``,
        ``totalerrors``, ``enverrors``, ``ctierrors``, ``linkerrors``, ``othererrors``,
        ``environment``, ``ctilinks``, ``linkstates``). Array fields may be given
        shorter than their size; missing values are zero.

    Returns
    -------
    numpy.void
        one record of dtype `CARD_STATUS_DTYPE`.
    """
    row = np.zeros(1, dtype=CARD_STATUS_DTYPE)
    for name, value in fields.items():
        if name not in CARD_STATUS_DTYPE.names:
            raise ValueError(f"unknown card status field {name!r}")
        sub = CARD_STATUS_DTYPE.fields[name][0]
        if sub.shape:
            arr = _checked_ints(value, name, sub.base)
            if arr.size > sub.shape[0]:
                raise ValueError(f"card status field {name!r} holds at most {sub.shape[0]} values")
            row[name][0, : arr.size] = arr
        else:
            row[name] = _checked_ints(value, name, sub, ndim=0)
    return row[0]


def _card_status(card: Mapping[str, Any] | np.void) -> np.void:
    if isinstance(card, np.void) and card.dtype == CARD_STATUS_DTYPE:
        return card
    if not isinstance(card, Mapping):
        raise ValueError(f"a card must be a mapping or a CARD_STATUS_DTYPE record: {card!r}")
    return make_card_status(**card)


class FCIOWriter:
    """Write an FCIO (tmio) stream.

    Parameters
    ----------
    target
        a path (created or truncated, closed by `close`) or a writable binary file object
        (only flushed by `close`).
    protocol
        write the protocol header (``-1000000001`` + ``"FlashCamV1"``) first; FlashCam's
        reader refuses streams without it.

    Attributes
    ----------
    config : dict or None
        the last config written (or declared with ``emit=False``).
    """

    def __init__(self, target: str | os.PathLike | BinaryIO, protocol: bool = True) -> None:
        if isinstance(target, (str, os.PathLike)):
            self._fh: BinaryIO = open(target, "wb")  # noqa: SIM115
            self._owns = True
        elif hasattr(target, "write"):
            self._fh, self._owns = target, False
        else:
            raise ValueError(f"target must be a path or a binary file object, got {type(target)}")
        self._written = 0
        self._closed = False
        self.config: dict[str, Any] | None = None
        if protocol:
            self.write_protocol()

    def _write(self, *chunks: bytes | np.ndarray) -> None:
        if self._closed:
            raise ValueError("write to a closed FCIOWriter")
        for chunk in chunks:
            self._fh.write(chunk)
            self._written += len(chunk)

    @property
    def bytes_written(self) -> int:
        """Bytes written so far by this writer."""
        return self._written

    def flush(self) -> None:
        """Flush the underlying file object."""
        if not self._closed:
            self._fh.flush()

    def close(self) -> None:
        """Flush, and close the file if the writer opened it (idempotent)."""
        if not self._closed:
            self._fh.flush()
            if self._owns:
                self._fh.close()
            self._closed = True

    def __enter__(self) -> FCIOWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write_protocol(self) -> None:
        """Write the tmio protocol header (int32 ``-1000000001`` + 64 bytes ``FlashCamV1``)."""
        name = layout.PROTOCOL_NAME.ljust(layout.PROTOCOL_LENGTH, b"\0")
        self._write(_HDR.pack(layout.PROTOCOL_HEADER) + name)

    def write_record(self, tag: int, frames: Sequence[bytes | np.ndarray]) -> None:
        """Write one record with arbitrary frames (any tag, e.g. unknown or FSP tags 8/9/10).

        Parameters
        ----------
        tag
            record tag, 1 to 1000000000.
        frames
            payloads (bytes-like); numpy arrays are written as their raw C-order bytes.
        """
        if not 1 <= int(tag) <= layout.MAX_TAG:
            raise ValueError(f"tag must lie in [1, {layout.MAX_TAG}], got {tag}")
        parts = [_HDR.pack(-int(tag))]
        for frame in frames:
            payload = frame.tobytes() if isinstance(frame, np.ndarray) else bytes(frame)
            if len(payload) > _I32_MAX:
                raise ValueError(f"frame of {len(payload)} bytes exceeds the int32 length")
            parts += [_HDR.pack(len(payload)), payload]
        self._write(b"".join(parts))

    def write_config(
        self,
        *,
        adcs: int,
        eventsamples: int,
        triggers: int = 0,
        adcbits: int = 16,
        sumlength: int = 1,
        blprecision: int = 1,
        mastercards: int = 1,
        triggercards: int = 0,
        adccards: int = 1,
        gps: int = 0,
        tracemap: ArrayLike | None = None,
        streamid: int | None = None,
        emit: bool = True,
    ) -> None:
        """Write an FCIOConfig record (tag 1) and remember it to check later events.

        Parameters
        ----------
        adcs, triggers
            numbers of ADC and trigger traces (trigger traces follow the ADC traces).
        eventsamples
            samples per trace, 1 to 32768.
        adcbits
            12 or 16.
        sumlength, blprecision, mastercards, triggercards, adccards, gps
            written as given (int32).
        tracemap
            ``adcs + triggers`` uint32 ``(card_address << 16) | input``; the frame is
            written only when given.
        streamid
            int32, written only when given (requires `tracemap`: frames are positional).
        emit
            False only remembers the config (for streams whose config lives elsewhere).
        """
        given = (adcs, triggers, eventsamples, blprecision, sumlength, adcbits, mastercards)
        given += (triggercards, adccards, gps)
        values = dict(zip(layout.CONFIG_FIELDS, given, strict=True))
        frames = [_i32(values[name], name) for name in layout.CONFIG_FIELDS]
        ntraces = adcs + triggers
        if adcs < 0 or triggers < 0 or not 1 <= ntraces <= layout.MAX_CHANNELS:
            raise ValueError(
                f"need adcs >= 0, triggers >= 0, 1 <= adcs+triggers <= {layout.MAX_CHANNELS}; "
                f"got adcs={adcs}, triggers={triggers}"
            )
        if not 1 <= eventsamples <= layout.MAX_SAMPLES:
            raise ValueError(f"eventsamples must lie in [1, {layout.MAX_SAMPLES}]: {eventsamples}")
        if adcbits not in (12, 16):
            raise ValueError(f"adcbits must be 12 or 16, got {adcbits}")
        tmap = None
        if tracemap is not None:
            tmap = _checked_ints(tracemap, "tracemap", "<u4")
            if tmap.size != ntraces:
                raise ValueError(f"tracemap needs adcs+triggers={ntraces} entries, got {tmap.size}")
            frames.append(_HDR.pack(tmap.nbytes) + tmap.tobytes())
        if streamid is not None:
            if tmap is None:
                raise ValueError("streamid requires a tracemap (config frames are positional)")
            frames.append(_i32(streamid, "streamid"))
        if emit:
            self._write(_HDR.pack(-layout.TAG_CONFIG) + b"".join(frames))
        self.config = {k: int(v) for k, v in values.items()}
        self.config.update(tracemap=tmap, streamid=streamid)

    # -- events -----------------------------------------------------------------------
    def _shape(self) -> tuple[int, int]:
        if self.config is None:
            raise ValueError("write_config must come before any event record")
        return self.config["adcs"] + self.config["triggers"], self.config["eventsamples"]

    def _prefix(self, tag, type, pulser, timeoffset, timestamp, deadregion) -> tuple[bytes, bytes]:
        """Header and prefix frames of an event record; returns (head, deadregion frame)."""
        try:
            head = _HDR.pack(-tag) + _i32(type, "type") + _HDR.pack(4) + struct.pack("<f", pulser)
        except (struct.error, OverflowError) as exc:
            raise ValueError(f"pulser must be a float32 value, got {pulser!r}") from exc
        head += _array_frame(timeoffset, "timeoffset", "<i4", layout.MAX_ARRAY)
        head += _array_frame(timestamp, "timestamp", "<i4", layout.MAX_ARRAY)
        if deadregion is None:
            if tag != layout.TAG_EVENT:
                raise ValueError("deadregion can be omitted (None) only in full events (tag 3)")
            return head, b""
        if isinstance(deadregion, _Default):
            deadregion = (0, 0, 0, 0, 249999999, 0, self.config["adcs"])
        return head, _array_frame(deadregion, "deadregion", "<i4", layout.MAX_ARRAY)

    @staticmethod
    def _trace_list(trace_list: ArrayLike, ntraces: int) -> np.ndarray:
        tl = _checked_ints(trace_list, "trace_list", np.int64)
        if tl.size and (tl.min() < 0 or tl.max() >= ntraces):
            raise ValueError(f"trace_list entries must lie in [0, {ntraces - 1}]")
        return tl.astype(_U16)

    @staticmethod
    def _samples(traces: ArrayLike, theader: ArrayLike, n: int, ns: int) -> tuple:
        traces = _checked_ints(traces, "traces", _U16, ndim=2)
        theader = _checked_ints(theader, "theader", _U16, ndim=2)
        if traces.shape != (n, ns):
            raise ValueError(f"traces must have shape ({n}, {ns}), got {traces.shape}")
        if theader.shape != (n, 2):
            raise ValueError(f"theader must have shape ({n}, 2), got {theader.shape}")
        return traces, theader

    def write_event(
        self,
        traces: ArrayLike,
        theader: ArrayLike,
        *,
        type: int = 1,
        pulser: float = 0.0,
        timeoffset: ArrayLike = _DEFAULT_TIMEOFFSET,
        timestamp: ArrayLike = _DEFAULT_TIMESTAMP,
        deadregion: ArrayLike | _Default | None = DEFAULT,
    ) -> None:
        """Write a full event (tag 3) holding every trace.

        Parameters
        ----------
        traces
            uint16 samples, shape ``(adcs + triggers, eventsamples)``.
        theader
            uint16 ``(hdr0, hdr1)`` = (baseline * blprecision, integrator) per trace,
            shape ``(adcs + triggers, 2)``.
        type, pulser
            event type (int32) and pulser amplitude (float32).
        timeoffset, timestamp
            up to 10 int32 each (formats.md 1.4).
        deadregion
            up to 10 int32, default ``(0, 0, 0, 0, 249999999, 0, adcs)``; None omits the
            frame (as old files do).
        """
        n, ns = self._shape()
        traces, theader = self._samples(traces, theader, n, ns)
        head, dead = self._prefix(layout.TAG_EVENT, type, pulser, timeoffset, timestamp, deadregion)
        buf = np.empty((n, ns + 2), dtype=_U16)
        buf[:, :2] = theader
        buf[:, 2:] = traces
        self._write(head + _HDR.pack(buf.nbytes), buf.reshape(-1).view(np.uint8), dead)

    def write_sparse_event(
        self,
        trace_list: ArrayLike,
        traces: ArrayLike,
        theader: ArrayLike,
        *,
        type: int = 1,
        pulser: float = 0.0,
        timeoffset: ArrayLike = _DEFAULT_TIMEOFFSET,
        timestamp: ArrayLike = _DEFAULT_TIMESTAMP,
        deadregion: ArrayLike | _Default = DEFAULT,
    ) -> None:
        """Write a sparse event (tag 6) holding the listed traces only.

        Parameters
        ----------
        trace_list
            trace indices (``0 <= i < adcs + triggers``), written in the given order.
        traces, theader
            one row per listed trace: shapes ``(n, eventsamples)`` and ``(n, 2)``.
        type, pulser, timeoffset, timestamp
            as in `write_event`.
        deadregion
            up to 10 int32, default ``(0, 0, 0, 0, 249999999, 0, adcs)``. It precedes
            other frames, so it cannot be omitted; ``()`` writes an empty frame.
        """
        ntraces, ns = self._shape()
        tl = self._trace_list(trace_list, ntraces)
        traces, theader = self._samples(traces, theader, tl.size, ns)
        head, dead = self._prefix(
            layout.TAG_SPARSEEVENT, type, pulser, timeoffset, timestamp, deadregion
        )
        # one row per trace frame: int32 length (two u16 words), hdr0, hdr1, samples
        nbytes = 2 * (ns + 2)
        buf = np.empty((tl.size, ns + 4), dtype=_U16)
        buf[:, 0] = nbytes & 0xFFFF
        buf[:, 1] = nbytes >> 16
        buf[:, 2:4] = theader
        buf[:, 4:] = traces
        listing = _i32(tl.size, "num_traces") + _HDR.pack(tl.nbytes) + tl.tobytes()
        self._write(head + dead + listing, buf.reshape(-1).view(np.uint8))

    def write_event_header(
        self,
        trace_list: ArrayLike,
        theader: ArrayLike,
        *,
        type: int = 1,
        pulser: float = 0.0,
        timeoffset: ArrayLike = _DEFAULT_TIMEOFFSET,
        timestamp: ArrayLike = _DEFAULT_TIMESTAMP,
        deadregion: ArrayLike | _Default = DEFAULT,
    ) -> None:
        """Write an event header (tag 7): event prefix and (hdr0, hdr1) of the listed traces.

        Parameters
        ----------
        trace_list
            trace indices (``0 <= i < adcs + triggers``).
        theader
            uint16, shape ``(n, 2)``, one row per listed trace.
        type, pulser, timeoffset, timestamp, deadregion
            as in `write_sparse_event`.
        """
        ntraces, _ = self._shape()
        tl = self._trace_list(trace_list, ntraces)
        th = _checked_ints(theader, "theader", _U16, ndim=2)
        if th.shape != (tl.size, 2):
            raise ValueError(f"theader must have shape ({tl.size}, 2), got {th.shape}")
        head, dead = self._prefix(
            layout.TAG_EVENTHEADER, type, pulser, timeoffset, timestamp, deadregion
        )
        listing = _HDR.pack(tl.nbytes) + tl.tobytes()
        self._write(head + dead + listing + _HDR.pack(th.nbytes) + th.tobytes())

    def write_status(
        self,
        *,
        status: int = 1,
        statustime: ArrayLike = _DEFAULT_TIMEOFFSET,
        cards: np.ndarray | Sequence[Mapping[str, Any]],
    ) -> None:
        """Write a status record (tag 4).

        Parameters
        ----------
        status
            1 = no errors.
        statustime
            up to 10 int32: fpga s, µs, server s, µs, -, start s, µs.
        cards
            a `CARD_STATUS_DTYPE` array (or record), or a sequence of mappings (passed to
            `make_card_status`) or records; one 1180-byte frame is written per card.
        """
        if isinstance(cards, (np.ndarray, np.void)) and cards.dtype.names is not None:
            if cards.dtype != CARD_STATUS_DTYPE:
                raise ValueError("a cards array must have dtype CARD_STATUS_DTYPE")
            arr = np.ascontiguousarray(np.atleast_1d(cards))
        elif isinstance(cards, Mapping) or not isinstance(cards, Sequence):
            raise ValueError("cards must be a CARD_STATUS_DTYPE array or a sequence of mappings")
        else:
            arr = np.array([_card_status(c) for c in cards], dtype=CARD_STATUS_DTYPE)
        if arr.ndim != 1 or arr.size > layout.MAX_CARDS:
            raise ValueError(f"need a 1-d array of at most {layout.MAX_CARDS} cards")
        size = layout.STATUS_CARD_SIZE
        frames = np.empty((arr.size, 4 + size), dtype=np.uint8)
        frames[:, :4] = np.frombuffer(_HDR.pack(size), dtype=np.uint8)
        frames[:, 4:] = arr.view(np.uint8).reshape(arr.size, size)
        head = _HDR.pack(-layout.TAG_STATUS) + _i32(status, "status")
        head += _array_frame(statustime, "statustime", "<i4", layout.MAX_ARRAY)
        self._write(head + _i32(arr.size, "cards") + _i32(size, "size") + frames.tobytes())

    # -- FSP (software trigger) records: frames built in fsp_writer --------------------
    def write_fsp_config(self, **values: Any) -> None:
        """Write an FSPConfig record (tag 8); `values`: see :func:`.fsp_config_frames`."""
        self.write_record(layout.TAG_FSPCONFIG, fsp_config_frames(**values))

    def write_fsp_event(self, **values: Any) -> None:
        """Write an FSPEvent record (tag 9); `values`: see :func:`.fsp_event_frames`."""
        self.write_record(layout.TAG_FSPEVENT, fsp_event_frames(**values))

    def write_fsp_status(self, **values: Any) -> None:
        """Write an FSPStatus record (tag 10); `values`: see :func:`.fsp_status_frames`."""
        self.write_record(layout.TAG_FSPSTATUS, fsp_status_frames(**values))
