"""Writing LH5 files: rawconv's LGDO-shaped containers and their HDF5 layout.

==================  ======================================================================
module              holds
==================  ======================================================================
``columns``         the light containers (ArrayCol, VectorCol, TableCol, ScalarCol) that
                    decoders fill: plain numpy arrays in the layout of LGDO types
``compression``     h5py filter settings by name (``"gzip:6"``, ``"zstd"``...)
``chunks``          chunks compressed by rawconv and stored directly (gzip, no filter)
``outfile``         one file open for writing, with its caches of groups and datasets
``datasets``        arrays appended to resizable datasets; scalars
``encoded``         encoded waveforms (EncodedCol) and their layout
``convert``         containers to and from legend-pydataobj objects, sharing the arrays
``objects``         containers to groups and datasets (tables, vectors of vectors...)
``writer``          :class:`LH5Writer`, the public entry point
==================  ======================================================================

Each module imports only modules above it in this table (tests/test_package_shape.py
checks that the package has no import cycle).
"""

from .writer import DEFAULT_HDF5_SETTINGS, LH5Writer

__all__ = ["DEFAULT_HDF5_SETTINGS", "LH5Writer"]
