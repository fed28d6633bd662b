"""``daq2lh5.buffer_processor.lh5_buffer_processor``: proc_specs applied to an LH5 file."""

from ....lh5_processing import lh5_buffer_processor

__all__ = ["lh5_buffer_processor"]
