"""CAEN CoMPASS binary list-mode layout (formats.md, section 3).

A ``.BIN`` file may start with a 2-byte little-endian header word ``0xCAEx`` (bytes
``xE CA``: top 12 bits 0xCAE); its low nibble says which optional fields every event has:

=====  =============================================
bit    field present in every event
=====  =============================================
0      energy in ADC channels (u16)
1      calibrated energy (f64, keV / MeV)
2      energy short (u16)
3      waveform samples
=====  =============================================

Files that CoMPASS splits by size may lack the header; the flags are then found from the
bytes (:mod:`.header`). Events are packed, little-endian, without alignment:

=========================  =======  ==========================
field                      type     present
=========================  =======  ==========================
board                      u16      always
channel                    u16      always
timestamp (ps)             u64      always
energy                     u16      bit 0
energy (calibrated)        f64      bit 1
energy short               u16      bit 2
flags                      u32      always
waveform code              u8       wave fields (see below)
number of samples          u32      wave fields
samples                    u16 x n  wave fields
=========================  =======  ==========================

Event size = 21 + 2 bit0 + 8 bit1 + 2 bit2 + 2 nsamples (25 + 2000 = 2025 bytes in the test
file). CoMPASS writes the waveform code and sample count in every event (the test file
and the reference converter assume so); files whose events end after the flags when bit 3
is clear are read too ("wave fields" off: fixed-size events of 16 + energy bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER_BYTES = 2
HEADER_MAGIC = 0xCAE
"""Top 12 bits of the header word."""

FLAG_ENERGY = 0x1
FLAG_CALIBRATED = 0x2
FLAG_SHORT = 0x4
FLAG_WAVEFORM = 0x8

OFF_BOARD = 0
OFF_CHANNEL = 2
OFF_TIMESTAMP = 4
OFF_OPTIONAL = 12
"""Where the optional energy fields start."""

MAX_BOARD = 1 << 12
"""Boards above this are taken as misread bytes when flags are guessed."""
MAX_CHANNEL = 512
"""Channels at or above this are taken as misread bytes (and would not fit the key)."""
MAX_SAMPLES = 1 << 24
"""Largest sample count accepted in a length word (32 MiB of samples)."""


def header_word(flags: int) -> int:
    """The 2-byte file header for `flags` (bits 0-3)."""
    return (HEADER_MAGIC << 4) | (flags & 0xF)


def is_header(word: int) -> bool:
    """Whether a little-endian u16 is a CoMPASS file header."""
    return (word >> 4) == HEADER_MAGIC


def event_key(board: int, channel: int) -> int:
    """The table key of a board's channel: ``(board << 9) + channel``.

    The reference converter keys ``(board << 9) + (channel & 0xF)``: equal for channels
    0-15; rawconv keeps channels 16-511 apart instead of folding them onto 0-15.
    """
    return (int(board) << 9) + int(channel)


@dataclass(frozen=True)
class EventLayout:
    """Where the fields of an event are, for one combination of flags.

    Parameters
    ----------
    flags
        the header's low nibble (bits 0-3 above).
    wave_fields
        whether events carry the waveform code and sample count (always, when bit 3 is
        set).
    header
        whether the file starts with the 2-byte header.
    """

    flags: int
    wave_fields: bool = True
    header: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.flags <= 0xF:
            raise ValueError(f"CoMPASS flags must be 4 bits, not {self.flags:#x}")
        if self.flags & FLAG_WAVEFORM and not self.wave_fields:
            raise ValueError("events with waveform samples carry the sample count")

    @property
    def has_energy(self) -> bool:
        return bool(self.flags & FLAG_ENERGY)

    @property
    def has_calibrated(self) -> bool:
        return bool(self.flags & FLAG_CALIBRATED)

    @property
    def has_short(self) -> bool:
        return bool(self.flags & FLAG_SHORT)

    @property
    def has_waveform(self) -> bool:
        return bool(self.flags & FLAG_WAVEFORM)

    @property
    def off_energy(self) -> int:
        """Offset of the ADC energy (-1: absent)."""
        return OFF_OPTIONAL if self.has_energy else -1

    @property
    def off_calibrated(self) -> int:
        """Offset of the calibrated energy (-1: absent); after the ADC energy."""
        return OFF_OPTIONAL + 2 * self.has_energy if self.has_calibrated else -1

    @property
    def off_short(self) -> int:
        """Offset of the energy short (-1: absent)."""
        if not self.has_short:
            return -1
        return OFF_OPTIONAL + 2 * self.has_energy + 8 * self.has_calibrated

    @property
    def off_flags(self) -> int:
        return OFF_OPTIONAL + 2 * self.has_energy + 8 * self.has_calibrated + 2 * self.has_short

    @property
    def off_nsamples(self) -> int:
        """Offset of the sample count (-1: events have none)."""
        return self.off_flags + 5 if self.wave_fields else -1

    @property
    def head(self) -> int:
        """Bytes of an event before its samples (its whole size without wave fields)."""
        return self.off_flags + (9 if self.wave_fields else 4)

    @property
    def data_start(self) -> int:
        """Offset of the first event in the file."""
        return HEADER_BYTES if self.header else 0

    def event_bytes(self, nsamples: int) -> int:
        """Size of an event of `nsamples` samples."""
        return self.head + 2 * nsamples

    def describe(self) -> str:
        parts = [name for bit, name in ((FLAG_ENERGY, "energy"), (FLAG_CALIBRATED, "calibrated"),
                                        (FLAG_SHORT, "energy short"), (FLAG_WAVEFORM, "waveform"))
                 if self.flags & bit]  # fmt: skip
        head = "header" if self.header else "no header"
        return f"{head}, flags {self.flags:#x} ({', '.join(parts) or 'none'})"
