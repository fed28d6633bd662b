"""The zlib stream HDF5's deflate filter stores for a chunk, made plane by plane.

A shuffled chunk is a few byte planes (all first bytes of its elements, then all second
bytes...). Each plane is coded on its own, the way that suits it, judged on a sample from
its middle:

- **stored**: a plane whose sample barely compresses (the low bytes of germanium
  waveforms: noise of nearly every byte value) is written as deflate's stored blocks, at
  copy speed: at gzip levels 1-6 when coding would save less than a tenth of it
  (:data:`FAST_STORE_RATIO`), at levels 7-9 less than 3 % (:data:`STORE_RATIO`);
- **literal**: a plane where Huffman codes alone do about as well as deflate's string
  matching (the low bytes of most waveforms: noise, different in each channel; the high
  bytes of germanium waveforms, within :data:`LITERAL_SLACK`) is written as one block of
  literals per row, each with a code fitted to the row
  (:mod:`rawconv.lh5.literal_kernels`), at a third to a half of deflate's cost;
- **deflate**: any other plane (high bytes) is deflated by ISA-L and flushed
  (``Z_SYNC_FLUSH``) at the end of the plane, and for rows of 4096 or more elements at
  the end of every row: a new block with fresh Huffman tables where the statistics
  change, which makes the output smaller than zlib's level 4 on detector waveforms while
  compressing 5-10x faster;
- **runs**: a plane whose sample deflates to under 10 % (the high bytes of quiet
  waveforms: long runs of one value) is deflated as one block: there a block's header
  per row costs more than codes fitted to each row gain, and four times the CPU.

All blocks are byte-aligned where a plane ends, so the planes make one zlib stream
(header, blocks, Adler-32), as HDF5's deflate filter expects; any inflater reads it.
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable

import numpy as np

try:  # ISA-L: deflate at several hundred MB/s per core
    from isal import isal_zlib as _deflate_lib

    _MAX_LEVEL = 3
except ImportError:  # pragma: no cover - isal is a dependency
    _deflate_lib = zlib
    _MAX_LEVEL = 9

__all__ = [
    "FAST_STORE_RATIO",
    "LITERAL_SLACK",
    "ROW_FLUSH_ELEMENTS",
    "RUNS_RATIO",
    "SAMPLE_BYTES",
    "STORE_RATIO",
    "deflate_level",
    "entropy_bytes",
    "zlib_stream",
]

ROW_FLUSH_ELEMENTS = 4096
"""Rows of at least this many elements end a deflate block each."""

STORE_RATIO = 0.97
"""At compressor levels 2-3 (gzip levels 7-9), a byte plane whose sample deflates to more
than this fraction of it is stored."""

FAST_STORE_RATIO = 0.90
"""At compressor levels 0-1 (gzip levels 0-6), a byte plane whose sample deflates to more
than this fraction of it is stored. Coding such a plane as literals would cost 10-25x the
CPU of storing it for less than a tenth of its bytes: the low-byte planes of a LEGEND-200
calibration run (ORCA p14, samples at 0.94-0.98; the Th-228 test run's, 0.96-1.0) sat on
either side of STORE_RATIO chunk by chunk, and coding the half that fell below it took a
fifth of the conversion's CPU for 2.5 % of its output. Quieter waveforms (SiPM planes at
0.63-0.84, the 8192-sample shape at 0.53-0.88) are still coded."""

SAMPLE_BYTES = 16 << 10
"""Bytes of a plane coded to decide how to code it (planes of at least 4x this)."""

_ZLIB_HEADER = b"\x78\x01"  # deflate, 32 KiB window, no dictionary; (0x7801 % 31 == 0)
_FINAL_BLOCK = b"\x01\x00\x00\xff\xff"  # an empty stored block with BFINAL set
_STORED_MAX = 0xFFFF

RUNS_RATIO = 0.10
"""A byte plane whose sample deflates to less than this fraction of it is one block: below
it (waveform high bytes, 2-9 %) one block is 5-10 % smaller than a block per row and costs
a quarter of the CPU; the germanium high bytes (samples of 10-30 %, chunks of 24 %) are 6 %
smaller with a block per row."""

LITERAL_SLACK = 0.5
"""At compressor level 1 (gzip levels 1-6), a plane is coded as literals when they are at
most this fraction larger than deflate's blocks on its sample: they cost half of deflate's
CPU or less. The high bytes of germanium waveforms, where deflate's matches gain 0-50 %
row by row (9 % over a chunk, the sample's two or three rows varying from -20 % to
+50 %), are coded in 1.7 ns a byte instead of 2.8, and the file is 1.5 % larger; at
higher levels literals are taken only when no larger."""

STORED, LITERAL, DEFLATE, RUNS = "stored", "literal", "deflate", "runs"

_LITERAL_BLOCKS = sys.byteorder == "little"
"""Literal blocks are written as little-endian words: big-endian machines deflate."""


def deflate_level(gzip_level: int) -> int:
    """The compressor level for an HDF5 gzip level: ISA-L has levels 0-3 (1 is best here)."""
    if _deflate_lib is zlib:
        return gzip_level
    return 0 if gzip_level == 0 else 1 if gzip_level <= 6 else min(_MAX_LEVEL, 2)


def zlib_stream(raw: np.ndarray, planes: int, step: int, gzip_level: int) -> bytes:
    """The zlib stream of `raw` (uint8, C-contiguous): `planes` equal byte planes, each
    coded on its own, with a block ending every `step` bytes of a plane (and at its end);
    `gzip_level`: the dataset's gzip level."""
    plane_bytes = len(raw) // planes
    level = deflate_level(gzip_level)
    view = memoryview(raw)
    out: list = [_ZLIB_HEADER]
    checksum = 1
    for first in range(0, planes * plane_bytes, max(plane_bytes, 1)):
        plane = view[first : first + plane_bytes]
        checksum = _deflate_lib.adler32(plane, checksum)
        coding = plane_coding(plane, level, step)
        if coding == STORED:
            _stored_blocks(plane, out)
            continue
        if coding == LITERAL:
            coded = literal_plane(raw[first : first + plane_bytes], step)
            if coded is not None:
                out.append(coded)
                continue
        block = plane_bytes if coding == RUNS else max(step, 1)
        comp = _deflate_lib.compressobj(level, zlib.DEFLATED, -15)
        for pos in range(0, len(plane), block):
            out.append(comp.compress(plane[pos : pos + block]))
            out.append(comp.flush(_deflate_lib.Z_SYNC_FLUSH))
    out.append(_FINAL_BLOCK)
    out.append(struct.pack(">I", checksum & 0xFFFFFFFF))
    return b"".join(out)


def plane_coding(plane: memoryview, level: int, step: int) -> str:
    """How to code `plane` (:data:`STORED`, :data:`LITERAL`, :data:`DEFLATE` or
    :data:`RUNS`), from SAMPLE_BYTES of its middle coded both ways in blocks of `step`
    bytes. A plane under 4x SAMPLE_BYTES is deflated, and at compressor level 0 a plane is
    never coded as literals."""
    if len(plane) < 4 * SAMPLE_BYTES:
        return DEFLATE
    mid = (len(plane) - SAMPLE_BYTES) // 2
    sample = plane[mid : mid + SAMPLE_BYTES]
    comp = _deflate_lib.compressobj(max(level, 1), zlib.DEFLATED, -15)
    deflated = 0
    for pos in range(0, SAMPLE_BYTES, max(step, 1)):
        deflated += len(comp.compress(sample[pos : pos + step]))
        deflated += len(comp.flush(_deflate_lib.Z_SYNC_FLUSH))
    if deflated > (FAST_STORE_RATIO if level <= 1 else STORE_RATIO) * SAMPLE_BYTES:
        return STORED
    if deflated < RUNS_RATIO * SAMPLE_BYTES:
        return RUNS
    if level == 0 or not _LITERAL_BLOCKS:
        return DEFLATE
    sample_bytes = np.frombuffer(sample, dtype=np.uint8)
    allowed = deflated * (1 + LITERAL_SLACK) if level <= 1 else deflated
    if allowed * 8 < SAMPLE_BYTES:  # literal blocks spend at least a bit on every byte
        return DEFLATE
    # no Huffman code beats the entropy: until the kernel is loaded (numba), a plane it
    # cannot win is not tried; once loaded, trying costs less than the entropy, and the
    # decision is the same (literal blocks are never below the entropy)
    if _LITERAL is None and entropy_bytes(sample_bytes, step) >= allowed:
        return DEFLATE
    literal = literal_plane(sample_bytes, step)
    return LITERAL if literal is not None and len(literal) <= allowed else DEFLATE


def entropy_bytes(data: np.ndarray, step: int) -> float:
    """The bytes that `data` takes at least in blocks of `step` bytes, each coded by byte
    values alone: the sum of the blocks' byte entropies (a lower bound of their literal
    blocks' size)."""
    total = 0.0
    for pos in range(0, len(data), max(step, 1)):
        counts = np.bincount(data[pos : pos + step], minlength=256)
        counts = counts[counts > 0]
        n = counts.sum()
        total += float((counts * np.log2(n / counts)).sum()) / 8
    return total


def literal_plane(plane: np.ndarray, step: int) -> memoryview | None:
    """`plane` as blocks of literals, one per `step` bytes, byte-aligned at the end; None
    when that would be larger than the plane in stored blocks."""
    kernel = _literal_kernel()
    if kernel is None:
        return None
    stored = len(plane) + 5 * (len(plane) // _STORED_MAX + 1)
    out = np.empty(stored // 8 + 1, dtype=np.uint64)
    size = kernel(plane, step, out)
    return memoryview(out.view(np.uint8)[:size]) if size >= 0 else None


_LITERAL: Callable[[np.ndarray, int, np.ndarray], int] | None = None


def _literal_kernel() -> Callable[[np.ndarray, int, np.ndarray], int] | None:
    """The literal-block kernel (None on a big-endian machine)."""
    global _LITERAL
    if _LITERAL is None and _LITERAL_BLOCKS:
        from .literal_kernels import literal_blocks  # numba: imported by the first use

        _LITERAL = literal_blocks  # the same object whichever thread gets here first
    return _LITERAL


def _stored_blocks(data: memoryview, out: list) -> None:
    """Append `data` to `out` as deflate stored blocks (byte-aligned, not final)."""
    for pos in range(0, len(data), _STORED_MAX):
        block = data[pos : pos + _STORED_MAX]
        out.append(struct.pack("<BHH", 0, len(block), len(block) ^ 0xFFFF))
        out.append(block)
