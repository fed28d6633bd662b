"""``daq2lh5.compass.compass_streamer``: :class:`CompassStreamer` (rawconv's Compass
format's streamer; an ImportError on use where rawconv has no such format)."""

from .._formats import format_getattr

__getattr__ = format_getattr("Compass", __name__, {"CompassStreamer": None})
