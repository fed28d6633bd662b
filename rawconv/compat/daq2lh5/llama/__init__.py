"""``daq2lh5.llama``: llamaDAQ files (rawconv's ``LlamaDaq`` format, when present)."""
