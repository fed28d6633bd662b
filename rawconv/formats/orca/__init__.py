"""ORCA files (formats.md, section 2): the streamer, its decoders, its index and a writer.

ORCA (Object-oriented Real-time Control and Acquisition) writes an XML header followed by
length-prefixed records whose meaning the header assigns; LEGEND-200 records its data in
ORCA files, with FlashCam data as legacy waveform records (until 2023) or wrapped FCIO
records. See :class:`~.streamer.OrcaStreamer`.
"""

from __future__ import annotations

import struct

from ..base import Format

__all__ = ["FORMAT", "sniff"]


def sniff(head: bytes) -> bool:
    """An ORCA file starts with its header record: a length word, the XML length, then
    ``<?xml``; either byte order (big-endian from PowerPC Macs)."""
    if len(head) < 12 or head[8:12] != b"<?xm":
        return False
    for order in ("<II", ">II"):
        w0, w1 = struct.unpack_from(order, head, 0)
        if (w0 >> 18) == 0 and 0 <= 4 * w0 - 8 - w1 <= 3:
            return True
    return False


FORMAT = Format(
    name="ORCA",
    aliases=("orca",),
    sniff=sniff,
    streamer="rawconv.formats.orca.streamer:OrcaStreamer",
    index="rawconv.formats.orca.resume:OrcaIndex",
    decoders=(
        "OrcaHeaderDecoder", "ORRunDecoderForRun", "ORFlashCamListenerConfigDecoder",
        "ORFlashCamListenerStatusDecoder", "ORFlashCamADCWaveformDecoder",
        "ORFlashCamWaveformDecoder", "ORFCIOConfigDecoder", "ORFCIOEventDecoder",
        "ORFCIOEventHeaderDecoder", "ORFCIOStatusDecoder", "ORSIS3302DecoderForEnergy",
        "ORSIS3316WaveformDecoder",
    ),
    demo="rawconv.formats.orca.synthetic:write_demo_run",
    specificity=60,
    description="ORCA files (FlashCam, FCIO-wrapped and Struck records)",
)
