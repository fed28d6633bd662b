"""GERDA MGDO tier1 ROOT files (formats.md, section 5): streamer, kernels, index.

The ``MGTree`` branch ``event`` holds MGTEvent objects; uproot (``pip install
rawconv[mgdo]``) gives the decompressed baskets and rawconv's kernels parse the entries.
See :class:`~.streamer.MGDOStreamer`.
"""

from __future__ import annotations

from ..base import Format

__all__ = ["FORMAT", "sniff"]


def sniff(head: bytes) -> bool:
    """A ROOT file starts with the magic ``root``."""
    return head[:4] == b"root"


FORMAT = Format(
    name="MGDO",
    aliases=("mgdo",),
    sniff=sniff,
    streamer="rawconv.formats.mgdo.streamer:MGDOStreamer",
    index="rawconv.formats.mgdo.index:MGDOIndex",
    specificity=70,
    description="GERDA MGDO tier1 ROOT files (MGTree of MGTEvent)",
)
