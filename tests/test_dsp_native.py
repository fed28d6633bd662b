"""dspeed processors rawconv runs itself: dspeed's values, dtypes and units, without dspeed.

Each case runs the same ``dsp_config`` twice through :func:`rawconv.processing.process_table`:
once as rawconv runs it (natively) and once with the native path switched off, which builds
dspeed's chain; both must give equal columns.
"""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest

import rawconv.processing
from rawconv.dsp_kernels import saturation_rows
from rawconv.dsp_native import native_outputs
from rawconv.formats.fcio.synthetic import write_synthetic_run
from rawconv.layouts import l200_proc_spec
from rawconv.lh5.columns import ArrayCol, TableCol, waveform_table
from rawconv.processing import process_table

ROWS, SAMPLES, FILLED = 30, 50, 27


def saturation_config(bits=16, unit="ADC", source="waveform", **changes) -> dict:
    config = copy.deepcopy(l200_proc_spec()["dsp_config"])
    proc = config["processors"]["t_sat_lo, t_sat_hi"]
    proc["args"][:2] = [source, bits]
    if unit is None:
        del proc["unit"]
    else:
        proc["unit"] = unit
    proc.update(changes)
    return config


def table(
    dtype: str, bits: int, seed: int, as_waveform: bool = True, samples: int = SAMPLES
) -> TableCol:
    """Random samples, some rows holding 0 and dspeed's high value 2**bits - bits."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    wf = waveform_table(ROWS, samples, dtype, 16.0, "ns", "ns")
    values = wf["values"].nda
    values[:] = rng.integers(max(info.min, 1), info.max, size=values.shape, endpoint=True)
    high = 2**bits - bits
    for row in range(0, ROWS, 3):
        values[row, rng.integers(0, samples, size=row % 6 + 1)] = 0
    if high <= info.max:
        for row in range(1, ROWS, 4):
            values[row, rng.integers(0, samples, size=row % 5 + 1)] = high
    column = wf if as_waveform else ArrayCol(values)
    return TableCol({"waveform": column, "id": ArrayCol(np.arange(ROWS))}, size=ROWS)


def through_dspeed(monkeypatch, tbl: TableCol, config: dict) -> TableCol:
    with monkeypatch.context() as m:
        m.setattr(rawconv.processing, "native_outputs", lambda *args: None)
        return process_table(tbl, {"dsp_config": config}, FILLED)


@pytest.mark.parametrize(
    ("dtype", "bits", "unit", "as_waveform"),
    [("uint16", 16, "ADC", True), ("uint16", 16, None, True), ("int16", 16, "ADC", True),
     ("uint16", 12, "ADC", False), ("uint8", 4, "counts", True), ("int8", 7, "ADC", False)],
)  # fmt: skip
def test_saturation_equals_dspeeds(monkeypatch, dtype, bits, unit, as_waveform):
    tbl = table(dtype, bits, seed=bits, as_waveform=as_waveform)
    config = saturation_config(bits, unit)
    native = process_table(tbl, {"dsp_config": config}, FILLED)
    dspeed = through_dspeed(monkeypatch, tbl, config)
    values = tbl["waveform"]["values"].nda if as_waveform else tbl["waveform"].nda
    lo = (values[:FILLED] == 0).sum(axis=1)
    hi = (values[:FILLED].astype(np.int64) == 2**bits - bits).sum(axis=1)
    assert lo.sum() >= 10
    if np.iinfo(dtype).max >= 2**bits - bits:
        assert hi.sum() >= 7
    for name, want in (("t_sat_lo", lo), ("t_sat_hi", hi)):
        assert native[name].nda.dtype == dspeed[name].nda.dtype == np.float32
        assert native[name].attrs == dspeed[name].attrs == ({} if unit is None else {"units": unit})
        np.testing.assert_array_equal(native[name].nda, dspeed[name].nda)
        np.testing.assert_array_equal(native[name].nda, want)


def test_the_l200_proc_spec_runs_natively_with_dspeeds_results(monkeypatch):
    tbl = table("uint16", 16, seed=3, samples=4100)  # the window is 2625:4025
    spec = l200_proc_spec()
    native = process_table(tbl, spec, FILLED)
    with monkeypatch.context() as m:
        m.setattr(rawconv.processing, "native_outputs", lambda *args: None)
        dspeed = process_table(tbl, spec, FILLED)
    assert sorted(native) == sorted(dspeed)
    for name in ("t_sat_lo", "t_sat_hi"):
        assert native[name].nda.dtype == np.uint16  # dtype_conv after the chain
        np.testing.assert_array_equal(native[name].nda, dspeed[name].nda)


@pytest.mark.parametrize(
    "config",
    [
        saturation_config(bits="db.bit_depth"),  # a parameter from the db_dict
        saturation_config(bits=16.5),
        saturation_config(bits=0),
        saturation_config(bits=25),
        saturation_config(bits=True),
        saturation_config(source="waveform[2:]"),  # an expression
        saturation_config(source="missing"),
        saturation_config(unit=["ADC", "ADC"]),
        saturation_config(function="min_max"),
        saturation_config(module="mymodule"),
        saturation_config(kwargs={"signature": "(n),()->(),()"}),
        {**saturation_config(), "outputs": ["t_sat_lo", "other"]},
        {**saturation_config(), "defaults": {}},
        {"outputs": ["t_sat_lo"], "processors": {"t_sat_lo, t_sat_hi": "saturation"}},
        {"outputs": ["b_lo"], "processors": {
            **saturation_config()["processors"],
            "b_lo, b_hi": {"function": "saturation", "module": "dspeed.processors",
                           "args": ["t_sat_lo", 16, "b_lo", "b_hi"]}}},  # reads an output
    ],
)  # fmt: skip
def test_what_dspeed_runs_itself(config):
    assert native_outputs(config, table("uint16", 16, seed=1), FILLED) is None


@pytest.mark.parametrize("dtype", ["uint32", "int32", "float32"])
def test_wider_or_float_samples_go_to_dspeed(dtype):
    wf = waveform_table(ROWS, SAMPLES, dtype, 16.0, "ns", "ns")
    assert native_outputs(saturation_config(), TableCol({"waveform": wf}, size=ROWS), 3) is None


def test_the_kernel_refuses_rows_beyond_its_arrays():
    values = np.zeros((4, 8), dtype=np.uint16)
    lo, hi = np.zeros(4, np.int64), np.zeros(3, np.int64)
    with pytest.raises(IndexError, match="more rows"):
        saturation_rows(values, 4, 65520, lo, hi)
    with pytest.raises(IndexError, match="more rows"):
        saturation_rows(values, 5, 65520, lo, np.zeros(5, np.int64))
    saturation_rows(values, 3, 65520, lo, hi)
    assert lo[:3].tolist() == [8, 8, 8] and hi.tolist() == [0, 0, 0]


def test_the_presum_kernel_refuses_more_sums_than_samples():
    from rawconv.dsp_kernels import presum_rows_small

    values = np.arange(24, dtype=np.uint16).reshape(3, 8)
    with pytest.raises(IndexError, match="more sums"):
        presum_rows_small(values, 3, np.zeros((3, 3), np.uint32))  # 9 samples of 8
    with pytest.raises(IndexError, match="more sums"):
        presum_rows_small(values, 4, np.zeros((4, 2), np.uint32))  # 4 rows of 3
    with pytest.raises(IndexError, match="more sums"):
        presum_rows_small(values, 0, np.zeros((3, 2), np.uint32))
    out = np.zeros((2, 2), np.uint32)
    presum_rows_small(values, 3, out)
    assert out.tolist() == [[3, 12], [27, 36]]


def test_the_l200_layout_does_not_import_dspeed(tmp_path):
    src = tmp_path / "run.fcio"
    write_synthetic_run(src, n_events=6, adcs=3, eventsamples=4200, mode="full", seed=2)
    code = (
        "import sys; from rawconv import build_raw\n"
        f"build_raw({str(src)!r}, out_spec={str(tmp_path / 'run.lh5')!r}, layout='l200')\n"
        "assert 'dspeed' not in sys.modules and 'lgdo' not in sys.modules, 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    assert (tmp_path / "run.lh5").stat().st_size > 0
