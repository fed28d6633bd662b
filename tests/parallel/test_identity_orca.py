"""ORCA: parallel output equals serial build_raw output, dataset by dataset, for any chunk
size (real files, writer-made legacy FlashCam / Struck / FCIO-wrapped files in both byte
orders, a damaged file), and the ORCA index behind it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawconv.parallel import convert, index

from rawconv.formats.orca.resume import OrcaIndex, build_orca_index
from rawconv.formats.orca.synthetic import write_synthetic_orca
from tests.conftest import data_file
from tests.formats.orca.files import fcio_file, mixed_file, record_offsets
from tests.parallel.conftest import assert_same_lh5, convert_serially, lh5_files, stem

SPECS = {
    "default": None,
    "channels": {
        "ORFCIOEventDecoder": {  # channel keys (FSP keys are strings: not in these tables)
            "ch{key:07d}/raw": {"key_list": ["[0-9]*"], "out_stream": "{dir}/{orig_basename}.lh5"}
        },
        "*": {"{name}_{key}": {"key_list": ["*"], "out_stream": "{dir}/{orig_basename}.lh5:/aux"}},
    },
    # event headers not written: their listener's event state must still advance
    "events_only": {
        "ORFCIOEventDecoder": {
            "events_{key}": {"key_list": ["*"], "out_stream": "{dir}/{orig_basename}.lh5"}
        },
    },
}


def _damaged() -> bytes:
    """A legacy file with junk bytes between two records (resynchronised)."""
    data = mixed_file(n=12)
    off, _ = record_offsets(data)[30]
    return data[:off] + bytes(range(1, 14)) + data[off:]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("orca")
    files = []
    for rel in ("orca/fc/L200-comm-20220519-phy-geds.orca",
                "orca/fcio/l200-p14-r004-cal-20250606T010224Z.orca"):  # fmt: skip
        files.append(d / rel.rsplit("/", 1)[1])
        shutil.copy(data_file(rel), files[-1])
    made = {"mixed.orca": mixed_file(), "mixed_be.orca": mixed_file(">"),
            "fcio.orca": fcio_file(), "nofsp.orca": fcio_file(fsp=False, n=20),
            "damaged.orca": _damaged()}  # fmt: skip
    for name, data in made.items():
        (d / name).write_bytes(data)
        files.append(d / name)
    write_synthetic_orca(d / "dead.orca", listeners=2, n_events=120, adcs=3, eventsamples=40,
                         mode="sparse", traces_per_event=2, status_every=50, seed=2,
                         rate_hz=40000)  # fmt: skip
    write_synthetic_orca(d / "hdr.orca", listeners=2, n_events=100, adcs=5, eventsamples=20,
                         mode="header", status_every=40, seed=4, rate_hz=40000)  # fmt: skip
    return [*files, d / "dead.orca", d / "hdr.orca"]


@pytest.mark.parametrize("chunk_size", [1, 3000, 10**10])
def test_identity_for_chunk_sizes(inputs, client, tmp_path, chunk_size):
    serial, par = tmp_path / "serial", tmp_path / "par"
    serial.mkdir()
    par.mkdir()
    if chunk_size == 1:  # one record per chunk: not the long synthetic runs
        inputs = [f for f in inputs if f.name not in ("dead.orca", "hdr.orca")]
    convert_serially(inputs, None, serial)
    report = convert([str(f) for f in inputs], out_spec=str(par / "{orig_basename}.lh5"),
                     client=client, chunk_size=chunk_size, scratch=tmp_path / "scratch",
                     cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert [f.status for f in report.files] == ["done"] * len(inputs), report.summary()
    assert [f.bytes for f in report.files] == [f.stat().st_size for f in inputs]
    chunks = {f.input.rsplit("/", 1)[1]: f.chunks for f in report.files}
    if chunk_size == 1:  # every record its own chunk, but near the damaged region
        assert chunks["L200-comm-20220519-phy-geds.orca"] == 70  # 2 run + config + 67 wf
        n_records = len(record_offsets(mixed_file(n=12)))  # the junk is no record
        assert chunks["damaged.orca"] == n_records - 4  # no split in the resync window
    if chunk_size == 10**10:
        assert set(chunks.values()) == {1}
    assert lh5_files(serial) == lh5_files(par) == sorted(f"{stem(f)}.lh5" for f in inputs)
    for name in lh5_files(serial):
        assert assert_same_lh5(serial / name, par / name) > 5
    scratch = tmp_path / "scratch"  # cleaned; not even made when every file is one chunk
    assert (list(scratch.iterdir()) == []) if chunk_size < 10**10 else not scratch.exists()


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chunk_size=st.integers(200, 40_000), spec=st.sampled_from(sorted(SPECS)))
def test_identity_property(inputs, client, tmp_path_factory, chunk_size, spec):
    tmp = tmp_path_factory.mktemp("prop")
    serial, par = tmp / "serial", tmp / "par"
    serial.mkdir()
    par.mkdir()
    files = [f for f in inputs if f.name in ("fcio.orca", "nofsp.orca", "dead.orca", "hdr.orca")]
    convert_serially(files, SPECS[spec], serial)
    kwargs = {"out_spec": str(par / "{orig_basename}.lh5")} if spec == "default" else {
        "out_spec": SPECS[spec], "dir": str(par)}  # fmt: skip
    report = convert([str(f) for f in files], client=client, chunk_size=chunk_size,
                     scratch=tmp / "scratch", cache_dir=str(tmp / "cache"), **kwargs)  # fmt: skip
    assert all(f.status == "done" for f in report.files), report.summary()
    assert lh5_files(serial) == lh5_files(par)
    for name in lh5_files(serial):
        assert_same_lh5(serial / name, par / name)


def test_index_records_and_state(inputs, tmp_path):
    """The record table matches the file's word-0 walk; event state rows per listener."""
    f = next(f for f in inputs if f.name == "fcio.orca")
    idx = build_orca_index(str(f))
    walk = record_offsets(f.read_bytes())
    assert idx.records["start"].tolist() == [o for o, _ in walk]
    assert (idx.records["stop"] - idx.records["start"]).tolist() == [n for _, n in walk]
    assert idx.records["pid"].tolist() == list(range(1, len(walk) + 1))
    assert idx.fcids.tolist() == [1, 2]
    assert idx.ntraces.tolist() == [4, 3]
    # fcio_file(n=8): listener 1 has 8 events; listener 2 has 8 sparse events + 4 headers
    assert np.bincount(idx.ev_fcid).tolist() == [0, 8, 12]
    for fcid in (1, 2):  # in file order per listener
        assert np.all(np.diff(idx.ev_rec[idx.ev_fcid == fcid]) > 0)
    idx.save(tmp_path / "i.npz")
    back = OrcaIndex.load(tmp_path / "i.npz")
    assert np.array_equal(back.ev_state, idx.ev_state) and back.size == idx.size == f.stat().st_size


def test_index_of_a_damaged_file_avoids_the_resync_window(inputs, tmp_path):
    f = next(f for f in inputs if f.name == "damaged.orca")
    (fi,) = index([str(f)], cache_dir=tmp_path)
    recs = fi.records
    gap = int(np.flatnonzero(recs["start"][1:] != recs["stop"][:-1])[0]) + 1
    assert recs["start"][gap] - recs["stop"][gap - 1] == 13  # the junk
    assert recs["pid"][gap] == recs["pid"][gap - 1] + 2  # the garbage row takes a packet id
    bounds = fi.format_index.boundaries().tolist()
    assert not set(range(gap, gap + 4)) & set(bounds)
    assert {gap - 1, gap + 4} <= set(bounds)
