"""``daq2lh5.orca.orca_base``: :class:`OrcaDecoder` and the Struck channel key helpers."""

from __future__ import annotations

from typing import Any

from ....formats.orca.decoders import OrcaDecoder
from ....formats.orca.layout import ccc_key as get_ccc

__all__ = ["OrcaDecoder", "get_card", "get_ccc", "get_channel", "get_crate"]


def get_crate(ccc: Any) -> int:
    """The crate of a Struck key ``(crate << 9) + (card << 4) + channel``."""
    return int(ccc) >> 9


def get_card(ccc: Any) -> int:
    """The card of a Struck key."""
    return (int(ccc) >> 4) & 0x1F


def get_channel(ccc: Any) -> int:
    """The channel of a Struck key."""
    return int(ccc) & 0xF
