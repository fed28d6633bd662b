"""Where inputs are cut: chunks of about equal bytes, on allowed record boundaries."""

from __future__ import annotations

import itertools

import numpy as np
from rawconv.parallel.plan import chunk_edges


def _sizes(starts: np.ndarray, size: int, edges: list[int]) -> list[int]:
    """Bytes of each chunk (the first from offset 0, the last to the end)."""
    cuts = [0, *(int(starts[e]) for e in edges[1:]), size]
    return [b - a for a, b in itertools.pairwise(cuts)]


def test_an_input_is_cut_into_equal_chunks_not_a_full_one_and_a_rest():
    starts = np.arange(600, dtype=np.int64) * 1_000_000  # 600 records of 1 MB
    edges = chunk_edges(starts, np.arange(1, 600), 600_000_000, 512_000_000)
    assert edges == [0, 300]  # cut at 512 MB: 512 + 88 MB, one worker idle most of the run
    assert _sizes(starts, 600_000_000, edges) == [300_000_000] * 2


def test_each_cut_is_the_first_allowed_boundary_past_its_share():
    rng = np.random.default_rng(5)
    lengths = rng.integers(100, 10_000, 5000)
    starts = np.concatenate([[64], 64 + np.cumsum(lengths[:-1])])  # a 64-byte header first
    size = int(64 + lengths.sum())
    allowed = np.sort(rng.choice(np.arange(1, 5000), 2500, replace=False)).tolist()
    gap = max(np.diff(starts[[0, *allowed]]).max(), size - starts[allowed[-1]])
    for chunk in (50_000, 333_333, 1_000_000, size, 10 * size):
        edges = chunk_edges(starts, np.array(allowed), size, chunk)
        pieces = -(-(size - 64) // chunk)
        cuts = []  # the first allowed boundary at or past k shares, for each k
        for k in range(1, pieces):
            past = [b for b in allowed if (starts[b] - 64) * pieces >= k * (size - 64)]
            if past and past[0] not in cuts:
                cuts.append(past[0])
        assert edges == [0, *cuts]
        assert pieces - 1 >= len(cuts) >= (pieces - 1) * min(1, (size - 64) / pieces / gap)
        share = (size - 64) / pieces
        sizes = _sizes(starts, size, edges)
        assert all(s - 64 * (k == 0) < 2 * share + gap for k, s in enumerate(sizes))


def test_a_chunk_of_one_byte_is_one_record_and_every_boundary_is_used():
    starts = np.array([10, 25, 27, 90, 91], dtype=np.int64)
    assert chunk_edges(starts, np.arange(1, 5), 100, 1) == [0, 1, 2, 3, 4]
    assert chunk_edges(starts, np.array([2, 4]), 100, 1) == [0, 2, 4]
    assert chunk_edges(starts, np.array([], dtype=np.int64), 100, 1) == [0]
    assert chunk_edges(starts[:0], np.arange(0), 0, 1) == [0]
