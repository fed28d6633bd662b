"""``daq2lh5.data_streamer``: the :class:`DataStreamer` base class."""

from ...streamer import DataStreamer

__all__ = ["DataStreamer"]
