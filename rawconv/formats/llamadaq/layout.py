"""LlamaDAQ byte layout: file header, channel configs and SIS3316 events (formats.md, section 4).

All words are little-endian uint32 unless marked.

File header (16 bytes):

======  =======================================================
offset  content
======  =======================================================
0       u32 magic 0x4972414C ("LArI" in file order)
4, 6, 8 u16 version patch, minor, major
10      u16 size of one channel config (88)
12      u32 number of open channels N
======  =======================================================

Then N channel configs of 88 bytes (word indices below; bytes 16-31 are two float64).

Then events, one per channel trigger, ``event_length`` words each (from the config of the
channel that word 0 names); channels come in interleaved readout blocks, not time-ordered:

=========================  ================================================================
word                       content
=========================  ================================================================
0                          timestamp bits 47-32 (31-16) | fch id (15-4) | format bits (3-0)
1                          timestamp bits 31-0 (ticks of 1 / sample_freq)
format bit 0 (+7 words)    peak value (15-0) | peak index (31-16); info (31-24) | gate 1
                           (23-0); gates 2-6
format bit 1 (+2)          gates 7, 8
format bit 2 (+3)          MAW maximum, value before, value after the trigger
format bit 3 (+2)          start energy, maximum energy
marker                     0xE (31-28: no averaged data) or 0xA (averaged header follows);
                           bit 27 MAW-test flag; bit 26 status (pile-up) flag; bits 25-0
                           raw sample words
if 0xA                     0xE (31-28) | averaging count status (23-16) | averaged words (15-0)
then                       raw samples (u16, 2 per word), averaged samples (u16), and with
                           the MAW-test flag the MAW test buffer (one u32 per value)
=========================  ================================================================
"""

from __future__ import annotations

MAGIC = 0x4972414C
FILE_HEADER_BYTES = 16
CHANNEL_CONFIG_BYTES = 88
MAX_CHANNELS = 1 << 12
"""fch ids are 12 bits wide (word 0, bits 15-4): FADC id (8 bits) << 4 | channel (4 bits)."""

# channel config: u32 word indices (formats.md 4) --------------------------------------------
CFG_FADC = 0
CFG_CHANNEL = 1
CFG_FLAGS = 2
"""bit 0: 14-bit ADC; bit 1: channel open."""
CFG_ADC_OFFSET = 3
CFG_SAMPLE_FREQ_BYTE = 16
"""float64 sample frequency in MHz at byte 16, float64 gain at byte 24."""
CFG_GAIN_BYTE = 24
CFG_FORMAT_BITS = 8
CFG_SAMPLE_START_INDEX = 9
CFG_SAMPLE_PRETRIGGER = 10
CFG_AVG_SAMPLE_PRETRIGGER = 11
CFG_AVG_MODE = 12
CFG_SAMPLE_LENGTH = 13
CFG_AVG_SAMPLE_LENGTH = 14
CFG_MAW_BUFFER_LENGTH = 15
CFG_EVENT_LENGTH = 16
CFG_EVENT_HEADER_LENGTH = 17
CFG_ACCUM6_OFFSET = 18
CFG_ACCUM2_OFFSET = 19
CFG_MAW3_OFFSET = 20
CFG_ENERGY_OFFSET = 21

# events ------------------------------------------------------------------------------------
FMT_ACCUM6 = 0x1
"""format bit 0: peak, info, gates 1-6 (7 words)."""
FMT_ACCUM2 = 0x2
"""format bit 1: gates 7, 8 (2 words)."""
FMT_MAW3 = 0x4
"""format bit 2: MAW maximum, before, after (3 words)."""
FMT_ENERGY = 0x8
"""format bit 3: start energy, maximum energy (2 words)."""
FMT_WORDS = (7, 2, 3, 2)

MARKER_PLAIN = 0xE
"""marker bits 31-28: no averaged data follows."""
MARKER_AVG = 0xA
"""marker bits 31-28: an averaged-data header word follows."""
MAW_TEST_BIT = 27
STATUS_BIT = 26
RAW_WORDS_MASK = 0x03FFFFFF
AVG_WORDS_MASK = 0xFFFF
AVG_COUNT_SHIFT = 16
AVG_COUNT_MASK = 0xFF

MAX_EVENT_WORDS = 1 << 26
"""Longest event accepted (256 MiB); a longer ``event_length`` in a config is impossible."""

MAX_GARBAGE_BYTES = 1 << 20
"""A damaged region is kept as garbage rows of at most this many bytes each (the search for
the next event goes on behind it)."""

# record kinds of the walk (kernels.walk_events) ----------------------------------------------
REC_EVENT = 0
REC_DAMAGED = 1
"""bytes that do not parse as an event, up to the next event that does."""
REC_TRUNCATED = 2
"""the input ends inside an event."""

# why a damaged region does not parse (its first record) --------------------------------------
BAD_UNKNOWN_CHANNEL = 1
BAD_FORMAT_BITS = 2
BAD_MARKER = 3
BAD_LENGTHS = 4
BAD_REASONS = {
    BAD_UNKNOWN_CHANNEL: "its channel id is not in the file header",
    BAD_FORMAT_BITS: "its format bits differ from its channel's config",
    BAD_MARKER: "its sample marker word is neither 0xE nor 0xA",
    BAD_LENGTHS: "its sample word counts do not add up to its channel's event length",
}

# the u32 event fields that depend on format bits, in the kernels' scratch order ------------
SCALAR_FIELDS = (
    "wf_max_sample_value", "wf_max_sample_idx", "info_bits",
    "cumsum_1", "cumsum_2", "cumsum_3", "cumsum_4", "cumsum_5", "cumsum_6",
    "cumsum_7", "cumsum_8",
    "maw_max", "maw_before", "maw_after",
    "start_energy", "max_energy",
)  # fmt: skip
FIELDS_OF_BIT = ((0, 9), (9, 11), (11, 14), (14, 16))
"""Slice of SCALAR_FIELDS that each format bit adds."""
ABSENT = 0xFFFFFFFF
"""Value of a field that a row's channel does not record (its format bit is off) in a table
shared with channels that do."""


def header_words(format_bits: int) -> int:
    """Words before the sample marker word for these format bits."""
    return 2 + sum(n for b, n in enumerate(FMT_WORDS) if (format_bits >> b) & 1)
