"""Tables copied from a template: the file is what creating each table makes.

The same tables are written twice, once as the writer does (the second table of a shape
on is copied from its template) and once with templates switched off; the two files must
match in every object: names, attributes, dtypes, shapes, values, filters and chunks.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

import rawconv.lh5.templates as templates
from rawconv.lh5.columns import ArrayCol, TableCol, VectorCol, waveform_table
from rawconv.lh5.writer import LH5Writer
from tests.conftest import assert_identical_lh5

N_TABLES = 5


def table(seed: int, rows: int, units: str = "ns") -> TableCol:
    """A table of every kind of column: arrays, a vector of vectors, waveform tables
    (plain, and encoded with each codec), a 2-D array and a bool column."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 9, size=rows)
    vov = VectorCol(
        ArrayCol(rng.integers(0, 100, size=int(lengths.sum())).astype(np.uint16)),
        ArrayCol(np.cumsum(lengths)),
        {"units": "ADC"},
    )
    raw = waveform_table(rows, 300, "uint16", 16.0, "ns", units)
    raw["values"].nda[:] = rng.integers(0, 4000, size=(rows, 300))
    radware = waveform_table(rows, 120, "uint16", 16.0, "ns", "ns")
    radware["values"].nda[:] = rng.integers(0, 4000, size=(rows, 120))
    radware["values"].attrs.update(compression="RadwareSigcompress(codec_shift=-32768)",
                                   hdf5_settings={"shuffle": True})  # fmt: skip
    uleb = waveform_table(rows, 40, "uint32", 64.0, "ns", "ns")
    uleb["values"].nda[:] = rng.integers(0, 40000, size=(rows, 40))
    uleb["values"].attrs["compression"] = "ULEB128ZigZagDiff()"
    cols = {
        "timestamp": ArrayCol(rng.random(rows), {"units": "s"}),
        "channel": ArrayCol(np.full(rows, seed, dtype=np.uint16)),
        "flag": ArrayCol(rng.random(rows) > 0.5),
        "pair": ArrayCol(rng.integers(0, 9, size=(rows, 2)).astype(np.int32)),
        "hits": vov,
        "waveform": raw,
        "windowed": radware,
        "presummed": uleb,
    }
    return TableCol(cols, size=rows)


def write(path: Path, tables: list[tuple[str, TableCol, int]], rounds: int = 2, **kw) -> None:
    """Each table written `rounds` times (rows appended), in one writer."""
    with LH5Writer(hdf5_settings=kw.pop("hdf5_settings", None), **kw) as writer:
        for _ in range(rounds):
            for name, tbl, n in tables:
                writer.write(tbl, name, path, n_rows=n)


@pytest.fixture
def counted(monkeypatch):
    """How many tables were copied from a template."""
    copies = []
    original = templates.TableTemplates.copy_into

    def copy_into(self, out, parent, name, *args):
        done = original(self, out, parent, name, *args)
        if done:
            copies.append(name)
        return done

    monkeypatch.setattr(templates.TableTemplates, "copy_into", copy_into)
    return copies


def without_templates(monkeypatch, *args, **kw) -> None:
    with monkeypatch.context() as m:
        m.setattr(templates.TableTemplates, "copy_into", lambda *a: False)
        write(*args, **kw)


@pytest.mark.parametrize(
    "settings", [None, "zstd:3", "lzf", {"compression": "gzip", "compression_opts": 1}]
)
def test_copied_tables_equal_created_ones(tmp_path, monkeypatch, counted, settings):
    tables = [(f"ch{i:03d}/raw", table(i, 40), 30) for i in range(N_TABLES)]
    write(tmp_path / "a.lh5", tables, hdf5_settings=settings)
    assert counted == ["raw"] * (N_TABLES - 1)  # the first table of the shape is created
    without_templates(monkeypatch, tmp_path / "b.lh5", tables, hdf5_settings=settings)
    assert assert_identical_lh5(tmp_path / "a.lh5", tmp_path / "b.lh5") > 100
    with h5py.File(tmp_path / "a.lh5", "r") as f:
        assert f.attrs["datatype"] == "struct{" + ",".join(f"ch{i:03d}" for i in range(5)) + "}"
        assert f["ch003"].attrs["datatype"] == "struct{raw}"
        np.testing.assert_array_equal(f["ch003/raw/channel"][()], [3] * 60)
        assert len(f["ch004/raw/hits/cumulative_length"]) == 60


def test_tables_of_another_shape_get_their_own_template(tmp_path, monkeypatch, counted):
    """Other units, another first-write length (another chunk shape) or fewer columns."""
    other_cols = table(9, 40)
    del other_cols["hits"]
    tables = [
        ("a", table(1, 40), 30), ("b", table(2, 40), 30),  # the same shape
        ("c", table(3, 40, units="us"), 30), ("d", table(4, 40, units="us"), 30),
        ("e", table(5, 3000), 2000), ("f", table(6, 3000), 2000),  # chunks of 2000 rows
        ("g", other_cols, 30), ("h", table(7, 40), 30),
    ]  # fmt: skip
    write(tmp_path / "a.lh5", tables, rounds=1)
    assert counted == ["b", "d", "f", "h"]
    without_templates(monkeypatch, tmp_path / "b.lh5", tables, rounds=1)
    assert_identical_lh5(tmp_path / "a.lh5", tmp_path / "b.lh5")
    with h5py.File(tmp_path / "a.lh5", "r") as f:
        assert f["c/waveform/t0"].attrs["units"] == "us"
        assert f["f/timestamp"].chunks == (2000,) and f["b/timestamp"].chunks == (1024,)


def test_part_files_of_the_parallel_layer(tmp_path, monkeypatch, counted):
    """Part files keep each dataset's final settings in an attribute; copies keep it too."""
    tables = [(f"ch{i}", table(i, 40), 40) for i in range(3)]
    write(tmp_path / "a.lh5", tables, defer_compression=True, hdf5_settings="zstd:3")
    assert len(counted) == 2
    without_templates(monkeypatch, tmp_path / "b.lh5", tables, defer_compression=True,
                      hdf5_settings="zstd:3")  # fmt: skip
    assert_identical_lh5(tmp_path / "a.lh5", tmp_path / "b.lh5")


def test_the_templates_live_in_memory_and_go_with_the_file(tmp_path):
    writer = LH5Writer()
    for name in ("x", "y", "z"):
        writer.write(table(1, 10), name, tmp_path / "t.lh5")
    (out,) = writer._files.values()
    memory = out.templates.memory.h5
    assert memory.driver == "core" and list(memory) == ["t0"]
    writer.close()
    assert not memory.id.valid and out.templates is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.lh5"]


def test_unusual_values_are_not_templated():
    odd = table(1, 10)
    odd["timestamp"].attrs["note"] = object()  # told apart by address only
    assert templates.signature(odd, 10, {}) is None
    assert templates.signature(table(1, 10), 10, {"chunks": True}) is None
    assert templates.signature(table(1, 10), 10, {}) == templates.signature(table(2, 10), 10, {})
    # 10 and 9 rows both give chunks of 1024 rows, 2000 rows chunks of 2000
    ten = templates.signature(table(1, 10), 10, {})
    assert ten == templates.signature(table(1, 10), 9, {})
    assert ten != templates.signature(table(1, 2000), 2000, {})


def test_a_copy_that_gains_a_column_lists_it_alone(tmp_path, counted):
    """The copies' group datatypes come from the template, as sets of their own: a column
    added to one copy later is listed in that table's datatype only."""
    path = tmp_path / "grow.lh5"
    with LH5Writer() as writer:
        for i in range(4):
            writer.write(table(i, 20), f"ch{i}/raw", path)
        wider = table(9, 20)
        wider["extra"] = ArrayCol(np.arange(20, dtype=np.int32))
        writer.write(wider, "ch2/raw", path)
        writer.write(table(5, 20), "ch5/raw", path)  # another copy, after the change
        other = table(6, 20)
        other["other"] = ArrayCol(np.ones(20, dtype=np.uint8))
        writer.write(other, "ch5/raw", path)
    assert counted == ["raw"] * 4
    base = sorted(table(0, 1))
    with h5py.File(path, "r") as f:
        for ch in (0, 1, 3):
            assert f[f"ch{ch}/raw"].attrs["datatype"] == "table{" + ",".join(base) + "}"
        for ch, added in ((2, "extra"), (5, "other")):
            want = "table{" + ",".join(sorted([*base, added])) + "}"
            assert f[f"ch{ch}/raw"].attrs["datatype"] == want
        assert f["ch2/raw/extra"][()].tolist() == list(range(20))
        assert len(f["ch2/raw/channel"]) == 40
        assert f["ch2/raw/windowed"].attrs["datatype"] == f["ch0/raw/windowed"].attrs["datatype"]
