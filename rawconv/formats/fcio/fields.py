"""Columns of the FCIO tables (reference-converter.md, section 4): names, dtypes, units."""

from __future__ import annotations

import copy
from collections import namedtuple
from typing import Any


def _col(dtype: str, description: str, units: str | None = None, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"dtype": dtype, "description": description}
    if units is not None:
        spec["units"] = units
    spec.update(extra)
    return spec


PACKET_ID = _col("uint32", "Index of the record (packet) in the input.")

# per-event scalars shared by FCEvent and FCEventHeader
EVENT_SCALARS: dict[str, dict[str, Any]] = {
    "packet_id": PACKET_ID,
    "channel": _col("uint16", "Trace index in the stream."),
    "fcid": _col("uint16", "FlashCam stream (listener) id: low 16 bits of streamid."),
    "board_id": _col("uint16", "Address of the ADC card that recorded the trace."),
    "fc_input": _col("uint16", "Input of the trace on its ADC card."),
    "event_type": _col("int32", "1: shared trigger/readout, 11: per-card sparse readout."),
    "numtraces": _col("int32", "Number of traces in the event."),
    "eventnumber": _col("int32", "Event counter (master card, or ADC card in sparse mode)."),
    "ts_pps": _col("int32", "PPS counter since DAQ reset."),
    "ts_ticks": _col("int32", "250 MHz clock ticks since the last PPS."),
    "ts_maxticks": _col("int32", "Clock ticks counted in the last full PPS period."),
    "mu_offset_sec": _col("int32", "Seconds between server (unix) and FPGA time."),
    "mu_offset_usec": _col("int32", "Microseconds between server (unix) and FPGA time."),
    "to_master_sec": _col("int32", "Seconds to add to the FPGA time with an external clock."),
    "delta_mu_usec": _col("int32", "Clock offset between FPGA and server, microseconds."),
    "abs_delta_mu_usec": _col("int32", "Absolute value of delta_mu_usec."),
    "to_start_sec": _col("int32", "Seconds of the run start (trigger enable)."),
    "to_start_usec": _col("int32", "Microseconds of the run start (trigger enable)."),
    "dr_start_pps": _col("int32", "PPS counter when the hardware buffers became full (dead)."),
    "dr_start_ticks": _col("int32", "Clock ticks when the hardware buffers became full (dead)."),
    "dr_stop_pps": _col("int32", "PPS counter when the hardware buffers were free again."),
    "dr_stop_ticks": _col("int32", "Clock ticks when the hardware buffers were free again."),
    "dr_maxticks": _col("int32", "Ticks per PPS period at the end of the dead region."),
    "dr_ch_idx": _col("uint16", "First trace affected by the dead region."),
    "dr_ch_len": _col("uint16", "Number of traces affected by the dead region."),
    "timestamp": _col("float64", "Unix time of the event.", "s"),
    "runtime": _col("float64", "Time since trigger enable, per trace.", "s"),
    "lifetime": _col("float64", "Live time since trigger enable, per trace.", "s"),
    "deadtime": _col("float64", "Accumulated dead time since trigger enable, per trace.", "s"),
    "deadinterval_nsec": _col("int64", "Dead interval ended before this event, per trace.", "ns"),
    "baseline": _col("uint16", "FPGA baseline."),
    "daqenergy": _col("uint16", "FPGA energy: shaped peak height (16 bit) or integral (12 bit)."),
}


FC_EVENT_DECODED_VALUES: dict[str, dict[str, Any]] = {
    **copy.deepcopy(EVENT_SCALARS),
    "waveform": {
        "dtype": "uint16",
        "datatype": "waveform",
        "wf_len": 1,
        "dt": 16.0,
        "dt_units": "ns",
        "t0_units": "ns",
    },
}
"""The columns of FlashCam event tables (FCEvent, ORFCIOEvent, ORCA's legacy FlashCam
waveform tables), as legend-daq2lh5's ``fc_event_decoded_values``: write settings set here
(a column's ``hdf5_settings`` or ``compression``) apply to the tables of the streams opened
afterwards. ``wf_len`` and ``dt`` are each stream's own."""


def event_fields(eventsamples: int, dt: float) -> dict[str, dict[str, Any]]:
    """FCEvent columns for traces of `eventsamples` samples every `dt` ns (a copy of
    :data:`FC_EVENT_DECODED_VALUES`)."""
    fields = copy.deepcopy(FC_EVENT_DECODED_VALUES)
    fields["waveform"].update(wf_len=eventsamples, dt=dt)
    return fields


FCEventColumns = namedtuple("FCEventColumns", (*EVENT_SCALARS, "waveform"))
"""The output struct of the FCEvent kernel: one field per column (kernel_outputs)."""

_PER_TRACE_IN_HEADER = (
    "board_id",
    "fc_input",
    "runtime",
    "lifetime",
    "deadtime",
    "deadinterval_nsec",
    "baseline",
    "daqenergy",
)


def event_header_fields(ntraces: int) -> dict[str, dict[str, Any]]:
    """FCEventHeader columns: event scalars, per-trace values as vectors of vectors."""
    fields: dict[str, dict[str, Any]] = {}
    for name, spec in EVENT_SCALARS.items():
        if name == "channel":
            continue
        if name in _PER_TRACE_IN_HEADER:
            spec = dict(spec, datatype="array<1>{array<1>{real}}", length_guess=ntraces)
        fields[name] = spec
    fields["tracelist"] = _col(
        "uint16",
        "Trace indices read out in the event.",
        datatype="array<1>{array<1>{real}}",
        length_guess=ntraces,
    )
    return fields


FCEventHeaderColumns = namedtuple("FCEventHeaderColumns", tuple(event_header_fields(1)))
"""The output struct of the FCEventHeader kernel: one field per column (kernel_outputs)."""

CONFIG_FIELDS: dict[str, dict[str, Any]] = {
    "packet_id": PACKET_ID,
    "nsamples": _col("int32", "Samples per trace."),
    "nadcs": _col("int32", "Number of ADC traces."),
    "ntriggers": _col("int32", "Number of trigger traces."),
    "streamid": _col("int32", "Stream id: readout id << 16 | listener id."),
    "adcbits": _col("int32", "ADC resolution in bits (16: 62.5 MHz, 12: 250 MHz)."),
    "sumlength": _col("int32", "Length of the FPGA integrator."),
    "blprecision": _col("int32", "Precision of the FPGA baseline."),
    "mastercards": _col("int32", "Number of master cards."),
    "triggercards": _col("int32", "Number of trigger cards."),
    "adccards": _col("int32", "Number of ADC cards."),
    "gps": _col("int32", "GPS mode: 0 without external clock, else the allowed drift (us)."),
    "tracemap": _col(
        "uint32",
        "Per trace: card address << 16 | card input.",
        datatype="array<1>{array<1>{real}}",
        length=2400,  # FCIO's largest trace map; stored as the attribute `length`
    ),
}

_AOESA = "array_of_equalsized_arrays<1,1>{real}"
_VOV = "array<1>{array<1>{real}}"

STATUS_FIELDS: dict[str, dict[str, Any]] = {
    "packet_id": PACKET_ID,
    "status": _col("bool", "True: no errors; False: errors, see the card status."),
    "fpga_time": _col("float32", "FPGA clock of the top card.", "s"),
    "server_time": _col("float64", "Server time when the status was read.", "s"),
    "fpga_start_time": _col("float64", "Start time of the run.", "s"),
    "id": _col("uint32", "Card request id (0 master, 0x1000+i trigger, 0x2000+i ADC)."),
    "eventnumber": _col("uint32", "Event counter of the card when the status was read."),
    "fpga_time_nsec": _col("uint32", "FPGA clock of the card (wraps at 2**32).", "ns"),
    "n_total_errors": _col("uint32", "Sum of all error counters of the card."),
    "n_environment_errors": _col("uint32", "Environment sensor errors."),
    "n_cti_errors": _col("uint32", "CTI connection errors."),
    "n_link_errors": _col("uint32", "Trigger link errors."),
    "n_other_errors": _col("uint32", "Other error counters.", datatype=_AOESA, length=5),
    "mb_temps": _col("int32", "Motherboard temperatures.", "mC", datatype=_AOESA, length=5),
    "mb_voltages": _col("int32", "Motherboard supply voltages.", "mV", datatype=_AOESA, length=6),
    "mb_current": _col("int32", "Motherboard current.", "mA"),
    "mb_humidity": _col("int32", "Motherboard humidity.", "o/oo"),
    "adc_temps": _col(
        "int32", "ADC daughter board temperatures.", "mC", datatype=_VOV, length_guess=2
    ),
    "cti_links": _col("uint32", "CTI link states (experts).", datatype=_VOV, length_guess=4),
    "link_states": _col(
        "uint32", "Trigger link states (experts).", datatype=_VOV, length_guess=256
    ),
}

FCStatusColumns = namedtuple("FCStatusColumns", tuple(STATUS_FIELDS))
"""The output struct of the FCStatus kernel: one field per column (kernel_outputs)."""
