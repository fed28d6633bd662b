"""``daq2lh5.buffer_processor``: proc_spec processing of buffers and of LH5 files."""
