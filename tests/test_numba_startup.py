"""The commands start numba without the extensions and BLAS check their kernels do not use;
a library call leaves numba's set-up alone."""

from __future__ import annotations

import os
import subprocess
import sys

import h5py
import pytest

from tests.conftest import data_file

PROBE = """
import sys
{call}
import numba.core.entrypoints as ep
arraymath = sys.modules.get("numba.np.arraymath")  # imported by numba's refresh, BLAS check run
blas = "unloaded" if arraymath is None else arraymath._HAVE_BLAS
print(ep._already_initialized, blas, "awkward" in sys.modules, "scipy.linalg" in sys.modules)
"""


def _python(code: str, env: dict[str, str] | None = None) -> str:
    """What `code` prints, run in a fresh interpreter (which must succeed)."""
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return done.stdout


def _probe(call: str) -> list[str]:
    return _python(PROBE.format(call=call)).split()


def _command(module: str, out) -> str:
    """A call of a command's main on th228 (4 MB) that must succeed."""
    args = f"[{str(data_file('fcio/th228.fcio'))!r}, '-o', {str(out)!r}, '-q', '--overwrite']"
    return f"from {module} import main; assert main({args}) == 0"


def test_the_command_skips_extensions_blas_and_registries(tmp_path):
    """With its kernels in numba's cache (the first run puts them there), the command loads
    them with numba's runtime alone: no extension, no registry (and so no BLAS check)."""
    out = tmp_path / "o.lh5"
    _probe(_command("rawconv.cli", out))
    assert _probe(_command("rawconv.cli", out)) == ["True", "unloaded", "False", "False"]
    with h5py.File(out) as f:
        assert len(f["FCEvent/timestamp"]) == 1000


def test_the_parallel_command_skips_them_for_a_run_in_its_own_process(tmp_path):
    """A run of one small input decodes in rawconv-parallel's process (no cluster): set up
    as the serial command's, and Dask's client is never imported."""
    out = tmp_path / "o.lh5"
    call = _command("rawconv.parallel.cli", out) + "; print('distributed' in sys.modules)"
    _probe(call)
    assert _probe(call) == ["False", "True", "unloaded", "False", "False"]
    with h5py.File(out) as f:
        assert len(f["FCEvent/timestamp"]) == 1000


def test_build_raw_leaves_numba_as_it_is(tmp_path):
    """awkward's numba extension is installed with legend-pydataobj: a library call still
    lets numba run it (the user's own numba code may need it)."""
    out = tmp_path / "o.lh5"
    call = (f"from rawconv import build_raw; build_raw({str(data_file('fcio/th228.fcio'))!r}, "
            f"out_spec={str(out)!r})")  # fmt: skip
    initialized, blas, awkward, _ = _probe(call)
    assert (initialized, awkward) == ("True", "True")
    assert blas == "True"  # scipy comes with dspeed (the test extra)


KERNEL = """
import numba
import numpy as np


@numba.njit(cache=True)
def kernel(n):
    out = np.empty(n, dtype=np.int64)  # the runtime's allocator, from a loaded kernel too
    for i in range(n):
        out[i] = i * i
    return out
"""

LOAD = """
import sys
from rawconv.numba_startup import skip_unused_setup
skip_unused_setup()
sys.path.insert(0, {folder!r})
from kernelmod import kernel
squares = kernel(5).tolist()
arraymath = sys.modules.get("numba.np.arraymath")
print(squares, sum(kernel.stats.cache_hits.values()),
      "numba.np.polynomial.polynomial_functions" in sys.modules,
      "unloaded" if arraymath is None else arraymath._HAVE_BLAS, "scipy.linalg" in sys.modules)
"""


def _run_kernel(folder) -> list[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(folder / "cache")}
    out = _python(LOAD.format(folder=str(folder)), env)
    return out.strip().rsplit(" ", 4)  # the list, cache hits, registries, BLAS, scipy


def test_a_kernel_is_loaded_from_the_cache_without_numba_s_full_set_up(tmp_path):
    """The commands' set-up: a kernel not in the cache compiles with every registry
    installed (scipy's BLAS hidden from numba's check); once cached, it loads and runs with
    only the runtime initialised (numba's registries, 0.25 s of a small conversion's CPU, are
    never imported)."""
    (tmp_path / "kernelmod.py").write_text(KERNEL)
    assert _run_kernel(tmp_path) == ["[0, 1, 4, 9, 16]", "0", "True", "False", "False"]
    assert _run_kernel(tmp_path) == ["[0, 1, 4, 9, 16]", "1", "False", "unloaded", "False"]


@pytest.mark.parametrize("preset", [None, "4"])
def test_the_commands_start_numpy_with_one_blas_thread_unless_told(tmp_path, preset):
    """numpy's BLAS starts a thread per core at import (rawconv calls no BLAS routine): the
    commands ask for one before numpy is imported; a count the user set is kept."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if preset:
        env["OPENBLAS_NUM_THREADS"] = preset
    for module in ("rawconv.cli", "rawconv.parallel.cli"):
        code = (_command(module, tmp_path / "o.lh5") + "; import os, numpy; "
                "print(os.environ['OPENBLAS_NUM_THREADS'], numpy.__name__)")  # fmt: skip
        assert _python(code, env).split() == [preset or "1", "numpy"]


def test_a_local_conversion_imports_no_network_client(tmp_path):
    """The standard library's HTTP client and ssl (with the email parsers under them, 30-40
    ms of start-up) are imported for URL inputs only."""
    out = tmp_path / "o.lh5"
    code = _command("rawconv.cli", out) + (
        "\nimport sys\nprint(sorted(m for m in ('http.client', 'ssl') if m in sys.modules))"
    )
    assert _python(code).splitlines()[-1] == "[]"
