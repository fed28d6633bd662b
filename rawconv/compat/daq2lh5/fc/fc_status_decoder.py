"""``daq2lh5.fc.fc_status_decoder``: :class:`FCStatusDecoder` and the status key helpers
(``get_fcid`` / ``get_reqid`` parse the ``fcid_N/status/cardM`` key)."""

from ....formats.fcio.decoders import FCStatusDecoder
from ....formats.fcio.keys import status_fcid_of as get_fcid
from ....formats.fcio.keys import status_key as get_key
from ....formats.fcio.keys import status_reqid_of as get_reqid

__all__ = ["FCStatusDecoder", "get_fcid", "get_key", "get_reqid"]
