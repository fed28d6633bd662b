"""Frames of FSP (FlashCam software trigger, libfsp) records, built from keyword values.

Used by :class:`~.writer.FCIOWriter` (``write_fsp_config`` / ``write_fsp_event`` /
``write_fsp_status``) for tests, demos and benchmarks. The layouts follow formats.md, section
1.6; :mod:`.fsp_fields` lists the frames in order. Two layouts can be written:

``"2025"`` (default)
    the libfsp layout of 2025: FSPEvent has 11 frames (32-byte processor flags, 12-byte HWM
    observables, a last frame of prescaled HWM trace indices as uint16), FSPConfig writes the
    HWM prescale ratio and rate per HWM trace. FlashCam's reader (fcio 0.7.10 and 0.9.4)
    reads these records back.
``"2024-12"``
    the layout of Dec 2024 / Jan 2025 files: FSPEvent has 10 frames (24-byte processor flags,
    8-byte HWM observables), FSPConfig writes one HWM prescale ratio and rate.

All values are little-endian; C ``long`` timestamps are 8 bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .fsp_fields import FSP_STATUS_STRUCT, LABEL_BYTES

__all__ = ["LAYOUTS", "fsp_config_frames", "fsp_event_frames", "fsp_status_frames"]

LAYOUTS = ("2025", "2024-12")


def _check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def _arr(values: ArrayLike, dtype: str, name: str) -> bytes:
    """Bytes of a 1-d array of `dtype`; ValueError if integers do not fit."""
    arr = np.atleast_1d(np.asarray(values))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {arr.shape}")
    dt = np.dtype(dtype)
    if dt.kind in "iu" and arr.size:
        if arr.dtype.kind not in "iub":
            raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
        info = np.iinfo(dt)
        if int(arr.min()) < info.min or int(arr.max()) > info.max:
            raise ValueError(f"{name} values must lie in [{info.min}, {info.max}]")
    return arr.astype(dt).tobytes()


def _pack(fmt: str, name: str, *values: Any) -> bytes:
    try:
        return struct.pack("<" + fmt, *values)
    except struct.error as exc:
        raise ValueError(f"{name}: {exc} (values {values!r})") from exc


def _labels(labels: Sequence[str | bytes], name: str) -> bytes:
    out = []
    for label in labels:
        raw = label.encode() if isinstance(label, str) else bytes(label)
        if len(raw) >= LABEL_BYTES:
            raise ValueError(f"{name}: label {label!r} longer than {LABEL_BYTES - 1} bytes")
        out.append(raw.ljust(LABEL_BYTES, b"\0"))
    return b"".join(out)


def _per_trace(values: ArrayLike | None, n: int, dtype: str, name: str) -> bytes:
    """One value per mapped trace; None writes zeros."""
    return _arr(np.zeros(n, dtype) if values is None else values, dtype, name)


def _tracemap(prefix: str, fmt: int, mapping: ArrayLike, enabled: ArrayLike | None,
              labels: Sequence[str | bytes] | None) -> tuple[list[bytes], int]:  # fmt: skip
    idx = np.asarray(mapping, dtype=np.int64).reshape(-1)
    n = int(idx.size)
    enabled = range(n) if enabled is None else enabled
    labels = [f"{prefix}{i}" for i in range(n)] if labels is None else labels
    frames = [
        _pack("i", f"{prefix}_format", fmt),
        _arr(idx, "<i4", f"{prefix}_map"),
        _arr(np.asarray(enabled, dtype=np.int64), "<i4", f"{prefix}_enabled"),
        _labels(labels, f"{prefix}_labels"),
    ]
    return frames, n


def fsp_config_frames(
    *,
    layout: str = "2025",
    hwm_min_multiplicity: int = 0,
    hwm_prescale_ratio: int | ArrayLike = 0,
    wps_prescale_ratio: int = 0,
    wps_coincident_sum_threshold: float = 0.0,
    wps_sum_threshold: float = 0.0,
    wps_prescale_rate: float = 0.0,
    hwm_prescale_rate: float | ArrayLike = 0.0,
    enabled_flags_event: int = 0,
    enabled_flags_trigger: int = 0,
    enabled_flags_write: int = 0,
    pre_trigger_window: tuple[int, int] = (0, 0),
    post_trigger_window: tuple[int, int] = (0, 0),
    wps_ref_flags_hwm: int = 0,
    wps_ref_flags_ct: int = 0,
    wps_ref_flags_wps: int = 0,
    wps_ref_map_idx: ArrayLike = (),
    buffer_max_states: int = 0,
    buffer_window: tuple[int, int] = (0, 0),
    hwm_format: int = 0,
    hwm_map: ArrayLike = (),
    hwm_enabled: ArrayLike | None = None,
    hwm_labels: Sequence[str | bytes] | None = None,
    hwm_thresholds: ArrayLike | None = None,
    ct_format: int = 0,
    ct_map: ArrayLike = (),
    ct_enabled: ArrayLike | None = None,
    ct_labels: Sequence[str | bytes] | None = None,
    ct_thresholds: ArrayLike | None = None,
    wps_format: int = 0,
    wps_map: ArrayLike = (),
    wps_enabled: ArrayLike | None = None,
    wps_labels: Sequence[str | bytes] | None = None,
    wps_apply_gain_scaling: int = 0,
    wps_sum_window_size: int = 0,
    wps_sum_window_start_sample: int = 0,
    wps_sum_window_stop_sample: int = 0,
    wps_sub_event_sum_threshold: float = 0.0,
    wps_gains: ArrayLike | None = None,
    wps_thresholds: ArrayLike | None = None,
    wps_lowpass: ArrayLike | None = None,
    wps_shaping_widths: ArrayLike | None = None,
    wps_max_margin_front: int = 0,
    wps_max_margin_back: int = 0,
    wps_margin_front: ArrayLike | None = None,
    wps_margin_back: ArrayLike | None = None,
    wps_start_sample: ArrayLike | None = None,
    wps_stop_sample: ArrayLike | None = None,
) -> list[bytes]:
    """The 48 frames of an FSPConfig record (tag 8).

    Parameters
    ----------
    layout
        ``"2025"`` writes `hwm_prescale_ratio` / `hwm_prescale_rate` as given (scalars as one
        value, sequences per HWM trace); ``"2024-12"`` requires scalars.
    hwm_min_multiplicity, wps_prescale_ratio, ...
        trigger settings (int32 / float32); ``*_flags_*`` are uint64 bit fields
        (``enabled_flags_write`` int32); windows are ``(seconds, nanoseconds)`` int64 pairs.
    hwm_map, ct_map, wps_map
        the traces each processor uses (int32); ``*_enabled`` default to ``0..n-1``,
        ``*_labels`` (at most 7 bytes each) to ``"<proc><i>"``; per-trace values
        (``hwm_thresholds``, ``wps_gains``, ...) default to zeros of the map's length.

    Returns
    -------
    list of bytes
        the frame payloads, in order.
    """
    _check_layout(layout)
    scalar_hwm = np.ndim(hwm_prescale_ratio) == 0 and np.ndim(hwm_prescale_rate) == 0
    if layout == "2024-12" and not scalar_hwm:
        raise ValueError("layout 2024-12 has one hwm_prescale_ratio / hwm_prescale_rate")
    enabled = _pack("QQi4x", "enabled_flags", enabled_flags_event, enabled_flags_trigger,
                    enabled_flags_write)  # fmt: skip
    frames = [
        _pack("i", "hwm_min_multiplicity", hwm_min_multiplicity),
        _arr(hwm_prescale_ratio, "<i4", "hwm_prescale_ratio"),
        _pack("i", "wps_prescale_ratio", wps_prescale_ratio),
        _pack("f", "wps_coincident_sum_threshold", wps_coincident_sum_threshold),
        _pack("f", "wps_sum_threshold", wps_sum_threshold),
        _pack("f", "wps_prescale_rate", wps_prescale_rate),
        _arr(hwm_prescale_rate, "<f4", "hwm_prescale_rate"),
        enabled,
        *(_pack("q", "pre_trigger_window", v) for v in pre_trigger_window),
        *(_pack("q", "post_trigger_window", v) for v in post_trigger_window),
        _pack("Q", "wps_ref_flags_hwm", wps_ref_flags_hwm),
        _pack("Q", "wps_ref_flags_ct", wps_ref_flags_ct),
        _pack("Q", "wps_ref_flags_wps", wps_ref_flags_wps),
        _arr(np.asarray(wps_ref_map_idx, dtype=np.int64), "<i4", "wps_ref_map_idx"),
        _pack("i", "buffer_max_states", buffer_max_states),
        *(_pack("q", "buffer_window", v) for v in buffer_window),
    ]
    if len(frames) != 19:
        raise ValueError("windows must be (seconds, nanoseconds) pairs")
    hwm, n_hwm = _tracemap("hwm", hwm_format, hwm_map, hwm_enabled, hwm_labels)
    frames += [*hwm, _per_trace(hwm_thresholds, n_hwm, "<u2", "hwm_thresholds")]
    ct, n_ct = _tracemap("ct", ct_format, ct_map, ct_enabled, ct_labels)
    frames += [*ct, _per_trace(ct_thresholds, n_ct, "<u2", "ct_thresholds")]
    wps, n = _tracemap("wps", wps_format, wps_map, wps_enabled, wps_labels)
    frames += [
        *wps,
        _pack("i", "wps_apply_gain_scaling", wps_apply_gain_scaling),
        _pack("i", "wps_sum_window_size", wps_sum_window_size),
        _pack("i", "wps_sum_window_start_sample", wps_sum_window_start_sample),
        _pack("i", "wps_sum_window_stop_sample", wps_sum_window_stop_sample),
        _pack("f", "wps_sub_event_sum_threshold", wps_sub_event_sum_threshold),
        _per_trace(wps_gains, n, "<f4", "wps_gains"),
        _per_trace(wps_thresholds, n, "<f4", "wps_thresholds"),
        _per_trace(wps_lowpass, n, "<f4", "wps_lowpass"),
        _per_trace(wps_shaping_widths, n, "<i4", "wps_shaping_widths"),
        _pack("i", "wps_max_margin_front", wps_max_margin_front),
        _pack("i", "wps_max_margin_back", wps_max_margin_back),
        _per_trace(wps_margin_front, n, "<i4", "wps_margin_front"),
        _per_trace(wps_margin_back, n, "<i4", "wps_margin_back"),
        _per_trace(wps_start_sample, n, "<i4", "wps_start_sample"),
        _per_trace(wps_stop_sample, n, "<i4", "wps_stop_sample"),
    ]
    return frames


def fsp_event_frames(
    *,
    layout: str = "2025",
    is_written: bool | int = True,
    is_consecutive: bool = False,
    is_extended: bool = False,
    is_hwm_multiplicity: bool = False,
    is_hwm_prescaled: bool = False,
    is_wps_sum: bool = False,
    is_wps_coincident_sum: bool = False,
    is_wps_prescaled: bool = False,
    is_ct_multiplicity: bool = False,
    proc_flags: Sequence[int] = (0, 0, 0, 0),
    obs_evt_nconsecutive: int = 0,
    obs_hwm_hw_multiplicity: int = 0,
    obs_hwm_max_value: int = 0,
    obs_hwm_min_value: int = 0,
    obs_hwm_sw_multiplicity: int = 0,
    obs_wps_sum_value: float = 0.0,
    obs_wps_sum_offset: int = 0,
    obs_wps_sum_multiplicity: int = 0,
    obs_wps_max_peak_value: float = 0.0,
    obs_wps_max_peak_offset: int = 0,
    obs_ct_trace_idx: ArrayLike = (),
    obs_ct_max: ArrayLike | None = None,
    sub_event_start: ArrayLike = (),
    sub_event_stop: ArrayLike | None = None,
    sub_event_wps_max: ArrayLike | None = None,
    obs_ps_hwm_prescaled_trace_idx: ArrayLike = (),
) -> list[bytes]:
    """The frames of an FSPEvent record (tag 9): 11 (``"2025"``) or 10 (``"2024-12"``).

    Parameters
    ----------
    is_written, is_consecutive, is_extended, is_hwm_multiplicity, ...
        write flags: ``is_written`` is the int32 write decision, the others one byte each of
        the event (consecutive, extended) and trigger flag words.
    proc_flags
        processor flag words (uint64) hwm, wps, ct and (2025 only) evt.
    obs_*
        observables, named as the FSPEvent table's columns; ``obs_ct_max`` defaults to zeros
        of ``obs_ct_trace_idx``'s length. The 2024-12 layout cannot hold
        ``obs_hwm_sw_multiplicity`` and ``obs_ps_hwm_prescaled_trace_idx`` (must stay 0 / empty).
    sub_event_start, sub_event_stop, sub_event_wps_max
        the WPS sub-event list (not decoded into the table); stop and wps_max default to zeros.

    Returns
    -------
    list of bytes
        the frame payloads, in order.
    """
    _check_layout(layout)
    trigger = bytes(int(bool(flag)) for flag in (
        is_hwm_multiplicity, is_hwm_prescaled, is_wps_sum, is_wps_coincident_sum,
        is_wps_prescaled, is_ct_multiplicity,
    ))  # fmt: skip
    event = bytes([int(bool(is_consecutive)), int(bool(is_extended))])
    write_flags = event.ljust(8, b"\0") + trigger.ljust(8, b"\0")
    write_flags += _pack("i4x", "is_written", int(is_written))
    n_words = 4 if layout == "2025" else 3
    if len(proc_flags) not in (3, 4):
        raise ValueError("proc_flags holds 3 or 4 uint64 words")
    proc = _pack("Q" * n_words, "proc_flags", *[*proc_flags, 0][:n_words])
    hwm = _pack("iHH", "obs_hwm", obs_hwm_hw_multiplicity, obs_hwm_max_value, obs_hwm_min_value)
    ps = np.asarray(obs_ps_hwm_prescaled_trace_idx, dtype=np.int64)
    if layout == "2025":
        hwm += _pack("i", "obs_hwm_sw_multiplicity", obs_hwm_sw_multiplicity)
    elif obs_hwm_sw_multiplicity or ps.size:
        raise ValueError("layout 2024-12 has no sw multiplicity / prescaled trace indices")
    ct = np.asarray(obs_ct_trace_idx, dtype=np.int64)
    n_sub = len(sub_event_start)
    frames = [
        write_flags,
        proc,
        _pack("i", "obs_evt_nconsecutive", obs_evt_nconsecutive),
        hwm,
        _pack("fiifi", "obs_wps", obs_wps_sum_value, obs_wps_sum_offset,
              obs_wps_sum_multiplicity, obs_wps_max_peak_value, obs_wps_max_peak_offset),
        _arr(ct, "<i4", "obs_ct_trace_idx"),
        _per_trace(obs_ct_max, ct.size, "<u2", "obs_ct_max"),
        _arr(np.asarray(sub_event_start, dtype=np.int64), "<i4", "sub_event_start"),
        _per_trace(sub_event_stop, n_sub, "<i4", "sub_event_stop"),
        _per_trace(sub_event_wps_max, n_sub, "<f4", "sub_event_wps_max"),
    ]  # fmt: skip
    if layout == "2025":
        frames.append(_arr(ps, "<u2", "obs_ps_hwm_prescaled_trace_idx"))
    return frames


def fsp_status_frames(**stats: float) -> list[bytes]:
    """The single frame of an FSPStatus record (tag 10): libfsp's 112-byte statistics struct.

    Parameters
    ----------
    **stats
        the FSPStatus table's columns (``start_time``, ``log_time``, ``dt_logtime``,
        ``runtime`` [s], event counters ``n_read_events``, ... (int32), ``dt`` [s] and the
        rates [Hz]); missing ones are 0.

    Returns
    -------
    list of bytes
        one frame payload.
    """
    dtype = FSP_STATUS_STRUCT
    row = np.zeros(1, dtype=dtype)
    for name, value in stats.items():
        if name not in dtype.names:
            raise ValueError(f"unknown FSPStatus field {name!r}; known: {dtype.names}")
        if dtype[name].kind == "i":
            row[name] = np.frombuffer(_arr([value], "<i4", name), dtype="<i4")
        else:
            row[name] = value
    return [row.tobytes()]
