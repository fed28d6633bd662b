"""A dspeed chain built once per buffer and run on its filled rows at each write.

The chain here is LEGEND-200's ``saturation``, which rawconv otherwise runs itself
(:mod:`rawconv.dsp_native`); these tests switch that off to exercise dspeed's chains."""

from __future__ import annotations

import numpy as np
import pytest

import rawconv.processing
from rawconv import RawBuffer
from rawconv.layouts import l200_proc_spec
from rawconv.lh5.columns import ArrayCol, TableCol, waveform_table
from rawconv.processing import process_buffer, process_table

SIZE, SAMPLES = 40, 64
SPEC = {key: l200_proc_spec()[key] for key in ("dsp_config", "dtype_conv")}
HI = 2**16 - 16
"""The sample value dspeed's ``saturation`` counts as high for bit depth 16."""


@pytest.fixture(autouse=True)
def through_dspeed(monkeypatch):
    monkeypatch.setattr(rawconv.processing, "native_outputs", lambda *args: None)


def fill(tbl: TableCol, seed: int) -> None:
    """Random traces, some touching 0 or HI (what saturation counts)."""
    rng = np.random.default_rng(seed)
    values = tbl["waveform"]["values"].nda
    values[:] = rng.integers(1000, 60000, size=values.shape)  # below HI
    for row in range(0, SIZE, 3):
        values[row, rng.integers(0, SAMPLES, size=row % 7 + 1)] = HI
    for row in range(1, SIZE, 4):
        values[row, rng.integers(0, SAMPLES, size=row % 5 + 1)] = 0


def make_buffer(seed: int) -> RawBuffer:
    wf = waveform_table(SIZE, SAMPLES, "uint16", 16.0, "ns", "ns")
    cols = {"packet_id": ArrayCol(np.arange(SIZE, dtype=np.uint32)), "waveform": wf}
    rb = RawBuffer(lgdo=TableCol(cols, size=SIZE), out_name="raw", proc_spec=dict(SPEC))
    fill(rb.table, seed)
    return rb


def fresh(rb: RawBuffer, spec: dict | None = None) -> TableCol:
    """The same rows processed with a chain built for them alone (no cache)."""
    return process_table(rb.table, spec or rb.proc_spec, rb.loc, name="fresh")


def counts(rb: RawBuffer) -> tuple[np.ndarray, np.ndarray]:
    values = rb.table["waveform"]["values"].nda[: rb.loc]
    return (values == 0).sum(axis=1), (values == HI).sum(axis=1)


def test_the_chain_is_built_once_and_reads_each_writes_rows():
    rb = make_buffer(1)
    results, chains = [], []
    for seed, loc in ((1, 37), (2, 40), (3, 5)):
        fill(rb.table, seed)
        rb.loc = loc
        out = process_buffer(rb)
        want = fresh(rb)
        lo, hi = counts(rb)
        for name, expected in (("t_sat_lo", lo), ("t_sat_hi", hi)):
            assert out[name].nda.dtype == np.uint16
            assert out[name].attrs == {"units": "ADC"} == want[name].attrs
            np.testing.assert_array_equal(out[name].nda, want[name].nda)
            np.testing.assert_array_equal(out[name].nda, expected)
        assert hi.sum() > loc // 3 and lo.sum() > loc // 4  # saturated samples were counted
        results.append((out["t_sat_hi"].nda, hi))
        (entry,) = rb.proc_cache.values()
        chains.append(entry[3])
    assert chains[0] is chains[1] is chains[2]  # one chain for every write
    for got, expected in results:  # each write's results are its own arrays
        np.testing.assert_array_equal(got, expected)


def test_a_new_table_builds_a_new_chain():
    rb = make_buffer(4)
    rb.loc = 10
    process_buffer(rb)
    first = next(iter(rb.proc_cache.values()))[3]
    rb.table = make_buffer(5).table
    rb.loc = 12
    out = process_buffer(rb)
    assert next(iter(rb.proc_cache.values()))[3] is not first
    np.testing.assert_array_equal(out["t_sat_hi"].nda, counts(rb)[1])


def test_a_column_written_over_by_an_earlier_step_is_what_the_chain_reads():
    rb = make_buffer(6)
    rb.proc_spec = {"window": ["waveform", 0, 8, "waveform"], **SPEC}
    rb.loc = 20
    out = process_buffer(rb)
    windowed = rb.table["waveform"]["values"].nda[:20, :8]
    np.testing.assert_array_equal(out["t_sat_hi"].nda, (windowed == HI).sum(axis=1))
    np.testing.assert_array_equal(out["t_sat_hi"].nda, fresh(rb)["t_sat_hi"].nda)
    assert not (out["t_sat_hi"].nda == counts(rb)[1]).all()  # not the whole traces'
    assert rb.proc_cache == {}  # built for these rows alone
