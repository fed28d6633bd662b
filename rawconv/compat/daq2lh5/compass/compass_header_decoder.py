"""``daq2lh5.compass.compass_header_decoder``: :class:`CompassHeaderDecoder`."""

from .._formats import format_getattr

__getattr__ = format_getattr("Compass", __name__, {"CompassHeaderDecoder": "CompassHeaderDecoder"})
