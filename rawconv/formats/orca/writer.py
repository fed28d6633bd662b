"""Write ORCA files: a header plist, then records of every kind rawconv decodes.

Used by tests, demos and benchmarks; layouts as in formats.md section 2 and the kernel
modules (:mod:`.flashcam_kernels`, :mod:`.struck_kernels`). FCIO payloads are written with
:class:`~rawconv.formats.fcio.writer.FCIOWriter` into memory.

Examples
--------
>>> import io
>>> from rawconv.formats.orca.header_builder import make_header
>>> w = OrcaWriter(io.BytesIO(), make_header(["ORRunDecoderForRun"]))
>>> w.write_run(run_number=7, time=1700000000, start=True)
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import ArrayLike

from ..fcio.writer import FCIOWriter
from .header import OrcaHeader
from .header_builder import header_record
from .layout import (
    FC_CONFIG_FIELDS,
    FC_CONFIG_SLOTS,
    LONG_LENGTH_MASK,
    MAX_RECORD_WORDS,
    SHORT_BIT,
    SHORT_PAYLOAD_MASK,
    SIS3302_TRAILER,
)

__all__ = ["FCIOListenerWriter", "OrcaWriter"]

_FLAGS = ("start", "quick", "remote", "heartbeat", "end_subrun", "start_subrun")


def _u32(values: ArrayLike) -> np.ndarray:
    return (np.asarray(values, dtype=np.int64) & 0xFFFFFFFF).astype("<u4")


class OrcaWriter:
    """An ORCA file: the header record, then records appended by the ``write_*`` methods.

    Parameters
    ----------
    target
        a path (created or truncated, closed by `close`) or a writable binary file object.
    header
        the header plist (see :func:`~.header_builder.make_header`), or raw XML bytes.
    byte_order
        ``"<"`` (every file seen) or ``">"`` (PowerPC-era files: words byte-swapped).
    """

    def __init__(self, target: str | os.PathLike | BinaryIO, header: Mapping | bytes,
                 byte_order: str = "<") -> None:  # fmt: skip
        if isinstance(target, (str, os.PathLike)):
            self._fh: BinaryIO = open(target, "wb")  # noqa: SIM115
            self._owns = True
        else:
            self._fh, self._owns = target, False
        self.order = byte_order
        record = header_record(header, byte_order)
        self.header = OrcaHeader.from_record(record, byte_order)
        self.ids = {name: data_id for data_id, name in self.header.data_ids()}
        self.records = 1
        self._fh.write(record)

    def close(self) -> None:
        self._fh.flush()
        if self._owns:
            self._fh.close()

    def __enter__(self) -> OrcaWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- records ------------------------------------------------------------------------

    def data_id(self, decoder: str) -> int:
        """The unshifted data id the header gives `decoder`."""
        if decoder not in self.ids:
            raise ValueError(f"the header describes no {decoder} records")
        return self.ids[decoder]

    def write_record(self, decoder: str | int, payload: ArrayLike | bytes,
                     extended: bool = False) -> None:  # fmt: skip
        """A long record: word 0 (id | length), then `payload` (uint32 words, or bytes
        padded to a word). `extended` writes length 0 in word 0 and the length in word 1
        (the payload then starts at word 2)."""
        data_id = self.data_id(decoder) if isinstance(decoder, str) else int(decoder)
        if isinstance(payload, (bytes, bytearray)):
            body = bytes(payload) + b"\0" * ((-len(payload)) % 4)
            words = np.frombuffer(body, dtype="<u4")
        else:
            words = _u32(payload)
        n = len(words) + (2 if extended else 1)
        if n > MAX_RECORD_WORDS or (not extended and n > LONG_LENGTH_MASK):
            raise ValueError(f"a record of {n} words needs extended=True (at most "
                             f"{LONG_LENGTH_MASK} words otherwise)")  # fmt: skip
        head = [data_id, n] if extended else [data_id | n]
        self._write(np.concatenate([_u32(head), words]))

    def write_short(self, decoder: str, value: int) -> None:
        """A short (one-word) record carrying 26 bits."""
        data_id = self.data_id(decoder)
        if not data_id & SHORT_BIT:
            raise ValueError(f"{decoder} is described with a long-record id")
        self._write(_u32([data_id | (int(value) & SHORT_PAYLOAD_MASK)]))

    def write_raw(self, data: bytes) -> None:
        """Bytes as they are (damaged data for tests)."""
        self._fh.write(data)

    def _write(self, words: np.ndarray) -> None:
        self._fh.write(words.astype(self.order + "u4").tobytes())
        self.records += 1

    # --- run control, legacy FlashCam --------------------------------------------------------

    def write_run(self, run_number: int, time: int, subrun: int = 0, **flags: bool) -> None:
        """A run record; flags: start, quick, remote, heartbeat, end_subrun, start_subrun."""
        unknown = set(flags) - set(_FLAGS)
        if unknown:
            raise ValueError(f"unknown run flags {sorted(unknown)}")
        w1 = (int(subrun) & 0xFFFF) << 16
        for bit, name in enumerate(_FLAGS):
            w1 |= int(bool(flags.get(name, False))) << bit
        self.write_record("ORRunDecoderForRun", [w1, run_number, time])

    def write_fc_config(self, fcid: int, tracemap: ArrayLike, readout_id: int = 1,
                        board_rev: ArrayLike = (), board_uid: ArrayLike = (),
                        slots: int = FC_CONFIG_SLOTS, **values: int) -> None:  # fmt: skip
        """A legacy listener config: `values` are the FC_CONFIG_FIELDS (nadcs from the
        tracemap), padded with zeros to ``13 + slots`` words."""
        tm = _u32(tracemap)
        values = {"nadcs": len(tm), **values}
        words = [(readout_id << 16) | fcid] + [values.get(k, 0) for k in FC_CONFIG_FIELDS]
        body = list(tm)
        rev = np.asarray(board_rev, dtype=np.uint8)
        if len(rev) or len(board_uid):
            rev_words = np.zeros(-(-len(rev) // 4) * 4, np.uint8)
            rev_words[: len(rev)] = rev
            body += list(rev_words.view("<u4"))
            for uid in np.asarray(board_uid, dtype=np.uint64).tolist():
                body += [uid >> 32, uid & 0xFFFFFFFF]
        body += [0] * max(slots - len(body), 0)
        self.write_record("ORFlashCamListenerConfigDecoder", [*words, *body])

    def write_fc_status(
        self, fcid: int, cards: np.ndarray, status: int = 1, statustime: Sequence[int] = (0, 0),
        cputime: Sequence[int] = (0, 0), startoffset: Sequence[int] = (0, 0), readout_id: int = 1,
    ) -> None:  # fmt: skip
        """A legacy listener status record; `cards` is (n_cards, card words) uint32."""
        cards = np.atleast_2d(_u32(cards))
        head = [(readout_id << 16) | fcid, status, *statustime, *cputime, 0, *startoffset,
                0, 0, 0, len(cards), cards.shape[1]]  # fmt: skip
        self.write_record("ORFlashCamListenerStatusDecoder", [*head, *cards.ravel()])

    def write_fc_waveform(
        self, *, crate: int, slot: int, board_id: int, fc_input: int, channel: int,
        samples: ArrayLike, timeoffset: Sequence[int] = (0,) * 7,
        deadregion: Sequence[int] = (0, 0, 0, 0, 249999999), timestamp: Sequence[int] = (0,) * 4,
        baseline: int = 0, daqenergy: int = 0, event_type: int = 1, adc: bool = True,
    ) -> None:  # fmt: skip
        """A legacy waveform record (``adc``: ORFlashCamADCWaveformDecoder bit layout, else
        ORFlashCamWaveformDecoder's); only the low 8 bits of `board_id` are kept."""
        s = np.asarray(samples, dtype="<u2")
        if len(s) % 2:
            s = np.concatenate([s, np.zeros(1, "<u2")])
        n = len(np.asarray(samples))
        w1 = (3 << 28) | (17 << 22) | ((n & 0xFFFF) << 6) | (event_type & 0x3F)
        shift, mask = (10, 0x3FF) if adc else (9, 0x1FF)
        w2 = ((crate & 0x1F) << 27) | ((slot & 0x1F) << 22) | ((board_id & 0xFF) << 14)
        w2 |= (fc_input << shift) | (channel & mask)
        head = [w1, w2, *timeoffset[:7], *deadregion[:5], *timestamp[:4],
                (baseline & 0xFFFF) | ((daqenergy & 0xFFFF) << 16)]  # fmt: skip
        name = "ORFlashCamADCWaveformDecoder" if adc else "ORFlashCamWaveformDecoder"
        self.write_record(name, np.concatenate([_u32(head), s.view("<u4")]))

    # --- FCIO-wrapped -------------------------------------------------------------------------

    def write_fcio(self, decoder: str, streamid: int, payload: bytes,
                   extended: bool | None = None) -> None:  # fmt: skip
        """An FCIO-wrapped record: word 1 = length, word 2 = streamid, then the tmio bytes
        (padded to a word). Extended form when asked, or when longer than word 0 allows."""
        n = 3 + -(-len(payload) // 4)
        if extended is None:
            extended = n > LONG_LENGTH_MASK
        data_id = self.data_id(decoder)
        body = bytes(payload) + b"\0" * ((-len(payload)) % 4)
        head = [data_id, n] if extended else [data_id | n, n]
        self._write(np.concatenate([_u32([*head, streamid]), np.frombuffer(body, "<u4")]))

    # --- Struck ---------------------------------------------------------------------------------

    def write_sis3302(self, *, crate: int, card: int, channel: int, samples: ArrayLike,
                      timestamp: int = 0, energy: int = 0, energy_first: int = 0,
                      energy_wf: ArrayLike = (), wrap_start: int | None = None,
                      event_header: int = 0, flags: int = 0) -> None:  # fmt: skip
        """A SIS3302 energy record. With `wrap_start`, `samples` is the circular buffer as
        stored (the waveform starts at buffer sample `wrap_start`)."""
        s = np.asarray(samples, dtype="<u2")
        if len(s) % 2:
            raise ValueError("SIS3302 records hold an even number of samples")
        wrap = wrap_start is not None
        w1 = ((crate & 0xF) << 21) | ((card & 0x1F) << 16) | ((channel & 0xFF) << 8) | wrap
        ew = _u32(energy_wf)
        ts_hi, ts_lo = (int(timestamp) >> 32) & 0xFFFF, int(timestamp) & 0xFFFFFFFF
        head = [w1, len(s) // 2, len(ew), (ts_hi << 16) | (event_header & 0xFFFF), ts_lo]
        if wrap:
            head += [len(s), wrap_start]
        tail = [energy, energy_first, flags, SIS3302_TRAILER]
        self.write_record("ORSIS3302DecoderForEnergy",
                          np.concatenate([_u32(head), s.view("<u4"), ew, _u32(tail)]))  # fmt: skip

    def write_sis3316(self, *, crate: int, card: int, channel: int,
                      events: Sequence[Mapping[str, Any]], fmt: int = 0xF,
                      raw_samples: int = 0) -> None:  # fmt: skip
        """A SIS3316 record of several events (each: timestamp, samples and, per format
        bit, peakHighValue/Index, information, accSum1-8, mawMax/Before/After, startEnergy,
        maxEnergy). Every event has `raw_samples` samples (even)."""
        hdr = 2 + 7 * (fmt & 1) + 2 * ((fmt >> 1) & 1) + 3 * ((fmt >> 2) & 1)
        hdr += 2 * ((fmt >> 3) & 1) + 1
        length = hdr + raw_samples // 2
        w1 = ((crate & 0xF) << 21) | ((card & 0x1F) << 16) | ((channel & 0xFF) << 8)
        words = [w1, len(events), length, len(events), hdr, 0, 0, 0, 0]
        for ev in events:
            g = lambda k, ev=ev: int(ev.get(k, 0))  # noqa: E731
            ts = g("timestamp")
            words += [(((ts >> 32) & 0xFFFF) << 16) | ((channel & 0xFF) << 4) | fmt,
                      ts & 0xFFFFFFFF]  # fmt: skip
            if fmt & 1:
                words += [(g("peakHighValue") & 0xFFFF) | (g("peakHighIndex") << 16),
                          (g("accSum1") & 0xFFFFFF) | (g("information") << 24)]  # fmt: skip
                words += [g(f"accSum{k}") for k in range(2, 7)]
            if fmt & 2:
                words += [g("accSum7"), g("accSum8")]
            if fmt & 4:
                words += [g("mawMax"), g("mawBefore"), g("mawAfter")]
            if fmt & 8:
                words += [g("startEnergy"), g("maxEnergy")]
            words.append((0xE << 28) | (raw_samples // 2))
            s = np.zeros(raw_samples, "<u2")
            given = np.asarray(ev.get("samples", ()), dtype="<u2")[:raw_samples]
            s[: len(given)] = given
            words += s.view("<u4").tolist()
        self.write_record("ORSIS3316WaveformDecoder", words)


class FCIOListenerWriter:
    """FCIO payloads of one listener: each ``write_*`` call returns the tmio bytes of one
    ORCA record (config: protocol header, [FSPConfig], FCIOConfig; others: [FSP companion],
    the record)."""

    def __init__(self, streamid: int, **config: Any) -> None:
        self.streamid = streamid
        self.config = dict(config)
        self._buf = io.BytesIO()
        self._fcio = FCIOWriter(self._buf, protocol=False)
        self._fcio.write_config(emit=False, **self.config)

    def _take(self, write: str, fsp: Mapping[str, Any] | None, fsp_write: str, *args: Any,
              **kwargs: Any) -> bytes:  # fmt: skip
        self._buf.seek(0)
        self._buf.truncate()
        if fsp is not None:
            getattr(self._fcio, fsp_write)(**fsp)
        getattr(self._fcio, write)(*args, **kwargs)
        return self._buf.getvalue()

    def config_payload(self, fsp_config: Mapping[str, Any] | None = None) -> bytes:
        out = io.BytesIO()
        w = FCIOWriter(out, protocol=True)
        if fsp_config is not None:
            w.write_fsp_config(**fsp_config)
        w.write_config(streamid=self.streamid, **self.config)
        return out.getvalue()

    def event(self, *args: Any, fsp: Mapping | None = None, **kw: Any) -> bytes:
        return self._take("write_event", fsp, "write_fsp_event", *args, **kw)

    def sparse_event(self, *args: Any, fsp: Mapping | None = None, **kw: Any) -> bytes:
        return self._take("write_sparse_event", fsp, "write_fsp_event", *args, **kw)

    def event_header(self, *args: Any, fsp: Mapping | None = None, **kw: Any) -> bytes:
        return self._take("write_event_header", fsp, "write_fsp_event", *args, **kw)

    def status(self, fsp: Mapping | None = None, **kw: Any) -> bytes:
        return self._take("write_status", fsp, "write_fsp_status", **kw)
