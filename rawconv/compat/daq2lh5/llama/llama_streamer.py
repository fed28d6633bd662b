"""``daq2lh5.llama.llama_streamer``: :class:`LLAMAStreamer` (rawconv's LlamaDaq format's
streamer; an ImportError on use where rawconv has no such format)."""

from .._formats import format_getattr

__getattr__ = format_getattr("LlamaDaq", __name__, {"LLAMAStreamer": None})
