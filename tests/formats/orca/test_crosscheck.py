"""A writer-made ORCA file with two FCIO listeners (one with FSP records), extended records,
sparse events, event headers and a status record, converted by rawconv and compared with what
the reference converter wrote for it: every reference dataset and its datatype / units /
length attributes are equal (the FSPConfig labels 2400 wide, no units on its windows and
rate), but for the columns in DIFFERENT.

The reference's output is stored (``data/two-listeners.daq2lh5.lh5.gz``, legend-daq2lh5
1.7.1), so that the test runs without it. If the writer-made file changes, make it again in a
separate environment with legend-daq2lh5::

    python -c "from tests.formats.orca.files import fcio_file; \
        open('two-listeners.orca', 'wb').write(fcio_file(fsp=True, fsp_ct=False))"
    /path/to/ref/bin/python -c "from daq2lh5 import build_raw; \
        build_raw('two-listeners.orca', out_spec='ref.lh5')"
    gzip -9 -c ref.lh5 > tests/formats/orca/data/two-listeners.daq2lh5.lh5.gz

and update INPUT_SHA256.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import shutil
from pathlib import Path

import h5py
import numpy as np

from rawconv import build_raw
from tests.formats.orca.files import fcio_file

REFERENCE = Path(__file__).parent / "data" / "two-listeners.daq2lh5.lh5.gz"
INPUT_SHA256 = "e7e806b69c56a3ca10afb4f44961c0c43a9f9ee0e3d1ee912abc30e015fab768"
"""The writer-made file the stored output was made from."""

DIFFERENT = {
    "ORFCIOStatus_0/n_link_errors": "the reference never fills it (uninitialised memory)",
    "ORFCIOEvent_2/waveform/dt": (
        "the reference keeps its 16 ns default for a 12-bit (250 MHz) listener; rawconv "
        "writes 4 ns, the sampling period of that firmware (as for FCIO files)"
    ),
}


def test_fcio_listeners_match_the_reference(tmp_path):
    src = tmp_path / "two-listeners.orca"
    src.write_bytes(fcio_file(fsp=True, fsp_ct=False))
    assert hashlib.sha256(src.read_bytes()).hexdigest() == INPUT_SHA256, (
        "the writer-made file changed: make the reference's output again (module docstring)"
    )
    ref, out = tmp_path / "ref.lh5", tmp_path / "ours.lh5"
    with gzip.open(REFERENCE) as packed, ref.open("wb") as unpacked:
        shutil.copyfileobj(packed, unpacked)
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
