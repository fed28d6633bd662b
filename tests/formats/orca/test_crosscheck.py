"""A writer-made ORCA file with two FCIO listeners (one with FSP records), extended records,
sparse events, event headers and a status record, converted by the reference converter
and by rawconv: every reference dataset and its datatype / units / length attributes are
equal (the FSPConfig labels 2400 wide, no units on its windows and rate), but for the
columns in DIFFERENT.

Runs when legend-daq2lh5 is installed in the interpreter named by ``RAWCONV_REFERENCE_PYTHON``
(default ``/work/venv-ref/bin/python``); skipped otherwise.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from rawconv import build_raw
from tests.formats.orca.files import fcio_file

REFERENCE_PYTHON = os.environ.get("RAWCONV_REFERENCE_PYTHON", "/work/venv-ref/bin/python")

DIFFERENT = {
    "ORFCIOStatus_0/n_link_errors": "the reference never fills it (uninitialised memory)",
    "ORFCIOEvent_2/waveform/dt": (
        "the reference keeps its 16 ns default for a 12-bit (250 MHz) listener; rawconv "
        "writes 4 ns, the sampling period of that firmware (as for FCIO files)"
    ),
}


def _reference_available() -> bool:
    if not Path(REFERENCE_PYTHON).exists():
        return False
    probe = subprocess.run([REFERENCE_PYTHON, "-c", "import daq2lh5"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _reference_available(), reason="legend-daq2lh5 not installed")
def test_fcio_listeners_match_the_reference(tmp_path):
    src = tmp_path / "two-listeners.orca"
    src.write_bytes(fcio_file(fsp=True, fsp_ct=False))
    ref, out = tmp_path / "ref.lh5", tmp_path / "ours.lh5"
    code = f"from daq2lh5 import build_raw; build_raw({str(src)!r}, out_spec={str(ref)!r})"
    subprocess.run([REFERENCE_PYTHON, "-c", code], check=True, capture_output=True)
    build_raw(str(src), out_spec=str(out))
    checked = 0
    with h5py.File(ref, "r") as fr, h5py.File(out, "r") as fo:
        names: list[str] = []
        fr.visit(names.append)
        assert sorted(fo) == sorted(fr)
        for name in names:
            if any(fnmatch.fnmatch(name, pattern) for pattern in DIFFERENT):
                if name == "ORFCIOEvent_2/waveform/dt":
                    assert set(fo[name][()].tolist()) == {4.0}
                continue
            r, o = fr[name], fo[name]
            for attr in ("datatype", "units", "length"):
                assert o.attrs.get(attr) == r.attrs.get(attr), (name, attr)
            if isinstance(r, h5py.Dataset):
                assert (o.dtype, o.shape) == (r.dtype, r.shape), name
                np.testing.assert_array_equal(o[()], r[()], err_msg=name)
                checked += 1
    assert checked > 150
