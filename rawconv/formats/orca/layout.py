"""ORCA byte layout: record headers, decoder kinds and record layouts (formats.md, section 2).

An ORCA file is a sequence of 32-bit words (little-endian in every file seen; big-endian
files from PowerPC Macs are read by swapping words). Record header (word 0):

=====================  =========================================================
form                   word 0
=====================  =========================================================
long (bit 31 = 0)      bits 31-18 data id, bits 17-0 length in words (header incl.)
extended               a long record whose length field is 0: word 1 holds the length
short (bit 31 = 1)     one word: bits 31-26 data id, bits 25-0 payload
=====================  =========================================================

Record 0 is the file header: word 1 = byte length of an XML plist that starts at word 2.
Data ids are assigned per file by the header's ``dataDescription`` (unshifted values).
"""

from __future__ import annotations

LONG_ID_SHIFT = 18
LONG_ID_MASK = 0xFFFC0000
LONG_LENGTH_MASK = 0x3FFFF
SHORT_BIT = 0x80000000
SHORT_ID_SHIFT = 26
SHORT_ID_MASK = 0xFC000000
SHORT_PAYLOAD_MASK = 0x03FFFFFF
N_LONG_IDS = 1 << 14
N_SHORT_IDS = 1 << 6

MAX_RECORD_WORDS = 1 << 26
"""Longest record accepted (256 MiB): more than the largest FCIO event (2400 traces of
32768 samples, 157 MB). A longer length word is impossible and marks corruption."""

XML_MAGIC = b"<?xm"

# decoder kinds (what a record's payload looks like), per data id -----------------------
KIND_UNDESCRIBED = -2
"""the id is not in the header's dataDescription: damaged data, or a foreign record."""
KIND_UNKNOWN = -1
"""described by the header, but rawconv has no decoder for it: skipped by length."""
KIND_HEADER = 0
KIND_RUN = 1
KIND_FC_CONFIG = 2
KIND_FC_STATUS = 3
KIND_FC_WAVEFORM = 4
"""ORFlashCamADCWaveformDecoder: input bits 13-10, channel bits 9-0."""
KIND_FC_WAVEFORM_V2 = 5
"""ORFlashCamWaveformDecoder: input bits 13-9, channel bits 8-0."""
KIND_FCIO_CONFIG = 6
KIND_FCIO_EVENT = 7
KIND_FCIO_HEADER = 8
KIND_FCIO_STATUS = 9
KIND_SIS3302 = 10
KIND_SIS3316 = 11

FCIO_KINDS = (KIND_FCIO_CONFIG, KIND_FCIO_EVENT, KIND_FCIO_HEADER, KIND_FCIO_STATUS)
FCIO_HOT_KINDS = (KIND_FCIO_EVENT, KIND_FCIO_HEADER)

DECODER_KINDS = {
    "OrcaHeaderDecoder": KIND_HEADER,
    "ORRunDecoderForRun": KIND_RUN,
    "ORFlashCamListenerConfigDecoder": KIND_FC_CONFIG,
    "ORFlashCamListenerStatusDecoder": KIND_FC_STATUS,
    "ORFlashCamADCWaveformDecoder": KIND_FC_WAVEFORM,
    "ORFlashCamWaveformDecoder": KIND_FC_WAVEFORM_V2,
    "ORFCIOConfigDecoder": KIND_FCIO_CONFIG,
    "ORFCIOEventDecoder": KIND_FCIO_EVENT,
    "ORFCIOEventHeaderDecoder": KIND_FCIO_HEADER,
    "ORFCIOStatusDecoder": KIND_FCIO_STATUS,
    "ORSIS3302DecoderForEnergy": KIND_SIS3302,
    "ORSIS3316WaveformDecoder": KIND_SIS3316,
}
"""ORCA decoder class names rawconv implements, and the payload kind of their records."""

# per-record validation codes (set by the index kernels) ---------------------------------
REC_OK = 0
REC_BAD_PAYLOAD = 1
"""the payload does not have the layout of its decoder."""
REC_NO_LISTENER = 2
"""an FCIO record of a listener without FCIOConfig."""

# run record (2.3): 4 words
RUN_WORDS = 4

# legacy FlashCam listener config (2.4): word 1 readout_id << 16 | fcid; words 2-12
FC_CONFIG_FIELDS = (
    "streamid", "nadcs", "ntriggers", "nsamples", "adcbits", "sumlength", "blprecision",
    "mastercards", "triggercards", "adccards", "gps",
)  # fmt: skip
FC_CONFIG_TRACEMAP = 13
FC_CONFIG_SLOTS = 2400

# legacy FlashCam listener status: words 2-14, then n_cards blocks of card_size words
FC_STATUS_CARDS = 13
FC_STATUS_CARD_SIZE = 14
FC_STATUS_FIRST_CARD = 15
FC_CARD_WORDS = 295
"""Words of one card block (the 1180-byte FCIO card status, formats.md 1.5)."""

# legacy FlashCam waveform (2.4): word 1 bit fields
FC_WF_OHL_SHIFT = 28
FC_WF_FHL_SHIFT = 22
FC_WF_FHL_MASK = 0x3F
FC_WF_NSAMPLES_SHIFT = 6
FC_WF_NSAMPLES_MASK = 0xFFFF
FC_WF_TYPE_MASK = 0x3F
FC_WF_MIN_FHL = 17
"""16 FCIO header words (timeoffset 7, deadregion 5, timestamp 4) + baseline/energy."""

# FCIO-wrapped records (2.5): word 1 = length, word 2 = streamid, FCIO bytes from word 3
FCIO_PAYLOAD_WORD = 3

# Struck SIS3302 energy record: ORCA words 0-3, SIS header 2 (4 in wrap mode), waveform,
# energy waveform, 4 trailer words ending in 0xDEADBEEF
SIS3302_ORCA_WORDS = 4
SIS3302_TRAILER_WORDS = 4
SIS3302_TRAILER = 0xDEADBEEF

# Struck SIS3316 waveform record: 10 ORCA words, then `n_events` events of `event_words`
SIS3316_ORCA_WORDS = 10
SIS3316_ABSENT = 0xFFFFFFFF
"""Value of SIS3316 fields whose format bit is off (the reference meant -1)."""


def ccc_key(crate: int, card: int, channel: int) -> int:
    """The reference's Struck key: ``(crate << 9) + ((card & 0x1F) << 4) + (channel & 0xF)``."""
    return (int(crate) << 9) + ((int(card) & 0x1F) << 4) + (int(channel) & 0xF)


def fc_key(fcid: int, board_id: int, fc_input: int) -> int:
    """The reference's FlashCam key: ``fcid * 1000000 + board_id * 100 + fc_input`` (Python
    integers: numpy inputs of any width cannot overflow)."""
    return int(fcid) * 1_000_000 + int(board_id) * 100 + int(fc_input)
