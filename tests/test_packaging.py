"""The wheel holds every package of the tree and, installed in a fresh environment, runs the
demo (package discovery has no hand list that a new folder could miss)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _packages_in_tree() -> set[str]:
    found = set()
    for top, prefix in ((ROOT / "rawconv", "rawconv"), (ROOT / "parallel", "rawconv.parallel")):
        for init in top.rglob("__init__.py"):
            rel = init.parent.relative_to(top).parts
            found.add(".".join((prefix, *rel)))
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    src = out / "src"  # a copy: a build leaves build/ and *.egg-info where it runs
    skip = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "*.lh5",
                                  "__pycache__", ".hypothesis", ".pytest_cache", ".ruff_cache")
    shutil.copytree(ROOT, src, ignore=skip)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                    str(src)], check=True, capture_output=True, timeout=600)  # fmt: skip
    (path,) = out.glob("rawconv-*.whl")
    return path


def test_wheel_holds_every_package(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    in_wheel = {n[: -len("/__init__.py")].replace("/", ".") for n in names
                if n.endswith("/__init__.py")}  # fmt: skip
    assert in_wheel == _packages_in_tree()
    assert "rawconv/parallel/merge.py" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(entry_points).decode()
    assert "rawconv = rawconv.cli:main" in text
    assert "rawconv-parallel = rawconv.parallel.cli:main" in text


@pytest.mark.slow
def test_wheel_in_a_fresh_environment_runs_the_demo(wheel, tmp_path):
    env_dir = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    ask = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = subprocess.run([str(python), "-c", ask], check=True, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", site, str(wheel)], check=True, timeout=600)  # fmt: skip
    # the dependencies come from this environment (its own rawconv is not on the path)
    Path(site, "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(python), "-c", "import rawconv, sys; print(rawconv.__file__); "
         "from rawconv.demo import main; sys.exit(main(['--events', '20', '--out-dir', 'd']))"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith(site)
    assert "FCEvent           60 rows" in done.stdout  # 20 events x 3 traces
    assert (tmp_path / "d" / "demo_run.lh5").stat().st_size > 0
