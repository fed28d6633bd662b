"""``daq2lh5.build_raw``: :func:`build_raw`, :func:`get_streamer`, :func:`open_stream`."""

from ...build_raw import build_raw
from ...opening import get_streamer, open_stream

__all__ = ["build_raw", "get_streamer", "open_stream"]
