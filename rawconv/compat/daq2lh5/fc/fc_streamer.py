"""``daq2lh5.fc.fc_streamer``: :class:`FCStreamer`, rawconv's FCIO streamer."""

from ....formats.fcio.streamer import FCIOStreamer as FCStreamer

__all__ = ["FCStreamer"]
