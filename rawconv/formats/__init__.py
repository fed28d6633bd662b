"""The DAQ formats rawconv reads: one folder each, bound to the rest by one contract.

Each ``rawconv/formats/<fmt>/`` exports a :class:`~.base.Format` (see :mod:`.base`); the
registry (:mod:`.registry`) finds them, and the formats of installed plug-ins, and detects
an input's format from its first bytes. Stream type names are matched case-insensitively.
"""

from __future__ import annotations

from .base import Format, RecordIndex, RecordRange, ResumeState
from .registry import (
    detect_format,
    format_names,
    format_options,
    formats,
    get_format,
    get_streamer,
    implied_format,
    normalize_stream_type,
)

__all__ = [
    "Format",
    "RecordIndex",
    "RecordRange",
    "ResumeState",
    "detect_format",
    "format_names",
    "format_options",
    "formats",
    "get_format",
    "get_streamer",
    "implied_format",
    "normalize_stream_type",
]
