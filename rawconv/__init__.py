"""rawconv: fast, parallel conversion of DAQ files to LEGEND LH5 raw-tier files.

The interface is that of legend-daq2lh5 (``build_raw``, ``DataDecoder``, ``DataStreamer``,
``RawBuffer``, ``RawBufferList``, ``RawBufferLibrary``, ``write_to_lh5_and_clear``, the
out_spec shorthand), so that existing pipelines can switch. The names are imported on
first use, so that ``rawconv --help`` and ``--version`` start without numba and h5py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .buffers import RawBuffer, RawBufferLibrary, RawBufferList, write_to_lh5_and_clear
    from .build_raw import build_raw
    from .decoder import DataDecoder, GarbageCode
    from .errors import CorruptDataError, OutSpecError, RawconvError, UnknownFormatError
    from .outspec import expand_rblist_json_dict
    from .report import ConversionReport
    from .streamer import DataStreamer

_EXPORTS = {
    "ConversionReport": ".report",
    "CorruptDataError": ".errors",
    "DataDecoder": ".decoder",
    "DataStreamer": ".streamer",
    "GarbageCode": ".decoder",
    "OutSpecError": ".errors",
    "RawBuffer": ".buffers",
    "RawBufferLibrary": ".buffers",
    "RawBufferList": ".buffers",
    "RawconvError": ".errors",
    "UnknownFormatError": ".errors",
    "build_raw": ".build_raw",
    "expand_rblist_json_dict": ".outspec",
    "write_to_lh5_and_clear": ".buffers",
}

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
