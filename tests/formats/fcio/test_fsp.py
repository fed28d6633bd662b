"""FSP records (libfsp software trigger): FSPConfig / FSPEvent / FSPStatus tables.

Hand-packed records (struct.pack, independent of rawconv's writer) decode to the packed
values; writer-made streams convert into the tables the reference converter writes for FCIO
files (FSPConfig, FSPEvent, FSPStatus) with the packet ids of the records that follow;
FlashCam's own reader (`fcio`) reads the writer's records back; damaged records give zeros
or a garbage row (a record of an unknown layout), or a CorruptDataError with file and offset.
"""

from __future__ import annotations

import io
import re
import struct

import fcio
import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawconv import CorruptDataError, RawBufferLibrary, build_raw
from rawconv.formats.fcio.fsp_fields import (
    FSP_CONFIG_FIELDS,
    FSP_EVENT_FIELDS,
    FSP_STATUS_FIELDS,
    LABEL_FIELDS,
)
from rawconv.formats.fcio.fsp_writer import fsp_config_frames, fsp_event_frames, fsp_status_frames
from rawconv.formats.fcio.layout import MAX_CHANNELS
from rawconv.formats.fcio.streamer import FCIOStreamer
from rawconv.formats.fcio.writer import FCIOWriter, make_card_status
from rawconv.lh5.columns import VectorCol
from rawconv.sources import MemorySource
from tests.formats.fcio.test_bad_input import record_starts

NAME = "fsp.fcio"
STREAMID = (3 << 16) | 5  # fcid 5
ALL_FSP = {
    "FSPConfigDecoder": {"FSPConfig": {"key_list": ["*"], "out_stream": ""}},
    "FSPEventDecoder": {"FSPEvent": {"key_list": ["*"], "out_stream": ""}},
    "FSPStatusDecoder": {"FSPStatus": {"key_list": ["*"], "out_stream": ""}},
}


def row(**values) -> dict:
    """Column values of one expected row."""
    return values


def rows_of(col, n: int) -> list:
    if isinstance(col, VectorCol):
        cl = col.cumulative_length.nda[:n]
        starts = np.concatenate([[0], cl[:-1]]).astype(int)
        return [col.flattened_data.nda[s:e].copy() for s, e in zip(starts, cl)]
    return list(col.nda[:n].copy())


def decode(data: bytes, lib=None, buffer_size: int = 64, block_bytes: int = 1 << 14):
    """{table: {column: [row values]}} decoded in memory, and the streamer."""
    streamer = FCIOStreamer(block_bytes=block_bytes)
    rb_lib = None if lib is None else RawBufferLibrary(lib)
    heads = streamer.open_stream(MemorySource(data, name=NAME), rb_lib=rb_lib,
                                 buffer_size=buffer_size)  # fmt: skip
    out: dict[str, dict[str, list]] = {}

    def take(chunk: list) -> None:
        for rb in chunk:
            table = out.setdefault(rb.out_name, {})
            for name, col in rb.table.items():
                table.setdefault(name, []).extend(rows_of(col, rb.loc))

    take(heads)
    for chunk in streamer:  # the iterator resets each buffer after yielding it
        take(chunk)
    return out, streamer


def writer_stream() -> tuple[FCIOWriter, io.BytesIO]:
    buf = io.BytesIO()
    return FCIOWriter(buf), buf


def config(w: FCIOWriter) -> None:
    w.write_config(adcs=3, eventsamples=4, tracemap=[0x10000, 0x10001, 0x10002],
                   streamid=STREAMID)  # fmt: skip


def event(w: FCIOWriter, k: int = 0) -> None:
    w.write_event(np.full((3, 4), k, np.uint16), np.zeros((3, 2), np.uint16))


CONFIG_VALUES = row(
    hwm_min_multiplicity=2, hwm_prescale_ratio=[4, 5], wps_prescale_ratio=6,
    wps_coincident_sum_threshold=1.5, wps_sum_threshold=7.25, wps_prescale_rate=0.5,
    hwm_prescale_rate=[0.25, 0.125], enabled_flags_event=0x0100, enabled_flags_trigger=0x0101,
    enabled_flags_write=1, pre_trigger_window=(1, 2), post_trigger_window=(3, 4),
    wps_ref_flags_hwm=1, wps_ref_flags_ct=2, wps_ref_flags_wps=2**63 + 5, wps_ref_map_idx=[2],
    buffer_max_states=500, buffer_window=(0, 250000), hwm_format=1, hwm_map=[0, 1],
    hwm_thresholds=[20, 21], ct_format=1, ct_map=[2], ct_enabled=[2], ct_labels=["spm"],
    ct_thresholds=[300], wps_format=1, wps_map=[0, 1, 2], wps_enabled=[0, 2],
    wps_labels=["a", "bb", "seven77"], wps_apply_gain_scaling=1, wps_sum_window_size=80,
    wps_sum_window_start_sample=10, wps_sum_window_stop_sample=90,
    wps_sub_event_sum_threshold=2.5, wps_gains=[1.0, 1.5, 2.0], wps_thresholds=[3, 4, 5],
    wps_lowpass=[0.5, 0.5, 0.25], wps_shaping_widths=[6, 7, 8], wps_max_margin_front=9,
    wps_max_margin_back=10, wps_margin_front=[1, 2, 3], wps_margin_back=[4, 5, 6],
    wps_start_sample=[7, 8, 9], wps_stop_sample=[100, 110, 120],
)  # fmt: skip
CONFIG_TABLE = row(
    buffer_max_states=500, buffer_window_nsec=250000, trg_hwm_min_multiplicity=2,
    trg_hwm_prescale_ratio=[4, 5], trg_wps_prescale_ratio=6,
    trg_wps_coincident_sum_threshold=1.5, trg_wps_sum_threshold=7.25, trg_wps_prescale_rate=0.5,
    trg_hwm_prescale_rate=[0.25, 0.125], trg_wps_ref_flags_hwm=1, trg_wps_ref_flags_ct=2,
    trg_wps_ref_flags_wps=-(2**63) + 5, trg_wps_ref_map_idx=[2],
    trg_enabled_write_flags_trigger=0x0101, trg_enabled_write_flags_event=0x0100,
    trg_pre_trigger_window_nsec=1_000_000_002, trg_post_trigger_window_nsec=3_000_000_004,
    dsp_wps_tracemap_format=1, dsp_wps_tracemap_indices=[0, 1, 2],
    dsp_wps_tracemap_enabled=[0, 2], dsp_wps_tracemap_label=[b"a", b"bb", b"seven77"],
    dsp_wps_gains=[1.0, 1.5, 2.0], dsp_wps_thresholds=[3, 4, 5], dsp_wps_lowpass=[0.5, 0.5, 0.25],
    dsp_wps_shaping_widths=[6, 7, 8], dsp_wps_margin_front=[1, 2, 3],
    dsp_wps_margin_back=[4, 5, 6], dsp_wps_start_sample=[7, 8, 9],
    dsp_wps_stop_sample=[100, 110, 120], dsp_wps_dsp_max_margin_front=9,
    dsp_wps_dsp_max_margin_back=10, dsp_wps_apply_gain_scaling=1, dsp_wps_sum_window_size=80,
    dsp_wps_sum_window_start_sample=10, dsp_wps_sum_window_stop_sample=90,
    dsp_wps_sub_event_sum_threshold=2.5, dsp_hwm_tracemap_format=1,
    dsp_hwm_tracemap_indices=[0, 1], dsp_hwm_tracemap_enabled=[0, 1],
    dsp_hwm_tracemap_label=[b"hwm0", b"hwm1"], dsp_hwm_fpga_energy_threshold_adc=[20, 21],
    dsp_ct_tracemap_format=1, dsp_ct_tracemap_indices=[2], dsp_ct_tracemap_enabled=[2],
    dsp_ct_tracemap_label=[b"spm"], dsp_ct_thresholds=[300],
)  # fmt: skip
STATUS_VALUES = row(
    start_time=1.7e9, log_time=1.7e9 + 10, dt_logtime=1.0, runtime=10.0, n_read_events=100,
    n_written_events=60, n_discarded_events=40, dt_n_read_events=10, dt_n_written_events=6,
    dt_n_discarded_events=4, dt=1.0, dt_rate_read_events=10.0, dt_rate_write_events=6.0,
    dt_rate_discard_events=4.0, avg_rate_read_events=10.0, avg_rate_write_events=6.0,
    avg_rate_discard_events=4.0,
)  # fmt: skip


def random_event(rng: np.random.Generator, layout: str = "2025") -> dict:
    def rint(lo: int, hi: int) -> int:
        return int(rng.integers(lo, hi))

    ct = rng.integers(0, 3, rint(0, 4)).tolist()
    flags = ("is_consecutive", "is_extended", "is_hwm_multiplicity", "is_hwm_prescaled",
             "is_wps_sum", "is_wps_coincident_sum", "is_wps_prescaled", "is_ct_multiplicity",
             "is_written")  # fmt: skip
    ev = {f: bool(rint(0, 2)) for f in flags}
    ev.update(
        obs_evt_nconsecutive=rint(0, 5), obs_hwm_hw_multiplicity=rint(0, 3),
        obs_hwm_max_value=rint(0, 65536), obs_hwm_min_value=rint(0, 100),
        obs_wps_sum_value=float(np.float32(rng.normal())), obs_wps_sum_offset=rint(-5, 500),
        obs_wps_sum_multiplicity=rint(0, 3), obs_wps_max_peak_value=float(np.float32(rng.random())),
        obs_wps_max_peak_offset=rint(0, 500), obs_ct_trace_idx=ct,
        obs_ct_max=rng.integers(0, 65536, len(ct)).tolist(),
    )  # fmt: skip
    if layout == "2025":
        ev["obs_hwm_sw_multiplicity"] = rint(0, 3)
        ev["obs_ps_hwm_prescaled_trace_idx"] = rng.integers(0, 2, rint(0, 3)).tolist()
    return ev


def expected_event_row(ev: dict) -> dict:
    row = {k: v for k, v in ev.items() if k in FSP_EVENT_FIELDS}
    row.setdefault("obs_hwm_sw_multiplicity", 0)
    row.setdefault("obs_ps_hwm_prescaled_trace_idx", [])
    row["obs_ct_multiplicity"] = len(ev["obs_ct_trace_idx"])
    return row


def padded(labels: list[bytes]) -> list[bytes]:
    """A label row as written: the labels, then empty ones up to MAX_CHANNELS."""
    return list(labels) + [b""] * (MAX_CHANNELS - len(labels))


def assert_row(table: dict, i: int, expected: dict) -> None:
    """Row `i` of `table` has the `expected` values (label lists: then empty labels)."""
    for name, value in expected.items():
        got = table[name][i]
        if name in LABEL_FIELDS.values():
            assert np.asarray(got).tolist() == padded(value), name
            continue
        if np.ndim(value) or isinstance(value, list):
            np.testing.assert_array_equal(np.asarray(got), np.asarray(value), err_msg=name)
        else:
            assert got == value, (name, got, value)


def full_stream(layout: str = "2025", n_events: int = 4, seed: int = 1):
    """Protocol, FSPConfig + Config, FSPEvent + Event (n), FSPEvent + EventHeader,
    FSPStatus + Status; returns the bytes and the FSPEvent values written."""
    rng = np.random.default_rng(seed)
    w, buf = writer_stream()
    values = dict(CONFIG_VALUES)
    if layout == "2024-12":
        values.update(hwm_prescale_ratio=4, hwm_prescale_rate=0.25)
    w.write_fsp_config(layout=layout, **values)
    config(w)
    events = []
    for k in range(n_events):
        events.append(random_event(rng, layout))
        w.write_fsp_event(layout=layout, **events[-1])
        event(w, k)
    events.append(random_event(rng, layout))
    w.write_fsp_event(layout=layout, **events[-1])
    w.write_event_header([0, 2], np.ones((2, 2), np.uint16))
    w.write_fsp_status(**STATUS_VALUES)
    w.write_status(cards=[make_card_status(reqid=0)])
    return buf.getvalue(), events


# -- hand-packed records --------------------------------------------------------------------
def _i(*v: int) -> bytes:
    return struct.pack(f"<{len(v)}i", *v)


def _f(*v: float) -> bytes:
    return struct.pack(f"<{len(v)}f", *v)


def _q(v: int) -> bytes:
    return struct.pack("<q", v)


def _labels(*names: bytes) -> bytes:
    return b"".join(n.ljust(8, b"\0") for n in names)


PACKED_CONFIG = [
    _i(3), _i(11, 12), _i(13), _f(0.5), _f(1.5), _f(2.5), _f(0.75, 1.25),
    struct.pack("<QQi4x", 1 << 8, 1 << 40, 1), _q(5), _q(6), _q(7), _q(8),
    struct.pack("<Q", 9), struct.pack("<Q", 10), struct.pack("<Q", 11), _i(0, 1, 2),
    _i(64), _q(1), _q(2),
    _i(1), _i(4, 5), _i(4), _labels(b"h0", b"h1"), struct.pack("<2H", 500, 600),  # hwm
    _i(2), _i(6), b"", _labels(b"ct6"), struct.pack("<H", 70),  # ct
    _i(3), _i(0, 1, 2), _i(0, 1, 2), b"abcdefgh" + _labels(b"w1", b"w2"),  # wps
    _i(1), _i(40), _i(5), _i(45), _f(9.5), _f(1, 2, 3), _f(4, 5, 6), _f(0.5, 0.25, 0.125),
    _i(7, 8, 9), _i(10), _i(11), _i(1, 2, 3), _i(4, 5, 6), _i(7, 8, 9), _i(10, 11, 12),
]  # fmt: skip
PACKED_CONFIG_ROW = row(
    packet_id=0, buffer_max_states=64, buffer_window_nsec=1_000_000_002,
    trg_hwm_min_multiplicity=3, trg_hwm_prescale_ratio=[11, 12], trg_wps_prescale_ratio=13,
    trg_wps_coincident_sum_threshold=0.5, trg_wps_sum_threshold=1.5, trg_wps_prescale_rate=2.5,
    trg_hwm_prescale_rate=[0.75, 1.25], trg_enabled_write_flags_event=256,
    trg_enabled_write_flags_trigger=1 << 40, trg_pre_trigger_window_nsec=5_000_000_006,
    trg_post_trigger_window_nsec=7_000_000_008, trg_wps_ref_flags_hwm=9,
    trg_wps_ref_flags_ct=10, trg_wps_ref_flags_wps=11, trg_wps_ref_map_idx=[0, 1, 2],
    dsp_hwm_tracemap_format=1, dsp_hwm_tracemap_indices=[4, 5], dsp_hwm_tracemap_enabled=[4],
    dsp_hwm_tracemap_label=[b"h0", b"h1"], dsp_hwm_fpga_energy_threshold_adc=[500, 600],
    dsp_ct_tracemap_format=2, dsp_ct_tracemap_indices=[6], dsp_ct_tracemap_enabled=[],
    dsp_ct_tracemap_label=[b"ct6"], dsp_ct_thresholds=[70], dsp_wps_tracemap_format=3,
    dsp_wps_tracemap_indices=[0, 1, 2], dsp_wps_tracemap_enabled=[0, 1, 2],
    dsp_wps_tracemap_label=[b"abcdefg", b"w1", b"w2"], dsp_wps_apply_gain_scaling=1,
    dsp_wps_sum_window_size=40, dsp_wps_sum_window_start_sample=5,
    dsp_wps_sum_window_stop_sample=45, dsp_wps_sub_event_sum_threshold=9.5,
    dsp_wps_gains=[1, 2, 3], dsp_wps_thresholds=[4, 5, 6], dsp_wps_lowpass=[0.5, 0.25, 0.125],
    dsp_wps_shaping_widths=[7, 8, 9], dsp_wps_dsp_max_margin_front=10,
    dsp_wps_dsp_max_margin_back=11, dsp_wps_margin_front=[1, 2, 3],
    dsp_wps_margin_back=[4, 5, 6], dsp_wps_start_sample=[7, 8, 9],
    dsp_wps_stop_sample=[10, 11, 12],
)  # fmt: skip
WRITE_FLAGS = bytes([1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0]) + _i(1) + b"\0" * 4
PACKED_EVENT_2025 = [
    WRITE_FLAGS, bytes(32), _i(3), struct.pack("<iHHi", 4, 1000, 10, 2),
    struct.pack("<fiifi", 12.5, 33, 2, 6.5, 40), _i(1, 2), struct.pack("<2H", 700, 800),
    _i(5), _i(9), _f(1.0), struct.pack("<3H", 0, 1, 4),
]  # fmt: skip
PACKED_EVENT_2025_ROW = row(
    is_consecutive=True, is_extended=False, is_hwm_multiplicity=False, is_hwm_prescaled=True,
    is_wps_sum=False, is_wps_coincident_sum=True, is_wps_prescaled=False,
    is_ct_multiplicity=True, is_written=True, obs_evt_nconsecutive=3,
    obs_hwm_hw_multiplicity=4, obs_hwm_max_value=1000, obs_hwm_min_value=10,
    obs_hwm_sw_multiplicity=2, obs_wps_sum_value=12.5, obs_wps_sum_offset=33,
    obs_wps_sum_multiplicity=2, obs_wps_max_peak_value=6.5, obs_wps_max_peak_offset=40,
    obs_ct_multiplicity=2, obs_ct_trace_idx=[1, 2], obs_ct_max=[700, 800],
    obs_ps_hwm_prescaled_trace_idx=[0, 1, 4],
)  # fmt: skip
# Dec 2024: 24-byte processor flags, 8-byte HWM observables, no prescaled trace list
PACKED_EVENT_2024 = [
    bytes([0, 1]) + bytes(6) + bytes([1, 0, 1, 0, 1, 0]) + bytes(2) + _i(0) + bytes(4),
    bytes(24), _i(0), struct.pack("<iHH", 7, 9, 8), struct.pack("<fiifi", 1.5, 2, 3, 4.5, 5),
    b"", b"", b"", b"", b"",
]  # fmt: skip
PACKED_EVENT_2024_ROW = row(
    is_consecutive=False, is_extended=True, is_hwm_multiplicity=True, is_hwm_prescaled=False,
    is_wps_sum=True, is_wps_coincident_sum=False, is_wps_prescaled=True,
    is_ct_multiplicity=False, is_written=False, obs_evt_nconsecutive=0,
    obs_hwm_hw_multiplicity=7, obs_hwm_max_value=9, obs_hwm_min_value=8,
    obs_hwm_sw_multiplicity=0, obs_wps_sum_value=1.5, obs_wps_sum_offset=2,
    obs_wps_sum_multiplicity=3, obs_wps_max_peak_value=4.5, obs_wps_max_peak_offset=5,
    obs_ct_multiplicity=0, obs_ct_trace_idx=[], obs_ct_max=[], obs_ps_hwm_prescaled_trace_idx=[],
)  # fmt: skip
STATUS_ORDER = [n for n in FSP_STATUS_FIELDS if n != "packet_id"]
PACKED_STATUS = struct.pack("<4d6i7d", *(STATUS_VALUES[n] for n in STATUS_ORDER))


def packed_stream() -> bytes:
    w, buf = writer_stream()
    w.write_record(8, PACKED_CONFIG)
    config(w)
    w.write_record(9, PACKED_EVENT_2025)
    event(w)
    w.write_record(9, PACKED_EVENT_2024)
    w.write_event_header([1], np.ones((1, 2), np.uint16))
    w.write_record(10, [PACKED_STATUS])
    w.write_status(cards=[make_card_status(reqid=0)])
    return buf.getvalue()


def test_hand_packed_records_decode_to_the_packed_values():
    tables, _ = decode(packed_stream(), ALL_FSP)
    assert len(PACKED_CONFIG) == 48 and len(tables["FSPConfig"]) == len(FSP_CONFIG_FIELDS) == 47
    assert_row(tables["FSPConfig"], 0, PACKED_CONFIG_ROW)
    ev = tables["FSPEvent"]
    assert len(ev) == len(FSP_EVENT_FIELDS) == 24 and ev["packet_id"] == [1, 2]
    assert_row(ev, 0, PACKED_EVENT_2025_ROW)
    assert_row(ev, 1, PACKED_EVENT_2024_ROW)
    st_ = tables["FSPStatus"]
    assert len(st_) == len(FSP_STATUS_FIELDS) == 18
    assert_row(st_, 0, dict(STATUS_VALUES, packet_id=3))


# -- writer-made streams through build_raw ---------------------------------------------------
def read_table(path, name: str) -> dict[str, list]:
    out = {}
    with h5py.File(path, "r") as f:
        for col, obj in f[name].items():
            if isinstance(obj, h5py.Group):
                cl = obj["cumulative_length"][()]
                fd = obj["flattened_data"][()]
                out[col] = np.split(fd, cl[:-1]) if len(cl) else []
            else:
                out[col] = list(obj[()])
    return out


@pytest.mark.parametrize("layout", ["2025", "2024-12"])
def test_writer_stream_converts_to_the_reference_tables(tmp_path, layout):
    data, events = full_stream(layout)
    src = tmp_path / "run.fcio"
    src.write_bytes(data)
    report = build_raw(str(src), out_spec=str(tmp_path / "o.lh5"))
    out = tmp_path / "o.lh5"
    with h5py.File(out, "r") as f:
        assert {"FSPConfig", "FSPEvent", "FSPStatus"} <= set(f)
        fc_event = np.unique(f["FCEvent/packet_id"][()]).tolist()
        fc_header = f["FCEventHeader/packet_id"][()].tolist()
        fc_status = f["FCStatus/packet_id"][()].tolist()
        fc_config = f["FCConfig/packet_id"][()].tolist()
    assert report.tables[f"{out}:/FSPEvent"] == len(events)
    cfg = read_table(out, "FSPConfig")
    expected = dict(CONFIG_TABLE, packet_id=fc_config[0])
    if layout == "2024-12":  # one prescale ratio / rate, one vector entry per HWM trace
        expected.update(trg_hwm_prescale_ratio=[4, 0], trg_hwm_prescale_rate=[0.25, 0])
    assert_row(cfg, 0, expected)
    ev = read_table(out, "FSPEvent")
    assert ev["packet_id"] == fc_event + fc_header
    for i, values in enumerate(events):
        assert_row(ev, i, expected_event_row(values))
    assert_row(read_table(out, "FSPStatus"), 0, dict(STATUS_VALUES, packet_id=fc_status[0]))


def test_out_spec_splits_event_and_event_header_rows(tmp_path):
    data, events = full_stream(n_events=3)
    src = tmp_path / "run.fcio"
    src.write_bytes(data)
    out = str(tmp_path / "split.lh5")
    spec = {
        "FSPEventDecoder": {
            "fsp_evt": {"key_list": ["swtid_*/event"], "out_stream": out},
            "fsp_hdr": {"key_list": ["swtid_5/evt_hdr"], "out_stream": out + ":/hdr"},
        },
        "FSPStatusDecoder": {"st": {"key_list": ["swtid_5/status"], "out_stream": out}},
        "FSPConfigDecoder": {"cfg": {"key_list": ["swtid_4/config"], "out_stream": out}},
    }
    build_raw(str(src), out_spec=spec)
    assert read_table(out, "fsp_evt")["packet_id"] == [1, 2, 3]
    hdr = read_table(out, "hdr/fsp_hdr")
    assert hdr["packet_id"] == [4]
    assert_row(hdr, 0, expected_event_row(events[-1]))
    assert read_table(out, "st")["packet_id"] == [5]
    with h5py.File(out, "r") as f:
        assert "cfg" not in f  # key swtid_4 does not exist: fcid is 5


def test_keys_follow_the_stream_fcid():
    _, streamer = decode(full_stream()[0], ALL_FSP)
    assert streamer.fsp_config_decoder.get_key_lists() == [["swtid_5/config"]]
    assert streamer.fsp_event_decoder.get_key_lists() == [["swtid_5/event", "swtid_5/evt_hdr"]]
    assert streamer.fsp_status_decoder.get_key_lists() == [["swtid_5/status"]]


def test_plain_fcio_without_fsp_records_has_no_fsp_tables(tmp_path):
    w, buf = writer_stream()
    config(w)
    event(w)
    src = tmp_path / "plain.fcio"
    src.write_bytes(buf.getvalue())
    build_raw(str(src), out_spec=str(tmp_path / "o.lh5"))
    with h5py.File(tmp_path / "o.lh5", "r") as f:
        assert set(f) == {"FCConfig", "FCEvent"}


# -- property and volume ----------------------------------------------------------------------
U16 = st.integers(0, 2**16 - 1)
I32 = st.integers(-(2**31), 2**31 - 1)
F32 = st.floats(width=32, allow_nan=False)


@st.composite
def fsp_events(draw, layout: str) -> dict:
    flags = ("is_written", "is_consecutive", "is_extended", "is_hwm_multiplicity",
             "is_hwm_prescaled", "is_wps_sum", "is_wps_coincident_sum", "is_wps_prescaled",
             "is_ct_multiplicity")  # fmt: skip
    ev = {f: draw(st.booleans()) for f in flags}
    for name in ("obs_evt_nconsecutive", "obs_hwm_hw_multiplicity", "obs_wps_sum_offset",
                 "obs_wps_sum_multiplicity", "obs_wps_max_peak_offset"):  # fmt: skip
        ev[name] = draw(I32)
    ev["obs_hwm_max_value"], ev["obs_hwm_min_value"] = draw(U16), draw(U16)
    ev["obs_wps_sum_value"], ev["obs_wps_max_peak_value"] = draw(F32), draw(F32)
    ct = draw(st.lists(st.tuples(I32, U16), max_size=40))
    ev["obs_ct_trace_idx"] = [c for c, _ in ct]
    ev["obs_ct_max"] = [m for _, m in ct]
    ev["sub_event_start"] = draw(st.lists(I32, max_size=5))
    if layout == "2025":
        ev["obs_hwm_sw_multiplicity"] = draw(I32)
        ev["obs_ps_hwm_prescaled_trace_idx"] = draw(st.lists(U16, max_size=40))
    return ev


@st.composite
def event_runs(draw) -> tuple[str, list[tuple[int, dict]]]:
    layout = draw(st.sampled_from(["2025", "2024-12"]))
    follow = st.sampled_from([3, 6, 7, 4])  # the record after the FSPEvent
    return layout, draw(st.lists(st.tuples(follow, fsp_events(layout)), min_size=1, max_size=30))


@settings(max_examples=60, deadline=None)
@given(event_runs(), st.sampled_from([1, 3, 64]))
def test_random_fsp_events_decode_to_the_values_written(run, buffer_size):
    layout, records = run
    w, buf = writer_stream()
    config(w)
    expected = []
    for pid, (follow, ev) in enumerate(records, start=1):
        w.write_fsp_event(layout=layout, **ev)
        if follow == 3:
            event(w)
        elif follow == 6:
            w.write_sparse_event([1], np.ones((1, 4), np.uint16), np.ones((1, 2), np.uint16))
        elif follow == 7:
            w.write_event_header([0, 1], np.ones((2, 2), np.uint16))
        else:
            w.write_status(cards=[make_card_status(reqid=0)])
        if follow != 4:  # an FSPEvent before a status annotates no event: no row
            expected.append((pid, "evt_hdr" if follow == 7 else "event", ev))
    tables, streamer = decode(buf.getvalue(), ALL_FSP, buffer_size=buffer_size)
    ev_table = tables.get("FSPEvent", {"packet_id": []})
    assert ev_table["packet_id"] == [pid for pid, _, _ in expected]
    for i, (_, _, values) in enumerate(expected):
        assert_row(ev_table, i, expected_event_row(values))
    assert streamer.fsp_event_decoder.n_unannotated == len(records) - len(expected)
    # the same rows split by key
    kinds = [k for _, k, _ in expected]
    lib = {"FSPEventDecoder": {n: {"key_list": [f"swtid_5/{n}"], "out_stream": ""}
                               for n in ("event", "evt_hdr")}}  # fmt: skip
    split, _ = decode(buf.getvalue(), lib, buffer_size=buffer_size)
    for kind in ("event", "evt_hdr"):
        pids = [pid for pid, k, _ in expected if k == kind]
        assert split.get(kind, {"packet_id": []})["packet_id"] == pids, kinds


def test_many_events_across_blocks_and_small_buffers():
    """Thousands of FSPEvents with long trace lists: vector growth, block ends, chunking."""
    rng = np.random.default_rng(7)
    w, buf = writer_stream()
    config(w)
    events = []
    for k in range(3000):
        ev = random_event(rng)
        n = int(rng.integers(0, 120))
        ev["obs_ct_trace_idx"] = rng.integers(0, 2400, n).tolist()
        ev["obs_ct_max"] = rng.integers(0, 65536, n).tolist()
        ev["obs_ps_hwm_prescaled_trace_idx"] = rng.integers(0, 2400, n // 2).tolist()
        events.append(ev)
        w.write_fsp_event(**ev)
        event(w, k)
    tables, _ = decode(buf.getvalue(), ALL_FSP, buffer_size=50, block_bytes=1 << 16)
    ev_table = tables["FSPEvent"]
    assert ev_table["packet_id"] == list(range(1, 3001))
    for i in range(0, 3000, 7):
        assert_row(ev_table, i, expected_event_row(events[i]))
    np.testing.assert_array_equal(
        np.concatenate(ev_table["obs_ct_max"]),
        np.concatenate([np.asarray(e["obs_ct_max"], dtype=np.uint16) for e in events]),
    )


# -- damaged and unusual records --------------------------------------------------------------
def test_short_frames_leave_the_missing_fields_zero():
    short_event = [
        WRITE_FLAGS[:10], b"", _i(3)[:3], struct.pack("<iH", 4, 1000),
        struct.pack("<fi", 12.5, 33) + b"\1", _i(1, 2, 3), struct.pack("<H", 700),
        b"", b"", b"", b"\5",
    ]  # fmt: skip
    config_frames = list(PACKED_CONFIG)
    config_frames[38] = _f(1.0)  # wps gains: 1 of 3
    config_frames[22] = _labels(b"h0")  # hwm labels: 1 of 2
    config_frames[8] = _i(5)  # pre-trigger seconds from a 32-bit writer (4-byte long)
    w, buf = writer_stream()
    w.write_record(8, config_frames)
    config(w)
    w.write_record(9, short_event)
    event(w)
    w.write_record(10, [PACKED_STATUS[:40]])
    w.write_status(cards=[make_card_status(reqid=0)])
    tables, _ = decode(buf.getvalue(), ALL_FSP)
    assert_row(tables["FSPConfig"], 0, row(
        dsp_wps_gains=[1, 0, 0], dsp_hwm_tracemap_label=[b"h0", b""],
        trg_pre_trigger_window_nsec=5_000_000_006, dsp_wps_thresholds=[4, 5, 6],
    ))  # fmt: skip
    assert_row(tables["FSPEvent"], 0, row(
        is_consecutive=True, is_extended=False, is_hwm_prescaled=True, is_wps_coincident_sum=False,
        is_ct_multiplicity=False, is_written=False, obs_evt_nconsecutive=0,
        obs_hwm_hw_multiplicity=4, obs_hwm_max_value=1000, obs_hwm_min_value=0,
        obs_hwm_sw_multiplicity=0, obs_wps_sum_value=12.5, obs_wps_sum_offset=33,
        obs_wps_sum_multiplicity=0, obs_ct_multiplicity=3, obs_ct_trace_idx=[1, 2, 3],
        obs_ct_max=[700, 0, 0], obs_ps_hwm_prescaled_trace_idx=[],
    ))  # fmt: skip
    expected = {n: (STATUS_VALUES[n] if k < 6 else 0) for k, n in enumerate(STATUS_ORDER)}
    assert_row(tables["FSPStatus"], 0, expected)


def _offset_of(data: bytes, nth_tag: int, tag: int) -> int:
    return [s for s, t in record_starts(data) if t == tag][nth_tag]


@pytest.mark.parametrize(
    ("tag", "frames", "message"),
    [
        (9, PACKED_EVENT_2025[:9], "FSPEvent record with 9 frames"),
        (9, [*PACKED_EVENT_2025, b""], "FSPEvent record with 12 frames"),
        (9, [*PACKED_EVENT_2024[:5], _i(*range(2401)), *PACKED_EVENT_2024[6:]], "longer than"),
        (10, [PACKED_STATUS, b""], "FSPStatus record with 2 frames"),
        (8, PACKED_CONFIG[:47], "FSPConfig record with 47 frames"),
        (8, [*PACKED_CONFIG[:20], _i(*range(2401)), *PACKED_CONFIG[21:]], "2401 traces"),
    ],
)
def test_unknown_layouts_go_to_garbage_with_offset(tag, frames, message):
    """A record of an unknown layout is framed correctly: it alone goes to the garbage
    table, with the reason, its offset and packet id; decoding goes on."""
    w, buf = writer_stream()
    config(w)
    event(w)
    w.write_record(tag, frames)
    event(w)
    data = buf.getvalue()
    _, streamer = decode(data, ALL_FSP)
    assert len(streamer.problems) == 1
    assert re.search(message, streamer.problems[0])
    assert streamer.problems[0].endswith(
        f"bytes at offset {_offset_of(data, 0, tag)} (packet 2) is kept in the garbage table"
    )
    assert streamer.garbage.n_garbage == 1


def test_fsp_config_before_the_first_config_is_checked_at_open():
    w, buf = writer_stream()
    w.write_record(8, PACKED_CONFIG[:30])
    config(w)
    data = buf.getvalue()
    with pytest.raises(CorruptDataError, match="30 frames") as err:
        decode(data, ALL_FSP)
    assert (err.value.path, err.value.offset) == (NAME, 68)
    decode(data, {"FCEventDecoder": {"ev": {"key_list": ["*"], "out_stream": ""}}})  # not read


def test_truncated_fsp_streams_give_rows_or_a_located_error():
    data, _ = full_stream(n_events=2)
    starts = [s for s, _ in record_starts(data)]
    fsp_rows = []
    for cut in range(starts[-6], len(data)):
        try:
            tables, _ = decode(data[:cut], ALL_FSP)
        except CorruptDataError as exc:
            assert exc.path == NAME and exc.offset is not None, cut
            assert exc.offset in starts, (cut, exc)
            continue
        fsp_rows.append(len(tables.get("FSPEvent", {"packet_id": []})["packet_id"]))
    assert fsp_rows and min(fsp_rows) >= 1 and max(fsp_rows) == 3


def test_fsp_records_without_fsp_config_and_without_event():
    """FlashCam's reader needs an FSPConfig before FSP events; rawconv decodes them alone.
    An FSPEvent that precedes no event record (here: a status, and the end of the input)
    gives no row."""
    w, buf = writer_stream()
    config(w)
    w.write_fsp_event(obs_hwm_hw_multiplicity=1)
    event(w)
    w.write_fsp_event(obs_hwm_hw_multiplicity=2)
    w.write_status(cards=[make_card_status(reqid=0)])
    w.write_fsp_status(n_read_events=9)
    w.write_status(cards=[make_card_status(reqid=0)])
    w.write_fsp_event(obs_hwm_hw_multiplicity=3)
    tables, streamer = decode(buf.getvalue(), ALL_FSP)
    assert tables["FSPEvent"]["obs_hwm_hw_multiplicity"] == [1]
    assert tables["FSPEvent"]["packet_id"] == [1]
    assert tables["FSPStatus"]["n_read_events"] == [9]
    assert tables["FSPStatus"]["packet_id"] == [3]
    assert streamer.fsp_event_decoder.n_unannotated == 2


def test_every_label_of_every_fsp_config_is_kept():
    """Label columns are MAX_CHANNELS wide, as the reference converter's: a later config
    that maps more traces than the first keeps all its labels."""
    w, buf = writer_stream()
    w.write_fsp_config(wps_map=[0, 1])
    config(w)
    event(w)
    w.write_fsp_config(wps_map=[0, 1, 2], wps_labels=["x", "y", "z"], hwm_map=[0])
    event(w)
    tables, _ = decode(buf.getvalue(), ALL_FSP)
    labels = tables["FSPConfig"]["dsp_wps_tracemap_label"]
    assert [row.tolist() for row in labels] == [padded([b"wps0", b"wps1"]),
                                                padded([b"x", b"y", b"z"])]  # fmt: skip
    assert [len(v) for v in tables["FSPConfig"]["dsp_wps_gains"]] == [2, 3]
    assert tables["FSPConfig"]["packet_id"] == [0, 2]
    assert [row.tolist() for row in tables["FSPConfig"]["dsp_hwm_tracemap_label"]] == [
        padded([]),
        padded([b"hwm0"]),
    ]


def test_fsp_config_attributes_are_the_references(tmp_path):
    """No units on the FSPConfig windows and rate (the reference writes none); labels are
    2400 wide in the file."""
    data, _ = full_stream(n_events=1)
    (tmp_path / "run.fcio").write_bytes(data)
    out = tmp_path / "run.lh5"
    build_raw(str(tmp_path / "run.fcio"), out_spec=str(out))
    with h5py.File(out, "r") as f:
        cfg = f["FSPConfig"]
        for name in ("buffer_window_nsec", "trg_pre_trigger_window_nsec",
                     "trg_post_trigger_window_nsec", "trg_wps_prescale_rate"):  # fmt: skip
            assert "units" not in cfg[name].attrs, name
        assert cfg["trg_pre_trigger_window_nsec"][0] == 1_000_000_002
        for name in LABEL_FIELDS.values():
            assert cfg[name].shape == (1, MAX_CHANNELS), name
            assert cfg[name].dtype == np.dtype("S7"), name
        assert cfg["dsp_wps_tracemap_label"][0, :4].tolist() == [b"a", b"bb", b"seven77", b""]


# -- FlashCam's reader ------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["2025", "2024-12"])
def test_fcio_reads_the_writers_fsp_records(tmp_path, layout):
    data, events = full_stream(layout, n_events=6, seed=3)
    tables, _ = decode(data, ALL_FSP)
    (tmp_path / "run.fcio").write_bytes(data)
    reader = fcio.FCIO(str(tmp_path / "run.fcio"))
    fsp = reader.fsp
    assert fsp is not None
    tc, wps = fsp.config.triggerconfig, fsp.config.wps
    cfg = tables["FSPConfig"]
    assert tc["wps_prescale_ratio"] == cfg["trg_wps_prescale_ratio"][0]
    assert tc["wps_sum_threshold"] == cfg["trg_wps_sum_threshold"][0]
    assert fsp.config.buffer["max_states"] == cfg["buffer_max_states"][0]
    assert wps["tracemap"]["n_mapped"] == len(cfg["dsp_wps_gains"][0])
    np.testing.assert_array_equal(wps["gains"][: wps["tracemap"]["n_mapped"]],
                                  cfg["dsp_wps_gains"][0])  # fmt: skip
    labels = cfg["dsp_wps_tracemap_label"][0].tolist()
    assert [bytes(b) for b in wps["tracemap"]["label"]] == labels == padded(labels[:3])
    ev = tables["FSPEvent"]
    row = 0
    names = [n for n in FSP_EVENT_FIELDS if n not in ("packet_id", "obs_ct_trace_idx",
             "obs_ct_max", "obs_wps_max_peak_value", "obs_wps_max_peak_offset")]  # fmt: skip
    while reader.get_record():
        if reader.tag not in (fcio.Tags.Event, fcio.Tags.EventHeader):
            continue
        e = reader.fsp.event
        for name in names:
            np.testing.assert_array_equal(getattr(e, name), ev[name][row], err_msg=name)
        assert e.obs_wps_max_single_peak_value == ev["obs_wps_max_peak_value"][row]
        assert e.obs_wps_max_single_peak_offset == ev["obs_wps_max_peak_offset"][row]
        # fcio shows at most as many CT entries as the CT trace map has traces (here 1)
        n = len(e.obs_ct_trace_idx)
        np.testing.assert_array_equal(e.obs_ct_trace_idx, ev["obs_ct_trace_idx"][row][:n])
        np.testing.assert_array_equal(e.obs_ct_max, ev["obs_ct_max"][row][:n])
        row += 1
    assert row == len(events)
    s = reader.fsp.status
    for name in STATUS_ORDER:
        assert getattr(s, name) == tables["FSPStatus"][name][0], name


def test_writer_frame_counts_and_checks():
    assert len(fsp_config_frames()) == len(fsp_config_frames(layout="2024-12")) == 48
    assert [len(f) for f in fsp_event_frames()[:5]] == [24, 32, 4, 12, 20]
    assert [len(f) for f in fsp_event_frames(layout="2024-12")[:5]] == [24, 24, 4, 8, 20]
    assert len(fsp_event_frames(layout="2024-12")) == 10
    assert [len(f) for f in fsp_status_frames(dt=1.0)] == [112]
    for bad in (
        lambda: fsp_event_frames(layout="2024-12", obs_hwm_sw_multiplicity=1),
        lambda: fsp_event_frames(layout="2023"),
        lambda: fsp_event_frames(obs_ct_trace_idx=[1], obs_ct_max=[70000]),
        lambda: fsp_config_frames(wps_map=[0], wps_labels=["eightchr"]),
        lambda: fsp_config_frames(layout="2024-12", hwm_prescale_ratio=[1, 2]),
        lambda: fsp_status_frames(n_read_events=2**31),
        lambda: fsp_status_frames(unknown=1.0),
    ):
        with pytest.raises(ValueError):
            bad()
