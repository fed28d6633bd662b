"""Compatibility packages: other converters' public module paths over rawconv's objects.

- :mod:`rawconv.compat.daq2lh5`: legend-daq2lh5's modules and names, so that a pipeline
  switches with one import line (``import rawconv.compat.daq2lh5 as daq2lh5``).
"""
