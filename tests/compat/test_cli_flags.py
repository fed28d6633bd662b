"""legend-daq2lh5's command-line flags, as its users spell them, on ``rawconv`` (and on the
``legend-daq2lh5`` stand-in, rawconv.compat.daq2lh5.cli)."""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import sys

import h5py
import pytest

from rawconv import __version__
from rawconv.cli import main
from rawconv.compat.daq2lh5.cli import daq2lh5_cli
from tests.conftest import data_file


@pytest.fixture
def geds(tmp_path):
    """The ORCA test file under a name that says nothing of its format."""
    path = tmp_path / "geds.dat"
    shutil.copy(data_file("orca/fc/L200-comm-20220519-phy-geds.orca"), path)
    return path


DATA_TABLES = ("ORRunDecoderForRun", "ORFlashCamListenerConfig", "ORFlashCamADCWaveform")


def n_rows(path, table) -> int:
    with h5py.File(path, "r") as f:
        return len(f[table]["packet_id"])


def data_rows(path) -> int:
    """Rows of the ORCA file's data tables (those ``--max-rows`` counts) together."""
    with h5py.File(path, "r") as f:
        return sum(len(next(iter(f[t].values()))) for t in DATA_TABLES if t in f)


def test_version_alone(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"rawconv {__version__}"


@pytest.mark.parametrize("flag", ["--stream-type", "-t"])
def test_stream_type(flag, geds, tmp_path, capsys):
    out = tmp_path / "o.lh5"
    assert main([str(geds), flag, "ORCA", "--out-spec", str(out), "-q"]) == 0
    assert n_rows(out, "ORFlashCamADCWaveform") == 67
    assert main([str(geds), flag, "FlashCam", "--out-spec", str(tmp_path / "f.lh5")]) == 1
    assert "geds.dat" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--out-spec", "-o"])
def test_out_spec_file(flag, geds, tmp_path):
    spec = tmp_path / "spec.json"
    out_stream = str(tmp_path / "{orig_basename}.lh5")
    spec.write_text(json.dumps({"ORFlashCamADCWaveformDecoder": {"g{key}": {
        "key_list": [[1028800, 1028803]], "out_stream": out_stream}}}))  # fmt: skip
    assert main([str(geds), flag, str(spec), "-q"]) == 0
    with h5py.File(tmp_path / "geds.lh5", "r") as f:
        assert sorted(f) == ["g1028800", "g1028801", "g1028802", "g1028803"]


@pytest.mark.parametrize(("flags", "rows"), [
    (["--max-rows", "10"], 10), (["-n", "7"], 7), ([], 70),
])  # fmt: skip
def test_max_rows(flags, rows, geds, tmp_path):
    out = tmp_path / "o.lh5"
    assert main([str(geds), "-o", str(out), "-q", *flags]) == 0
    assert data_rows(out) == rows


@pytest.mark.parametrize("flag", ["--buffer_size", "--buffer-size", "-b"])
def test_buffer_size(flag, tmp_path, capsys):
    spms = data_file("fcio/L200-comm-20211130-phy-spms.fcio")
    out = tmp_path / "o.lh5"
    assert main([str(spms), "-o", str(out), flag, "5"]) == 1  # an event has 6 traces
    assert "buffer_size 5 is smaller than the 6 rows" in capsys.readouterr().err
    assert main([str(spms), "-o", str(out), flag, "6", "-q"]) == 0
    assert n_rows(out, "FCEvent") == 300


@pytest.mark.parametrize("flag", ["--overwrite", "-w"])
def test_overwrite(flag, geds, tmp_path, capsys):
    out = tmp_path / "o.lh5"
    assert main([str(geds), "-o", str(out), "-n", "5", "-q"]) == 0
    assert main([str(geds), "-o", str(out), "-q"]) == 1
    assert "exists" in capsys.readouterr().err
    assert data_rows(out) == 5
    assert main([str(geds), "-o", str(out), "-q", flag]) == 0
    assert n_rows(out, "ORFlashCamADCWaveform") == 67


@pytest.mark.parametrize("flag", ["--kwargs", "-k"])
def test_kwargs(flag, geds, tmp_path):
    spec = tmp_path / "spec.json"
    out_stream = str(tmp_path / "{orig_basename}_{tag}.lh5")
    spec.write_text(json.dumps({"ORFlashCamADCWaveformDecoder": {"geds": {
        "key_list": ["*"], "out_stream": out_stream}}}))  # fmt: skip
    kwargs = json.dumps({"hdf5_settings": {"compression": "lzf"}, "tag": "t1"})
    assert main([str(geds), "-o", str(spec), flag, kwargs, "-q"]) == 0
    with h5py.File(tmp_path / "geds_t1.lh5", "r") as f:
        assert f["geds/baseline"].compression == "lzf"


@pytest.mark.parametrize(("flag", "level"), [
    ("--verbose", "INFO"), ("-v", "INFO"), ("--debug", "DEBUG"), ("-d", "DEBUG"),
])  # fmt: skip
def test_verbosity(flag, level, geds, tmp_path, capsys, monkeypatch):
    module = importlib.import_module("rawconv.build_raw")  # the module, not the function
    convert, levels = module.build_raw, []

    def spy(*args, **kwargs):
        levels.append(logging.getLogger("rawconv").getEffectiveLevel())
        return convert(*args, **kwargs)

    monkeypatch.setattr(module, "build_raw", spy)
    before = logging.getLogger("rawconv").level
    assert main([str(geds), "-o", str(tmp_path / "o.lh5"), flag]) == 0
    assert "rawconv INFO: converting" in capsys.readouterr().err
    assert levels == [getattr(logging, level)]
    assert logging.getLogger("rawconv").level == before  # for the run only


def test_quiet_by_default(geds, tmp_path, capsys):
    assert main([str(geds), "-o", str(tmp_path / "o.lh5")]) == 0
    captured = capsys.readouterr()
    assert "rawconv INFO" not in captured.err
    assert "ORFlashCamADCWaveform" in captured.out  # the summary


def test_legend_daq2lh5_command(geds, tmp_path, monkeypatch):
    out = tmp_path / "o.lh5"
    argv = ["legend-daq2lh5", "--overwrite", "--stream-type", "ORCA", "--out-spec", str(out),
            "--max-rows", "10", "--buffer_size", "8192", str(geds), "--kwargs", "{}"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exc:
        daq2lh5_cli()
    assert exc.value.code == 0
    assert data_rows(out) == 10
