"""Pack tasks compress the whole final chunks of each part; the merge stores them as they
are and encodes only the chunks across part boundaries (no cluster needed: the tasks run
in this process, in the order the client runs them)."""

from __future__ import annotations

import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
from rawconv.parallel.merge import merge_task
from rawconv.parallel.pack import DatasetSpan, pack_chunk, pack_part, part_layout, plan_spans
from rawconv.parallel.tasks import JobSpec, decode_chunk, index_task

from rawconv import build_raw
from rawconv.errors import RawconvError
from rawconv.formats.fcio.synthetic import write_synthetic_run
from rawconv.lh5.columns import ArrayCol
from rawconv.lh5.datasets import fixed_chunk_rows
from rawconv.lh5.writer import LH5Writer
from tests.parallel.conftest import assert_same_lh5

WAVEFORM = "/FCEvent/waveform/values"


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    """2000 events of one 4096-sample trace: 8 KiB waveform rows, 128 rows per chunk."""
    path = tmp_path_factory.mktemp("in") / "wide.fcio"
    write_synthetic_run(path, n_events=2000, adcs=1, eventsamples=4096, status_every=500,
                        seed=3)  # fmt: skip
    return path


def test_plan_spans_offsets_are_earlier_parts_rows_and_only_whole_chunks_count():
    layouts = [
        {"/a": (10, 4), "/c": (5, None), "/d": (8, 2)},
        {"/a": (7, 4), "/b": (3, 2), "/d": (8, 4)},
        {"/a": (5, 4), "/b": (4, 2), "/c": (9, None)},
    ]
    assert plan_spans(layouts) == [
        {"/a": DatasetSpan(0, 4)},
        {"/a": DatasetSpan(10, 4), "/b": DatasetSpan(0, 2)},
        # /a: merged rows 17-21 hold no whole chunk of 4; /b rows 3-6 hold rows 4-5
        {"/b": DatasetSpan(3, 2)},
    ]  # /c: no chunk rows; /d: the parts disagree on them


def test_fixed_chunk_rows_only_where_the_first_write_does_not_matter():
    assert fixed_chunk_rows((8192,), 2) == 64  # a 120x8192 waveform: 1 MiB chunks
    assert fixed_chunk_rows((1024,), 1) == 1024
    assert fixed_chunk_rows((), 8) is None  # a column: chunk rows follow the first write
    assert fixed_chunk_rows((1000,), 1) is None


def _unshuffle_inflate(data: bytes, itemsize: int) -> np.ndarray:
    raw = np.frombuffer(zlib.decompress(data), dtype=np.uint8)
    return raw.reshape(itemsize, -1).T.reshape(-1)


def test_pack_part_compresses_only_the_whole_final_chunks(tmp_path):
    part = str(tmp_path / "part.lh5")
    values = np.arange(7 * 65536, dtype=np.int32).reshape(7, 65536)  # 256 KiB rows
    writer = LH5Writer(defer_compression=True)
    writer.write(ArrayCol(values), "x", part)
    writer.commit()
    assert part_layout(part) == {"/x": (7, 4)}

    packed = pack_part(part, {"/x": DatasetSpan(offset=10, chunk_rows=4)})
    assert packed is not None
    # merged rows 10-16: rows 12-15 make the only whole chunk, the others straddle
    assert packed.interior == {"/x": (2, 6)}
    assert packed.offsets == {"/x": 10}
    assert packed.codecs == {"/x": (4, 4, True, "gzip", 4, 65536)}
    [(row, pos, size)] = packed.chunks["/x"]
    assert (row, pos) == (12, 0)
    stored = (tmp_path / "part.lh5.chunks").read_bytes()
    assert len(stored) == size < values[2:6].nbytes
    got = _unshuffle_inflate(stored, 4).view(np.int32)
    np.testing.assert_array_equal(got, values[2:6].reshape(-1))

    assert pack_part(part, {"/x": DatasetSpan(offset=1, chunk_rows=4)}).interior == {"/x": (3, 7)}
    assert pack_part(part, {"/x": DatasetSpan(offset=2, chunk_rows=8)}) is None  # no whole chunk
    assert not (tmp_path / "part.lh5.chunks.tmp").exists()


def _decode(tmp_path, src, hdf5_settings=None):
    """The input cut into 5 chunks and decoded into parts: (final output, decode results)."""
    out = tmp_path / "parallel.lh5"
    job = JobSpec(out_spec=str(out), scratch=str(tmp_path / "scratch"),
                  hdf5_settings=hdf5_settings)  # fmt: skip
    plan = index_task(str(src), None, str(tmp_path / "cache"), job, 0, 4_000_000)
    assert len(plan.chunks) == 5
    results = [decode_chunk(c, job) for c in plan.chunks]
    return str(out), results


def _pack(final, results):
    spans = plan_spans([r.layouts[final] for r in results])
    return [pack_chunk(r.parts, {final: s}) for r, s in zip(results, spans)]


def test_merge_copies_packed_chunks_and_equals_serial(tmp_path, src):
    serial = tmp_path / "serial.lh5"
    build_raw(str(src), out_spec=str(serial))
    final, results = _decode(tmp_path, src)
    # five chunks of equal bytes: 400 events each (the status records fall in between)
    rows = [r.layouts[final][WAVEFORM][0] for r in results]
    assert [r.layouts[final][WAVEFORM][1] for r in results] == [128] * 5
    assert sum(rows) == 2000 and all(abs(n - 400) <= 1 for n in rows), rows
    packs = _pack(final, results)
    packed = [p[final] for p in packs]
    # each part packs the chunks of 128 merged rows lying wholly inside its rows
    # (the first part: chunks 0-2, rows 0-383; the second: chunks 4-5, merged rows 512-767)
    offsets = np.cumsum([0, *rows[:-1]])
    whole = [list(range(-(-o // 128), (o + n) // 128)) for o, n in zip(offsets, rows)]
    assert whole[:2] == [[0, 1, 2], [4, 5]]
    chunks = [[row // 128 for row, _, _ in p.chunks[WAVEFORM]] for p in packed]
    assert chunks == whole
    interior = [(w[0] * 128 - o, (w[-1] + 1) * 128 - o) for w, o in zip(whole, offsets)]
    assert [p.interior[WAVEFORM] for p in packed] == interior
    side = {p.path: Path(p.path).read_bytes() for p in packed}

    # the interior rows of the parts are not read again: zeroing them changes nothing
    for r, p in zip(results, packed):
        start, stop = p.interior[WAVEFORM]
        assert stop > start
        with h5py.File(r.parts[final], "r+") as f:
            f[WAVEFORM][start:stop] = 0
    parts = [r.parts[final] for r in results]
    rows, seconds = merge_task(final, parts, None, packs)
    assert seconds > 0
    assert rows["/FCEvent"] == 2000
    assert assert_same_lh5(serial, final) > 10

    with h5py.File(final, "r") as f:  # each packed chunk stored byte for byte
        ds = f[WAVEFORM]
        for p in packed:
            for row, pos, size in p.chunks[WAVEFORM]:
                mask, data = ds.id.read_direct_chunk((row, 0))
                assert (mask, data) == (0, side[p.path][pos : pos + size])
    for p in packed:  # side files and parts go with the merge
        assert not (tmp_path / p.path).exists()
    assert not any((tmp_path / "scratch").rglob("*.lh5*"))


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("codec", "encoding"),
        ("offset", "was packed at row"),
    ],
)
def test_merge_refuses_packed_chunks_that_do_not_fit(tmp_path, src, tamper, message):
    final, results = _decode(tmp_path, src)
    packs = _pack(final, results)
    victim = packs[1][final]
    if tamper == "codec":
        rows, *rest = victim.codecs[WAVEFORM]
        victim.codecs[WAVEFORM] = (rows, *rest[:-1], rest[-1] + 1)
    else:
        victim.offsets[WAVEFORM] += 1
    parts = [r.parts[final] for r in results]
    with pytest.raises(RawconvError, match=message) as info:
        merge_task(final, parts, None, packs)
    assert info.value.path == final
    assert not (tmp_path / "parallel.lh5").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".parallel")] == []


@pytest.mark.parametrize("settings", ["none", "lzf"])
def test_settings_rawconv_does_not_deflate_are_merged_as_before(tmp_path, src, settings):
    serial = tmp_path / "serial.lh5"
    build_raw(str(src), out_spec=str(serial), hdf5_settings=settings)
    final, results = _decode(tmp_path, src, settings)
    packs = _pack(final, results)
    assert [p[final] for p in packs] == [None] * len(results)
    merge_task(final, [r.parts[final] for r in results], None, packs)
    assert assert_same_lh5(serial, final) > 10
    with h5py.File(final, "r") as f:
        assert f[WAVEFORM].compression == (None if settings == "none" else "lzf")


def test_convert_packs_on_the_cluster_and_equals_serial(tmp_path, src, client):
    from rawconv.parallel import convert

    serial = tmp_path / "serial.lh5"
    build_raw(str(src), out_spec=str(serial))
    out, scratch = tmp_path / "parallel.lh5", tmp_path / "scratch"
    report = convert([str(src)], out_spec=str(out), client=client, chunk_size=4_000_000,
                     scratch=scratch, cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert not report.failed, report.summary()
    assert report.files[0].chunks == 5
    assert report.tables[f"{out}:/FCEvent"] == 2000
    assert report.merge_seconds > 0
    assert report.after_decode_seconds > 0.9 * report.merge_seconds  # the merge is after
    assert assert_same_lh5(serial, out) > 10
    with h5py.File(out, "r") as f:
        ds = f[WAVEFORM]
        assert ds.chunks == (128, 4096) and ds.compression == "gzip"
    assert list(scratch.iterdir()) == []


class _RecordingClient:
    """Records the tasks a Collector submits (nothing runs)."""

    def __init__(self):
        self.calls = []

    def submit(self, run, versions, call, futures, key, pure, priority):
        import cloudpickle

        fn, args, _ = cloudpickle.loads(call)
        self.calls.append((fn.__name__, args, priority))
        return key


@pytest.mark.parametrize("order", [[2, 0, 4, 1, 3], [0, 1, 2, 3, 4], [4, 3, 2, 1, 0]])
def test_a_chunk_is_packed_once_the_chunks_before_it_are_decoded(tmp_path, src, order):
    """Pack tasks start while later chunks still decode (ahead of them in Dask's queue),
    with the spans a plan of all the parts gives."""
    from rawconv.parallel.collect import Collector, IndexArgs
    from rawconv.parallel.report import RunReport
    from rawconv.parallel.tasks import FilePlan

    final, results = _decode(tmp_path, src)
    spans = plan_spans([r.layouts[final] for r in results])
    assert all(spans)  # every part holds a whole merged chunk
    client = _RecordingClient()
    tasks = Collector(client, JobSpec(), RunReport(), IndexArgs(None, None, 4_000_000))
    plan = FilePlan(str(src), "FCIO", 0, [final], [r.chunk for r in results])
    tasks.plans[0], tasks.parts[0], tasks.pack_of[0] = plan, [], {}
    packed_after = []
    for k in order:
        tasks.parts[0].append(results[k])
        tasks._pack_ready(0)
        packed_after.append(sorted(tasks.pack_of[0]))
    # the first chunk waits for the second; each later one for all before it
    expected, done = [], set()
    for k in order:
        done.add(k)
        n = 0
        while n in done and (n > 0 or 1 in done):
            n += 1
        expected.append(list(range(n)))
    assert packed_after == expected
    assert len(client.calls) == 5
    by_chunk = {}
    for name, (parts, chunk_spans), priority in client.calls:
        assert (name, priority) == ("pack_chunk", 1)
        i = next(i for i, r in enumerate(results) if r.parts == parts)
        by_chunk[i] = chunk_spans
    assert by_chunk == {i: {final: spans[i]} for i in range(5)}
