"""LlamaDAQ files (Struck SIS3316 digitizers read out by llamaDAQ; formats.md, section 4):
streamer, decoders, index and a writer.

See :class:`~.streamer.LLAMAStreamer`.
"""

from __future__ import annotations

import struct

from ..base import Format
from .layout import MAGIC

__all__ = ["FORMAT", "sniff"]


def sniff(head: bytes) -> bool:
    """A llamaDAQ file starts with the magic word 0x4972414C (little-endian uint32)."""
    return len(head) >= 4 and struct.unpack_from("<I", head, 0)[0] == MAGIC


FORMAT = Format(
    name="LlamaDaq",
    aliases=("llamadaq", "llama"),
    sniff=sniff,
    streamer="rawconv.formats.llamadaq.streamer:LLAMAStreamer",
    index="rawconv.formats.llamadaq.index:LlamaIndex",
    specificity=80,
    description="llamaDAQ files (Struck SIS3316 digitizers)",
)
