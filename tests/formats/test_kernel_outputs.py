"""Kernel output structs: columns_of maps a table's columns to a namedtuple's fields, and
every kernel's struct has exactly the columns of the table its decoder makes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import numba
import numpy as np
import pytest

from rawconv.formats.fcio.decoders import FCEventDecoder, FCEventHeaderDecoder, FCStatusDecoder
from rawconv.formats.fcio.fields import FCEventColumns, FCEventHeaderColumns, FCStatusColumns
from rawconv.formats.fcio.fsp import FSPEventDecoder
from rawconv.formats.fcio.fsp_fields import FSPEventColumns
from rawconv.formats.kernel_outputs import Vector, columns_of
from rawconv.formats.orca.flashcam import FlashCamWaveformColumns, waveform_fields
from rawconv.formats.orca.struck import (
    ORSIS3302DecoderForEnergy,
    ORSIS3316WaveformDecoder,
    SIS3302Columns,
    SIS3316Columns,
)
from tests.formats.kernel_tables import convert_through_struct_kernels, table_of

FIELDS = {
    "a": {"dtype": "uint16"},
    "m": {"dtype": "int32", "datatype": "array_of_equalsized_arrays<1,1>{real}", "length": 3},
    "v": {"dtype": "float32", "datatype": "array<1>{array<1>{real}}", "length_guess": 2},
    "waveform": {"dtype": "uint16", "datatype": "waveform", "wf_len": 4, "dt": 16.0},
}
Spec = namedtuple("Spec", ("v", "a", "waveform", "m"))


def test_fields_are_views_of_the_columns_from_row0():
    table = table_of(FIELDS, 5)
    out = columns_of(table, Spec, 2)
    assert out.a.shape == (3,) and out.m.shape == (3, 3) and out.waveform.shape == (3, 4)
    assert isinstance(out.v, Vector)
    assert out.v.cumulative_length.shape == (3,)
    assert out.v.flattened_data is table["v"].flattened_data.nda  # absolute positions
    out.a[0] = 7
    out.m[1, 2] = 9
    out.v.cumulative_length[0] = 4
    out.v.flattened_data[3] = 1.5
    out.waveform[2, 3] = 11
    assert table["a"].nda.tolist() == [0, 0, 7, 0, 0]
    assert table["m"].nda[3].tolist() == [0, 0, 9]
    assert table["v"].cumulative_length.nda.tolist() == [0, 0, 4, 0, 0]
    assert table["v"].flattened_data.nda[3] == 1.5
    assert table["waveform"]["values"].nda[4].tolist() == [0, 0, 0, 11]


def test_row0_zero_gives_the_column_arrays_themselves():
    table = table_of(FIELDS, 5)
    out = columns_of(table, Spec)
    assert out.a is table["a"].nda
    assert out.waveform is table["waveform"]["values"].nda
    assert out.v.cumulative_length is table["v"].cumulative_length.nda


def test_a_field_without_a_column_is_named():
    table = table_of({"a": FIELDS["a"]}, 2)
    with pytest.raises(KeyError, match="Spec: the table has no column 'v'"):
        columns_of(table, Spec)


def test_a_column_without_arrays_is_refused():
    One = namedtuple("One", ("a",))
    with pytest.raises(TypeError, match="no arrays"):
        columns_of({"a": object()}, One)


@pytest.mark.parametrize(
    ("spec", "fields"),
    [
        (FCEventColumns, FCEventDecoder.decoded_values),
        (FCEventHeaderColumns, FCEventHeaderDecoder.decoded_values),
        (FCStatusColumns, FCStatusDecoder.decoded_values),
        (FSPEventColumns, FSPEventDecoder.decoded_values),
        (FlashCamWaveformColumns, waveform_fields(8)),
        (SIS3302Columns, ORSIS3302DecoderForEnergy().get_decoded_values()),
        (SIS3316Columns, ORSIS3316WaveformDecoder().get_decoded_values()),
    ],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_each_struct_holds_exactly_the_columns_of_its_table(spec, fields):
    assert sorted(spec._fields) == sorted(fields)
    out = columns_of(table_of(fields, 3), spec, 1)
    for name in spec._fields:
        arrays = getattr(out, name)
        arrays = arrays if isinstance(arrays, Vector) else [arrays]
        assert all(isinstance(a, np.ndarray) for a in arrays), name


_CHILD = """
import json, tempfile
from rawconv.formats.fcio import event_kernels, fsp_kernels, header_kernels, status_kernels
from rawconv.formats.orca import flashcam_kernels, struck_kernels
from tests.formats.kernel_tables import convert_through_struct_kernels

with tempfile.TemporaryDirectory() as tmp:
    convert_through_struct_kernels(tmp)
kernels = [event_kernels.decode_events, header_kernels.decode_event_headers,
           status_kernels.decode_status, fsp_kernels.decode_fsp_events,
           flashcam_kernels.decode_fc_waveforms, struck_kernels.decode_sis3302,
           struck_kernels.decode_sis3316]
print(json.dumps({k.py_func.__name__: [sum(k.stats.cache_hits.values()),
                                       sum(k.stats.cache_misses.values())] for k in kernels}))
"""


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="no compiled kernels to cache")
def test_kernels_taking_output_structs_load_from_numba_cache_in_a_new_process(tmp_path):
    """cache=True works with the struct arguments: a new process compiles nothing."""
    convert_through_struct_kernels(tmp_path)  # compiles (and caches) what the cache lacks
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", _CHILD], cwd=root, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(counts) == 7
    for name, (hits, misses) in counts.items():
        assert (hits > 0, misses) == (True, 0), (name, counts)
