"""``daq2lh5.orca.orca_run_decoder``: :class:`ORRunDecoderForRun`."""

from ....formats.orca.decoders import ORRunDecoderForRun

__all__ = ["ORRunDecoderForRun"]
