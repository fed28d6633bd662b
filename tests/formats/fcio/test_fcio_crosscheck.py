"""Every FCEvent row equals what FlashCam's own reader (`fcio`) reads, event by event.

runtime / lifetime / deadtime are stateful quantities whose definition changed in fcio-py
after the reference converter was written (trigger-enable time); they are checked against
the reference output in test_reference.py, and against hand-computed values in
test_dead_time.py, not against `fcio` here.
"""

from __future__ import annotations

from pathlib import Path

import fcio
import h5py
import numpy as np
import pytest

from rawconv import build_raw
from tests.conftest import data_file


def fcio_rows(path: Path) -> dict[str, np.ndarray]:
    """FCEvent columns as `fcio` reads them, one row per listed trace."""
    reader = fcio.FCIO(str(path))
    cfg = reader.config
    rows: dict[str, list] = {k: [] for k in (
        "packet_id", "channel", "fcid", "board_id", "fc_input", "event_type", "numtraces",
        "eventnumber", "ts_pps", "ts_ticks", "ts_maxticks", "mu_offset_sec", "mu_offset_usec",
        "to_master_sec", "delta_mu_usec", "abs_delta_mu_usec", "to_start_sec", "to_start_usec",
        "dr_start_pps", "dr_start_ticks", "dr_stop_pps", "dr_stop_ticks", "dr_maxticks",
        "dr_ch_idx", "dr_ch_len", "timestamp", "baseline", "daqenergy", "waveform",
    )}  # fmt: skip
    packet_id = 0
    while reader.get_record():
        tag = reader.tag
        if tag in (fcio.Tags.Config,):
            continue
        packet_id += 1
        if tag not in (fcio.Tags.Event, fcio.Tags.SparseEvent):
            continue
        ev = reader.event
        to, ts, dr = ev.timeoffset, ev.timestamp, ev.deadregion
        n = len(ev.trace_list)
        for j, t in enumerate(ev.trace_list):
            rows["packet_id"].append(packet_id)
            rows["channel"].append(t)
            rows["fcid"].append(cfg.streamid & 0xFFFF)
            rows["board_id"].append(ev.card_address[j])
            rows["fc_input"].append(ev.card_channel[j])
            rows["event_type"].append(ev.type)
            rows["numtraces"].append(n)
            for k, name in enumerate(("eventnumber", "ts_pps", "ts_ticks", "ts_maxticks")):
                rows[name].append(ts[k])
            for k, name in enumerate((
                "mu_offset_sec", "mu_offset_usec", "to_master_sec", "delta_mu_usec",
                "abs_delta_mu_usec", "to_start_sec", "to_start_usec",
            )):  # fmt: skip
                rows[name].append(to[k])
            for k, name in enumerate((
                "dr_start_pps", "dr_start_ticks", "dr_stop_pps", "dr_stop_ticks", "dr_maxticks",
                "dr_ch_idx", "dr_ch_len",
            )):  # fmt: skip
                rows[name].append(dr[k])
            rows["timestamp"].append(ev.unix_time_utc_sec)
            rows["baseline"].append(ev.fpga_baseline[j])
            rows["daqenergy"].append(ev.fpga_energy[j])
            rows["waveform"].append(ev.trace[j])
    return {k: np.asarray(v) for k, v in rows.items()}


def check_against_fcio(src: Path, out: Path) -> int:
    expected = fcio_rows(src)
    with h5py.File(out, "r") as f:
        ev = f["FCEvent"]
        n = len(ev["packet_id"])
        assert n == len(expected["packet_id"])
        for name, values in expected.items():
            got = ev["waveform/values"][()] if name == "waveform" else ev[name][()]
            if name == "timestamp":
                np.testing.assert_array_equal(got, values, err_msg=name)
            elif name in ("baseline", "daqenergy"):
                np.testing.assert_array_equal(got, values.astype(np.int64).astype(np.uint16))
            else:
                np.testing.assert_array_equal(got, values, err_msg=name)
    return n


@pytest.mark.parametrize("name", ["th228.fcio", "L200-comm-20211130-phy-spms.fcio"])
def test_real_files_equal_fcio(name, tmp_path):
    src = data_file(f"fcio/{name}")
    out = tmp_path / "out.lh5"
    build_raw(str(src), out_spec=str(out))
    rows = check_against_fcio(src, out)
    assert rows == {"th228.fcio": 1000, "L200-comm-20211130-phy-spms.fcio": 300}[name]


@pytest.mark.parametrize(
    "shape",
    [
        {"adcs": 6, "eventsamples": 300, "mode": "full"},
        {"adcs": 12, "eventsamples": 128, "mode": "sparse", "traces_per_event": 4},
        {"adcs": 30, "eventsamples": 64, "mode": "full", "adcbits": 12, "gps": 50000},
        {"adcs": 5, "eventsamples": 1, "mode": "sparse", "traces_per_event": 5, "tracemap": False},
    ],
)
def test_writer_files_equal_fcio(shape, tmp_path):
    from rawconv.formats.fcio.synthetic import write_synthetic_run

    src = tmp_path / "w.fcio"
    write_synthetic_run(src, n_events=150, status_every=40, seed=3, **shape)
    out = tmp_path / "out.lh5"
    build_raw(str(src), out_spec=str(out))
    rows = check_against_fcio(src, out)
    traces = shape.get("traces_per_event") or shape["adcs"]
    assert rows == 150 * traces
