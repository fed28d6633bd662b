"""``daq2lh5.llama.llama_event_decoder``: :class:`LLAMAEventDecoder`."""

from .._formats import format_getattr

__getattr__ = format_getattr("LlamaDaq", __name__, {"LLAMAEventDecoder": "LLAMAEventDecoder"})
