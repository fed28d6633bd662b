"""The GERDA test file: counts, and every value against an independent walk of the bytes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from rawconv import build_raw
from rawconv.formats import detect_format
from rawconv.sources import open_source
from tests.formats.mgdo.files import baskets, mgdo_file
from tests.formats.mgdo.oracle import walk_entry

EVENT_COLUMNS = {
    "packet_id": "uint32", "channel": "uint32", "event_type": "int32",
    "event_energy": "float64", "event_time": "float64", "event_number": "int32",
    "numtraces": "uint32", "use_aux_waveforms": "uint8", "energy": "float64",
    "timestamp": "float64", "timestamp_sec": "uint64", "timestamp_nsec": "uint32",
    "digitizer_index": "uint64", "clock_frequency": "float64", "eventnumber": "int32",
    "pretrigger": "uint64", "trigger_number": "uint64", "is_mu_vetoed": "uint8",
    "mu_veto_sample": "uint32", "is_inverted": "uint8", "waveform_tag": "int32",
    "waveform_type": "int32",
}  # fmt: skip
UNITS = {"event_time": "s", "timestamp": "s", "timestamp_sec": "s", "timestamp_nsec": "ns",
         "clock_frequency": "GHz"}  # fmt: skip


@pytest.fixture(scope="module")
def walked() -> list[dict]:
    """Every entry of the file, walked by the test's own reader (packet id = entry)."""
    entries = [e for b in baskets(mgdo_file()) for e in b]
    return [walk_entry(e) for e in entries]


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mgdo") / "out.lh5"
    report = build_raw(str(mgdo_file()), out_spec=str(out))
    assert report.problems == []
    return out


def test_detected_as_mgdo():
    assert detect_format(open_source(str(mgdo_file()))) == "MGDO"


def test_counts(walked, converted):
    assert len(walked) == 11
    assert [len(e["main"]) for e in walked] == [1, 1, 1, 5, 4, 1, 1, 1, 1, 1, 1]
    assert sum(len(e["aux"]) for e in walked) == 18
    with h5py.File(converted) as f:
        assert sorted(f) == ["MGDOAuxWaveform", "MGDOEvent"]
        assert f["MGDOEvent/waveform/values"].shape == (18, 4096)
        assert f["MGDOAuxWaveform/waveform/values"].shape == (18, 1000)
        assert f["MGDOEvent/packet_id"][()].tolist() == [0, 1, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4,
                                                         5, 6, 7, 8, 9, 10]  # fmt: skip


def test_channel_ids_agree(walked, converted):
    for e in walked:  # the walk keeps the digitizer's fID as "channel"; check the waveform's
        assert [m["channel"] for m in e["main"]] == [a["channel"] for a in e["aux"]]
    with h5py.File(converted) as f:
        main, aux = f["MGDOEvent/channel"][()], f["MGDOAuxWaveform/channel"][()]
    assert main.tolist() == [2, 6, 10, 11, 12, 13, 14, 15, 11, 12, 14, 15, 21, 0, 2, 18, 9, 2]
    np.testing.assert_array_equal(main, aux)


def _expected(walked: list[dict]) -> dict[str, np.ndarray]:
    rows = [(k, e, m) for k, e in enumerate(walked) for m in e["main"]]
    exp: dict[str, list] = {name: [] for name in EVENT_COLUMNS}
    for k, e, m in rows:
        exp["packet_id"].append(k)
        for name in ("event_type", "event_energy", "event_time", "event_number"):
            exp[name].append(e[name])
        exp["numtraces"].append(len(e["main"]))
        exp["use_aux_waveforms"].append(e["use_aux"])
        exp["timestamp"].append(m["timestamp_sec"] + m["timestamp_nsec"] * 1e-9)
        for name in EVENT_COLUMNS:
            if name in m:
                exp[name].append(m[name])
    return {name: np.array(v, dtype=EVENT_COLUMNS[name]) for name, v in exp.items()}


def test_every_event_value(walked, converted):
    exp = _expected(walked)
    rows = [(e, m) for e in walked for m in e["main"]]
    with h5py.File(converted) as f:
        t = f["MGDOEvent"]
        assert sorted(t) == sorted([*EVENT_COLUMNS, "active_channels", "waveform"])
        for name, dtype in EVENT_COLUMNS.items():
            assert t[name].dtype == np.dtype(dtype), name
            assert t[name].attrs.get("units") == UNITS.get(name), name
            np.testing.assert_array_equal(t[name][()], exp[name], err_msg=name)
        flat = t["active_channels/flattened_data"][()]
        ends = t["active_channels/cumulative_length"][()]
        starts = np.concatenate([[0], ends[:-1]])
        for r, (e, _) in enumerate(rows):
            assert flat[starts[r] : ends[r]].tolist() == [i for i, a in enumerate(e["active"]) if a]
        wf = t["waveform"]
        np.testing.assert_array_equal(wf["values"][()], [m["samples"] for _, m in rows])
        np.testing.assert_array_equal(wf["t0"][()], np.float32([m["t0"] for _, m in rows]))
        np.testing.assert_array_equal(
            wf["dt"][()], np.float32([1 / m["sampling_frequency"] for _, m in rows])
        )
        assert wf["dt"][0] == 40 and wf["dt"].attrs["units"] == "ns"
        assert wf["t0"].attrs["units"] == "ns" and wf["values"].dtype == np.uint16


def test_every_aux_value(walked, converted):
    rows = [(k, a) for k, e in enumerate(walked) for a in e["aux"]]
    with h5py.File(converted) as f:
        t = f["MGDOAuxWaveform"]
        assert sorted(t) == ["channel", "packet_id", "waveform", "waveform_type"]
        assert t["packet_id"][()].tolist() == [k for k, _ in rows]
        assert t["channel"][()].tolist() == [a["channel"] for _, a in rows]
        assert t["waveform_type"][()].tolist() == [a["waveform_type"] for _, a in rows]
        wf = t["waveform"]
        np.testing.assert_array_equal(wf["values"][()], [a["samples"] for _, a in rows])
        np.testing.assert_array_equal(wf["t0"][()], np.float32([a["t0"] for _, a in rows]))
        assert wf["dt"][()].tolist() == [10.0] * 18 and wf["t0"][0] == 76420


def test_n_max_counts_rows_in_entry_order(tmp_path):
    """Entry 0 gives one main and one aux row, entry 1 one main row: n_max = 3 ends there."""
    out = tmp_path / "n.lh5"
    build_raw(str(mgdo_file()), out_spec=str(out), n_max=3)
    with h5py.File(out) as f:
        assert f["MGDOEvent/packet_id"][()].tolist() == [0, 1]
        assert f["MGDOAuxWaveform/packet_id"][()].tolist() == [0]


def test_tables_per_channel(walked, tmp_path):
    out = str(tmp_path / "c.lh5")
    spec = {
        "MGDOEventDecoder": {"ch{key:03d}/raw": {"key_list": ["*"], "out_stream": out}},
        "MGDOAuxWaveformDecoder": {"ch{key:03d}/aux": {"key_list": [2, 21], "out_stream": out}},
    }
    build_raw(str(mgdo_file()), out_spec=spec, buffer_size=2)
    main = [m["channel"] for e in walked for m in e["main"]]
    with h5py.File(tmp_path / "c.lh5") as f:
        assert sorted(f) == [f"ch{c:03d}" for c in sorted(set(main))]
        for c in set(main):
            assert len(f[f"ch{c:03d}/raw/channel"]) == main.count(c)
            assert set(f[f"ch{c:03d}/raw/channel"][()].tolist()) == {c}
        assert f["ch002/aux/packet_id"][()].tolist() == [0, 7, 10]
        assert f["ch021/aux/packet_id"][()].tolist() == [5]
        assert "aux" not in f["ch000"]


def test_rawconv_command_converts_it_with_no_extra_argument(tmp_path):
    copy = tmp_path / "run.root"
    shutil.copy(mgdo_file(), copy)
    script = Path(sys.executable).with_name("rawconv")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "rawconv.cli"]
    done = subprocess.run([*cmd, str(copy)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    with h5py.File(tmp_path / "run.lh5") as f:
        assert len(f["MGDOEvent/channel"]) == 18
        assert len(f["MGDOAuxWaveform/channel"]) == 18


def test_entries_parsed_in_groups_give_the_same_file(converted, tmp_path, monkeypatch):
    """Big baskets are parsed a few entries at a time: one entry per group here."""
    from rawconv.formats.mgdo import streamer
    from tests.parallel.conftest import assert_same_lh5

    monkeypatch.setattr(streamer, "GROUP_BYTES", 1)
    out = tmp_path / "groups.lh5"
    build_raw(str(mgdo_file()), out_spec=str(out), buffer_size=24)
    assert assert_same_lh5(converted, out) > 25


def test_uproot_is_imported_only_for_mgdo_files():
    code = (
        "import sys, rawconv; from rawconv.formats import formats; formats(); "
        "import rawconv.formats.mgdo.streamer; print('uproot' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_missing_uproot_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    from rawconv.cli import main

    monkeypatch.setitem(sys.modules, "uproot", None)  # import uproot raises ImportError
    copy = tmp_path / "run.root"
    shutil.copy(mgdo_file(), copy)
    assert main([str(copy)]) == 1
    err = capsys.readouterr().err
    hint = "reading MGDO (ROOT) files needs uproot: pip install rawconv[mgdo]"
    assert err == f"rawconv: error: {copy}: {hint}\n"
