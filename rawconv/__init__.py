"""rawconv: fast, parallel conversion of DAQ files to LEGEND LH5 raw-tier files."""

from ._version import __version__

__all__ = ["__version__"]
