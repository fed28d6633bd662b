"""``daq2lh5.orca.orca_fcio``: the decoders of FCIO records wrapped in ORCA records."""

from ....formats.orca.fcio_records import (
    ORFCIOConfigDecoder,
    ORFCIOEventDecoder,
    ORFCIOEventHeaderDecoder,
    ORFCIOStatusDecoder,
)

__all__ = [
    "ORFCIOConfigDecoder",
    "ORFCIOEventDecoder",
    "ORFCIOEventHeaderDecoder",
    "ORFCIOStatusDecoder",
]
