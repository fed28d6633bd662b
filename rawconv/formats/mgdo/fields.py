"""Columns of the MGDO tables: names, dtypes, units (README, "MGDO tables").

``MGDOEvent``: one row per main trace of an MGTEvent (the MGTWaveform of fWaveforms and
the GETGERDADigitizerData of the same slot), with the event's fields repeated on each of
its rows. ``MGDOAuxWaveform``: one row per aux trace (fAuxWaveforms). Both are keyed by
channel (the fID of the waveform).
"""

from __future__ import annotations

from typing import Any

__all__ = ["aux_fields", "event_fields"]


def _col(dtype: str, description: str, units: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"dtype": dtype, "description": description}
    if units is not None:
        spec["units"] = units
    return spec


PACKET_ID = _col("uint32", "Entry number of the MGTree (the event's index in the file).")
CHANNEL = _col("uint32", "Channel: fID of the waveform (equal to the digitizer data's fID).")
WAVEFORM_TYPE = _col("int32", "MGWaveform fWFType.")

EVENT_SCALARS: dict[str, dict[str, Any]] = {
    "packet_id": PACKET_ID,
    "channel": CHANNEL,
    "event_type": _col("int32", "MGTEvent fEventType."),
    "event_energy": _col("float64", "MGTEvent fETotal: sum of the channel energies."),
    "event_time": _col("float64", "MGTEvent fTime: unix time of the event.", "s"),
    "event_number": _col("int32", "MGTEvent fEventNumber."),
    "numtraces": _col("uint32", "Main traces in the event."),
    "use_aux_waveforms": _col("bool", "MGTEvent fUseAuxWaveformArray."),
    "energy": _col("float64", "Digitizer fEnergy (online energy of the channel)."),
    "timestamp": _col("float64", "timestamp_sec + timestamp_nsec (unix time).", "s"),
    "timestamp_sec": _col("uint64", "Digitizer fTimeStamp: unix seconds.", "s"),
    "timestamp_nsec": _col("uint32", "Digitizer fDecimalTimeStamp: nanoseconds.", "ns"),
    "digitizer_index": _col("uint64", "Digitizer fIndex."),
    "clock_frequency": _col("float64", "Digitizer fClockFrequency.", "GHz"),
    "eventnumber": _col("int32", "Digitizer fEventNumber (DAQ event counter)."),
    "pretrigger": _col("uint64", "Digitizer fPretrigger (samples before the trigger)."),
    "trigger_number": _col("uint64", "Digitizer fTriggerNumber."),
    "is_mu_vetoed": _col("bool", "Digitizer fIsMuVetoed: muon veto flag."),
    "mu_veto_sample": _col("uint32", "Digitizer fMuVetoSample."),
    "is_inverted": _col("bool", "Digitizer fIsInverted: the signal is negative-going."),
    "waveform_tag": _col("int32", "Digitizer fWaveformTag (0 normal; 1, 2 flagged traces)."),
    "waveform_type": WAVEFORM_TYPE,
}
"""Scalar columns of MGDOEvent (``active_channels`` and ``waveform`` follow)."""

AUX_SCALARS: dict[str, dict[str, Any]] = {
    "packet_id": PACKET_ID,
    "channel": CHANNEL,
    "waveform_type": WAVEFORM_TYPE,
}


def _waveform(length: int, dt: float, description: str) -> dict[str, Any]:
    return {
        "dtype": "uint16",
        "datatype": "waveform",
        "wf_len": length,
        "dt": dt,
        "dt_units": "ns",
        "t0_units": "ns",
        "description": description,
    }


def event_fields(length: int, dt: float, max_channels: int) -> dict[str, dict[str, Any]]:
    """MGDOEvent columns for main traces of `length` samples (every `dt` ns, per row from
    the trace's fSampFreq)."""
    fields = dict(EVENT_SCALARS)
    fields["active_channels"] = {
        "dtype": "uint16",
        "datatype": "array<1>{array<1>{real}}",
        "length_guess": max(max_channels, 1),
        "description": "Channels flagged in the event's fActiveID.",
    }
    fields["waveform"] = _waveform(length, dt, "Main trace (t0: fTOffset).")
    return fields


def aux_fields(length: int, dt: float) -> dict[str, dict[str, Any]]:
    """MGDOAuxWaveform columns for aux traces of `length` samples."""
    fields = dict(AUX_SCALARS)
    fields["waveform"] = _waveform(length, dt, "Aux trace (t0: fTOffset).")
    return fields
