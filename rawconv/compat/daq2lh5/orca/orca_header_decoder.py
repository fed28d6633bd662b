"""``daq2lh5.orca.orca_header_decoder``: :class:`OrcaHeaderDecoder`."""

from ....formats.orca.header import OrcaHeaderDecoder

__all__ = ["OrcaHeaderDecoder"]
