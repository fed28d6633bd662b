"""The rawconv command on CoMPASS files, the build_raw keyword and format detection."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from rawconv import build_raw
from rawconv.cli import main
from rawconv.formats import detect_format, get_streamer, implied_format
from rawconv.formats.compass import sniff
from rawconv.formats.compass.config import read_config
from rawconv.formats.compass.streamer import CompassStreamer
from rawconv.formats.compass.writer import (
    SettingsBoard,
    random_events,
    write_compass,
    write_settings,
)
from rawconv.sources import MemorySource
from tests.conftest import data_file

BIN = "compass/compass_test_data.BIN"
XML = "compass/compass_test_data_settings.xml"


@pytest.fixture
def run(tmp_path):
    src = tmp_path / "run.BIN"
    shutil.copy(data_file(BIN), src)
    return src


def test_rawconv_converts_the_file(run, capsys):
    assert main([str(run)]) == 0
    out = capsys.readouterr().out
    assert f"{run.with_suffix('.lh5')}:/CompassEvent" in out and "102 rows" in out
    with h5py.File(run.with_suffix(".lh5"), "r") as f:
        assert f["CompassEvent/waveform/dt"][0] == 16.0  # no settings: the default


def test_rawconv_with_settings(run, capsys):
    assert main(["--compass-config", str(data_file(XML)), str(run)]) == 0
    assert "102 rows" in capsys.readouterr().out
    with h5py.File(run.with_suffix(".lh5"), "r") as f:
        assert f["CompassEvent/waveform/dt"][0] == 2.0  # DT5730
        assert f["CompassHeader/boards/0/modelName"][()] == b"DT5730"


def test_settings_through_kwargs_and_help(run, capsys):
    kw = json.dumps({"compass_config_file": str(data_file(XML))})
    assert main(["-k", kw, "-q", str(run)]) == 0
    with h5py.File(run.with_suffix(".lh5"), "r") as f:
        assert f["CompassEvent/waveform/dt"][0] == 2.0
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--compass-config" in capsys.readouterr().out


def test_detection_and_options(tmp_path):
    assert sniff(b"\xed\xca") and sniff(b"\xe0\xca\x00") and not sniff(b"\xed\xcb")
    assert not sniff(b"\xed")
    assert detect_format(MemorySource(data_file(BIN).read_bytes()[:600], "x")) == "Compass"
    assert implied_format({"compass_config_file": "s.xml"}) == "Compass"
    assert implied_format({"compass_config_file": None, "run": "r1"}) is None
    s = get_streamer("compass", compass_config_file="s.xml", run="r1")
    assert isinstance(s, CompassStreamer) and s.compass_config_file == "s.xml"


def test_settings_select_the_format_of_a_headerless_file(tmp_path):
    """As in the reference converter, compass_config_file implies the Compass format: a
    file without its header (a later part of a split run) needs nothing else."""
    events = random_events(20, 16, keys=[(0, 2), (0, 5)], seed=2)
    write_compass(tmp_path / "part.BIN", events, 0xD, header=False)
    on = {2: {"SRV_PARAM_CH_ENABLED": "true"}}
    write_settings(tmp_path / "s.xml", [SettingsBoard("V1725", sample_time_ps=None, channels=on)])
    build_raw(str(tmp_path / "part.BIN"), out_spec=str(tmp_path / "o.lh5"),
              compass_config_file=str(tmp_path / "s.xml"))  # fmt: skip
    with h5py.File(tmp_path / "o.lh5", "r") as f:
        np.testing.assert_array_equal(f["CompassEvent/waveform/values"][:], events.waveforms)
        assert f["CompassEvent/waveform/dt"][0] == 4.0  # x725: 250 MS/s
        assert f["CompassHeader/header_present"][()] == 0
        assert sorted(f["CompassHeader/boards/0/channels"]) == ["2"]


def test_settings_parser(tmp_path):
    cfg = read_config(data_file(XML))
    (board,) = cfg.boards
    assert (board.model, board.adc_bits, board.sample_rate, board.wf_len, board.dt) == (
        "DT5730", "14", 0.5, 1000.0, 2.0)  # fmt: skip
    assert sorted(board.channels) == [0, 1]
    assert board.channels[1] == {"SRV_PARAM_CH_ENABLED": "true",
                                 "SRV_PARAM_CH_INDYN": "INDYN_0_5_VPP"}  # fmt: skip
    assert cfg.keys() == [0, 1]
    write_settings(tmp_path / "two.xml", [
        SettingsBoard("DT5751", sample_time_ps=None, reclen_ns=100.0,
                      channels={1: {"SRV_PARAM_CH_ENABLED": "true"},
                                3: {"SRV_PARAM_CH_ENABLED": "false", "X": "1"}}),
        SettingsBoard("X9999", sample_time_ps=None, reclen_ns=100.0,
                      channels={0: {"SRV_PARAM_CH_ENABLED": "true", "SRV_PARAM_RECLEN": ""}}),
    ])  # fmt: skip
    a, b = read_config(tmp_path / "two.xml").boards
    assert (a.sample_rate, a.dt, sorted(a.channels)) == (1.0, 1.0, [1])
    assert np.isnan(b.sample_rate) and b.dt == 16.0  # unknown model: the default
    assert b.channels[0]["SRV_PARAM_RECLEN"] == ""
    assert read_config(tmp_path / "two.xml").keys() == [1, 512]
