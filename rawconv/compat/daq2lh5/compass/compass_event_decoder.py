"""``daq2lh5.compass.compass_event_decoder``: :class:`CompassEventDecoder`."""

from .._formats import format_getattr

__getattr__ = format_getattr("Compass", __name__, {"CompassEventDecoder": "CompassEventDecoder"})
