"""FlashCam FCIO files and streams (formats.md, section 1): streamer, decoders, index, writer.

See :class:`~.streamer.FCIOStreamer`.
"""

from __future__ import annotations

import struct

from ..base import Format

__all__ = ["FORMAT", "sniff"]

_PROTOCOL = -1000000001


def sniff(head: bytes) -> bool:
    """An FCIO stream starts with its protocol header (tag -1000000001 and a protocol
    string), or, without one, with an FCIOConfig record (tag 1, then 4-byte frames)."""
    if len(head) < 8:
        return False
    (h0,) = struct.unpack_from("<i", head, 0)
    if h0 == _PROTOCOL:
        return head[4:14] == b"FlashCamV1" or head[4:8].isascii()
    if h0 == -1:
        (f0,) = struct.unpack_from("<i", head, 4)
        return f0 == 4
    return False


FORMAT = Format(
    name="FlashCam",
    aliases=("fcio",),
    sniff=sniff,
    streamer="rawconv.formats.fcio.streamer:FCIOStreamer",
    index="rawconv.formats.fcio.index:FCIOIndex",
    decoders=(
        "FCConfigDecoder", "FCEventDecoder", "FCEventHeaderDecoder", "FCStatusDecoder",
        "FSPConfigDecoder", "FSPEventDecoder", "FSPStatusDecoder",
    ),
    demo="rawconv.formats.fcio.synthetic:write_demo_run",
    specificity=50,
    description="FlashCam FCIO files and streams",
)
