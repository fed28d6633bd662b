"""rawconv: fast, parallel conversion of DAQ files to LEGEND LH5 raw-tier files.

The interface is that of legend-daq2lh5 (``build_raw``, ``DataDecoder``, ``DataStreamer``,
``RawBuffer``, ``RawBufferList``, ``RawBufferLibrary``, ``write_to_lh5_and_clear``, the
out_spec shorthand), so that existing pipelines can switch.
"""

from ._version import __version__
from .buffers import RawBuffer, RawBufferLibrary, RawBufferList, write_to_lh5_and_clear
from .build_raw import build_raw
from .decoder import DataDecoder, GarbageCode
from .errors import CorruptDataError, OutSpecError, RawconvError, UnknownFormatError
from .outspec import expand_rblist_json_dict
from .report import ConversionReport
from .streamer import DataStreamer

__all__ = [
    "ConversionReport",
    "CorruptDataError",
    "DataDecoder",
    "DataStreamer",
    "GarbageCode",
    "OutSpecError",
    "RawBuffer",
    "RawBufferLibrary",
    "RawBufferList",
    "RawconvError",
    "UnknownFormatError",
    "__version__",
    "build_raw",
    "expand_rblist_json_dict",
    "write_to_lh5_and_clear",
]
