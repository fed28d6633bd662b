"""numba kernels that write deflate blocks of literals only, each with its own Huffman code.

The low bytes of digitised waveforms (the first byte plane after HDF5's shuffle) are
noise: deflate's string matching finds nothing in them, and what compresses them is a
Huffman code fitted to each row, whose noise amplitude differs from channel to channel.
ISA-L spends most of a waveform chunk's time there, searching for matches and starting a
block per row. :func:`literal_blocks` writes each row as one dynamic-Huffman block of
literals (RFC 1951, section 3.2.7) with a code built from that row's byte counts, at about
a third of ISA-L's cost per byte and, on LEGEND's waveforms, 1-2 % smaller.

The blocks end with an empty stored block, so the output is byte-aligned and joins the
other planes' deflate output into one stream. Codes are complete (Kraft sum exactly one)
and at most 15 bits long (7 for the code-length code), as every inflater requires.

Output is written as little-endian 64-bit words (the caller views them as bytes); the
kernel returns the bytes written, or -1 when `out` is too short for the next block
(nothing past the blocks already written is touched).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["literal_blocks", "literal_blocks_bound"]

_JIT = {"nogil": True, "cache": True}

_CL_ORDER = np.array([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15],
                     dtype=np.int64)  # fmt: skip
"""The order in which a block header lists the code-length code's lengths."""

_EXTRA_BITS = np.array([2, 3, 7], dtype=np.int64)
"""Extra bits of the code-length code's run codes 16, 17 and 18."""

_REVERSED = np.array([int(f"{b:08b}"[::-1], 2) for b in range(256)], dtype=np.int64)
"""Each byte with its bits in reverse order."""

_HEADER_BITS = 3 + 5 + 5 + 4
"""BFINAL, BTYPE, HLIT, HDIST, HCLEN."""

_U1, _U2, _U3 = np.uint64(1), np.uint64(2), np.uint64(3)
"""Offsets for the hot loops' unsigned indexes: numba adds no check for a negative index
to an unsigned one (5-15 % of the kernel's time on waveform bytes)."""


def literal_blocks_bound(n: int, step: int) -> int:
    """Words of `out` that :func:`literal_blocks` never exceeds for `n` bytes in blocks of
    `step` (15 bits per byte and a full header per block, which no real block reaches)."""
    blocks = max(-(-n // max(step, 1)), 1)
    bits = 15 * n + blocks * (_HEADER_BITS + 19 * 3 + 258 * 14 + 15) + 3 + 7 + 32
    return bits // 64 + 2


@numba.njit(**_JIT)
def _code_lengths(freq: np.ndarray, limit: int, keys: np.ndarray, work: np.ndarray,
                  lengths: np.ndarray) -> None:  # fmt: skip
    """Huffman code lengths, at most `limit` bits, of the symbols with ``freq > 0`` into
    `lengths` (0 for the others). `keys` and `work` are scratch arrays of at least
    ``len(freq)`` and ``2 * len(freq) + 256`` elements."""
    n = freq.shape[0]
    used = 0
    for s in range(n):
        lengths[s] = 0
        if freq[s] > 0:
            keys[used] = (freq[s] << 16) | s
            used += 1
    if used == 0:
        return
    if used == 1:  # one symbol still needs a one-bit code
        lengths[keys[0] & 0xFFFF] = 1
        return
    order = keys[:used]
    _sort_keys(order, work)  # rarest first
    depth = work[:used]
    for i in range(used):
        depth[i] = order[i] >> 16
    _leaf_depths(depth)
    if depth[0] <= limit:  # the rarest symbol's code is the longest
        for i in range(used):
            lengths[order[i] & 0xFFFF] = depth[i]
        return
    # deeper codes than `limit` are cut to it; then, while the code is over-full, a code of
    # `limit` bits goes and a shorter one becomes two codes one bit longer
    count = work[used : used + 64]
    count[:] = 0
    for i in range(used):
        count[min(depth[i], 63)] += 1
    for d in range(limit + 1, 64):
        count[limit] += count[d]
        count[d] = 0
    kraft = 0
    for d in range(1, limit + 1):
        kraft += count[d] << (limit - d)
    while kraft > (1 << limit):
        count[limit] -= 1
        for d in range(limit - 1, 0, -1):
            if count[d] > 0:
                count[d] -= 1
                count[d + 1] += 2
                break
        kraft -= 1
    i = 0
    for d in range(limit, 0, -1):  # the longest codes to the rarest symbols
        for _ in range(count[d]):
            lengths[order[i] & 0xFFFF] = d
            i += 1


@numba.njit(**_JIT)
def _leaf_depths(a: np.ndarray) -> None:
    """Replace the weights `a` (ascending, at least two) by their leaves' depths in
    Huffman's tree, in place (Moffat and Katajainen, 1995): the tree is built by two
    queues, the sorted leaves and the internal nodes (made in order of weight, leaves
    first on a tie), each node's slot then holding its parent, then its depth."""
    n = a.shape[0]
    a[0] += a[1]
    root = 0
    leaf = 2
    for nxt in range(1, n - 1):
        if leaf >= n or a[root] < a[leaf]:  # the first child
            a[nxt] = a[root]
            a[root] = nxt
            root += 1
        else:
            a[nxt] = a[leaf]
            leaf += 1
        if leaf >= n or (root < nxt and a[root] < a[leaf]):  # the second
            a[nxt] += a[root]
            a[root] = nxt
            root += 1
        else:
            a[nxt] += a[leaf]
            leaf += 1
    a[n - 2] = 0  # the root; the internal nodes' depths from their parents'
    for nxt in range(n - 3, -1, -1):
        a[nxt] = a[a[nxt]] + 1
    # the leaves, deepest first: at each depth, the nodes there not internal are leaves
    avail = 1
    dpth = 0
    root = n - 2
    nxt = n - 1
    while avail > 0:
        used = 0
        while root >= 0 and a[root] == dpth:
            used += 1
            root -= 1
        while avail > used:
            a[nxt] = dpth
            nxt -= 1
            avail -= 1
        avail = 2 * used
        dpth += 1


@numba.njit(**_JIT)
def _sort_keys(keys: np.ndarray, work: np.ndarray) -> None:
    """Sort `keys` (``count << 16 | symbol``, symbols ascending) by count, keeping the
    symbols' order among equal counts: by insertion for a few keys, else a radix sort on
    the count's bytes (`work`: scratch of at least ``len(keys) + 256`` elements)."""
    n = keys.shape[0]
    if n <= 32:
        for i in range(1, n):
            k = keys[i]
            j = i - 1
            while j >= 0 and keys[j] > k:  # the whole key: by count, then symbol
                keys[j + 1] = keys[j]
                j -= 1
            keys[j + 1] = k
        return
    top = 0
    for i in range(n):
        top = max(top, keys[i] >> 16)
    src = keys
    dst = work[:n]
    bins = work[n : n + 256]
    shift = 16
    while top > 0:
        bins[:] = 0
        for i in range(n):
            bins[(src[i] >> shift) & 0xFF] += 1
        total = 0
        for b in range(256):
            c = bins[b]
            bins[b] = total
            total += c
        for i in range(n):
            k = src[i]
            b = (k >> shift) & 0xFF
            dst[bins[b]] = k
            bins[b] += 1
        src, dst = dst, src
        top >>= 8
        shift += 8
    if shift % 16 != 0:  # an odd number of passes left the keys in `work`
        keys[:] = src


@numba.njit(**_JIT)
def _canonical_codes(lengths: np.ndarray, codes: np.ndarray, work: np.ndarray) -> None:
    """Deflate's canonical codes of `lengths` (at most 15 bits) into `codes`, each
    bit-reversed (deflate packs bits from the least significant end and Huffman codes from
    their first bit) and with its length above bit 32: ``code | length << 32``. `work`:
    scratch of at least 32 elements."""
    count = work[:16]
    next_code = work[16:32]
    count[:] = 0
    for s in range(lengths.shape[0]):
        count[lengths[s]] += 1
    count[0] = 0
    code = 0
    next_code[0] = 0
    for bits in range(1, 16):
        code = (code + count[bits - 1]) << 1
        next_code[bits] = code
    for s in range(lengths.shape[0]):
        length = lengths[s]
        codes[s] = 0
        if length:
            c = next_code[length]
            next_code[length] += 1
            rev = ((_REVERSED[c & 0xFF] << 8) | _REVERSED[c >> 8]) >> (16 - length)
            codes[s] = rev | (length << 32)


@numba.njit(inline="always")
def _put(out: np.ndarray, w: int, buf: np.uint64, nb: int, value: int,
         bits: int) -> tuple[int, np.uint64, int]:  # fmt: skip
    """Append the low `bits` (at most 60) of `value` to the bit buffer; a full 64-bit word
    goes to ``out[w]``. Returns the new (w, buf, nb)."""
    v = np.uint64(value)
    buf |= v << np.uint64(nb)
    if nb + bits >= 64:
        out[np.uint64(w)] = buf
        w += 1
        buf = v >> np.uint64(64 - nb)  # nb > 0 here: bits <= 60
        nb += bits - 64
    else:
        nb += bits
    return w, buf, nb


@numba.njit(**_JIT)
def literal_blocks(data: np.ndarray, step: int, out: np.ndarray) -> int:
    """`data` (uint8) as dynamic-Huffman deflate blocks of literals, one per `step` bytes,
    then an empty stored block, into `out` (uint64 words, read as little-endian bytes).
    Returns the bytes written, or -1 when `out` is too short."""
    n = data.shape[0]
    cap = out.shape[0]
    step = max(step, 1)
    freq = np.zeros(257, dtype=np.int64)
    lengths = np.zeros(257, dtype=np.int64)
    codes = np.zeros(257, dtype=np.int64)
    cl_freq = np.zeros(19, dtype=np.int64)
    cl_lengths = np.zeros(19, dtype=np.int64)
    cl_codes = np.zeros(19, dtype=np.int64)
    keys = np.zeros(257, dtype=np.int64)
    work = np.zeros(2 * 257 + 256, dtype=np.int64)
    run_sym = np.zeros(258, dtype=np.int64)
    run_extra = np.zeros(258, dtype=np.int64)
    seq = np.zeros(258, dtype=np.int64)
    hist = np.zeros((4, 256), dtype=np.int64)
    mask = np.int64(0xFFFFFFFF)
    w = 0
    buf = np.uint64(0)
    nb = 0
    for start in range(0, n, step):
        stop = min(start + step, n)
        # byte counts, four histograms so that consecutive equal bytes do not wait on
        # each other's increments (each emptied again as it is summed)
        i = start
        while i + 4 <= stop:
            u = np.uint64(i)
            hist[0, data[u]] += 1
            hist[1, data[u + _U1]] += 1
            hist[2, data[u + _U2]] += 1
            hist[3, data[u + _U3]] += 1
            i += 4
        while i < stop:
            hist[0, data[i]] += 1
            i += 1
        for s in range(256):
            freq[s] = hist[0, s] + hist[1, s] + hist[2, s] + hist[3, s]
            hist[0, s] = 0
            hist[1, s] = 0
            hist[2, s] = 0
            hist[3, s] = 0
        freq[256] = 1  # end of block
        _code_lengths(freq, 15, keys, work, lengths)
        _canonical_codes(lengths, codes, work)
        # the 257 literal/length code lengths and one distance code length of 0 (no
        # distance codes: RFC 1951 allows it), run-length coded with codes 16, 17, 18
        for s in range(257):
            seq[s] = lengths[s]
        seq[257] = 0
        runs = 0
        k = 0
        while k < 258:
            v = seq[k]
            run = 1
            while k + run < 258 and seq[k + run] == v:
                run += 1
            if v == 0 and run >= 11:
                r = min(run, 138)
                run_sym[runs] = 18
                run_extra[runs] = r - 11
                k += r
            elif v == 0 and run >= 3:
                run_sym[runs] = 17
                run_extra[runs] = run - 3
                k += run
            elif v != 0 and run >= 4:  # the length once, then repeats of it (3-6)
                run_sym[runs] = v
                run_extra[runs] = 0
                runs += 1
                r = min(run - 1, 6)
                run_sym[runs] = 16
                run_extra[runs] = r - 3
                k += 1 + r
            else:
                run_sym[runs] = v
                run_extra[runs] = 0
                k += 1
            runs += 1
        cl_freq[:] = 0
        for k in range(runs):
            cl_freq[run_sym[k]] += 1
        _code_lengths(cl_freq, 7, keys, work, cl_lengths)
        _canonical_codes(cl_lengths, cl_codes, work)
        hclen = 19
        while hclen > 4 and cl_lengths[_CL_ORDER[hclen - 1]] == 0:
            hclen -= 1
        # this block's exact size, and the end block's, must fit
        bits = _HEADER_BITS + 3 * hclen + lengths[256]
        for k in range(runs):
            s = run_sym[k]
            bits += cl_lengths[s] + (_EXTRA_BITS[s - 16] if s >= 16 else 0)
        for s in range(256):
            bits += freq[s] * lengths[s]
        if (w * 64 + nb + bits + 3 + 7 + 32) // 64 + 1 > cap:
            return -1
        w, buf, nb = _put(out, w, buf, nb, 4 | ((hclen - 4) << 13), _HEADER_BITS)
        for k in range(hclen):
            w, buf, nb = _put(out, w, buf, nb, cl_lengths[_CL_ORDER[k]], 3)
        for k in range(runs):
            s = run_sym[k]
            w, buf, nb = _put(out, w, buf, nb, cl_codes[s] & mask, cl_lengths[s])
            if s >= 16:
                w, buf, nb = _put(out, w, buf, nb, run_extra[k], _EXTRA_BITS[s - 16])
        i = start
        while i + 4 <= stop:  # four codes of at most 15 bits at once
            u = np.uint64(i)
            c0 = codes[data[u]]
            c1 = codes[data[u + _U1]]
            c2 = codes[data[u + _U2]]
            c3 = codes[data[u + _U3]]
            l0 = c0 >> 32
            l01 = l0 + (c1 >> 32)
            l012 = l01 + (c2 >> 32)
            packed = c0 & mask | (c1 & mask) << l0 | (c2 & mask) << l01 | (c3 & mask) << l012
            w, buf, nb = _put(out, w, buf, nb, packed, l012 + (c3 >> 32))
            i += 4
        while i < stop:
            c0 = codes[data[i]]
            w, buf, nb = _put(out, w, buf, nb, c0 & mask, c0 >> 32)
            i += 1
        w, buf, nb = _put(out, w, buf, nb, codes[256] & mask, lengths[256])
    # an empty stored block: its 3 header bits, zero bits to the byte, LEN 0, NLEN 0xFFFF
    if (w * 64 + nb + 3 + 7 + 32) // 64 + 1 > cap:
        return -1
    w, buf, nb = _put(out, w, buf, nb, 0, 3)
    w, buf, nb = _put(out, w, buf, nb, 0, (8 - nb % 8) % 8)
    w, buf, nb = _put(out, w, buf, nb, 0xFFFF0000, 32)
    if nb:
        out[w] = buf
    return w * 8 + nb // 8
