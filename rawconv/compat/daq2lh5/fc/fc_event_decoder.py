"""``daq2lh5.fc.fc_event_decoder``: :class:`FCEventDecoder`, ``fc_event_decoded_values``
(the FCEvent columns; per-column ``hdf5_settings`` / ``compression`` set here apply to the
FCEvent and ORFlashCamADCWaveform tables of later conversions) and the trace key helpers."""

from ....formats.fcio.decoders import FCEventDecoder
from ....formats.fcio.fields import FC_EVENT_DECODED_VALUES as fc_event_decoded_values  # noqa: N811
from ....formats.fcio.keys import card_address_of as get_card_address
from ....formats.fcio.keys import card_input_of as get_card_input
from ....formats.fcio.keys import fcid_of as get_fcid
from ....formats.fcio.keys import trace_key as get_key

__all__ = [
    "FCEventDecoder",
    "fc_event_decoded_values",
    "get_card_address",
    "get_card_input",
    "get_fcid",
    "get_key",
]
