"""``daq2lh5.data_decoder``: the :class:`DataDecoder` base class."""

from ...decoder import DataDecoder

__all__ = ["DataDecoder"]
