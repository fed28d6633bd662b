"""MGDO: rawconv-parallel output equals serial build_raw output for any chunk size (the
GERDA file, a writer-made file of twelve baskets, a file with a damaged basket and a file cut
short), and the per-basket index behind it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawconv.parallel import convert

from rawconv.formats.mgdo.index import MGDOIndex
from rawconv.formats.mgdo.writer import rebasket
from rawconv.sources import open_source
from tests.formats.mgdo.files import basket_seeks, mgdo_file, synthetic_entries
from tests.parallel.conftest import assert_same_lh5, convert_serially, lh5_files, stem

SPECS = {
    "default": None,
    "channels": {
        "MGDOEventDecoder": {
            "ch{key:03d}/raw": {"key_list": ["*"], "out_stream": "{dir}/{orig_basename}.lh5"}
        },
        "MGDOAuxWaveformDecoder": {
            "ch{key:03d}/aux": {"key_list": ["*"], "out_stream": "{dir}/{orig_basename}.lh5"}
        },
    },
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("mgdo")
    real = d / "gerda.root"
    shutil.copy(mgdo_file(), real)
    made = d / "made.root"
    entries = synthetic_entries(96, seed=3)  # more baskets than the template's tree holds
    rebasket(mgdo_file(), made, [entries[i : i + 8] for i in range(0, 96, 8)])
    raw = bytearray(made.read_bytes())
    seek, _ = basket_seeks(made)[4]
    raw[seek + 300] ^= 0x21  # a damaged basket: its entries go to the garbage table
    (d / "flipped.root").write_bytes(bytes(raw))
    seek, nbytes = basket_seeks(made)[6]
    (d / "cut.root").write_bytes(made.read_bytes()[: seek + nbytes // 2])
    return [real, made, d / "flipped.root", d / "cut.root"]


def _check(inputs, client, tmp, chunk_size, spec):
    serial, par = tmp / "serial", tmp / "par"
    serial.mkdir()
    par.mkdir()
    convert_serially(inputs, SPECS[spec], serial)
    kwargs = {"out_spec": str(par / "{orig_basename}.lh5")} if spec == "default" else {
        "out_spec": SPECS[spec], "dir": str(par)}  # fmt: skip
    report = convert([str(f) for f in inputs], client=client, chunk_size=chunk_size,
                     scratch=tmp / "scratch", cache_dir=str(tmp / "cache"), **kwargs)  # fmt: skip
    assert [f.status for f in report.files] == ["done"] * len(inputs), report.summary()
    assert lh5_files(serial) == lh5_files(par) == sorted(f"{stem(f)}.lh5" for f in inputs)
    for name in lh5_files(serial):
        assert assert_same_lh5(serial / name, par / name) > 5
    return {f.input.rsplit("/", 1)[1]: f.chunks for f in report.files}


@pytest.mark.parametrize("chunk_size", [1, 20_000, 10**10])
def test_identity_for_chunk_sizes(inputs, client, tmp_path, chunk_size):
    chunks = _check(inputs, client, tmp_path, chunk_size, "default")
    if chunk_size == 1:  # one basket per chunk
        assert chunks == {"gerda.root": 4, "made.root": 12, "flipped.root": 12, "cut.root": 7}
    if chunk_size == 10**10:
        assert set(chunks.values()) == {1}


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(chunk_size=st.integers(1, 150_000), spec=st.sampled_from(sorted(SPECS)))
def test_identity_property(inputs, client, tmp_path_factory, chunk_size, spec):
    _check(inputs, client, tmp_path_factory.mktemp("prop"), chunk_size, spec)


def test_index_has_one_record_per_basket(inputs, tmp_path):
    for f in inputs[:2]:
        idx = MGDOIndex.build(open_source(str(f)))
        seeks = basket_seeks(f)
        assert idx.records["start"].tolist() == [s for s, _ in seeks]
        assert idx.records["stop"].tolist() == [s + n for s, n in seeks]
        assert idx.boundaries().tolist() == list(range(1, len(seeks)))
        assert idx.size == f.stat().st_size
        idx.save(tmp_path / "i.npz", ("x",))
        back = MGDOIndex.load(tmp_path / "i.npz", ("x",))
        np.testing.assert_array_equal(back.records, idx.records)
        assert back.splittable is True
    assert MGDOIndex.build(open_source(str(inputs[1]))).records["pid"].tolist() == list(
        range(0, 96, 8)
    )
    cut = MGDOIndex.build(open_source(str(inputs[3])))  # recovered: the cut basket ends the file
    assert len(cut.records) == 7 and cut.records["stop"][-1] == inputs[3].stat().st_size


def test_unordered_baskets_are_not_split(monkeypatch):
    """Baskets out of file order (or one kept in the tree metadata before others): one chunk."""
    from types import SimpleNamespace

    from rawconv.formats.mgdo import index as index_module
    from rawconv.formats.mgdo.root import BasketTable

    def fake(seeks):
        n = len(seeks)
        table = BasketTable(np.array(seeks), np.full(n, 100), np.arange(n) * 3, np.full(n, 3))
        monkeypatch.setattr(index_module, "open_tree", lambda source: SimpleNamespace(table=table))
        return MGDOIndex.build(open_source(b"x" * 10_000))

    assert fake([100, 300, 500]).boundaries().tolist() == [1, 2]
    assert fake([100, 500, 300]).boundaries().tolist() == []
    assert fake([100, 150, 500]).boundaries().tolist() == []  # overlapping
    assert fake([-1, 100, 300]).boundaries().tolist() == []
    assert fake([100, 300, -1]).boundaries().tolist() == [1]  # metadata basket: last chunk
