"""``daq2lh5.llama.llama_header_decoder``: :class:`LLAMAHeaderDecoder`."""

from .._formats import format_getattr

__getattr__ = format_getattr("LlamaDaq", __name__, {"LLAMAHeaderDecoder": "LLAMAHeaderDecoder"})
