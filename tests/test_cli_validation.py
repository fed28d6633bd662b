"""Bad arguments and outputs are refused up front, in one line naming the flag or path, with
nothing written and nothing touched."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import stat

import pytest
from rawconv.parallel.cli import main as parallel

from rawconv.cli import main as rawconv


@pytest.fixture
def run(spms, tmp_path, monkeypatch):
    """A copy of the spms file in an empty folder that is the working directory."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(spms, tmp_path / "run.fcio")
    return tmp_path / "run.fcio"


def _call(command, argv, capsys):
    try:
        status = command(argv)
    except SystemExit as exc:  # argparse
        status = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err.strip()


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["-n", "-5"], 2, "-n/--max-rows: must not be negative"),
        (["-b", "0"], 2, "-b/--buffer-size/--buffer_size: must be at least 1"),
        (["-c", "nonsense"], 2, "-c/--compression: unknown compression 'nonsense'"),
        (["-k", "[1]"], 2, "--kwargs must be a JSON object"),
        (["-k", '{"nonsense": 1}'], 1, "-k/--kwargs: unknown keyword argument 'nonsense'"),
        (["-k", '{"hdf5_setting": "lzf"}'], 1, "did you mean hdf5_settings"),
        (["-o", "$RAWCONV_NOT_SET/x.lh5"], 1, "environment variable $RAWCONV_NOT_SET"),
        (["-o", "{orig_basename.__class__}.lh5"], 1, "only plain names are allowed"),
    ],
)
def test_bad_arguments_are_refused(run, capsys, args, status, message):
    before = _files(run.parent)
    got, err = _call(rawconv, [str(run), *args], capsys)
    assert got == status
    lines = err.splitlines()
    assert message in lines[-1]  # argparse prints its usage lines first
    assert sum("error" in line for line in lines) == 1
    assert _files(run.parent) == before


def test_an_output_that_is_the_input_is_refused(run, capsys, tmp_path):
    """`-o run.fcio -w` used to replace the raw data with its own conversion (a rename over
    a read-only file succeeds too); a link to the input, a compressed input and
    rawconv-parallel (one task, or cut in chunks) are refused the same way."""
    data = run.read_bytes()
    (tmp_path / "link.lh5").symlink_to(run)
    gz = tmp_path / "run.fcio.gz"
    gz.write_bytes(gzip.compress(data, compresslevel=1))
    packed = gz.read_bytes()
    before = _files(tmp_path)
    cases = [
        (rawconv, [str(run), "-o", str(run), "-w"]),
        (rawconv, [str(run), "-o", "link.lh5", "-w"]),
        (rawconv, [str(gz), "-o", str(gz), "-w"]),
        (parallel, [str(run), "-o", str(run), "-w", "-q"]),
        (parallel, [str(run), "-o", str(run), "-w", "-q", "--chunk-size", "1M"]),
    ]
    for command, argv in cases:
        status, err = _call(command, argv, capsys)
        assert status == 1, argv
        assert f"is the input file {argv[0]}; rawconv never writes over its input" in err
        assert run.read_bytes() == data and gz.read_bytes() == packed
        assert _files(tmp_path) == before and (tmp_path / "link.lh5").is_symlink()


def test_rawconv_parallel_refuses_inputs_that_share_an_output(run, capsys, tmp_path):
    """An input given twice (a pattern and its name) is said so, once; two inputs whose
    tables would go to one file are refused with the out_spec hint. Nothing is written."""
    other = tmp_path / "sub" / "run.fcio"
    other.parent.mkdir()
    shutil.copy(run, other)
    before = _files(tmp_path)
    status, err = _call(parallel, ["*.fcio", str(run), "-o", "out/", "-q"], capsys)
    assert status == 1
    assert err.splitlines() == [
        f"rawconv-parallel: error: {run}: given twice (a pattern and a name may both match it)"
    ]
    status, err = _call(parallel, [str(run), str(other), "-o", "out/", "-q"], capsys)
    assert status == 1
    out = tmp_path / "out" / "run.lh5"
    want = (f"{out} would receive the tables of both {run} and {other}; "
            "use {orig_basename} in the out_spec")  # fmt: skip
    assert err.splitlines() == [f"rawconv-parallel: error: {run}: {want}",
                                f"rawconv-parallel: error: {other}: {want}"]  # fmt: skip
    assert _files(tmp_path) == before


def test_out_specs_that_select_nothing_or_have_typos(run, capsys, tmp_path):
    spec = tmp_path / "other.json"  # only decoders of another format: nothing to write
    spec.write_text(json.dumps({"ORFCIOEventDecoder": {"x": {"key_list": ["*"],
                                                              "out_stream": "o.lh5"}}}))
    status, err = _call(rawconv, [str(run), "-o", str(spec)], capsys)
    assert status == 1 and "nothing to write" in err
    buffer = {"x": {"key_list": ["*"], "out_stream": "o.lh5"}}
    spec.write_text(json.dumps({"FCEventDecodr": buffer}))
    status, err = _call(rawconv, [str(run), "-o", str(spec)], capsys)
    assert status == 1 and "did you mean FCEventDecoder" in err
    spec.write_text(json.dumps({"FCEventDecoder": {"x": dict(buffer["x"], key_list=["9*"])}}))
    status, err = _call(rawconv, [str(run), "-o", str(spec)], capsys)
    assert status == 1 and "nothing to write" in err
    # a string for an int key: said, by rawconv-parallel too (it used to exit 0, writing
    # nothing, after minutes spent retrying the first event)
    spec.write_text(json.dumps({"FCEventDecoder": {"x": dict(buffer["x"], key_list=["52800"])}}))
    why = ("; FCEventDecoder has keys 52800, 52801, 52802, ... (6 in all); the out_spec asks "
           "for '52800'")  # fmt: skip
    status, err = _call(rawconv, [str(run), "-o", str(spec)], capsys)
    assert status == 1 and "nothing to write" in err and err.rstrip().endswith(why), err
    status, err = _call(parallel, [str(run), "-o", str(spec), "-q"], capsys)
    assert status == 1 and "nothing to write" in err and err.rstrip().endswith(why), err
    assert not (tmp_path / "o.lh5").exists()


def test_environment_variables_in_braces(run, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RAWCONV_OUT", str(tmp_path / "envdir"))
    (tmp_path / "envdir").mkdir()
    status, err = _call(rawconv, [str(run), "-o", "${RAWCONV_OUT}/x.lh5", "-q"], capsys)
    assert status == 0, err
    assert (tmp_path / "envdir" / "x.lh5").stat().st_size > 0


def test_output_folders(run, capsys, tmp_path):
    (tmp_path / "adir").mkdir()
    for extra in ([], ["-w"]):
        status, err = _call(rawconv, [str(run), "-o", "adir", *extra], capsys)
        assert status == 1
        assert err == ("rawconv: error: adir: exists and is a folder; rawconv writes only "
                       "regular files (end the name with / to write inside the folder)")
        assert _files(tmp_path / "adir") == []
        # rawconv-parallel refuses it before any work too (it used to decode the input,
        # then fail writing: "Is a directory (EISDIR)")
        status, err = _call(parallel, [str(run), "-o", "adir", "-q", *extra], capsys)
        assert status == 1
        assert err == (f"rawconv-parallel: error: {tmp_path / 'adir'}: exists and is a folder; "
                       "rawconv writes only regular files (end the name with / to write "
                       "inside the folder)")  # fmt: skip
        assert _files(tmp_path / "adir") == []
    status, err = _call(rawconv, [str(run), "-o", "newdir/", "-q"], capsys)
    assert status == 0, err
    assert (tmp_path / "newdir" / "run.lh5").stat().st_size > 0
    status, err = _call(rawconv, [str(run), "-o", "run.fcio/x.lh5"], capsys)
    assert status == 1 and "is not a folder" in err


def test_existing_output_names_the_flag(run, capsys, tmp_path):
    (tmp_path / "out.lh5").write_bytes(b"keep")
    status, err = _call(rawconv, [str(run), "-o", "out.lh5"], capsys)
    assert (status, err) == (1, "rawconv: error: output out.lh5 exists; add -w/--overwrite to "
                                "replace it")  # fmt: skip
    assert (tmp_path / "out.lh5").read_bytes() == b"keep"


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_devices_fifos_and_links_are_never_replaced(run, capsys, tmp_path):
    dev = tmp_path / "null"
    os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link.lh5"
    link.symlink_to(dev)
    for target, kind in ((dev, "a character device"), (fifo, "a fifo"),
                         (link, "a character device")):  # fmt: skip
        for extra in ([], ["-w"]):
            status, err = _call(rawconv, [str(run), "-o", str(target), *extra], capsys)
            assert status == 1
            assert f"exists and is {kind}; rawconv writes only regular files" in err
    assert stat.S_ISCHR(dev.lstat().st_mode) and stat.S_ISFIFO(fifo.lstat().st_mode)
    assert link.is_symlink()


def test_error_names_the_input_once(capsys, tmp_path):
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    status, err = _call(rawconv, [str(empty)], capsys)
    assert status == 1
    assert err == f"rawconv: error: {empty}, offset 0: the input is empty"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers: must be at least 1"),
        (["--workers=-1"], "--workers: must not be negative"),
        (["--threads", "0"], "--threads: must be at least 1"),
        (["--chunk-size", "garbage"], "--chunk-size: not a size: 'garbage'"),
        (["--chunk-size", "0"], "--chunk-size: must be at least 1 byte"),
        (["-k", "[1]"], "-k/--kwargs must be a JSON object"),
        (["-c", "nonsense"], "-c/--compression: unknown compression"),
    ],
)
def test_parallel_bad_arguments_refused_before_any_cluster(run, capsys, args, message):
    status, err = _call(parallel, [str(run), "-o", "out.lh5", *args], capsys)
    assert status == 2
    assert message in err
    assert not (run.parent / "out.lh5").exists()


def test_parallel_unparsable_out_spec_and_unreachable_scheduler(run, capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    status, err = _call(parallel, [str(run), "-o", str(bad)], capsys)
    assert status == 2 and err.startswith("rawconv-parallel: error: -o/--out-spec:")
    status, err = _call(parallel, [str(run), "-o", "o.lh5", "--scheduler", "tcp://127.0.0.1:1",
                                   "--connect-timeout", "1"], capsys)  # fmt: skip
    assert status == 1
    assert "--scheduler tcp://127.0.0.1:1: no Dask scheduler answered within 1 s" in err
    assert len(err.splitlines()) == 1


def test_parallel_chunk_size_units(run, capsys):
    status, err = _call(parallel, [str(run), "-o", "o.lh5", "--chunk-size", "1GiB", "--dry-run",
                                   "--workers", "1", "-q"], capsys)  # fmt: skip
    assert status == 0, err


def test_a_second_writer_of_one_output_is_refused(run, capsys, tmp_path):
    import socket

    from rawconv.locks import OutputLocks

    out = tmp_path / "one.lh5"
    with OutputLocks([str(out)]):  # a live run (this process) writes one.lh5
        status, err = _call(rawconv, [str(run), "-o", str(out)], capsys)
    assert status == 1
    assert (f"another rawconv run (pid {os.getpid()} on {socket.gethostname()}, since") in err
    assert not out.exists()
    status, err = _call(rawconv, [str(run), "-o", str(out), "-q"], capsys)
    assert status == 0, err


def test_files_left_by_a_killed_run_are_removed(run, capsys, tmp_path):
    from rawconv.locks import lock_path

    out = tmp_path / "k.lh5"
    lock_path(str(out)).write_text(json.dumps({"pid": 2**22 + 12345, "host": os.uname()[1],
                                               "since": 0}))  # fmt: skip
    stale = tmp_path / ".k.lh5.deadbeef.rawconv-tmp"
    stale.write_bytes(b"half a file")
    others = [".j.lh5.deadbeef.rawconv-tmp", ".k.lh5x.deadbeef.rawconv-tmp"]  # not its own
    for name in others:
        (tmp_path / name).write_bytes(b"another output's")
    status, err = _call(rawconv, [str(run), "-o", str(out), "-q"], capsys)
    assert status == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [*others, "k.lh5", "run.fcio"]


def test_quiet_runs_print_nothing(run, tmp_path):
    import subprocess
    import sys

    for module in ("rawconv.cli", "rawconv.parallel.cli"):
        extra = ["--workers", "1", "--scratch", str(tmp_path / "s")] if "parallel" in module else []
        done = subprocess.run(
            [sys.executable, "-m", module, str(run), "-o", f"{module}.lh5", "-q", *extra],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
            env=dict(os.environ, RAWCONV_CACHE=str(tmp_path / "cache")),
        )  # fmt: skip
        assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), module
        assert (tmp_path / f"{module}.lh5").stat().st_size > 0


def test_unset_variable_in_an_out_spec_file_is_refused_before_writing(run, capsys, tmp_path):
    spec = tmp_path / "env.json"
    spec.write_text(json.dumps({"FCEventDecoder": {"x": {"key_list": ["*"],
                                "out_stream": "$RAWCONV_NOT_SET/o.lh5"}}}))  # fmt: skip
    status, err = _call(rawconv, [str(run), "-o", str(spec)], capsys)
    assert status == 1
    assert "environment variable $RAWCONV_NOT_SET in the output $RAWCONV_NOT_SET/o.lh5" in err
    assert not (tmp_path / "$RAWCONV_NOT_SET").exists()
