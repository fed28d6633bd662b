"""Numba helpers that read the ROOT objects inside an MGDO entry (formats.md, section 5).

Every reader takes the basket bytes ``buf``, a position ``p`` and the end ``end`` of the
enclosing object, checks each read against ``end`` and returns the position after what it
read; on bad bytes it returns -1 after storing ``[code, position, value]`` in ``err``
(codes in :mod:`.layout`). Numbers are big-endian; floats go through ``scratch`` (8 bytes)
and its float64 view ``sf``.
"""

from __future__ import annotations

import numba
import numpy as np

from .layout import (
    BYTE_COUNT_FLAG,
    CLASS_REF_FLAG,
    E_BAD_COUNT,
    E_BYTE_COUNT,
    E_CLASS,
    E_CLOSURE,
    E_ENCODING,
    E_LENGTH,
    E_POINTER,
    E_SAMPLE_RANGE,
    E_TRUNCATED,
    E_VARINT,
    E_VERSION,
    ENCODING_DIFF_VARINT,
    MIN_WAVEFORM_BYTES,
    NEW_CLASS_TAG,
    TOBJECT_IS_REFERENCED,
    V_DATAOBJECT,
    V_TNAMED,
    V_WAVEFORM,
)

_JIT = {"cache": True, "nogil": True}


@numba.njit(**_JIT)
def fail(err: np.ndarray, code: int, pos: int, value: int) -> int:
    """Record a problem in ``err``; returns -1."""
    err[0] = code
    err[1] = pos
    err[2] = value
    return -1


@numba.njit(**_JIT)
def u16(buf: np.ndarray, p: int) -> int:
    return (np.int64(buf[p]) << 8) | np.int64(buf[p + 1])


@numba.njit(**_JIT)
def u32(buf: np.ndarray, p: int) -> int:
    return (
        (np.int64(buf[p]) << 24)
        | (np.int64(buf[p + 1]) << 16)
        | (np.int64(buf[p + 2]) << 8)
        | np.int64(buf[p + 3])
    )


@numba.njit(**_JIT)
def i32(buf: np.ndarray, p: int) -> int:
    v = u32(buf, p)
    return v - (np.int64(1) << 32) if v >= (np.int64(1) << 31) else v


@numba.njit(**_JIT)
def u64(buf: np.ndarray, p: int) -> np.uint64:
    return (np.uint64(u32(buf, p)) << np.uint64(32)) | np.uint64(u32(buf, p + 4))


@numba.njit(**_JIT)
def f64(buf: np.ndarray, p: int, scratch: np.ndarray, sf: np.ndarray) -> float:
    for k in range(8):
        scratch[k] = buf[p + 7 - k]
    return sf[0]


@numba.njit(**_JIT)
def byte_count(buf: np.ndarray, p: int, end: int, version: int, err: np.ndarray):
    """A byte-count word and class version at `p`: (object end, position after the
    version), or (-1, 0). The version must be `version`."""
    if p + 6 > end:
        return fail(err, E_TRUNCATED, p, 0), 0
    w = u32(buf, p)
    if (w & 0xC0000000) != BYTE_COUNT_FLAG:
        return fail(err, E_BYTE_COUNT, p, w), 0
    obj_end = p + 4 + (w & 0x3FFFFFFF)
    if obj_end > end or obj_end < p + 6:
        return fail(err, E_BYTE_COUNT, p, w), 0
    v = u16(buf, p + 4)
    if v != version:
        return fail(err, E_VERSION, p + 4, v), 0
    return obj_end, p + 6


@numba.njit(**_JIT)
def tobject(buf: np.ndarray, p: int, end: int, err: np.ndarray) -> int:
    """TObject: u16 version, u32 unique id, u32 bits (+ u16 process id if referenced)."""
    if p + 10 > end:
        return fail(err, E_TRUNCATED, p, 0)
    bits = u32(buf, p + 6)
    p += 10
    if bits & TOBJECT_IS_REFERENCED:
        if p + 2 > end:
            return fail(err, E_TRUNCATED, p, 0)
        p += 2
    return p


@numba.njit(**_JIT)
def tstring(buf: np.ndarray, p: int, end: int, err: np.ndarray):
    """TString: (position of its characters, their count), or (-1, 0)."""
    if p + 1 > end:
        return fail(err, E_TRUNCATED, p, 0), 0
    n = np.int64(buf[p])
    p += 1
    if n == 255:
        if p + 4 > end:
            return fail(err, E_TRUNCATED, p, 0), 0
        n = u32(buf, p)
        p += 4
    if p + n > end:
        return fail(err, E_TRUNCATED, p, n), 0
    return p, n


@numba.njit(**_JIT)
def data_object(buf: np.ndarray, p: int, end: int, err: np.ndarray) -> int:
    """MGTDataObject: BC v2 -> TNamed BC v1 -> TObject, fName, fTitle."""
    outer, p = byte_count(buf, p, end, V_DATAOBJECT, err)
    if outer < 0:
        return -1
    named, p = byte_count(buf, p, outer, V_TNAMED, err)
    if named < 0:
        return -1
    p = tobject(buf, p, named, err)
    for _ in range(2):
        if p < 0:
            return -1
        q, n = tstring(buf, p, named, err)
        p = q + n if q >= 0 else -1
    if p < 0:
        return -1
    if p != named or named != outer:
        return fail(err, E_CLOSURE, p, outer - p)
    return p


@numba.njit(**_JIT)
def matches(buf: np.ndarray, p: int, n: int, name: np.ndarray) -> bool:
    """Whether the `n` bytes at `p` start with `name`."""
    if n < len(name):
        return False
    for k in range(len(name)):  # noqa: SIM110 (numba)
        if buf[p + k] != name[k]:
            return False
    return True


@numba.njit(**_JIT)
def pointer(buf: np.ndarray, p: int, end: int, cls: np.ndarray, err: np.ndarray):
    """An object written through a pointer: (1, object end, body position); (0, p + 4,
    p + 4) for a null pointer; (-1, 0, 0) on bad bytes. A new class tag must name `cls`."""
    if p + 4 > end:
        return fail(err, E_TRUNCATED, p, 0), 0, 0
    w = u32(buf, p)
    if w == 0:
        return 0, p + 4, p + 4
    if (w & 0xC0000000) != BYTE_COUNT_FLAG:
        return fail(err, E_BYTE_COUNT, p, w), 0, 0
    obj_end = p + 4 + (w & 0x3FFFFFFF)
    if obj_end > end or obj_end < p + 8:
        return fail(err, E_BYTE_COUNT, p, w), 0, 0
    tag = u32(buf, p + 4)
    p += 8
    if tag == NEW_CLASS_TAG:
        n = len(cls)
        if p + n + 1 > obj_end or not matches(buf, p, n, cls) or buf[p + n] != 0:
            return fail(err, E_CLASS, p, 0), 0, 0
        p += n + 1
    elif not (tag & CLASS_REF_FLAG):
        return fail(err, E_POINTER, p - 4, tag), 0, 0
    return 1, obj_end, p


@numba.njit(**_JIT)
def waveform(
    buf: np.ndarray, p: int, end: int, length: int, values: np.ndarray, row: int,
    scratch: np.ndarray, sf: np.ndarray, err: np.ndarray,
):  # fmt: skip
    """An MGTWaveform element: (position after it, fSampFreq, fTOffset, fWFType, nsamples,
    fID), position -1 on bad bytes. With `length` >= 0 the trace must have `length`
    samples, stored in ``values[row]``; with -1 any length is read and not stored."""
    bad = (-1, 0.0, 0.0, 0, 0, 0)
    e, p = byte_count(buf, p, end, V_WAVEFORM, err)
    if e < 0:
        return bad
    p = data_object(buf, p, e, err)
    if p < 0:
        return bad
    if p + 32 > e:
        fail(err, E_TRUNCATED, p, 0)
        return bad
    fs = f64(buf, p, scratch, sf)
    t0 = f64(buf, p + 8, scratch, sf)
    wftype = i32(buf, p + 16)
    ns = i32(buf, p + 24)
    enc = i32(buf, p + 28)
    p += 32
    if enc != ENCODING_DIFF_VARINT:
        fail(err, E_ENCODING, p - 4, enc)
        return bad
    if ns < 0 or ns > e - p - 4:
        fail(err, E_BAD_COUNT, p - 8, ns)
        return bad
    if length >= 0 and ns != length:
        fail(err, E_LENGTH, p - 8, ns)
        return bad
    stop = e - 4  # fID follows the samples
    acc = np.int64(0)
    for s in range(ns):
        v = np.int64(0)
        shift = 0
        while True:
            if p >= stop:
                fail(err, E_TRUNCATED, p, s)
                return bad
            b = np.int64(buf[p])
            p += 1
            v |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
            if shift > 56:
                fail(err, E_VARINT, p, s)
                return bad
        acc += (v >> 1) ^ -(v & 1)
        if acc < 0 or acc > 65535:
            fail(err, E_SAMPLE_RANGE, p, acc)
            return bad
        if length >= 0:
            values[row, s] = acc
    fid = i32(buf, p)
    p += 4
    if p != e:
        fail(err, E_CLOSURE, p, e - p)
        return bad
    return p, fs, t0, wftype, ns, fid


@numba.njit(**_JIT)
def min_element_bytes(length: int) -> int:
    """Fewest bytes a waveform slot (flag byte + element) of `length` samples takes."""
    return 1 + MIN_WAVEFORM_BYTES + max(length, 0)
