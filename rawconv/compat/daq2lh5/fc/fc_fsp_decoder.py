"""``daq2lh5.fc.fc_fsp_decoder``: the FlashCam software-trigger (FSP) decoders."""

from ....formats.fcio.fsp import FSPConfigDecoder, FSPEventDecoder, FSPStatusDecoder

__all__ = ["FSPConfigDecoder", "FSPEventDecoder", "FSPStatusDecoder"]
