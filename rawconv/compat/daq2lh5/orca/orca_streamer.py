"""``daq2lh5.orca.orca_streamer``: :class:`OrcaStreamer`."""

from ....formats.orca.streamer import OrcaStreamer

__all__ = ["OrcaStreamer"]
