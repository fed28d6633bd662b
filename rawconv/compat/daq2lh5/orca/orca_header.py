"""``daq2lh5.orca.orca_header``: :class:`OrcaHeader`, the XML header as a dict."""

from ....formats.orca.header import OrcaHeader

__all__ = ["OrcaHeader"]
