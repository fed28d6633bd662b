"""CAEN CoMPASS list-mode binary files (formats.md, section 3): streamer, decoders, index,
settings XML and a writer.

CoMPASS (CAEN's Multi-Parametric Acquisition Software) writes one ``.BIN`` file per run
(or per size-limited part) of events from CAEN digitizers (DT5730, DT5725, ...), with an
optional settings XML. See :class:`~.streamer.CompassStreamer`.
"""

from __future__ import annotations

from ..base import Format
from .layout import HEADER_BYTES, is_header

__all__ = ["FORMAT", "sniff"]


def sniff(head: bytes) -> bool:
    """A CoMPASS file starts with its 2-byte header word ``0xCAEx`` (little-endian).

    Two bytes can match random data: the format is tried after those with longer magic
    words. Files without the header (later parts of a split run) are converted with the
    stream type given explicitly (``-t Compass``) or a settings file."""
    return len(head) >= HEADER_BYTES and is_header(int.from_bytes(head[:HEADER_BYTES], "little"))


FORMAT = Format(
    name="Compass",
    aliases=("compass",),
    sniff=sniff,
    streamer="rawconv.formats.compass.streamer:CompassStreamer",
    index="rawconv.formats.compass.index:CompassIndex",
    specificity=10,
    description="CAEN CoMPASS list-mode binary files (.BIN)",
    options=("compass_config_file",),
)
