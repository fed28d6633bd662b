"""The rawconv command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import h5py
import pytest

from rawconv import __version__
from rawconv.cli import main


def test_version_needs_no_input(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"rawconv {__version__}"


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for option in ("--stream-type", "--out-spec", "--buffer-size", "--max-rows", "--overwrite",
                   "--kwargs", "--verbose", "--debug", "--compression", "examples:"):  # fmt: skip
        assert option in text


@pytest.mark.parametrize("command", ["rawconv.cli", "rawconv.parallel.cli"])
@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_start_without_the_heavy_libraries(command, flag):
    """--help and --version import neither numba, h5py nor Dask (seconds of start-up)."""
    code = (
        f"import sys, runpy; sys.argv = ['x', {flag!r}]\n"
        f"try:\n    runpy.run_module({command!r}, run_name='__main__')\n"
        "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        "heavy = ['numba', 'h5py', 'dask', 'distributed', 'lgdo', 'lh5', 'awkward']\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert proc.stdout.splitlines()[-1] == "[]", proc.stdout
    assert ("usage:" in proc.stdout) == (flag == "--help")


def test_no_input_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "no input given" in capsys.readouterr().err


def test_convert_with_summary(spms, tmp_path, capsys):
    src = tmp_path / "spms.fcio"
    shutil.copy(spms, src)
    assert main([str(src)]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path / 'spms.lh5'}:/FCEvent" in out
    assert "300 rows" in out
    assert "MB/s" in out
    # exists: an error naming the file, exit status 1; -w replaces it
    assert main([str(src)]) == 1
    assert "exists" in capsys.readouterr().err
    assert main([str(src), "-w", "-q"]) == 0
    assert capsys.readouterr().out == ""


def test_options_reach_build_raw(spms, tmp_path):
    spec = {
        "FCEventDecoder": {
            "g{key}": {
                "key_list": [[52800, 52801]],
                "out_stream": str(tmp_path / "{orig_basename}_{tag}.lh5"),
            }
        }
    }
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    status = main([
        str(spms), "-o", str(spec_file), "-n", "10", "-b", "100", "-t", "FlashCam",
        "-k", json.dumps({"tag": "x", "hdf5_settings": {"compression": "lzf"}}), "-q",
    ])  # fmt: skip
    assert status == 0
    with h5py.File(tmp_path / "L200-comm-20211130-phy-spms_x.lh5", "r") as f:
        assert sorted(f) == ["g52800", "g52801"]
        assert f["g52800/channel"][()].tolist() == [0] * 5
        assert f["g52801/baseline"].compression == "lzf"


def test_compression_option(spms, tmp_path):
    assert main([str(spms), "-o", str(tmp_path / "c.lh5"), "-c", "none", "-q"]) == 0
    with h5py.File(tmp_path / "c.lh5", "r") as f:
        assert f["FCEvent/waveform/values"].compression is None


def test_errors_name_the_input(tmp_path, capsys):
    junk = tmp_path / "junk.dat"
    junk.write_bytes(b"\x00\x01" * 100)
    assert main([str(junk), str(tmp_path / "missing.fcio")]) == 1
    err = capsys.readouterr().err
    junk_line, missing_line = err.splitlines()
    assert junk_line.startswith(f"rawconv: error: {junk}, offset 0: unknown format")
    assert junk_line.count(str(junk)) == 1  # the input named once
    assert missing_line == f"rawconv: error: no such input file: {tmp_path / 'missing.fcio'}"
    assert main([str(junk), "-k", "[1]"]) == 2
    assert "--kwargs must be a JSON object" in capsys.readouterr().err


def test_one_output_file_for_several_inputs_is_refused(spms, tmp_path, capsys):
    assert main([str(spms), str(spms), "-o", str(tmp_path / "one.lh5")]) == 2
    assert "would mix them" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["rawconv", "rawconv-parallel"])
def test_commands_called_in_process_put_logging_back(command, tmp_path, capsys):
    """``main([...])`` from a notebook sets up logging for its run only: afterwards rawconv's
    and Dask's loggers have the handlers, levels and propagation they had before."""
    import logging

    from rawconv.parallel.cli import main as parallel_main

    run = main if command == "rawconv" else parallel_main
    names = ("rawconv", "distributed", "dask")
    marker = logging.NullHandler()
    logging.getLogger("rawconv").addHandler(marker)
    try:
        before = {n: (list(logging.getLogger(n).handlers), logging.getLogger(n).level,
                      logging.getLogger(n).propagate) for n in names}  # fmt: skip
        assert run([str(tmp_path / "missing.fcio")]) in (1, 2)
        assert "missing.fcio" in "".join(capsys.readouterr())
        after = {n: (list(logging.getLogger(n).handlers), logging.getLogger(n).level,
                     logging.getLogger(n).propagate) for n in names}  # fmt: skip
        assert after == before
        assert before["rawconv"][0][-1] is marker and before["rawconv"][2] is True
    finally:
        logging.getLogger("rawconv").removeHandler(marker)


def test_verbose_logs_progress(spms, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "rawconv.cli", str(spms), "-o", str(tmp_path / "v.lh5"), "-v"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "rawconv INFO: converting" in proc.stderr
    assert "rawconv INFO: outputs:" in proc.stderr
    assert "FCEvent" in proc.stderr


def test_demo_writes_converts_and_shows(tmp_path, capsys):
    """The README's first command: the demo run, converted and summarised."""
    from rawconv.demo import main

    assert main(["--out-dir", str(tmp_path), "--events", "40"]) == 0
    shown = capsys.readouterr().out
    assert "FCEvent          120 rows" in shown  # 40 events x 3 traces
    assert "first rows of FCEvent:" in shown
    assert "waveforms: 120 x 6000 samples (uint16), dt = 16.0 ns" in shown
    with h5py.File(tmp_path / "demo_run.lh5", "r") as f:
        assert f["FCEvent/waveform/values"].shape == (120, 6000)
        assert sorted(f) == ["FCConfig", "FCEvent"]  # a status record every 1000 events
