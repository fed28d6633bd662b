"""Chunks compressed in the appending thread (``set_compress_threads(0)``, what the parallel
layer's single-threaded workers use) are the chunks the compression threads write."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rawconv.lh5 import chunks

from .conftest import datasets
from .test_compression import PIECES, expected, source_table, write_pieces
from .test_zstd_chunks import stored_chunks


@pytest.fixture
def restore_threads():
    yield
    chunks.set_compress_threads(None)


@pytest.mark.parametrize("settings", [None, "gzip:1", "zstd:3"])
def test_inline_compression_stores_the_same_chunks(settings, tmp_path, restore_threads):
    tables = [source_table(seed) for seed in range(len(PIECES))]
    threaded, inline = tmp_path / "threaded.lh5", tmp_path / "inline.lh5"
    chunks.set_compress_threads(2)
    write_pieces(threaded, tables, settings)
    chunks.set_compress_threads(0)
    assert chunks._POOL is None  # the pool of 2 threads was shut down
    write_pieces(inline, tables, settings)
    assert chunks._POOL is None  # no pool made: every chunk compressed by the caller
    assert not [t for t in threading.enumerate() if t.name.startswith("rawconv-deflate")]
    want = expected(tables)
    a, b = datasets(threaded), datasets(inline)
    assert a.keys() == b.keys() == want.keys()
    direct = 0
    for name, ds in a.items():
        np.testing.assert_array_equal(b[name][()], want[name], err_msg=name)
        if ds.chunks is not None and ds.ndim >= 1 and ds.shape[0]:
            assert stored_chunks(b[name]) == stored_chunks(ds), name
            direct += 1
    assert direct >= 10


def test_the_environment_sets_the_threads(monkeypatch, restore_threads):
    chunks.set_compress_threads(None)
    monkeypatch.setenv("RAWCONV_COMPRESS_THREADS", "0")
    assert chunks.compression_threads() == 0
    monkeypatch.setenv("RAWCONV_COMPRESS_THREADS", "3")
    assert chunks.compression_threads() == 3
    chunks.set_compress_threads(1)
    assert chunks.compression_threads() == 1  # the call wins over the environment


def test_the_setting_is_restored_after_a_block(restore_threads):
    chunks.set_compress_threads(2)
    with chunks.compress_threads(0):
        assert chunks.compression_threads() == 0
    assert chunks.compression_threads() == 2


def test_parallel_tasks_of_one_thread_compress_what_they_decode(th228, tmp_path,
                                                                restore_threads):  # fmt: skip
    """A worker of one thread gets no compression thread; a decode task compresses in its
    own thread and leaves the process's setting as it found it (a notebook's tasks run in
    the user's process)."""
    from rawconv.parallel.convert import task_compress_threads
    from rawconv.parallel.tasks import JobSpec, decode_chunk, index_task

    assert [task_compress_threads(n) for n in (1, 2, 8)] == [0, 2, 8]
    job = JobSpec(out_spec=str(tmp_path / "out.lh5"), scratch=str(tmp_path / "scratch"),
                  compress_threads=0)  # fmt: skip
    (chunk,) = index_task(str(th228), None, None, job, 0, 64 << 20).chunks
    chunks.set_compress_threads(3)
    seen = []
    real = chunks.DirectChunkAppender._encode_write

    def spy(self, first_row, chunk):
        in_main = threading.current_thread() is threading.main_thread()
        seen.append((in_main, chunks.compression_threads()))
        return real(self, first_row, chunk)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(chunks.DirectChunkAppender, "_encode_write", spy)
        result = decode_chunk(chunk, job)
    assert result.rows == 1000 and len(seen) > 10
    assert set(seen) == {(True, 0)}  # every chunk compressed by the task's own thread
    assert chunks.compression_threads() == 3
