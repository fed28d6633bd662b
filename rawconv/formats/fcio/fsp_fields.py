"""FSP (libfsp software trigger) records: frame layouts and the columns of the FSP tables.

Field names and dtypes are those of the reference converter's FSPConfig (47 fields),
FSPEvent (24) and FSPStatus (18) tables (reference-converter.md, section 4). FSPConfig
columns carry the reference's attributes exactly (no units: pipelines join its tables with
the reference converter's); FSPStatus times and rates carry units.

The three ``dsp_*_tracemap_label`` columns are ``MAX_CHANNELS`` (2400, FSP's and FCIO's
largest trace map) labels wide, as the reference writes them: the labels of a processor's
mapped traces first, then empty labels. No valid FSPConfig maps more traces (a longer map is
refused as corrupt), so every label of every config is kept, however many traces a later
config maps.

Frame layouts (formats.md, section 1.6; libfsp writes no version number):

* FSPConfig: 48 frames, see `CONFIG_FRAMES`. The HWM prescale ratio / rate frames hold one
  value (Dec 2024) or one value per HWM trace (2025); both decode into a vector of one entry per
  HWM trace, missing entries 0.
* FSPEvent: 10 frames (Dec 2024) or 11 (2025: larger HWM observables, prescaled HWM trace
  indices appended), see `EVENT_FRAMES`.
* FSPStatus: one frame, libfsp's statistics struct `FSP_STATUS_STRUCT`.

Fixed-size frames are read field by field; a frame shorter than a field leaves it 0, bytes
beyond the fields are ignored.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from .layout import MAX_CHANNELS

LABEL_BYTES = 8
"""Bytes per tracemap label in the record (a NUL-terminated C string)."""
LABEL_DTYPE = "|S7"

_VOV = "array<1>{array<1>{real}}"
_AOESA_STR = "array_of_equalsized_arrays<1,1>{string}"


def _col(dtype: str, description: str, units: str | None = None, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"dtype": dtype, "description": description}
    if units is not None:
        spec["units"] = units
    spec.update(extra)
    return spec


def _vec(dtype: str, description: str, guess: int = 16) -> dict[str, Any]:
    return _col(dtype, description, datatype=_VOV, length_guess=guess)


PACKET_ID = _col("uint32", "Packet id of the FCIO record the FSP record precedes.")

# --- FSPConfig ------------------------------------------------------------------------------

CONFIG_FRAMES = (
    "hwm_min_multiplicity", "hwm_prescale_ratio", "wps_prescale_ratio",
    "wps_coincident_sum_threshold", "wps_sum_threshold", "wps_prescale_rate",
    "hwm_prescale_rate", "enabled_flags", "pre_window_sec", "pre_window_nsec",
    "post_window_sec", "post_window_nsec", "wps_ref_flags_hwm", "wps_ref_flags_ct",
    "wps_ref_flags_wps", "wps_ref_map_idx", "buffer_max_states", "buffer_window_sec",
    "buffer_window_nsec",
    "hwm_format", "hwm_map", "hwm_enabled", "hwm_labels", "hwm_thresholds",
    "ct_format", "ct_map", "ct_enabled", "ct_labels", "ct_thresholds",
    "wps_format", "wps_map", "wps_enabled", "wps_labels", "wps_apply_gain_scaling",
    "wps_sum_window_size", "wps_sum_window_start_sample", "wps_sum_window_stop_sample",
    "wps_sub_event_sum_threshold", "wps_gains", "wps_thresholds", "wps_lowpass",
    "wps_shaping_widths", "wps_max_margin_front", "wps_max_margin_back", "wps_margin_front",
    "wps_margin_back", "wps_start_sample", "wps_stop_sample",
)  # fmt: skip
"""FSPConfig frames in record order (Dec 2024 and 2025 layouts)."""
CONFIG_FRAME = {name: i for i, name in enumerate(CONFIG_FRAMES)}

FSP_CONFIG_FIELDS: dict[str, dict[str, Any]] = {
    "packet_id": PACKET_ID,
    "buffer_max_states": _col("int32", "Events the FSP buffer holds at most."),
    "buffer_window_nsec": _col("int64", "Time span of the FSP buffer, ns."),
    "trg_hwm_min_multiplicity": _col("int32", "HWM: traces with FPGA energy needed to trigger."),
    "trg_hwm_prescale_ratio": _vec("int32", "HWM prescale ratio, per HWM trace."),
    "trg_wps_prescale_ratio": _col("int32", "WPS prescale ratio."),
    "trg_wps_coincident_sum_threshold": _col(
        "float32", "WPS sum threshold in coincidence with a reference event."
    ),
    "trg_wps_sum_threshold": _col("float32", "WPS stand-alone sum threshold."),
    "trg_wps_prescale_rate": _col("float32", "WPS prescale rate, Hz."),
    "trg_hwm_prescale_rate": _vec("float32", "HWM prescale rate, per HWM trace."),
    "trg_wps_ref_flags_hwm": _col("int64", "HWM flags that make an event a WPS reference."),
    "trg_wps_ref_flags_ct": _col("int64", "CT flags that make an event a WPS reference."),
    "trg_wps_ref_flags_wps": _col("int64", "WPS flags that make an event a WPS reference."),
    "trg_wps_ref_map_idx": _vec("int32", "Traces whose triggers make WPS reference events."),
    "trg_enabled_write_flags_trigger": _col("int64", "Trigger flags that make FSP write."),
    "trg_enabled_write_flags_event": _col("int64", "Event flags that make FSP write."),
    "trg_pre_trigger_window_nsec": _col("int64", "Coincidence window before a reference, ns."),
    "trg_post_trigger_window_nsec": _col("int64", "Coincidence window after a reference, ns."),
    "dsp_wps_tracemap_format": _col("int32", "Format of the WPS trace map entries."),
    "dsp_wps_tracemap_indices": _vec("int32", "WPS trace map."),
    "dsp_wps_tracemap_enabled": _vec("int32", "Enabled WPS traces."),
    "dsp_wps_tracemap_label": _col(
        LABEL_DTYPE, "Labels of the WPS traces.", datatype=_AOESA_STR, length=MAX_CHANNELS
    ),
    "dsp_wps_gains": _vec("float32", "WPS gain per trace."),
    "dsp_wps_thresholds": _vec("float32", "WPS peak threshold per trace."),
    "dsp_wps_lowpass": _vec("float32", "WPS low-pass filter setting per trace."),
    "dsp_wps_shaping_widths": _vec("int32", "WPS shaping width per trace."),
    "dsp_wps_margin_front": _vec("int32", "WPS DSP margin before the window, per trace."),
    "dsp_wps_margin_back": _vec("int32", "WPS DSP margin after the window, per trace."),
    "dsp_wps_start_sample": _vec("int32", "First sample of the WPS DSP, per trace."),
    "dsp_wps_stop_sample": _vec("int32", "Sample after the last of the WPS DSP, per trace."),
    "dsp_wps_dsp_max_margin_front": _col("int32", "Largest WPS DSP front margin."),
    "dsp_wps_dsp_max_margin_back": _col("int32", "Largest WPS DSP back margin."),
    "dsp_wps_apply_gain_scaling": _col("int32", "Whether WPS scales traces by their gains."),
    "dsp_wps_sum_window_size": _col("int32", "WPS coincidence (sum) window, samples."),
    "dsp_wps_sum_window_start_sample": _col("int32", "First sample of the WPS sum window."),
    "dsp_wps_sum_window_stop_sample": _col("int32", "Sample after the WPS sum window."),
    "dsp_wps_sub_event_sum_threshold": _col("float32", "WPS sub-event sum threshold."),
    "dsp_hwm_tracemap_format": _col("int32", "Format of the HWM trace map entries."),
    "dsp_hwm_tracemap_indices": _vec("int32", "HWM trace map."),
    "dsp_hwm_tracemap_enabled": _vec("int32", "Enabled HWM traces."),
    "dsp_hwm_tracemap_label": _col(
        LABEL_DTYPE, "Labels of the HWM traces.", datatype=_AOESA_STR, length=MAX_CHANNELS
    ),
    "dsp_hwm_fpga_energy_threshold_adc": _vec("uint16", "HWM FPGA energy threshold per trace."),
    "dsp_ct_tracemap_format": _col("int32", "Format of the CT trace map entries."),
    "dsp_ct_tracemap_indices": _vec("int32", "CT trace map."),
    "dsp_ct_tracemap_enabled": _vec("int32", "Enabled CT traces."),
    "dsp_ct_tracemap_label": _col(
        LABEL_DTYPE, "Labels of the CT traces.", datatype=_AOESA_STR, length=MAX_CHANNELS
    ),
    "dsp_ct_thresholds": _vec("uint16", "CT threshold per trace."),
}

LABEL_FIELDS = {
    "hwm": "dsp_hwm_tracemap_label",
    "ct": "dsp_ct_tracemap_label",
    "wps": "dsp_wps_tracemap_label",
}

# --- FSPEvent -------------------------------------------------------------------------------

EVENT_FRAMES = (
    "write_flags", "proc_flags", "obs_evt", "obs_hwm", "obs_wps", "obs_ct_trace_idx",
    "obs_ct_max", "sub_event_start", "sub_event_stop", "sub_event_wps_max",
    "obs_ps_hwm_prescaled_trace_idx",
)  # fmt: skip
"""FSPEvent frames in record order; the Dec 2024 layout lacks the last one."""
EVENT_NFRAMES = (10, 11)

FSP_EVENT_FIELDS: dict[str, dict[str, Any]] = {
    "packet_id": PACKET_ID,
    "is_written": _col("bool", "FSP wrote (kept) the event."),
    "is_extended": _col("bool", "The event precedes consecutive (re-triggered) events."),
    "is_consecutive": _col("bool", "The event may be a re-trigger of the previous one."),
    "is_hwm_prescaled": _col("bool", "Written by the HWM prescaler."),
    "is_hwm_multiplicity": _col("bool", "The HWM multiplicity threshold was reached."),
    "is_wps_sum": _col("bool", "The WPS stand-alone sum threshold was reached."),
    "is_wps_coincident_sum": _col("bool", "The WPS coincident sum threshold was reached."),
    "is_wps_prescaled": _col("bool", "Written by the WPS prescaler."),
    "is_ct_multiplicity": _col("bool", "A trace passed its channel threshold (CT)."),
    "obs_wps_sum_value": _col("float32", "Largest WPS sum in the sum windows."),
    "obs_wps_sum_offset": _col("int32", "Sample of the largest WPS sum."),
    "obs_wps_sum_multiplicity": _col("int32", "Traces with a peak above threshold."),
    "obs_wps_max_peak_value": _col("float32", "Largest single-trace peak."),
    "obs_wps_max_peak_offset": _col("int32", "Sample of the largest single-trace peak."),
    "obs_hwm_hw_multiplicity": _col("int32", "Traces with FPGA energy > 0."),
    "obs_hwm_sw_multiplicity": _col("int32", "Traces above the HWM software threshold."),
    "obs_hwm_max_value": _col("uint16", "Largest FPGA energy of the HWM traces."),
    "obs_hwm_min_value": _col("uint16", "Smallest FPGA energy of the HWM traces."),
    "obs_ct_multiplicity": _col("int32", "Traces above their channel threshold."),
    "obs_ct_trace_idx": _vec("int32", "Trace indices above their channel threshold.", 4),
    "obs_ct_max": _vec("uint16", "Maximum of each trace in obs_ct_trace_idx.", 4),
    "obs_ps_hwm_prescaled_trace_idx": _vec("uint16", "HWM traces written by prescaling.", 4),
    "obs_evt_nconsecutive": _col("int32", "Number of consecutive events that follow."),
}

EVENT_VOVS = ("obs_ct_trace_idx", "obs_ct_max", "obs_ps_hwm_prescaled_trace_idx")

FSPEventColumns = namedtuple("FSPEventColumns", tuple(FSP_EVENT_FIELDS))
"""The output struct of the FSPEvent kernel: one field per column (kernel_outputs)."""

# --- FSPStatus ------------------------------------------------------------------------------

_STATUS_LAYOUT = (
    ("start_time", "<f8", "Time FSP started processing.", "s"),
    ("log_time", "<f8", "Time of this status.", "s"),
    ("dt_logtime", "<f8", "Time since the previous status.", "s"),
    ("runtime", "<f8", "Processing time since the start.", "s"),
    ("n_read_events", "<i4", "Events read since the start.", None),
    ("n_written_events", "<i4", "Events written since the start.", None),
    ("n_discarded_events", "<i4", "Events discarded since the start.", None),
    ("dt_n_read_events", "<i4", "Events read since the previous status.", None),
    ("dt_n_written_events", "<i4", "Events written since the previous status.", None),
    ("dt_n_discarded_events", "<i4", "Events discarded since the previous status.", None),
    ("dt", "<f8", "Time since the previous status.", "s"),
    ("dt_rate_read_events", "<f8", "Read rate since the previous status.", "Hz"),
    ("dt_rate_write_events", "<f8", "Write rate since the previous status.", "Hz"),
    ("dt_rate_discard_events", "<f8", "Discard rate since the previous status.", "Hz"),
    ("avg_rate_read_events", "<f8", "Average read rate since the start.", "Hz"),
    ("avg_rate_write_events", "<f8", "Average write rate since the start.", "Hz"),
    ("avg_rate_discard_events", "<f8", "Average discard rate since the start.", "Hz"),
)

FSP_STATUS_STRUCT = np.dtype([(name, fmt) for name, fmt, _, _ in _STATUS_LAYOUT])
"""libfsp's FSPStats struct (112 bytes: 4 double, 6 int, 7 double; no padding)."""

FSP_STATUS_FIELDS: dict[str, dict[str, Any]] = {"packet_id": PACKET_ID} | {
    name: _col(np.dtype(fmt).name, text, units) for name, fmt, text, units in _STATUS_LAYOUT
}
