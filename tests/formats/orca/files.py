"""Writer-made ORCA files for the tests: small, with every record kind rawconv decodes."""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np

from rawconv.formats.fcio.writer import CARD_STATUS_DTYPE
from rawconv.formats.orca.header_builder import FlashCamSpec, StruckSpec, make_header
from rawconv.formats.orca.writer import FCIOListenerWriter, OrcaWriter

LEGACY_DECODERS = ["ORRunDecoderForRun", "ORFlashCamListenerConfigDecoder",
                   "ORFlashCamListenerStatusDecoder", "ORFlashCamADCWaveformDecoder",
                   "ORSIS3302DecoderForEnergy", "ORSIS3316WaveformDecoder",
                   "ORScriptDecoderForRecord"]  # fmt: skip


def mixed_file(order: str = "<", n: int = 6) -> bytes:
    """Run, legacy FlashCam (config, status, waveforms), SIS3302 (plain and wrap mode),
    SIS3316, a described record without rawconv decoder, a short record."""
    fc = [FlashCamSpec(1, cards=[(0, 0, 0x120, [True] * 3)], event_samples=4096)]
    struck = [StruckSpec("ORSIS3302Model", 1, 2, 0b11, sample_lengths=[8]),
              StruckSpec("ORSIS3316Model", 1, 3, 0b101, raw_length=6)]  # fmt: skip
    header = make_header(LEGACY_DECODERS, flashcam=fc, struck=struck, short=["ORShortDecoder"])
    out = io.BytesIO()
    rng = np.random.default_rng(3)
    w = OrcaWriter(out, header, byte_order=order)
    w.write_run(42, 1_700_000_000, start=True, start_subrun=True)
    w.write_fc_config(1, [(0x120 << 16) | i for i in range(3)], nsamples=10, adcbits=16,
                      adccards=1, gps=0)  # fmt: skip
    cards = rng.integers(0, 1000, (2, 295))
    w.write_fc_status(1, cards, statustime=(5, 6), cputime=(7, 8))
    for k in range(n):
        for ch in range(3):
            w.write_fc_waveform(crate=0, slot=0, board_id=0x120, fc_input=ch, channel=ch,
                                samples=rng.integers(0, 2**16, 10),
                                timeoffset=[1_700_000_000, 5, 0, 1, 1, 1, 0],
                                timestamp=[k, 3, 1000 * k, 249_999_999], baseline=100 + k,
                                daqenergy=200 + ch)  # fmt: skip
        w.write_sis3302(crate=1, card=2, channel=k % 2, samples=rng.integers(0, 2**16, 8),
                        timestamp=(7 << 32) + k, energy=k, energy_first=2 * k,
                        energy_wf=[1, 2], wrap_start=(3 if k % 3 == 0 else None))  # fmt: skip
        w.write_record("ORScriptDecoderForRecord", [1, 2, 3])
        w.write_short("ORShortDecoder", k)
        events = [{"timestamp": (1 << 40) + e, "samples": rng.integers(0, 2**16, 6),
                   "maxEnergy": 10 + e, "startEnergy": e, "accSum6": 66, "accSum7": 77}
                  for e in range(1 + k % 3)]  # fmt: skip
        w.write_sis3316(crate=1, card=3, channel=2 * (k % 2), events=events, raw_samples=6)
    w.write_run(42, 1_700_000_100)
    return out.getvalue()


def fcio_file(
    fsp: bool = True,
    n: int = 8,
    extended_every: int = 3,
    fsp_ct: bool = True,
    fsp_configs: tuple[dict, ...] = ({},),
) -> bytes:
    """Two FCIO listeners (one with FSP), events, sparse events, event headers, status.
    `fsp_ct`: FSPEvent records list a channel-threshold trace (the reference's FSP decoder
    fails on those). `fsp_configs`: the FSPConfig values (fsp_config_frames) of listener 1's
    config records; the second and later ones are written after the first half of the
    events."""
    fc = [FlashCamSpec(1, cards=[(0, 1, 0x210, [True] * 4)], event_samples=12, fsp_enabled=fsp),
          FlashCamSpec(2, cards=[(0, 2, 0x211, [True] * 3)], event_samples=7)]  # fmt: skip
    decoders = ["ORRunDecoderForRun", "ORFCIOConfigDecoder", "ORFCIOEventDecoder",
                "ORFCIOEventHeaderDecoder", "ORFCIOStatusDecoder"]  # fmt: skip
    out = io.BytesIO()
    w = OrcaWriter(out, make_header(decoders, flashcam=fc))
    rng = np.random.default_rng(5)
    l1 = FCIOListenerWriter((1 << 16) | 1, adcs=4, eventsamples=12,
                            tracemap=[(0x210 << 16) | i for i in range(4)])  # fmt: skip
    l2 = FCIOListenerWriter((1 << 16) | 2, adcs=3, eventsamples=7, adcbits=12, gps=50000,
                            tracemap=[(0x211 << 16) | i for i in range(3)])  # fmt: skip
    w.write_run(1, 1_700_000_000, start=True)
    w.write_fcio("ORFCIOConfigDecoder", l2.streamid, l2.config_payload())
    w.write_fcio("ORFCIOConfigDecoder", l1.streamid,
                 l1.config_payload(fsp_configs[0] if fsp else None))  # fmt: skip
    fsp_ev = {"obs_ct_trace_idx": [1], "obs_ct_max": [9]} if fsp_ct else {}
    fsp_ev = fsp_ev if fsp else None
    for k in range(n):
        if k == n // 2 and fsp:
            for values in fsp_configs[1:]:
                w.write_fcio("ORFCIOConfigDecoder", l1.streamid, l1.config_payload(values))
        ts = [k, 2, 100 * k, 249_999_999]
        tr, th = rng.integers(0, 2**16, (4, 12)), rng.integers(0, 2**16, (4, 2))
        w.write_fcio("ORFCIOEventDecoder", l1.streamid, l1.event(tr, th, timestamp=ts, fsp=fsp_ev),
                     extended=k % extended_every == 0)  # fmt: skip
        tl = [k % 3]
        w.write_fcio("ORFCIOEventDecoder", l2.streamid,
                     l2.sparse_event(tl, rng.integers(0, 2**12, (1, 7)), th[:1], timestamp=ts,
                                     type=11))  # fmt: skip
        if k % 2:
            w.write_fcio("ORFCIOEventHeaderDecoder", l2.streamid,
                         l2.event_header([0, 2], th[:2], timestamp=ts))  # fmt: skip
    cards = np.zeros(2, CARD_STATUS_DTYPE)
    cards["reqid"] = [0, 0x2000]
    w.write_fcio("ORFCIOStatusDecoder", l1.streamid, l1.status(status=1, cards=cards))
    w.write_run(1, 1_700_000_100)
    return out.getvalue()


def tables(path: str | Path) -> dict[str, np.ndarray]:
    """name -> values of every dataset of an HDF5 file."""
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset)
                     else None)  # fmt: skip
    return out


def record_offsets(data: bytes, order: str = "<") -> list[tuple[int, int]]:
    """(offset, bytes) of every record after the header, by walking word-0 lengths."""
    w = np.frombuffer(data[: len(data) // 4 * 4], dtype=order + "u4")
    pos = int(w[0] & 0x3FFFF)
    out = []
    while pos < len(w):
        n = 1 if w[pos] >> 31 else int(w[pos] & 0x3FFFF) or int(w[pos + 1])
        out.append((4 * pos, 4 * n))
        pos += n
    return out
