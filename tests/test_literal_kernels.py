"""Deflate blocks of literals (``rawconv/lh5/literal_kernels.py``) and the planes coded
with them (``rawconv/lh5/deflate.py``).

zlib's inflate is the reference: every output is read back by it, and by HDF5's deflate
filter through h5py. The arrays are small: CI runs this file again with numba's JIT
disabled, where the kernels are plain Python that checks every index.
"""

from __future__ import annotations

import heapq
import zlib

import h5py
import numpy as np
import pytest

from rawconv.lh5 import deflate
from rawconv.lh5.chunks import ChunkCodec
from rawconv.lh5.literal_kernels import (
    _canonical_codes,
    _code_lengths,
    _sort_keys,
    literal_blocks,
    literal_blocks_bound,
)

_END = b"\x03\x00"  # a final fixed-Huffman block holding only its end code


def data_of(kind: str, n: int) -> np.ndarray:
    rng = np.random.default_rng(n)
    if kind == "uniform":
        return rng.integers(0, 256, n, dtype=np.uint8)
    if kind == "constant":
        return np.full(n, 0x5A, dtype=np.uint8)
    if kind == "noise":  # the low bytes of a waveform: a baseline and +-20 ADC of noise
        return (np.round(rng.normal(3000, 20, n)).astype(np.int64) & 0xFF).astype(np.uint8)
    if kind == "skewed":  # symbol k about 2^-k of the bytes: Huffman depths beyond 15 bits
        p = 0.5 ** np.arange(1, 41)
        return rng.choice(40, n, p=p / p.sum()).astype(np.uint8)
    raise ValueError(kind)


def encode(data: np.ndarray, step: int) -> bytes:
    out = np.zeros(literal_blocks_bound(len(data), step), dtype=np.uint64)
    size = literal_blocks(data, step, out)
    assert size > 0
    return out.view(np.uint8)[:size].tobytes()


def inflate(raw: bytes) -> bytes:
    d = zlib.decompressobj(-15)
    back = d.decompress(raw + _END)
    assert d.eof and d.unused_data == b""
    return back


CASES = [
    ("uniform", 0, 10),
    ("uniform", 1, 10),
    ("uniform", 300, 1),
    ("constant", 5000, 4096),
    ("noise", 20000, 8192),
    ("noise", 8195, 7),
    ("skewed", 30000, 30000),
    ("skewed", 9000, 100),
    ("uniform", 4099, 64),
]


@pytest.mark.parametrize(("kind", "n", "step"), CASES)
def test_blocks_inflate_to_the_bytes(kind, n, step):
    data = data_of(kind, n)
    raw = encode(data, step)
    assert inflate(raw) == data.tobytes()
    assert raw.endswith(b"\x00\x00\xff\xff")  # the empty stored block: byte-aligned


def test_an_empty_input_is_the_end_block_alone():
    raw = encode(np.zeros(0, dtype=np.uint8), 100)
    assert raw == b"\x00\x00\x00\xff\xff"
    assert inflate(raw) == b""


def test_each_row_gets_its_own_code():
    """Two rows of different spread: a code per row beats one code for both, and the
    output is close to the rows' entropy (a Huffman code is within a bit of it per byte,
    plus the header)."""
    rng = np.random.default_rng(1)
    rows = [rng.normal(128, s, 8192).round().astype(np.int64) & 0xFF for s in (2, 40)]
    data = np.concatenate(rows).astype(np.uint8)
    per_row, whole = len(encode(data, 8192)), len(encode(data, len(data)))
    assert per_row < 0.93 * whole
    entropy = 0.0
    for r in rows:
        p = np.bincount(r, minlength=256) / len(r)
        entropy += -(p[p > 0] * np.log2(p[p > 0])).sum() * len(r) / 8
    assert entropy < per_row < entropy + 2 * (8192 / 8 * 0.1 + 200)


def huffman_bits(freq: np.ndarray) -> int:
    """The total bits of an optimal (unlimited) Huffman code, by a heap."""
    heap = [int(f) for f in freq if f > 0]
    if len(heap) == 1:
        return heap[0]
    heapq.heapify(heap)
    total = 0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        total += a + b
        heapq.heappush(heap, a + b)
    return total


def lengths_of(freq: np.ndarray, limit: int) -> np.ndarray:
    n = len(freq)
    lengths = np.full(n, -1, dtype=np.int64)
    keys, work = np.zeros(n, np.int64), np.zeros(2 * n + 256, np.int64)  # the stated sizes
    _code_lengths(freq.astype(np.int64), limit, keys, work, lengths)
    return lengths


@pytest.mark.parametrize(
    ("seed", "symbols", "top"),
    [(s, 257, 1000) for s in range(4)]
    + [(4, 257, 100_000), (5, 20, 1000), (6, 33, 70_000), (7, 3, 5)],
)
def test_code_lengths_are_huffmans_when_short_enough(seed, symbols, top):
    """257 symbols are sorted by radix (one pass for counts below 256, two or three above),
    a few by insertion: Huffman's lengths either way."""
    freq = np.random.default_rng(seed).integers(0, top, symbols)
    freq[::7] = 0
    lengths = lengths_of(freq, 15)
    assert (lengths[freq == 0] == 0).all() and (lengths[freq > 0] > 0).all()
    assert int((freq * lengths).sum()) == huffman_bits(freq)
    assert sum(2.0 ** -int(v) for v in lengths[lengths > 0]) == 1.0  # a complete code


@pytest.mark.parametrize(("symbols", "limit"), [(40, 15), (19, 7), (60, 15)])
def test_code_lengths_are_cut_to_the_limit_and_stay_complete(symbols, limit):
    fib = [1, 1]
    while len(fib) < symbols:
        fib.append(fib[-1] + fib[-2])
    freq = np.array(fib[:symbols], dtype=np.int64)  # depth symbols - 1 without a limit
    lengths = lengths_of(freq, limit)
    assert lengths.max() == limit and lengths.min() >= 1
    assert sum(2.0 ** -int(v) for v in lengths) == 1.0
    assert (np.diff(lengths) <= 0).all()  # commoner symbols never get longer codes


def test_one_symbol_gets_a_one_bit_code():
    freq = np.zeros(19, dtype=np.int64)
    freq[4] = 9
    assert lengths_of(freq, 7).tolist() == [0] * 4 + [1] + [0] * 14


def test_canonical_codes_are_deflates():
    """RFC 1951's example: lengths (3, 3, 3, 3, 3, 2, 4, 4) give codes 010, 011, 100, 101,
    110, 00, 1110, 1111, stored with their bits reversed."""
    lengths = np.array([3, 3, 3, 3, 3, 2, 4, 4], dtype=np.int64)
    codes = np.zeros(8, dtype=np.int64)
    _canonical_codes(lengths, codes, np.zeros(32, dtype=np.int64))
    expected = ["010", "011", "100", "101", "110", "00", "1110", "1111"]
    assert (codes & 0xFFFFFFFF).tolist() == [int(e[::-1], 2) for e in expected]
    assert (codes >> 32).tolist() == lengths.tolist()  # each code's length above bit 32


@pytest.mark.parametrize("n", [1, 2, 32, 33, 257])
def test_keys_are_sorted_by_count_then_symbol(n):
    """Up to 32 keys by insertion, more by radix on the counts' bytes (counts here need
    three passes): the order of the whole keys either way."""
    rng = np.random.default_rng(n)
    counts = rng.integers(1, 1 << 20, n)
    counts[: n // 2] = counts[0]  # ties, broken by symbol
    keys = (counts << 16) | np.arange(n)  # listed by symbol, as the kernel lists them
    want = np.sort(keys)
    keys = np.ascontiguousarray(keys.astype(np.int64))
    _sort_keys(keys, np.zeros(n + 256, dtype=np.int64))
    assert keys.tolist() == want.tolist()


def test_an_output_too_short_is_refused_and_left_alone():
    data = data_of("noise", 1000)
    out = np.full(3, 0xABAB, dtype=np.uint64)
    assert literal_blocks(data, 1000, out) == -1
    assert (out == 0xABAB).all()
    out = np.full(literal_blocks_bound(1000, 500), 7, dtype=np.uint64)
    first = literal_blocks(data, 500, out)
    short = np.full(first // 8 - 4, 7, dtype=np.uint64)  # room for the first block only
    assert literal_blocks(data, 500, short) == -1


def test_planes_are_coded_as_their_samples_say():
    rng = np.random.default_rng(3)
    wave = rng.normal(3000, 20, (16, 8192)).round().astype("<u2")
    raw = ChunkCodec(2, True, 4, 8192).shuffled(wave)
    low, high = memoryview(raw[: wave.size]), memoryview(raw[wave.size :])
    assert deflate.plane_coding(low, 1, 8192) == deflate.LITERAL
    assert deflate.plane_coding(high, 1, 8192) == deflate.RUNS  # 0x0b and 0x0c
    assert deflate.plane_coding(low, 0, 8192) == deflate.DEFLATE
    runs = np.repeat(rng.integers(0, 256, 40000), rng.integers(1, 12, 40000))  # short runs
    runs = memoryview(runs[: 1 << 17].astype(np.uint8))
    assert deflate.plane_coding(runs, 1, 8192) == deflate.DEFLATE
    noise = memoryview(rng.integers(0, 256, 1 << 17, dtype=np.uint8))
    assert deflate.plane_coding(noise, 1, 8192) == deflate.STORED
    assert deflate.plane_coding(low[: 4 * deflate.SAMPLE_BYTES - 1], 1, 8192) == deflate.DEFLATE


def test_a_plane_coding_would_save_under_a_tenth_of_is_stored_at_gzip_levels_up_to_6():
    """Low bytes of traces whose noise spans most byte values: literal blocks would save 5 %
    of the plane (sigma 45 ADC) for 10-25x the CPU of storing it, so gzip levels 1-6
    (compressor level 1) store it and levels 7-9 (compressor level 2) code it; at sigma 30
    they save 12 % and every level codes it."""
    rng = np.random.default_rng(6)
    codec = ChunkCodec(2, True, 4, 8192)
    planes = {}
    for sigma in (30, 45):
        wave = rng.normal(30000, sigma, (16, 8192)).round().astype("<u2")
        planes[sigma] = codec.shuffled(wave)[: wave.size]
    literal = {s: len(deflate.literal_plane(p, 8192)) / p.size for s, p in planes.items()}
    assert 0.93 < literal[45] < 0.97 and 0.85 < literal[30] < 0.90
    assert deflate.plane_coding(memoryview(planes[45]), 1, 8192) == deflate.STORED
    assert deflate.plane_coding(memoryview(planes[45]), 2, 8192) == deflate.LITERAL
    assert deflate.plane_coding(memoryview(planes[30]), 1, 8192) == deflate.LITERAL
    assert deflate.plane_coding(memoryview(planes[30]), 2, 8192) == deflate.LITERAL
    stream = deflate.zlib_stream(planes[45], 1, 8192, 4)  # gzip level 4: stored blocks
    assert planes[45].size < len(stream) < planes[45].size * 1.001
    assert zlib.decompress(stream) == planes[45].tobytes()


def test_literals_within_the_slack_of_deflate_are_taken_at_level_1_only():
    """Four values repeating every 48 bytes, one in eight changed: deflate's matches make
    it 16-20 % smaller than literal blocks, which cost half its CPU: literals at compressor
    level 1 (gzip levels 1-6), deflate above."""
    rng = np.random.default_rng(0)
    motif = rng.integers(0, 4, 48)
    plane = np.tile(motif, (1 << 17) // 48 + 1)[: 1 << 17]
    changed = rng.random(plane.size) < 0.12
    plane[changed] = rng.integers(0, 4, changed.sum())
    plane = memoryview(plane.astype(np.uint8))
    assert deflate.plane_coding(plane, 1, 8192) == deflate.LITERAL
    assert deflate.plane_coding(plane, 2, 8192) == deflate.DEFLATE


def test_a_plane_deflated_below_a_bit_a_byte_is_not_tried_as_literals(monkeypatch):
    """Runs of 6-20 bytes deflate to 10.5-12 %: one block per row (above RUNS_RATIO), and
    at level 2, where literals must be no larger than deflate, never tried as literals
    (they spend at least a bit on every byte, 12.5 %)."""
    rng = np.random.default_rng(1)
    runs = np.repeat(rng.integers(0, 3, 30000), rng.integers(6, 20, 30000))[: 1 << 17]

    def refuse(*args: object) -> None:
        raise AssertionError("literal blocks tried")

    assert deflate._literal_kernel() is literal_blocks  # loaded: no entropy first
    monkeypatch.setattr(deflate, "literal_plane", refuse)
    assert deflate.plane_coding(memoryview(runs.astype(np.uint8)), 2, 8192) == deflate.DEFLATE


def test_a_plane_deflated_below_the_runs_ratio_is_one_block():
    """Runs of 10-40 bytes deflate to 6-8 %: one block for the plane (smaller than a block
    per row there, and a quarter of the CPU)."""
    rng = np.random.default_rng(1)
    runs = np.repeat(rng.integers(0, 3, 20000), rng.integers(10, 40, 20000))[: 1 << 17]
    assert deflate.plane_coding(memoryview(runs.astype(np.uint8)), 1, 8192) == deflate.RUNS


def test_a_plane_whose_literals_outgrow_it_is_not_coded_so():
    data = data_of("uniform", 2000)
    assert deflate.literal_plane(data, 2000) is None  # 8 bits a byte and a header
    assert deflate.literal_plane(data_of("constant", 2000), 1) is None  # a header a byte
    coded = deflate.literal_plane(data_of("noise", 20000), 8192)
    assert coded is not None and len(coded) < 20000


def test_hdf5_reads_chunks_with_literal_planes(tmp_path):
    """Waveform rows through the codec, stored as chunks, read back by HDF5's filters; the
    low-byte plane is coded as literals, the high-byte plane deflated in one block."""
    rng = np.random.default_rng(4)
    rows = (rng.normal(3000, 20, (64, 8192)) + rng.integers(-500, 500, (64, 1))).round()
    wave = rows.astype("<u2")
    codec = ChunkCodec(2, True, 4, 8192)
    raw = codec.shuffled(wave[:32])
    assert deflate.plane_coding(memoryview(raw[: 32 * 8192]), 1, 8192) == deflate.LITERAL
    assert deflate.plane_coding(memoryview(raw[32 * 8192 :]), 1, 8192) == deflate.RUNS
    with h5py.File(tmp_path / "w.h5", "w") as f:
        ds = f.create_dataset("w", shape=(64, 8192), chunks=(32, 8192), dtype="<u2",
                              compression="gzip", shuffle=True)  # fmt: skip
        for first in (0, 32):
            ds.id.write_direct_chunk((first, 0), codec.encode(wave[first : first + 32]))
    with h5py.File(tmp_path / "w.h5", "r") as f:
        np.testing.assert_array_equal(f["w"][...], wave)
        stored = f["w"].id.get_storage_size()
    assert stored < 0.45 * wave.nbytes
    assert zlib.decompress(codec.encode(wave[:32])) == raw.tobytes()


@pytest.mark.parametrize(("kind", "step"), [("noise", 8192), ("skewed", 1000), ("uniform", 30000)])
def test_literal_blocks_are_never_below_the_entropy(kind, step):
    """plane_coding skips a plane's literal sample when the entropy alone exceeds deflate."""
    data = data_of(kind, 30000)
    bound = deflate.entropy_bytes(data, step)
    assert bound <= len(encode(data, step)) <= bound * 1.02 + 300 * (-(-30000 // step))
    assert deflate.entropy_bytes(data_of("constant", 100), 50) == 0.0


def test_a_plane_deflate_codes_better_than_its_entropy_is_not_tried_as_literals(monkeypatch):
    """Until the kernel is loaded the entropy spares it; once loaded, the literal blocks are
    tried (cheaper than the entropy) and lose the same way."""
    rng = np.random.default_rng(5)
    runs = np.repeat(rng.integers(0, 256, 40000), rng.integers(1, 12, 40000))[: 1 << 17]
    plane = memoryview(runs.astype(np.uint8))
    tried = []

    def refuse(*args: object) -> None:
        raise AssertionError("literal blocks tried")

    def count(*args: object) -> memoryview | None:
        tried.append(len(args[0]))
        return literal_plane(*args)

    literal_plane = deflate.literal_plane
    with monkeypatch.context() as patch:
        patch.setattr(deflate, "_LITERAL", None)
        patch.setattr(deflate, "literal_plane", refuse)
        assert deflate.plane_coding(plane, 1, 8192) == deflate.DEFLATE
    assert deflate._literal_kernel() is literal_blocks
    monkeypatch.setattr(deflate, "literal_plane", count)
    assert deflate.plane_coding(plane, 1, 8192) == deflate.DEFLATE
    assert tried == [deflate.SAMPLE_BYTES]
