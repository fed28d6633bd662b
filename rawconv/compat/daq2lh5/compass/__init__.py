"""``daq2lh5.compass``: CAEN CoMPASS files (rawconv's ``Compass`` format, when present)."""
