"""RawBuffer.table and RawBuffer.lgdo: decoders fill light containers, users see LGDOs that
share their arrays (legend-daq2lh5's ``rb.lgdo.view_as(...)``, ``rb.lgdo["x"].nda``)."""

from __future__ import annotations

import subprocess
import sys

import h5py
import lgdo
import numpy as np
import pytest

from rawconv import RawBuffer, RawBufferLibrary, write_to_lh5_and_clear
from rawconv.formats.fcio.streamer import FCIOStreamer
from rawconv.lh5.columns import ArrayCol, TableCol, VectorCol
from rawconv.lh5.writer import LH5Writer


def _open(spms, out_stream=""):
    lib = RawBufferLibrary(
        {
            "FCEventDecoder": {"ch{key}": {"key_list": [52800], "out_stream": out_stream}},
            "FCStatusDecoder": {"st": {"key_list": ["*"], "out_stream": out_stream}},
            "FCConfigDecoder": {"cfg": {"key_list": ["*"], "out_stream": out_stream}},
        }
    )
    streamer = FCIOStreamer()
    header = streamer.open_stream(str(spms), rb_lib=lib, buffer_size=10)
    for rb in header:  # handled, as build_raw does once it has written them: read_chunk
        rb.loc = 0  # would hand unwritten header rows out first
    return streamer, header


def _pairs(table, view, prefix=""):
    """(name, container array, LGDO array) for every array of a table and its LGDO."""
    for name, col in table.items():
        sub = view[name]
        if isinstance(col, TableCol):
            yield from _pairs(col, sub, f"{prefix}{name}/")
        elif isinstance(col, VectorCol):
            yield f"{prefix}{name}/flattened_data", col.flattened_data.nda, sub.flattened_data.nda
            lengths = col.cumulative_length.nda
            yield f"{prefix}{name}/cumulative_length", lengths, sub.cumulative_length.nda
        else:
            yield f"{prefix}{name}", col.nda, sub.nda


def test_lgdo_is_an_lgdo_table_sharing_the_buffer_arrays(spms):
    streamer, (cfg,) = _open(spms)
    (ev,) = streamer.read_chunk()
    assert (ev.out_name, ev.loc, len(ev)) == ("ch52800", 10, 10)
    for rb in (ev, cfg):
        view = rb.lgdo
        assert isinstance(view, lgdo.Table) and len(view) == len(rb.table)
        assert rb.lgdo is view  # converted once
        pairs = list(_pairs(rb.table, view))
        assert len(pairs) == {"ch52800": 35, "cfg": 14}[rb.out_name]
        for name, mine, theirs in pairs:
            assert np.shares_memory(mine, theirs), name
            assert theirs.dtype == mine.dtype, name
            assert np.array_equal(theirs[: len(mine)], mine), name
    assert isinstance(ev.lgdo["waveform"], lgdo.WaveformTable)
    assert ev.lgdo["waveform"].values.nda.shape == (10, 6000)
    tracemap = cfg.lgdo["tracemap"]  # a vector of vectors: its offsets are shared too
    assert isinstance(tracemap, lgdo.VectorOfVectors)
    row = cfg.table["tracemap"]
    n = int(row.cumulative_length.nda[0])
    assert n == 6
    assert tracemap.view_as("ak")[0].to_list() == row.flattened_data.nda[:n].tolist()

    # decoding more rows into the same arrays: the same LGDO shows them
    before = ev.table["packet_id"].nda.copy()
    view = ev.lgdo
    ev.loc = 0
    (again,) = streamer.read_chunk()
    assert again is ev and ev.lgdo is view
    assert not np.array_equal(ev.table["packet_id"].nda, before)
    assert view["packet_id"].nda.tolist() == ev.table["packet_id"].nda.tolist()

    # a reallocated table: a new LGDO, sharing the new arrays
    ev.table.resize(20)
    assert ev.lgdo is not view and len(ev.lgdo) == 20
    assert np.shares_memory(ev.lgdo["packet_id"].nda, ev.table["packet_id"].nda)
    streamer.close_stream()


def test_lgdo_views_as_pandas(spms):
    streamer, (cfg,) = _open(spms)
    (ev,) = streamer.read_chunk()
    df = ev.lgdo.view_as("pd")
    assert len(df) == 10
    assert df["packet_id"].tolist() == ev.table["packet_id"].nda.tolist()
    assert df["daqenergy"].tolist() == ev.table["daqenergy"].nda.tolist()
    wf = ev.table["waveform"]["values"].nda
    assert [np.asarray(df["waveform_values"][i]).tolist() for i in (0, 9)] == [
        wf[0].tolist(),
        wf[9].tolist(),
    ]
    with pytest.warns(DeprecationWarning):  # lgdo's own warning: get_dataframe is old
        old = ev.lgdo.get_dataframe()
    assert old["packet_id"].tolist() == df["packet_id"].tolist()
    tracemap = cfg.lgdo.view_as("pd")["tracemap"][0]
    assert list(tracemap) == cfg.table["tracemap"].flattened_data.nda[:6].tolist()
    streamer.close_stream()


def test_writes_to_the_lgdo_are_written(spms, tmp_path):
    out = tmp_path / "out.lh5"
    streamer, _ = _open(spms, out_stream=str(out))
    for _ in range(4):  # the fourth chunk has the status buffer's rows too
        chunk = streamer.read_chunk()
    ev, st = chunk
    assert (ev.out_name, st.out_name, st.loc) == ("ch52800", "st", 2)
    pids = ev.table["packet_id"].nda.copy()
    ev.lgdo["packet_id"].nda[:] += 1000
    ev.lgdo["waveform"].values.nda[3, :4] = [7, 8, 9, 10]
    temps = st.lgdo["adc_temps"]
    row1 = slice(int(temps.cumulative_length.nda[0]), int(temps.cumulative_length.nda[1]))
    temps.flattened_data.nda[row1] = 4242
    with LH5Writer(atomic=False) as writer:
        write_to_lh5_and_clear(chunk, writer)
    with h5py.File(out, "r") as f:
        assert f["ch52800/packet_id"][()].tolist() == (pids + 1000).tolist()
        assert f["ch52800/waveform/values"][3, :4].tolist() == [7, 8, 9, 10]
        cl = f["st/adc_temps/cumulative_length"][()]
        assert cl.tolist() == [0, row1.stop]
        assert f["st/adc_temps/flattened_data"][()].tolist() == [4242] * row1.stop
    streamer.close_stream()


def test_a_buffer_given_an_lgdo_keeps_it(tmp_path):
    table = lgdo.Table(col_dict={"x": lgdo.Array(np.arange(4, dtype=np.int32))})
    rb = RawBuffer(lgdo=table, out_stream=str(tmp_path / "u.lh5"), out_name="u")
    assert rb.lgdo is table and rb.table is table and len(rb) == 4
    rb.loc = 3
    write_to_lh5_and_clear([rb])
    with h5py.File(tmp_path / "u.lh5", "r") as f:
        assert f["u/x"][()].tolist() == [0, 1, 2]
    mine = TableCol({"y": ArrayCol(np.zeros(2))})
    rb.lgdo = mine  # assigning containers: rb.lgdo converts them
    assert rb.table is mine and isinstance(rb.lgdo, lgdo.Table)
    assert np.shares_memory(rb.lgdo["y"].nda, mine["y"].nda)
    assert RawBuffer().lgdo is None and len(RawBuffer()) == 0


def test_converting_a_file_does_not_import_lgdo(spms, tmp_path):
    """legend-pydataobj costs over a second to import: the conversion path never needs it."""
    code = (
        "import sys; from rawconv import build_raw; "
        f"build_raw({str(spms)!r}, out_spec={str(tmp_path / 'x.lh5')!r}); "
        "print(sorted(m for m in ('lgdo', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    with h5py.File(tmp_path / "x.lh5", "r") as f:
        assert len(f["FCEvent/packet_id"]) > 0 and len(f["FCStatus/packet_id"]) == 2
