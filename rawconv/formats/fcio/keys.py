"""FlashCam channel keys, as legend-daq2lh5 defines them, in Python integer arithmetic.

Trace keys are ``fcid * 1000000 + card_address * 100 + card_input`` (``fcid``: the low 16
bits of the stream id); status keys are ``fcid_N/status/card<reqid>``. Every helper takes
Python or numpy integers of any width (a ``numpy.uint16`` is converted before the
arithmetic, so that it cannot overflow) and returns Python ints or strings.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "card_address_of",
    "card_input_of",
    "fcid_of",
    "status_fcid_of",
    "status_key",
    "status_reqid_of",
    "trace_key",
]

_STATUS_KEY = re.compile(r"^fcid_(\d+)/status/card(\d+)$")


def trace_key(streamid: Any, card_address: Any, card_input: Any, iwf: Any = -1) -> int:
    """The key of a trace: ``(streamid & 0xFFFF) * 1000000 + card_address * 100 +
    card_input``; a stream id of 0 with a trace index ``iwf >= 0`` gives ``iwf`` (files
    without stream ids, as legend-daq2lh5 keys them)."""
    streamid, iwf = int(streamid), int(iwf)
    if streamid > 0 or iwf < 0:
        return (streamid & 0xFFFF) * 1_000_000 + int(card_address) * 100 + int(card_input)
    return iwf


def fcid_of(key: Any) -> int:
    """The FlashCam stream id (fcid) of a trace key."""
    return int(key) // 1_000_000


def card_address_of(key: Any) -> int:
    """The card address of a trace key."""
    return int(key) // 100 % 10_000


def card_input_of(key: Any) -> int:
    """The card input of a trace key."""
    return int(key) % 100


def status_key(streamid: Any, reqid: Any) -> str:
    """The key of a card's status rows: ``fcid_<streamid & 0xFFFF>/status/card<reqid>``."""
    return f"fcid_{int(streamid) & 0xFFFF}/status/card{int(reqid) & 0xFFFF}"


def _status_parts(key: str) -> tuple[int, int]:
    match = _STATUS_KEY.match(str(key))
    if match is None:
        raise ValueError(f"{key!r} is not a status key (fcid_N/status/cardM)")
    return int(match.group(1)), int(match.group(2))


def status_fcid_of(key: str) -> int:
    """The fcid of a status key."""
    return _status_parts(key)[0]


def status_reqid_of(key: str) -> int:
    """The card request id of a status key."""
    return _status_parts(key)[1]
