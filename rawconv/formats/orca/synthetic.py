"""Synthetic ORCA runs for benchmarks and demos: FCIO runs wrapped in ORCA records.

:func:`wrap_fcio` turns an FCIO stream (as FlashCam writes it) into the ORCA records of one
listener, record by record, the way ORCA's FlashCam listener does: the protocol header and
the FCIOConfig (with its FSPConfig) make one ORFCIOConfig record, every other FCIO record
one ORFCIOEvent / ORFCIOEventHeader / ORFCIOStatus record (an FSP record shares the ORCA
record of the FCIO record it precedes). :func:`write_synthetic_orca` does this for
:func:`rawconv.formats.fcio.synthetic.write_synthetic_run` (realistic waveforms).
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..fcio.kernels import TAG_PROTOCOL, index_records
from ..fcio.layout import MAX_FRAME_BYTES
from ..fcio.synthetic import write_synthetic_run
from .header_builder import FlashCamSpec, make_header
from .writer import OrcaWriter

__all__ = ["FCIO_DECODERS", "wrap_fcio", "write_synthetic_orca"]

FCIO_DECODERS = ["ORRunDecoderForRun", "ORFCIOConfigDecoder", "ORFCIOEventDecoder",
                 "ORFCIOEventHeaderDecoder", "ORFCIOStatusDecoder"]  # fmt: skip
_DECODER_OF_TAG = {1: "ORFCIOConfigDecoder", 3: "ORFCIOEventDecoder", 6: "ORFCIOEventDecoder",
                   5: "ORFCIOEventDecoder", 7: "ORFCIOEventHeaderDecoder",
                   4: "ORFCIOStatusDecoder"}  # fmt: skip
_FSP = (8, 9, 10)
_CHUNK = 64 << 20


def wrap_fcio(fcio: str | os.PathLike | BinaryIO, writer: OrcaWriter, streamid: int) -> int:
    """Append the records of an FCIO stream to `writer` as listener `streamid`'s ORCA
    records; returns the number of ORCA records written. A config without a streamid
    frame gets one (ORCA's listener writes it)."""
    fh = open(fcio, "rb") if isinstance(fcio, (str, os.PathLike)) else fcio  # noqa: SIM115
    tag, start, stop, f0, nfr = (np.zeros(1 << 16, np.int32), *(np.zeros(1 << 16, np.int64)
                                 for _ in range(4)))  # fmt: skip
    frames = (np.zeros(1 << 20, np.int64), np.zeros(1 << 20, np.int64))
    buf = b""
    written = 0
    eof = False
    try:
        while not eof:
            more = fh.read(_CHUNK)
            eof = not more
            buf += more
            arr = np.frombuffer(buf, np.uint8)
            n = index_records(arr, len(arr), 0, eof, MAX_FRAME_BYTES, tag, start, stop, f0,
                              nfr, *frames)[0]  # fmt: skip
            group = 0
            for i in range(n):
                t = int(tag[i])
                if t == TAG_PROTOCOL or t in _FSP:
                    continue
                payload = buf[group : int(stop[i])]
                if t == 1 and int(nfr[i]) == 11:
                    payload += struct.pack("<ii", 4, streamid)
                writer.write_fcio(_DECODER_OF_TAG[t], streamid, payload)
                written += 1
                group = int(stop[i])
            buf = buf[group:]
    finally:
        if fh is not fcio:
            fh.close()
    return written


def write_synthetic_orca(
    path: str | os.PathLike, *, listeners: int = 1, fsp: bool = False, **run: Any
) -> None:
    """An ORCA file holding `listeners` FCIO runs of
    :func:`~rawconv.formats.fcio.synthetic.write_synthetic_run` (keyword arguments `run`),
    one listener after the other, between a run-start and a run-stop record."""
    adcs = int(run["adcs"])
    per_card = 24 if run.get("adcbits", 16) == 12 else 6
    specs = []
    for k in range(listeners):
        cards = [(k, c, 0x210 + c, [True] * min(per_card, adcs - c * per_card))
                 for c in range(-(-adcs // per_card))]  # fmt: skip
        specs.append(FlashCamSpec(k + 1, cards=cards, event_samples=run["eventsamples"],
                                  fsp_enabled=fsp))  # fmt: skip
    seed = int(run.pop("seed", 7))
    with (
        tempfile.TemporaryDirectory() as tmp,
        OrcaWriter(path, make_header(FCIO_DECODERS, flashcam=specs)) as writer,
    ):
        writer.write_run(1, 1_700_000_000, start=True)
        for k in range(listeners):
            fcio = Path(tmp) / f"listener{k}.fcio"
            write_synthetic_run(fcio, seed=seed + k, **run)
            wrap_fcio(fcio, writer, (1 << 16) | (k + 1))
        writer.write_run(1, 1_700_000_100)


def write_demo_run(out_dir: Path, events: int) -> Path:
    """A demo ORCA run: two FlashCam listeners wrapping FCIO sparse events of 3 of 12
    traces x 2000 samples; returns its path."""
    path = Path(out_dir) / "demo_run.orca"
    write_synthetic_orca(path, listeners=2, n_events=events, adcs=12, eventsamples=2000,
                         mode="sparse", traces_per_event=3, status_every=1000, seed=1)  # fmt: skip
    return path
