"""``daq2lh5.orca.orca_digitizers``: the Struck SIS3302 / SIS3316 decoders."""

from ....formats.orca.struck import ORSIS3302DecoderForEnergy, ORSIS3316WaveformDecoder

__all__ = ["ORSIS3302DecoderForEnergy", "ORSIS3316WaveformDecoder"]
