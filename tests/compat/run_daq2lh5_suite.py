"""Run legend-daq2lh5's own test suite against ``rawconv.compat.daq2lh5``.

legend-daq2lh5 (GPL-3.0) is never part of this repository: this script downloads its sdist
from the package registry at run time (``pip download --no-deps --no-binary :all:
legend-daq2lh5==1.7.1``), unpacks its ``tests/`` folder into a temporary folder and there
only:

- rewrites the imports ``daq2lh5`` -> ``rawconv.compat.daq2lh5`` (what a user switching
  over does);
- provides a ``legendtestdata`` package whose ``LegendTestData.get_path`` serves copies of
  the files of ``../shared/testdata`` (``RAWCONV_TESTDATA``) under legend-testdata's names;
  an input that is not here skips its test;
- puts a ``legend-daq2lh5`` command on PATH that runs ``rawconv``'s;

then runs pytest on the chosen test files, deselecting the tests listed in
:data:`DESELECTED` (each asserts a behaviour of legend-daq2lh5 that rawconv changes on
purpose, with the reason), and prints the pass / fail / skip counts per file.

Usage::

    python tests/compat/run_daq2lh5_suite.py [--suite public|rest|all] [--sdist FILE]
        [--keep DIR] [--junit FILE] [pytest arguments...]

Exit status: pytest's (0 when every selected test passed or was skipped for a missing
input file); 3 when the sdist cannot be had.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

VERSION = "1.7.1"
"""The legend-daq2lh5 release whose tests are run."""

PUBLIC_API_FILES = (
    "test_build_raw.py",
    "test_cli.py",
    "test_raw_buffer.py",
    "test_data_streamer.py",
    "buffer_processor/test_buffer_processor.py",
    "buffer_processor/test_lh5_buffer_processor.py",
    "orca/test_orca_to_raw.py",
)
"""legend-daq2lh5's tests of its public interface: all must pass (or skip for a missing
input file), except :data:`DESELECTED`."""

DESELECTED: dict[str, str] = {
    "test_build_raw.py::test_get_streamer_detects_extension[daq.bin-CompassStreamer]": (
        "takes the type of a '.bin' file from its name alone; rawconv reads the file's first "
        "bytes, and for a name it cannot read refuses '.bin' (LlamaDAQ writes '.bin' too: "
        "reference-converter.md 8.8)"
    ),
}
"""Tests that assert a documented legend-daq2lh5 bug, with the reason they are left out."""

_BR = "test_build_raw.py::"
NEEDS_FORMAT: dict[str, str] = {
    f"{_BR}test_build_raw_compass": "Compass",
    f"{_BR}test_build_raw_compass_out_spec": "Compass",
    f"{_BR}test_build_raw_compass_out_spec_no_config": "Compass",
    f"{_BR}test_get_streamer_detects_extension[daq.BIN-CompassStreamer]": "Compass",
    f"{_BR}test_get_streamer_explicit_type[Compass-CompassStreamer]": "Compass",
    f"{_BR}test_get_streamer_compass_config_implies_compass": "Compass",
    f"{_BR}test_get_streamer_explicit_type[LlamaDaq-LLAMAStreamer]": "LlamaDaq",
}
"""Tests that need a rawconv format folder: left out (and reported) where this rawconv does
not have that format yet."""

REFUSES_FORMAT: dict[str, tuple[str, str]] = {
    f"{_BR}test_get_streamer_errors": (
        "MGDO",
        "expects get_streamer(..., 'MGDO') to raise NotImplementedError; rawconv reads MGDO "
        "files (reference-converter.md 8.8: the reference cannot)",
    ),
}
"""Tests that assert legend-daq2lh5 cannot read a format: left out where rawconv reads it."""

REST_PASSING = (
    "fc/test_fc_streamer.py::test_get_decoder_list",
    "fc/test_fc_streamer.py::test_default_rb_lib",
    "fc/test_fc_streamer.py::test_read_chunk",
    "llama/test_llama_event_decoder.py::test_check_dict_spec_equal",
    "orca/test_orca_fc.py::test_orfc_waveform_dead_defaults",
    "orca/test_orca_fcio.py::test_orfcio_config_decoding",
    "orca/test_orca_fcio.py::test_orfcio_waveform_decoding",
    "orca/test_orca_packet.py::test_orca_packet_funcs_fcio",
)
"""legend-daq2lh5's other tests that pass here (checked, so that they keep passing). The
rest test its per-record decoder API (``decode_packet`` on ``fcio`` objects,
``set_fcio_stream``, ``decode_config``) and its streamers' attributes (``fcio``,
``event_rbkd``), which rawconv's block decoders do not have, or need a format (CoMPASS,
LlamaDAQ) this rawconv may not have yet, or input files that are not here."""

MISSING_HERE_SKIP = "input file not among the test files here"

NO_SDIST = 3
"""Exit status when the sdist cannot be downloaded (no registry reachable)."""

_NAME_MAP = {"llamadaq/": "llamaDAQ/"}
"""Folders of ../shared/testdata -> their names in legend-testdata."""


def testdata_dir() -> Path:
    """The real test files (``RAWCONV_TESTDATA``, default ``../shared/testdata``)."""
    default = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
    return Path(os.environ.get("RAWCONV_TESTDATA", default)).resolve()


def fetch_sdist(dest: Path) -> Path:
    """legend-daq2lh5's sdist, downloaded with pip (``RAWCONV_DAQ2LH5_SDIST``: a local one)."""
    local = os.environ.get("RAWCONV_DAQ2LH5_SDIST")
    if local:
        return Path(local)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
           ":all:", f"legend-daq2lh5=={VERSION}", "-d", str(dest)]  # fmt: skip
    subprocess.run(cmd, check=True)
    found = sorted(dest.glob("legend_daq2lh5-*.tar.gz")) + sorted(dest.glob("legend-daq2lh5-*"))
    if not found:
        raise RuntimeError(f"pip download left no legend-daq2lh5 sdist in {dest}")
    return found[0]


def unpack_tests(sdist: Path, dest: Path) -> Path:
    """The sdist's ``tests/`` folder, unpacked to ``dest/tests``."""
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers()
                   if m.isfile() and "/tests/" in m.name and ".." not in m.name]  # fmt: skip
        for m in members:
            rel = m.name.split("/tests/", 1)[1]
            target = dest / "tests" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(m) as fin, open(target, "wb") as fout:
                shutil.copyfileobj(fin, fout)
    if not (dest / "tests" / "conftest.py").is_file():
        raise RuntimeError(f"{sdist} has no tests/conftest.py")
    return dest / "tests"


_IMPORT = re.compile(r"^(\s*)(from|import)(\s+)daq2lh5\b", re.MULTILINE)


def rewrite_imports(tests: Path) -> int:
    """``daq2lh5`` -> ``rawconv.compat.daq2lh5`` in the import lines; returns the count."""
    n = 0
    for path in tests.rglob("*.py"):
        text = path.read_text()
        new, k = _IMPORT.subn(r"\1\2\3rawconv.compat.daq2lh5", text)
        if k:
            path.write_text(new)
            n += k
    return n


def make_data_mirror(data: Path, dest: Path) -> Path:
    """Copies of the input files of `data` under legend-testdata's names (tests write their
    outputs beside their inputs)."""
    mirror = dest / "legend-testdata" / "data"
    for path in sorted(data.rglob("*")):
        rel = path.relative_to(data).as_posix()
        if not path.is_file() or rel.startswith("reference/") or "/" not in rel:
            continue
        for ours, theirs in _NAME_MAP.items():
            if rel.startswith(ours):
                rel = theirs + rel[len(ours) :]
        target = mirror / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return mirror


SHIM = '''"""legendtestdata stand-in: legend-testdata's names -> copies of ../shared/testdata."""

import os

import pytest

_ROOT = {root!r}


class LegendTestData:
    def checkout(self, ref):
        pass

    def get_path(self, filename):
        path = os.path.abspath(os.path.join(_ROOT, filename))
        if os.path.exists(path):
            return path
        if filename.endswith(".lh5"):  # an output a test expects to exist
            raise FileNotFoundError(f"test file {{filename!r}} not found")
        pytest.skip(f"{{filename}}: {skip}")
'''


def make_shims(dest: Path, mirror: Path) -> tuple[Path, Path]:
    """The ``legendtestdata`` package and the ``legend-daq2lh5`` command; returns the
    folders to put on PYTHONPATH and PATH."""
    pkg = dest / "shim" / "legendtestdata"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(SHIM.format(root=str(mirror), skip=MISSING_HERE_SKIP))
    bindir = dest / "bin"
    bindir.mkdir()
    cli = bindir / "legend-daq2lh5"
    cli.write_text(
        f"#!{sys.executable}\nfrom rawconv.compat.daq2lh5.cli import daq2lh5_cli\n\ndaq2lh5_cli()\n"
    )
    cli.chmod(0o755)
    return dest / "shim", bindir


def has_format(name: str) -> bool:
    """Whether this rawconv reads stream type `name`."""
    from rawconv.formats import get_format

    try:
        get_format(name)
    except ValueError:
        return False
    return True


def left_out(files: list[str]) -> dict[str, str]:
    """test id -> why it is deselected, for the tests of `files`."""
    out = dict(DESELECTED)
    for test, fmt in NEEDS_FORMAT.items():
        if not has_format(fmt):
            out[test] = f"needs rawconv's {fmt} format, which this rawconv does not have yet"
    for test, (fmt, why) in REFUSES_FORMAT.items():
        if has_format(fmt):
            out[test] = why
    return {t: why for t, why in out.items() if t.split("::")[0] in files}


def select_files(tests: Path, suite: str) -> list[str]:
    """The test files of `suite` (public: :data:`PUBLIC_API_FILES`; rest: the others)."""
    every = sorted(p.relative_to(tests).as_posix() for p in tests.rglob("test_*.py"))
    missing = [f for f in PUBLIC_API_FILES if f not in every]
    if missing:
        raise RuntimeError(f"the sdist lacks test files {missing}")
    if suite == "public":
        return list(PUBLIC_API_FILES)
    if suite == "rest":
        return [f for f in every if f not in PUBLIC_API_FILES]
    return every


def outcomes(junit: Path) -> dict[str, tuple[str, str]]:
    """test id (``file::name``) -> (outcome, message), from pytest's JUnit XML; outcomes
    are passed, failed, error and skipped; a module that cannot be imported is ``?::``."""
    out: dict[str, tuple[str, str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        classname = case.get("classname", "")
        parts = [p for p in classname.split(".") if not p[:1].isupper()]  # drop class names
        file = "/".join(parts) + ".py" if classname else "?"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error"}.get(child.tag, "skipped")
                message = (child.get("message") or "").strip().split("\n")[0][:200]
        out[f"{file}::{case.get('name', '')}"] = (outcome, message)
    return out


def summarize(junit: Path) -> tuple[dict[str, Counter], list[tuple[str, str, str]]]:
    """Outcome counts per test file, and (test, outcome, message) of the tests that did
    not pass, from pytest's JUnit XML."""
    per_file: dict[str, Counter] = {}
    notes = []
    for test, (outcome, message) in outcomes(junit).items():
        per_file.setdefault(test.split("::")[0], Counter())[outcome] += 1
        if outcome != "passed":
            notes.append((test, outcome, message))
    return per_file, notes


def print_summary(per_file: dict[str, Counter], notes: list, deselected: dict[str, str]
                  ) -> Counter:  # fmt: skip
    total: Counter = Counter()
    print(f"\nlegend-daq2lh5 {VERSION} tests against rawconv.compat.daq2lh5")
    print(f"{'file':52} {'pass':>5} {'fail':>5} {'error':>5} {'skip':>5}")
    for file, c in sorted(per_file.items()):
        total.update(c)
        print(f"{file:52} {c['passed']:5} {c['failed']:5} {c['error']:5} {c['skipped']:5}")
    print(f"{'total':52} {total['passed']:5} {total['failed']:5} {total['error']:5} "
          f"{total['skipped']:5}   deselected: {len(deselected)}")  # fmt: skip
    for test, outcome, message in notes:
        print(f"  {outcome:8} {test}: {message}")
    for test, why in deselected.items():
        print(f"  deselected {test}: {why}")
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("public", "rest", "all"), default="public")
    parser.add_argument("--sdist", help="a local legend-daq2lh5 sdist (default: pip download)")
    parser.add_argument("--keep", help="work in this folder (emptied first) and keep it")
    parser.add_argument("--junit", help="also copy pytest's JUnit XML here")
    args, pytest_args = parser.parse_known_args(argv)
    if args.sdist:
        os.environ["RAWCONV_DAQ2LH5_SDIST"] = args.sdist
    data = testdata_dir()
    if not data.is_dir():
        print(f"no test data folder {data} (set RAWCONV_TESTDATA)", file=sys.stderr)
        return 2
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="daq2lh5-suite-"))
    if args.keep:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    try:
        try:
            sdist = fetch_sdist(work)
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            print(f"cannot get legend-daq2lh5 {VERSION}'s sdist: {exc}", file=sys.stderr)
            return NO_SDIST
        tests = unpack_tests(sdist, work)
        rewrite_imports(tests)
        (tests / "pytest.ini").write_text("[pytest]\n")
        mirror = make_data_mirror(data, work)
        shim, bindir = make_shims(work, mirror)
        files = select_files(tests, args.suite)
        deselected = left_out(files)
        junit = work / "junit.xml"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(shim), env.get("PYTHONPATH")) if p)
        env["PATH"] = os.pathsep.join((str(bindir), str(Path(sys.executable).parent),
                                       env.get("PATH", "")))  # fmt: skip
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE",
               "--tb=short", f"--junitxml={junit}", "-o", "junit_family=xunit1", *files,
               *[f"--deselect={t}" for t in deselected], *pytest_args]  # fmt: skip
        if args.suite != "public":  # report modules that fail to import, run the others
            cmd.append("--continue-on-collection-errors")
        rc = subprocess.run(cmd, cwd=tests, env=env).returncode
        if junit.is_file():
            per_file, notes = summarize(junit)
            print_summary(per_file, notes, deselected)
            if args.junit:
                shutil.copyfile(junit, args.junit)
        return rc
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
