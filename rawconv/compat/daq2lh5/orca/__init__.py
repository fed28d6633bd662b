"""``daq2lh5.orca``: ORCA files (rawconv.formats.orca)."""
