"""proc_spec: window, presum, dsp_config, dtype_conv, drop, compression, hdf5_settings."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import h5py
import lh5
import numpy as np
import pytest

from rawconv import RawBuffer, build_raw
from rawconv.buffers import write_to_lh5_and_clear
from rawconv.codecs import RadwareSigcompress, ULEB128ZigZagDiff
from rawconv.errors import ProcSpecError
from rawconv.layouts import LAYOUTS, l200_out_spec, l200_proc_spec
from rawconv.lh5.columns import ArrayCol, ScalarCol, TableCol, VectorCol, waveform_table
from rawconv.processing import presum_rows, process_buffer, process_table, select_db

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

SIZE, LOC, SAMPLES = 10, 7, 12


def make_buffer() -> TableCol:
    """A buffer of SIZE rows: packet_id, a waveform table (dt 16, t0 = 100 + row), a VoV."""
    wf = waveform_table(SIZE, SAMPLES, "uint16", 16.0, "ns", "ns")
    wf["values"].nda[:] = np.arange(SIZE * SAMPLES, dtype=np.uint16).reshape(SIZE, SAMPLES)
    wf["t0"].nda[:] = 100 + np.arange(SIZE)
    vov = VectorCol.empty(SIZE, 3, "int32", {"units": "adc"})
    vov.cumulative_length.nda[:] = np.arange(1, SIZE + 1) * 2
    vov.flattened_data.nda[: 2 * SIZE] = np.arange(2 * SIZE) - 5
    cols = {
        "packet_id": ArrayCol(np.arange(SIZE, dtype=np.uint32), {"description": "id"}),
        "waveform": wf,
        "trace_list": vov,
        "aoesa": ArrayCol(np.arange(SIZE * 4, dtype=np.int16).reshape(SIZE, 4)),
    }
    return TableCol(cols, size=SIZE)


def snapshot(tbl: TableCol) -> dict:
    """Every array and attrs dict of a table (copies), and the objects themselves."""
    out = {}

    def walk(prefix, col):
        out[prefix + ":id"] = col
        out[prefix + ":attrs"] = copy.deepcopy(col.attrs)
        if isinstance(col, TableCol):
            out[prefix + ":keys"] = list(col)
            for k, c in col.items():
                walk(f"{prefix}/{k}", c)
        elif isinstance(col, VectorCol):
            walk(prefix + "/fd", col.flattened_data)
            walk(prefix + "/cl", col.cumulative_length)
        elif isinstance(col, ArrayCol):
            out[prefix + ":nda"] = (col.nda, col.nda.copy())

    walk("", tbl)
    return out


def assert_unchanged(tbl: TableCol, snap: dict) -> None:
    now = snapshot(tbl)
    assert now.keys() == snap.keys()
    for key, value in snap.items():
        if key.endswith(":id"):
            assert now[key] is value, key
        elif key.endswith(":nda"):
            assert now[key][0] is value[0], key  # the same array object...
            np.testing.assert_array_equal(now[key][1], value[1], err_msg=key)  # ...unchanged
        else:
            assert now[key] == value, key


def run(spec: dict, tbl: TableCol | None = None, db=None) -> tuple[TableCol, TableCol]:
    tbl = make_buffer() if tbl is None else tbl
    snap = snapshot(tbl)
    out = process_table(tbl, spec, LOC, db, name="test")
    assert_unchanged(tbl, snap)
    return tbl, out


def test_empty_spec_is_a_pass_through():
    tbl, out = run({})
    assert out is tbl


def test_window_values_t0_dt():
    tbl, out = run({"window": ["waveform", 3, -2, "windowed"]})
    w = out["windowed"]
    raw = tbl["waveform"]["values"].nda
    np.testing.assert_array_equal(w["values"].nda, raw[:LOC, 3:10])
    assert w["values"].nda.dtype == np.uint16
    assert len(w["values"].nda) == LOC  # the filled rows only
    np.testing.assert_array_equal(w["t0"].nda, 100 + np.arange(LOC) + 3 * 16.0)
    assert w["t0"].nda.dtype == np.float32
    np.testing.assert_array_equal(w["dt"].nda, np.full(LOC, 16.0))
    assert w["t0"].attrs == {"units": "ns"} and w["dt"].attrs == {"units": "ns"}
    assert "waveform" in out  # the input stays unless dropped


@pytest.mark.parametrize(
    ("start", "stop", "lo", "hi"), [(-5, None, 7, 12), (0, 4, 0, 4), (2, 100, 2, 12)]
)
def test_window_bounds_are_numpy_slices(start, stop, lo, hi):
    tbl, out = run({"window": ["waveform", start, stop, "w"]})
    raw = tbl["waveform"]["values"].nda
    np.testing.assert_array_equal(out["w"]["values"].nda, raw[:LOC, lo:hi])
    # a negative start shifts t0 by its index from the front (the reference adds start*dt)
    np.testing.assert_array_equal(out["w"]["t0"].nda, 100 + np.arange(LOC) + lo * 16.0)


def test_window_of_an_array_of_arrays_and_in_place():
    tbl, out = run({"window": ["aoesa", 1, 3, "aoesa"]})
    np.testing.assert_array_equal(out["aoesa"].nda, tbl["aoesa"].nda[:LOC, 1:3])


def test_presum_values_dtype_dt_t0_and_rate():
    tbl, out = run({"presum": ["waveform", 5, "presummed", "presum_rate"]})
    p = out["presummed"]
    raw = tbl["waveform"]["values"].nda[:LOC].astype(np.int64)
    expected = np.stack([raw[:, 0:5].sum(1), raw[:, 5:10].sum(1)], axis=1)  # 2 dropped
    np.testing.assert_array_equal(p["values"].nda, expected)
    assert p["values"].nda.dtype == np.uint32
    np.testing.assert_array_equal(p["dt"].nda, np.full(LOC, 80.0, dtype=np.float32))
    np.testing.assert_array_equal(p["t0"].nda, tbl["waveform"]["t0"].nda[:LOC])
    np.testing.assert_array_equal(out["presum_rate"].nda, np.full(LOC, 5))
    assert out["presum_rate"].nda.dtype == np.uint16
    assert out["presum_rate"].attrs["units"] == "ADC"  # as LEGEND's production files


@pytest.mark.parametrize(
    ("dtype", "out_dtype"),
    [("uint16", "uint32"), ("int16", "int32"), ("uint32", "uint64"), ("int32", "int64"),
     ("float32", "float32")],
)  # fmt: skip
def test_presum_sums_without_overflow(dtype, out_dtype):
    top = np.iinfo(dtype).max if dtype[0] in "iu" else 1.5
    values = np.full((3, 8), top, dtype=dtype)
    out = presum_rows(values, 4)
    assert out.dtype == np.dtype(out_dtype)
    np.testing.assert_array_equal(out, np.full((3, 2), 4 * values.astype(out_dtype)[0, 0]))


@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int16"])
@pytest.mark.parametrize("factor", [1, 3, 8])
def test_presum_of_adc_samples_equals_sums_in_int64(dtype, factor):
    """ADC samples take the one-pass kernel: its sums equal numpy's in int64, on a window
    (a view whose rows are not contiguous) with trailing samples dropped."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(factor)
    raw = rng.integers(info.min, info.max, size=(7, 60), endpoint=True).astype(dtype)
    window = raw[:, 5:55]
    out = presum_rows(window, factor)
    m = 50 // factor
    expected = window[:, : m * factor].astype(np.int64).reshape(7, m, factor).sum(2)
    assert out.dtype == np.dtype("uint32" if dtype[0] == "u" else "int32")
    np.testing.assert_array_equal(out.astype(np.int64), expected)


def test_window_then_presum_of_the_window():
    tbl, out = run({"window": ["waveform", 2, 10, "w"], "presum": ["w", 4, "p"]})
    raw = tbl["waveform"]["values"].nda[:LOC, 2:10].astype(np.int64)
    np.testing.assert_array_equal(out["p"]["values"].nda, raw.reshape(LOC, 2, 4).sum(2))
    np.testing.assert_array_equal(out["p"]["t0"].nda, 100 + np.arange(LOC) + 32.0)
    np.testing.assert_array_equal(out["p"]["dt"].nda, np.full(LOC, 64.0))


def test_dtype_conv_array_nested_vov_and_scalar():
    tbl = make_buffer()
    tbl["version"] = ScalarCol(3)
    _, out = run(
        {"dtype_conv": {"packet_id": "uint16", "waveform/values": "float32",
                        "trace_list": "int8", "version": "uint8"}},
        tbl,
    )  # fmt: skip
    assert out["packet_id"].nda.dtype == np.uint16
    np.testing.assert_array_equal(out["packet_id"].nda, np.arange(LOC))
    assert out["packet_id"].attrs == {"description": "id"}
    assert out["waveform"]["values"].nda.dtype == np.float32
    assert out["waveform"]["t0"] is tbl["waveform"]["t0"]  # untouched columns are shared
    assert out["trace_list"].flattened_data.nda.dtype == np.int8
    np.testing.assert_array_equal(out["trace_list"].flattened_data.nda, np.arange(2 * LOC) - 5)
    assert out["version"].value == 3 and isinstance(out["version"].value, np.uint8)


def test_drop_top_level_and_nested():
    _, out = run({"drop": ["packet_id", "waveform/dt"]})
    assert "packet_id" not in out
    assert sorted(out["waveform"]) == ["t0", "values"]


def test_compression_codecs_and_filters_become_attrs():
    spec = {
        "compression": {
            "waveform": "RadwareSigcompress(codec_shift=-32768)",  # a waveform: its values
            "trace_list": "uleb128_zigzag_diff",
            "packet_id": "lzf",
        },
        "hdf5_settings": {"aoesa": {"compression": "gzip", "compression_opts": 9}},
    }
    _, out = run(spec)
    assert out["waveform"]["values"].attrs["compression"] == RadwareSigcompress(-32768)
    assert out["trace_list"].attrs["compression"] == ULEB128ZigZagDiff()
    assert out["packet_id"].attrs["compression"] == "lzf"
    assert out["aoesa"].attrs["hdf5_settings"]["compression_opts"] == 9


def test_order_window_dtype_conv_drop_compression():
    spec = {
        "compression": {"w/values": "ULEB128ZigZagDiff()"},
        "drop": ["waveform"],
        "dtype_conv": {"w/values": "int32"},
        "window": ["waveform", 0, 6, "w"],
    }
    _, out = run(spec)
    assert "waveform" not in out
    assert out["w"]["values"].nda.dtype == np.int32
    assert out["w"]["values"].attrs["compression"] == ULEB128ZigZagDiff()


@pytest.mark.parametrize(
    ("spec", "missing"),
    [
        ({"window": ["wave", 0, 4, "w"]}, "wave"),
        ({"presum": ["waveform/nope", 4, "p"]}, "waveform/nope"),
        ({"dtype_conv": {"packet_id": "uint16", "baseline": "uint16"}}, "baseline"),
        ({"drop": ["packet_id", "energy"]}, "energy"),
        ({"compression": {"wf/values": "ULEB128ZigZagDiff()"}}, "wf/values"),
        ({"hdf5_settings": {"timestamp": {"shuffle": True}}}, "timestamp"),
    ],
)
def test_a_missing_column_is_an_error_naming_it(spec, missing):
    with pytest.raises(ProcSpecError, match=f"no column '{missing}'"):
        run(spec)
    _, out = run({**spec, "skip_missing": True})  # the reference's behaviour, on request
    assert "wave" not in out and "baseline" not in out and "energy" not in out


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"windows": []}, "unknown key"),
        ({"window": ["waveform", 0, 4]}, "list of 4-4 items"),
        ({"window": ["waveform", 8, 4, "w"]}, "is empty"),
        ({"window": ["packet_id", 0, 4, "w"]}, "not a waveform table"),
        ({"presum": ["waveform", 0, "p"]}, "positive integer"),
        ({"presum": ["waveform", 20, "p"]}, "fewer than the factor"),
        ({"dtype_conv": {"packet_id": "uint17"}}, "unknown dtype"),
        ({"dtype_conv": {"waveform": "uint32"}}, "waveform/values"),
        ({"drop": "packet_id"}, "must be a list"),
        ({"compression": {"packet_id": "RadwareSigcompress()"}}, "encodes waveforms"),
        ({"compression": {"waveform": "RadwareSigcompress(shift=3)"}}, "no parameter shift"),
        ({"compression": {"packet_id": "gzp"}}, "unknown compression"),
        ({"hdf5_settings": {"packet_id": "lz5"}}, "unknown compression"),
    ],
)
def test_malformed_specs(spec, match):
    with pytest.raises(ProcSpecError, match=match):
        run(spec)


def test_dsp_config_without_dspeed_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dspeed", None)  # import dspeed -> ImportError
    with pytest.raises(ProcSpecError, match="pip install dspeed"):
        run({"dsp_config": {"outputs": [], "processors": {}}})


DSP_PRESUM = {
    "outputs": ["presum_rate", "presummed"],
    "processors": {
        "presum_rate, presummed": {
            "function": "presum",
            "module": "dspeed.processors",
            "args": [
                "waveform",
                0,
                "presum_rate",
                "presummed(shape=len(waveform)/4, period=waveform.period*4, "
                "offset=waveform.offset)",
            ],
            "unit": "ADC",
        }
    },
}


def test_dsp_config_runs_dspeed_on_the_filled_rows():
    tbl, out = run({"dsp_config": DSP_PRESUM, "dtype_conv": {"presummed/values": "uint32"}})
    native = presum_rows(tbl["waveform"]["values"].nda[:LOC], 4)
    np.testing.assert_array_equal(out["presummed"]["values"].nda, native)
    assert len(out["presum_rate"].nda) == LOC


def test_select_db_by_out_name_group_channel_and_key():
    db = {"geds": {"a": 1}, "ch1104000": {"a": 2}, "grp": {"a": 3}, "52800": {"a": 4}}
    assert select_db(db, RawBuffer(out_name="geds", out_stream="f.lh5:/grp")) == {"a": 1}
    assert select_db(db, RawBuffer(out_name="x", out_stream="f.lh5:/grp")) == {"a": 3}
    assert select_db(db, RawBuffer(out_name="ch1104000/raw", out_stream="f.lh5")) == {"a": 2}
    assert select_db(db, RawBuffer(key_list=[52800], out_name="raw", out_stream="f")) == {"a": 4}
    assert select_db(db, RawBuffer(out_name="raw", out_stream="f.lh5")) is None
    assert select_db(None, RawBuffer(out_name="geds")) is None


def test_process_buffer_on_an_lgdo_table_and_its_rows(tmp_path):
    lgdo = pytest.importorskip("lgdo")
    values = np.arange(40, dtype=np.uint16).reshape(4, 10)
    wf = lgdo.WaveformTable(values=values, dt=4, dt_units="ns", t0=0, t0_units="ns")
    tbl = lgdo.Table({"waveform": wf, "packet_id": lgdo.Array(np.arange(4, dtype="uint32"))})
    rb = RawBuffer(lgdo=tbl, out_stream=str(tmp_path / "p.lh5"), out_name="raw",
                   proc_spec={"window": ["waveform", 2, 6, "w"], "drop": ["waveform"]})  # fmt: skip
    rb.loc = 3
    out = process_buffer(rb)
    np.testing.assert_array_equal(out["w"]["values"].nda, values[:3, 2:6])
    write_to_lh5_and_clear([rb])
    assert rb.loc == 0
    got = lh5.read("raw", str(tmp_path / "p.lh5"))
    assert sorted(got) == ["packet_id", "w"]
    np.testing.assert_array_equal(got["w"].values.nda, values[:3, 2:6])
    np.testing.assert_array_equal(got["w"].t0.nda, [8.0, 8.0, 8.0])
    np.testing.assert_array_equal(tbl["waveform"].values.nda, values)  # buffer untouched


# the production example on real data ----------------------------------------------------


def load_example() -> tuple[dict, dict]:
    out_spec = json.loads((EXAMPLES / "l200_raw_out_spec.json").read_text())
    proc_spec = json.loads((EXAMPLES / "l200_raw_proc_spec.json").read_text())
    return out_spec, proc_spec


def test_example_out_spec_embeds_the_example_proc_spec():
    """The example files are the l200 layout's out_spec and proc_spec (--layout l200)."""
    out_spec, proc_spec = load_example()
    assert out_spec == LAYOUTS["l200"].out_spec == l200_out_spec()
    assert proc_spec == l200_proc_spec()
    for decoder in ("FCEventDecoder", "ORFCIOEventDecoder", "ORFlashCamADCWaveformDecoder"):
        assert out_spec[decoder]["ch{key:07d}/raw"]["proc_spec"] == proc_spec


@pytest.mark.parametrize("buffer_size", [8192, 7])
def test_example_gives_the_production_layout(spms, tmp_path, buffer_size):
    out_spec, proc = load_example()
    plain = tmp_path / "plain.lh5"
    build_raw(str(spms), out_spec=str(plain))
    build_raw(str(spms), out_spec=out_spec, orig_basename=str(tmp_path / "run"),
              buffer_size=buffer_size)  # fmt: skip
    out = tmp_path / "run.lh5"
    with h5py.File(plain, "r") as f:
        raw = f["FCEvent/waveform/values"][()]
        channel = f["FCEvent/channel"][()]
        dt = f["FCEvent/waveform/dt"][()]
    lo, hi = proc["window"][1], proc["window"][2]
    factor = proc["presum"][1]
    with h5py.File(out, "r") as f:
        assert sorted(f) == [f"ch00528{i:02d}" for i in range(6)] + ["extra"]
        assert sorted(f["extra"]) == ["FCConfig", "FCStatus"]
        grp = f["ch0052800/raw/waveform_windowed/values"]
        assert grp.attrs["datatype"] == "array_of_encoded_equalsized_arrays<1,1>{real}"
        assert grp.attrs["codec"] == "radware_sigcompress"
        assert grp.attrs["codec_shift"] == -32768
        assert f["ch0052800/raw/waveform_presummed/values"].attrs["codec"] == (
            "uleb128_zigzag_diff"
        )
        assert "waveform" not in f["ch0052800/raw"]
    for ch in range(6):
        got = lh5.read(f"ch00528{ch:02d}/raw", str(out))
        rows = raw[channel == ch]
        np.testing.assert_array_equal(got["waveform_windowed"].values.nda, rows[:, lo:hi])
        np.testing.assert_array_equal(got["waveform_windowed"].t0.nda, lo * dt[channel == ch])
        n = rows.shape[1] // factor
        summed = rows[:, : n * factor].reshape(len(rows), n, factor).sum(2, dtype=np.int64)
        np.testing.assert_array_equal(got["waveform_presummed"].values.nda, summed)
        np.testing.assert_array_equal(got["waveform_presummed"].dt.nda, factor * dt[channel == ch])
        np.testing.assert_array_equal(got["presum_rate"].nda, np.full(len(rows), factor))
