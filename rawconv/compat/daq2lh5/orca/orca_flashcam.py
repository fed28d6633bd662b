"""``daq2lh5.orca.orca_flashcam``: the legacy ORCA FlashCam decoders and key helpers."""

from ....formats.fcio.keys import card_address_of as get_board_id
from ....formats.fcio.keys import card_input_of as get_fc_input
from ....formats.fcio.keys import fcid_of as get_fcid
from ....formats.orca.flashcam import (
    ORFlashCamADCWaveformDecoder,
    ORFlashCamListenerConfigDecoder,
    ORFlashCamListenerStatusDecoder,
    ORFlashCamWaveformDecoder,
)
from ....formats.orca.layout import fc_key as get_key

__all__ = [
    "ORFlashCamADCWaveformDecoder",
    "ORFlashCamListenerConfigDecoder",
    "ORFlashCamListenerStatusDecoder",
    "ORFlashCamWaveformDecoder",
    "get_board_id",
    "get_fc_input",
    "get_fcid",
    "get_key",
]
