"""``daq2lh5.fc.fc_eventheader_decoder``: :class:`FCEventHeaderDecoder` and the trace key
helpers (integer arithmetic, see :mod:`rawconv.formats.fcio.keys`)."""

from ....formats.fcio.decoders import FCEventHeaderDecoder
from ....formats.fcio.keys import card_address_of as get_card_address
from ....formats.fcio.keys import card_input_of as get_card_input
from ....formats.fcio.keys import fcid_of as get_fcid
from ....formats.fcio.keys import trace_key as get_key

__all__ = ["FCEventHeaderDecoder", "get_card_address", "get_card_input", "get_fcid", "get_key"]
