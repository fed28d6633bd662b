"""Waveform columns encoded on their own thread before their tables' writes."""

from __future__ import annotations

import threading

import h5py
import numpy as np
import pytest

import rawconv.lh5.encoded as encoded_module
from rawconv.buffers import RawBuffer, write_to_lh5_and_clear
from rawconv.errors import RawconvError
from rawconv.lh5 import LH5Writer
from rawconv.lh5.chunks import compress_threads
from rawconv.lh5.columns import ArrayCol, TableCol, waveform_table
from rawconv.lh5.encoded import encodable_columns

RADWARE = "RadwareSigcompress(codec_shift=-32768)"


def table(values: np.ndarray, codec: str | None = RADWARE) -> TableCol:
    wf = waveform_table(len(values), values.shape[1], values.dtype, 16.0, "ns", "ns")
    wf["values"].nda[:] = values
    if codec is not None:
        wf["values"].attrs["compression"] = codec
    presum = ArrayCol(values[:, ::4].astype(np.uint32), {"compression": "ULEB128ZigZagDiff()"})
    return TableCol({"energy": ArrayCol(values[:, 0].astype(np.float64)), "waveform": wf,
                     "presummed": presum}, size=len(values))  # fmt: skip


@pytest.fixture
def encoders(monkeypatch):
    """The threads that encoded each column (by the column's first value)."""
    seen: list[tuple[str, int]] = []
    real = encoded_module.encode_column

    def spy(col, codec, n_rows=None):
        seen.append((threading.current_thread().name, int(col.nda.flat[0])))
        return real(col, codec, n_rows)

    monkeypatch.setattr(encoded_module, "encode_column", spy)
    return seen


def channel_buffers(path, n: int, rows: int) -> list[RawBuffer]:
    rng = np.random.default_rng(5)
    rbs = []
    for ch in range(n):
        values = rng.normal(14000 + 100 * ch, 20, (rows + 3, 64)).astype(np.uint16)
        values[:, 0] = ch  # which channel encoded where
        rb = RawBuffer(lgdo=table(values), key_list=[ch], out_stream=str(path),
                       out_name=f"ch{ch}/raw")  # fmt: skip
        rb.loc, rb.early_processed = rows, True
        rbs.append(rb)
    return rbs


def test_encodable_columns_are_the_2d_arrays_with_a_codec():
    t = table(np.zeros((3, 8), np.uint16))
    assert encodable_columns(t) == [t["waveform"]["values"], t["presummed"]]
    other = table(np.zeros((3, 8), np.uint16), codec=None)
    assert encodable_columns(other) == [other["presummed"]]
    assert encodable_columns(ArrayCol(np.zeros((3, 8)))) == []


def test_buffers_are_encoded_on_the_encoding_thread_and_written_the_same(tmp_path, encoders):
    ahead, plain = tmp_path / "ahead.lh5", tmp_path / "plain.lh5"
    rbs = channel_buffers(ahead, 5, 40)
    with LH5Writer(atomic=False) as w:
        write_to_lh5_and_clear(rbs, w)
    on_thread = sorted(ch for name, ch in encoders if name == "rawconv-encode_0")
    assert on_thread == [ch for ch in range(5) for _ in range(2)]
    assert len(encoders) == 12  # and once for the file's table template, in this thread
    assert [rb.loc for rb in rbs] == [0] * 5
    encoders.clear()
    rbs = channel_buffers(plain, 5, 40)
    with LH5Writer(atomic=False) as w, compress_threads(0):  # a one-thread worker's tasks
        write_to_lh5_and_clear(rbs, w)
    assert {name for name, _ in encoders} == {threading.current_thread().name}
    assert len(encoders) == 12
    with h5py.File(ahead) as a, h5py.File(plain) as b:
        names: list[str] = []
        a.visit(names.append)
        assert len([n for n in names if n.endswith("flattened_data")]) == 10
        for name in names:
            assert dict(a[name].attrs) == dict(b[name].attrs), name
            if isinstance(a[name], h5py.Dataset):
                np.testing.assert_array_equal(a[name][()], b[name][()], err_msg=name)


def test_an_encoding_error_is_raised_by_its_tables_write(tmp_path):
    rbs = channel_buffers(tmp_path / "bad.lh5", 4, 10)
    rbs[2].table["waveform"]["values"].nda[7] = 40000  # shifted by -32768: fine
    rbs[2].table["presummed"].nda[7, 3] = 3_000_000_000  # a difference beyond int32
    with LH5Writer(atomic=False) as w:
        with pytest.raises(RawconvError, match="row 7"):
            write_to_lh5_and_clear(rbs, w)
        assert all(not out.ahead for out in w._files.values())  # nothing left queued
    with h5py.File(tmp_path / "bad.lh5") as f:
        assert "ch1/raw" in f and "ch3/raw" not in f


def test_a_table_written_with_other_rows_encodes_them_itself(tmp_path, encoders):
    path = tmp_path / "x.lh5"
    values = np.arange(40 * 16, dtype=np.uint16).reshape(40, 16)
    t = table(values)
    with LH5Writer(atomic=False) as w:
        assert w.encode_ahead(t, path, 30) == 2
        w.write(t, "t", path, n_rows=20)  # not the rows queued
        assert [name for name, _ in encoders].count("rawconv-encode_0") == 2
        w.discard_ahead()
        assert not w._files[str(path)].ahead
    with h5py.File(path) as f:
        assert f["t/waveform/values/encoded_data/cumulative_length"].shape == (20,)
    import lh5

    np.testing.assert_array_equal(lh5.read("t/waveform/values", str(path)).nda, values[:20])


def test_the_l200_layout_is_the_same_encoded_ahead_or_not(tmp_path, encoders):
    from rawconv import build_raw
    from rawconv.formats.fcio.synthetic import write_synthetic_run
    from tests.conftest import assert_identical_lh5

    src = tmp_path / "run.fcio"
    write_synthetic_run(src, n_events=60, adcs=6, eventsamples=4400, status_every=20, seed=8)
    build_raw(str(src), layout="l200", out_spec=str(tmp_path / "ahead.lh5"))
    threads = [name for name, _ in encoders]
    assert threads.count("rawconv-encode_0") == 12 and len(threads) == 14  # 6 tables
    with compress_threads(0):
        build_raw(str(src), layout="l200", out_spec=str(tmp_path / "plain.lh5"))
    assert len(encoders) == 28 and "rawconv-encode_0" not in [n for n, _ in encoders[14:]]
    assert assert_identical_lh5(tmp_path / "ahead.lh5", tmp_path / "plain.lh5") > 6 * 40


def test_a_few_tables_are_encoded_ahead_not_the_whole_fill(tmp_path, monkeypatch):
    from rawconv.buffers import ENCODE_AHEAD_TABLES

    path = tmp_path / "many.lh5"
    rbs = channel_buffers(path, 12, 20)
    waiting: list[int] = []
    real = LH5Writer.write

    def write(self, obj, name, lh5_file, **kwargs):
        waiting.append(len(self._files[str(lh5_file)].ahead))
        return real(self, obj, name, lh5_file, **kwargs)

    monkeypatch.setattr(LH5Writer, "write", write)
    with LH5Writer(atomic=False) as w:
        write_to_lh5_and_clear(rbs, w)
    assert ENCODE_AHEAD_TABLES == 8
    assert waiting == [16] * 5 + [14, 12, 10, 8, 6, 4, 2]  # two columns a table
