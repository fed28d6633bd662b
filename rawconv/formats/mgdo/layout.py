"""Byte layout of GERDA MGDO tier1 entries (formats.md, section 5) and the parser's tables.

An entry of the ``MGTree`` branch ``event`` (a TBranchObject of class MGTEvent) is the
object as ROOT's streamers write it, big-endian. ``BC`` below is a byte-count word: u32
``0x40000000 | n`` (n = bytes that follow it), then a u16 class version.

====================================  ==================================================
entry part                            bytes
====================================  ==================================================
class-name prefix                     u8 8, ``MGTEvent``, u8 0 (written for virtual leaves)
MGTEvent                              BC v9
  MGTDataObject                       BC v2 -> TNamed BC v1 -> TObject (u16 version, u32
                                      unique id, u32 bits [+ u16 pid if bit 4]), fName,
                                      fTitle (TString: u8 n, 255 -> u32 n, then n bytes)
  fEventType, fETotal, fTime          i32, f64, f64 (unix seconds)
  fWaveforms                          pointer: BC, u32 tag (0xFFFFFFFF + class name + NUL,
                                      or 0x80000000 | ref), MGTClonesArray BC v2 ->
                                      TClonesArray BC v4 (TObject, fName, element class
                                      ``MGTWaveform;5``, i32 n, i32 lower bound, per slot
                                      u8 1 + element or u8 0), rest of MGTClonesArray
  fDigitizerData                      the same with ``GETGERDADigitizerData;1`` elements
  fActiveID                           pointer to ``vector<bool>``: i32 n, n bytes
  fUseAuxWaveformArray, fAuxWaveforms u8, pointer as fWaveforms (u32 0: null pointer)
  fEventNumber                        i32
====================================  ==================================================

MGTWaveform element: BC v5, MGTDataObject, f64 fSampFreq (GHz), f64 fTOffset (ns), i32
fWFType, i32 (reserved), i32 nsamples, i32 encoding (3: zig-zag LEB128 varints of first
differences, sample[-1] = 0), the varints, i32 fID (channel).

GETGERDADigitizerData element: BC v1 -> GETVGERDADigitizerData BC v2 -> MGTVDigitizerData
BC v1 {MGTDataObject, f64 fEnergy, u64 fTimeStamp (s), u32 fID, u64 fIndex}, then f64
fClockFrequency (GHz), i32 fEventNumber, u64 fPretrigger, u64 fTriggerNumber, u32
fDecimalTimeStamp (ns), u8 fIsMuVetoed, u32 fMuVetoSample, u8 fIsInverted, i32
fWaveformTag.

The kernels compile these constants in: numba's cache does not notice when they change
here, so delete the kernels' cached ``*.nbi`` / ``*.nbc`` files after editing them.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "AUX_DTYPE",
    "ENTRY_DTYPE",
    "STATUS_MESSAGES",
    "TRACE_DTYPE",
]

BYTE_COUNT_FLAG = 0x40000000
NEW_CLASS_TAG = 0xFFFFFFFF
CLASS_REF_FLAG = 0x80000000
TOBJECT_IS_REFERENCED = 0x10

ENTRY_CLASS = b"MGTEvent"
CONTAINER_CLASS = b"MGTClonesArray"
FLAGS_CLASS = b"vector<bool>"
WAVEFORM_ELEMENT = b"MGTWaveform;"
DIGITIZER_ELEMENT = b"GETGERDADigitizerData;"

# class versions this parser knows (formats.md, section 5)
V_EVENT = 9
V_DATAOBJECT = 2
V_TNAMED = 1
V_CONTAINER = 2
V_CLONES = 4
V_WAVEFORM = 5
V_DIGI = 1
V_DIGI_BASE = 2
V_DIGI_VBASE = 1

ENCODING_DIFF_VARINT = 3
"""MGTWaveform encoding id: zig-zag LEB128 varints of first differences."""

MIN_WAVEFORM_BYTES = 66
"""Smallest MGTWaveform element without its samples (every sample takes >= 1 byte)."""
MIN_DIGITIZER_BYTES = 112
"""Smallest GETGERDADigitizerData element."""

# --- parser status codes (one per entry) ---------------------------------------------------
OK = 0
E_TRUNCATED = 1
E_BYTE_COUNT = 2
E_VERSION = 3
E_CLASS = 4
E_PREFIX = 5
E_CLOSURE = 6
E_VARINT = 7
E_LENGTH = 8
E_ENCODING = 9
E_COUNT_MISMATCH = 10
E_ID_MISMATCH = 11
E_SAMPLE_RANGE = 12
E_TOO_MANY = 13
E_BAD_COUNT = 14
E_POINTER = 15
E_DUPLICATE = 16
NEED_ROOM = -2
"""Returned (not stored) when an output table is full: grow it and call again."""

STATUS_MESSAGES = {
    E_TRUNCATED: "a field runs past the end of its object",
    E_BYTE_COUNT: "a byte-count word is missing or points past its enclosing object",
    E_VERSION: "unexpected class version {value}",
    E_CLASS: "unexpected class name or element class",
    E_PREFIX: "the entry does not start with an MGTEvent object",
    E_CLOSURE: "an object's fields do not fill its byte count ({value} bytes left over)",
    E_VARINT: "a waveform varint is longer than 9 bytes",
    E_LENGTH: "a trace of {value} samples in a table of traces of another length",
    E_ENCODING: "unsupported waveform encoding {value}",
    E_COUNT_MISMATCH: "{value} more waveforms than digitizer data objects",
    E_ID_MISMATCH: "a waveform's channel id differs from its digitizer data's ({value})",
    E_SAMPLE_RANGE: "a waveform sample ({value}) outside 0..65535",
    E_TOO_MANY: "{value} traces in one entry, more than the file's channels",
    E_BAD_COUNT: "impossible element count {value}",
    E_POINTER: "unsupported pointer (tag {value:#x}: shared object reference)",
    E_DUPLICATE: "channel {value} has two traces of one kind in the entry",
}

# --- what the parser writes ------------------------------------------------------------------
ENTRY_DTYPE = np.dtype(
    [
        ("status", "<i4"),  # OK or an E_* code
        ("err_pos", "<i8"),  # byte of the basket where the problem was found
        ("err_value", "<i8"),  # the offending value (see STATUS_MESSAGES)
        ("event_type", "<i4"),
        ("event_energy", "<f8"),
        ("event_time", "<f8"),
        ("event_number", "<i4"),
        ("use_aux", "u1"),
        ("main0", "<i8"),  # first row in the trace table
        ("n_main", "<i4"),
        ("aux0", "<i8"),  # first row in the aux table
        ("n_aux", "<i4"),
        ("flag0", "<i8"),  # first active channel in the flag list
        ("n_flag", "<i4"),  # active channels (flags set)
        ("n_flag_bits", "<i4"),  # length of fActiveID (-1: null pointer)
    ]
)
"""One row per entry of a basket."""

TRACE_DTYPE = np.dtype(
    [
        ("channel", "<u4"),
        ("energy", "<f8"),
        ("timestamp_sec", "<u8"),
        ("digitizer_index", "<u8"),
        ("clock_frequency", "<f8"),
        ("eventnumber", "<i4"),
        ("pretrigger", "<u8"),
        ("trigger_number", "<u8"),
        ("timestamp_nsec", "<u4"),
        ("is_mu_vetoed", "u1"),
        ("mu_veto_sample", "<u4"),
        ("is_inverted", "u1"),
        ("waveform_tag", "<i4"),
        ("sampling_frequency", "<f8"),
        ("t0", "<f8"),
        ("waveform_type", "<i4"),
        ("nsamples", "<i4"),
    ]
)
"""One row per main trace (MGTWaveform of fWaveforms + its GETGERDADigitizerData)."""

AUX_DTYPE = np.dtype(
    [
        ("channel", "<u4"),
        ("sampling_frequency", "<f8"),
        ("t0", "<f8"),
        ("waveform_type", "<i4"),
        ("nsamples", "<i4"),
    ]
)
"""One row per aux trace (MGTWaveform of fAuxWaveforms)."""
