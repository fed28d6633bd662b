"""``daq2lh5.raw_buffer``: raw buffers, their lists and libraries, and their writer."""

from ...buffers import RawBuffer, RawBufferLibrary, RawBufferList, write_to_lh5_and_clear
from ...outspec import expand_rblist_json_dict

expand_rblist_dict = expand_rblist_json_dict
"""``expand_rblist_dict(config, kw_dict)``: expand one decoder's buffer shorthand in place."""

__all__ = [
    "RawBuffer",
    "RawBufferLibrary",
    "RawBufferList",
    "expand_rblist_dict",
    "write_to_lh5_and_clear",
]
