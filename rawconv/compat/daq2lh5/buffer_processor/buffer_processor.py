"""``daq2lh5.buffer_processor.buffer_processor``: a buffer's proc_spec applied to its rows."""

from ....processing import process_buffer as buffer_processor

__all__ = ["buffer_processor"]
