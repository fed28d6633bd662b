"""FCIO byte layout: tmio framing, record tags and limits (formats.md, section 1).

The stream is a flat sequence of little-endian int32 frame headers ``h``:

==========================  ==================================================
``h``                       meaning
==========================  ==================================================
``-1000000001``             protocol header, followed by 64 NUL-padded ASCII bytes
``-1 ... -1000000000``      start of a record with tag ``-h``
``>= 0``                    a data frame of ``h`` bytes of the current record
==========================  ==================================================

Frames are not aligned. A record ends where the next negative header starts.
"""

from __future__ import annotations

PROTOCOL_HEADER = -1000000001
"""Frame header value that announces the tmio protocol string."""

PROTOCOL_LENGTH = 64
"""Bytes of NUL-padded protocol string after the protocol header."""

PROTOCOL_NAME = b"FlashCamV1"

MAX_TAG = 1000000000

# record tags (formats.md 1.2)
TAG_CONFIG = 1
TAG_CALIB = 2
TAG_EVENT = 3
TAG_STATUS = 4
TAG_RECEVENT = 5
TAG_SPARSEEVENT = 6
TAG_EVENTHEADER = 7
TAG_FSPCONFIG = 8
TAG_FSPEVENT = 9
TAG_FSPSTATUS = 10

TAG_NAMES = {
    TAG_CONFIG: "FCIOConfig",
    TAG_CALIB: "FCIOCalib",
    TAG_EVENT: "FCIOEvent",
    TAG_STATUS: "FCIOStatus",
    TAG_RECEVENT: "FCIORecEvent",
    TAG_SPARSEEVENT: "FCIOSparseEvent",
    TAG_EVENTHEADER: "FCIOEventHeader",
    TAG_FSPCONFIG: "FSPConfig",
    TAG_FSPEVENT: "FSPEvent",
    TAG_FSPSTATUS: "FSPStatus",
}

FSP_TAGS = (TAG_FSPCONFIG, TAG_FSPEVENT, TAG_FSPSTATUS)

# limits (fcio.h)
MAX_CHANNELS = 2400
MAX_SAMPLES = 32768
MAX_CARDS = 256
STATUS_CARD_SIZE = 1180
"""Bytes of one card's status block (formats.md 1.5)."""

MAX_ARRAY = 10
"""timeoffset / timestamp / deadregion hold at most 10 int32 each."""

MAX_FRAME_BYTES = 2 * MAX_CHANNELS * (MAX_SAMPLES + 2)
"""Largest frame a valid stream can hold: all traces of a full event."""

# FCIOConfig frames, in order (formats.md 1.3)
CONFIG_FIELDS = (
    "adcs",
    "triggers",
    "eventsamples",
    "blprecision",
    "sumlength",
    "adcbits",
    "mastercards",
    "triggercards",
    "adccards",
    "gps",
)
CONFIG_FRAME_TRACEMAP = 10
CONFIG_FRAME_STREAMID = 11

# card status block (formats.md 1.5): u32 words, then environment i32[16], ctilinks, linkstates
STATUS_WORDS = (
    "reqid",
    "status",
    "eventno",
    "pps",
    "ticks",
    "maxticks",
    "numenv",
    "numctilinks",
    "numlinks",
    "dummy",
    "totalerrors",
    "enverrors",
    "ctierrors",
    "linkerrors",
)
STATUS_OTHERERRORS_OFFSET = 56
STATUS_ENVIRONMENT_OFFSET = 76
STATUS_CTILINKS_OFFSET = 140
STATUS_LINKSTATES_OFFSET = 156
STATUS_N_OTHERERRORS = 5
STATUS_N_ENVIRONMENT = 16
STATUS_N_CTILINKS = 4
STATUS_N_LINKSTATES = 256

# card request ids (formats.md 1.5)
REQID_TRIGGER = 0x1000
REQID_ADC = 0x2000
REQID_SUBMASTER = 0x4000


def sampling_period_ns(adcbits: int) -> float:
    """Sampling period of the FlashCam firmware: 16 ns at 16 bit, 4 ns at 12 bit."""
    return 4.0 if adcbits == 12 else 16.0
