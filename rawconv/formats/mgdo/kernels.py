"""Numba kernels that parse the MGTEvent entries of an MGDO basket (formats.md, section 5).

:func:`parse_entries` reads entries ``[k0, n)`` of a basket into an entry table, a trace
table (main waveform + digitizer data), an aux trace table, sample arrays and a flat list
of active channels. An entry with bad bytes gets a status code (:mod:`.layout`) and no
rows; the entries after it are read as usual. :func:`hop_entries` finds the entries of a
basket whose offset table is lost (a truncated file), from their byte counts.
"""

from __future__ import annotations

import numba
import numpy as np

from .element_kernels import (
    byte_count,
    data_object,
    f64,
    fail,
    i32,
    matches,
    min_element_bytes,
    pointer,
    tobject,
    tstring,
    u32,
    u64,
    waveform,
)
from .layout import (
    CONTAINER_CLASS,
    DIGITIZER_ELEMENT,
    E_BAD_COUNT,
    E_CLASS,
    E_CLOSURE,
    E_COUNT_MISMATCH,
    E_DUPLICATE,
    E_ID_MISMATCH,
    E_PREFIX,
    E_TOO_MANY,
    E_TRUNCATED,
    ENTRY_CLASS,
    FLAGS_CLASS,
    MIN_DIGITIZER_BYTES,
    NEED_ROOM,
    OK,
    V_CLONES,
    V_CONTAINER,
    V_DIGI,
    V_DIGI_BASE,
    V_DIGI_VBASE,
    V_EVENT,
    WAVEFORM_ELEMENT,
)

__all__ = ["hop_entries", "parse_entries"]

_JIT = {"cache": True, "nogil": True}
_ENTRY = np.frombuffer(ENTRY_CLASS, np.uint8)
_CONTAINER = np.frombuffer(CONTAINER_CLASS, np.uint8)
_FLAGS = np.frombuffer(FLAGS_CLASS, np.uint8)
_WAVEFORM = np.frombuffer(WAVEFORM_ELEMENT, np.uint8)
_DIGITIZER = np.frombuffer(DIGITIZER_ELEMENT, np.uint8)


@numba.njit(**_JIT)
def _clones(buf, p, end, element, min_bytes, max_n, err):
    """A TClonesArray behind a pointer, up to its first slot: (status, pointer end,
    MGTClonesArray end, TClonesArray end, element count, position); status 1: an array,
    0: a null pointer, -1: bad bytes."""
    st, ptr_end, p = pointer(buf, p, end, _CONTAINER, err)
    if st <= 0:
        return st, ptr_end, ptr_end, ptr_end, 0, p
    wrap_end, p = byte_count(buf, p, ptr_end, V_CONTAINER, err)
    if wrap_end < 0:
        return -1, 0, 0, 0, 0, 0
    cl_end, p = byte_count(buf, p, wrap_end, V_CLONES, err)
    if cl_end < 0:
        return -1, 0, 0, 0, 0, 0
    p = tobject(buf, p, cl_end, err)
    if p >= 0:
        q, n = tstring(buf, p, cl_end, err)  # fName
        p = q + n if q >= 0 else -1
    if p < 0:
        return -1, 0, 0, 0, 0, 0
    q, n = tstring(buf, p, cl_end, err)  # "Class;version" of the elements
    if q < 0:
        return -1, 0, 0, 0, 0, 0
    if not matches(buf, q, n, element):
        return fail(err, E_CLASS, q, 0), 0, 0, 0, 0, 0
    p = q + n
    if p + 8 > cl_end:
        return fail(err, E_TRUNCATED, p, 0), 0, 0, 0, 0, 0
    count = i32(buf, p)
    p += 8  # count, lower bound
    if count < 0 or count * min_bytes > cl_end - p:
        return fail(err, E_BAD_COUNT, p - 8, count), 0, 0, 0, 0, 0
    if max_n > 0 and count > max_n:
        return fail(err, E_TOO_MANY, p - 8, count), 0, 0, 0, 0, 0
    return 1, ptr_end, wrap_end, cl_end, count, p


@numba.njit(**_JIT)
def _close_clones(p, cl_end, wrap_end, ptr_end, err):
    """After the last slot: the TClonesArray ends here; MGTClonesArray's own members
    (one byte) are passed over; the pointer's object ends with it."""
    if p != cl_end:
        return fail(err, E_CLOSURE, p, cl_end - p)
    if wrap_end != ptr_end:
        return fail(err, E_CLOSURE, wrap_end, ptr_end - wrap_end)
    return ptr_end


@numba.njit(**_JIT)
def _slot(buf, p, end, err):
    """The flag byte before a TClonesArray element (1; 0 would be an empty slot)."""
    if p + 1 > end:
        return fail(err, E_TRUNCATED, p, 0)
    if buf[p] != 1:
        return fail(err, E_BAD_COUNT, p, -1)
    return p + 1


@numba.njit(**_JIT)
def _digitizer(buf, p, end, traces, row, scratch, sf, err):
    """A GETGERDADigitizerData element into ``traces[row]``; its fID must equal the
    channel already stored there (from the waveform of the same slot)."""
    e1, p = byte_count(buf, p, end, V_DIGI, err)
    if e1 < 0:
        return -1
    e2, p = byte_count(buf, p, e1, V_DIGI_BASE, err)
    if e2 < 0:
        return -1
    e3, p = byte_count(buf, p, e2, V_DIGI_VBASE, err)
    if e3 < 0:
        return -1
    p = data_object(buf, p, e3, err)
    if p < 0:
        return -1
    if p + 28 != e3:
        return fail(err, E_CLOSURE if p + 28 < e3 else E_TRUNCATED, p, e3 - p - 28)
    if e3 + 42 != e2 or e2 != e1:
        return fail(err, E_CLOSURE if e3 + 42 <= e2 else E_TRUNCATED, e3, e1 - e3 - 42)
    t = traces[row]
    t["energy"] = f64(buf, p, scratch, sf)
    t["timestamp_sec"] = u64(buf, p + 8)
    fid = u32(buf, p + 16)
    if fid != t["channel"]:
        return fail(err, E_ID_MISMATCH, p + 16, fid)
    t["digitizer_index"] = u64(buf, p + 20)
    p = e3
    t["clock_frequency"] = f64(buf, p, scratch, sf)
    t["eventnumber"] = i32(buf, p + 8)
    t["pretrigger"] = u64(buf, p + 12)
    t["trigger_number"] = u64(buf, p + 20)
    t["timestamp_nsec"] = u32(buf, p + 28)
    t["is_mu_vetoed"] = buf[p + 32]
    t["mu_veto_sample"] = u32(buf, p + 33)
    t["is_inverted"] = buf[p + 37]
    t["waveform_tag"] = i32(buf, p + 38)
    return e1


@numba.njit(**_JIT)
def _waveforms(buf, p, end, length, max_n, table, values, row0, scratch, sf, err):
    """The waveforms of a TClonesArray into ``table[row0:]`` / ``values[row0:]``:
    (position after the pointer, count), count -1 when the table has no room."""
    st, ptr_end, wrap_end, cl_end, n, p = _clones(
        buf, p, end, _WAVEFORM, min_element_bytes(length), max_n, err
    )
    if st <= 0:
        return (ptr_end if st == 0 else -1), 0
    if row0 + n > len(table) or row0 + n > len(values):
        return p, -1
    for s in range(n):
        p = _slot(buf, p, cl_end, err)
        if p < 0:
            return -1, 0
        p, fs, t0, wftype, ns, fid = waveform(
            buf, p, cl_end, length, values, row0 + s, scratch, sf, err
        )
        if p < 0:
            return -1, 0
        for q in range(row0, row0 + s):
            if table[q]["channel"] == fid:
                return fail(err, E_DUPLICATE, p - 4, fid), 0
        r = table[row0 + s]
        r["channel"] = fid
        r["sampling_frequency"] = fs
        r["t0"] = t0
        r["waveform_type"] = wftype
        r["nsamples"] = ns
    return _close_clones(p, cl_end, wrap_end, ptr_end, err), n


@numba.njit(**_JIT)
def _entry(buf, p, stop, lens, max_n, entries, k, traces, main_values, aux, aux_values,
           flags, counts, scratch, sf, err):  # fmt: skip
    """Entry `k` (bytes ``[p, stop)``): OK, NEED_ROOM or -1 (bad bytes, see `err`)."""
    if p + 1 > stop:
        return fail(err, E_TRUNCATED, p, 0)
    if buf[p] == len(_ENTRY):  # class-name prefix of a virtual leaf
        if p + 10 > stop or not matches(buf, p + 1, 8, _ENTRY) or buf[p + 9] != 0:
            return fail(err, E_PREFIX, p, 0)
        p += 10
    e, p = byte_count(buf, p, stop, V_EVENT, err)
    if e < 0:
        return -1
    if e != stop:
        return fail(err, E_CLOSURE, e, stop - e)
    p = data_object(buf, p, e, err)
    if p < 0:
        return -1
    if p + 20 > e:
        return fail(err, E_TRUNCATED, p, 0)
    ent = entries[k]
    ent["event_type"] = i32(buf, p)
    ent["event_energy"] = f64(buf, p + 4, scratch, sf)
    ent["event_time"] = f64(buf, p + 12, scratch, sf)
    p += 20
    row0 = counts[0]
    p, n_wf = _waveforms(buf, p, e, lens[0], max_n, traces, main_values, row0, scratch, sf, err)
    if p < 0 or n_wf < 0:
        counts[3] = 0
        return -1 if p < 0 else NEED_ROOM
    st, ptr_end, wrap_end, cl_end, n_dg, p = _clones(
        buf, p, e, _DIGITIZER, 1 + MIN_DIGITIZER_BYTES, max_n, err
    )
    if st < 0:
        return -1
    if n_dg != n_wf:
        return fail(err, E_COUNT_MISMATCH, p, n_wf - n_dg)
    if st == 1:
        for s in range(n_dg):
            p = _slot(buf, p, cl_end, err)
            if p >= 0:
                p = _digitizer(buf, p, cl_end, traces, row0 + s, scratch, sf, err)
            if p < 0:
                return -1
        p = _close_clones(p, cl_end, wrap_end, ptr_end, err)
        if p < 0:
            return -1
    else:
        p = ptr_end
    # fActiveID
    st, ptr_end, p = pointer(buf, p, e, _FLAGS, err)
    if st < 0:
        return -1
    n_bits, n_set = -1, 0
    if st == 1:
        if p + 4 > ptr_end:
            return fail(err, E_TRUNCATED, p, 0)
        n_bits = i32(buf, p)
        p += 4
        if n_bits < 0 or n_bits > 65536 or n_bits != ptr_end - p:
            return fail(err, E_BAD_COUNT, p - 4, n_bits)
        for b in range(n_bits):
            if buf[p + b]:
                n_set += 1
        if counts[2] + n_set > len(flags):
            counts[3] = 2
            return NEED_ROOM
        n_set = 0
        for b in range(n_bits):
            if buf[p + b]:
                flags[counts[2] + n_set] = b
                n_set += 1
        p = ptr_end
    if p + 1 > e:
        return fail(err, E_TRUNCATED, p, 0)
    ent["use_aux"] = buf[p]
    p += 1
    p, n_aux = _waveforms(buf, p, e, lens[1], max_n, aux, aux_values, counts[1], scratch, sf,
                          err)  # fmt: skip
    if p < 0 or n_aux < 0:
        counts[3] = 1
        return -1 if p < 0 else NEED_ROOM
    if p + 4 != e:
        return fail(err, E_CLOSURE if p + 4 < e else E_TRUNCATED, p, e - p - 4)
    ent["event_number"] = i32(buf, p)
    ent["main0"], ent["n_main"] = counts[0], n_wf
    ent["aux0"], ent["n_aux"] = counts[1], n_aux
    ent["flag0"], ent["n_flag"], ent["n_flag_bits"] = counts[2], n_set, n_bits
    counts[0] += n_wf
    counts[1] += n_aux
    counts[2] += n_set
    return OK


@numba.njit(**_JIT)
def parse_entries(buf, starts, stops, k0, lens, max_n, entries, traces, main_values, aux,
                  aux_values, flags, counts):  # fmt: skip
    """Parse entries ``[k0, len(starts))`` (bytes ``[starts[k], stops[k])`` of `buf`).

    ``lens`` = (main, aux) trace lengths (-1: any length, samples not stored); ``max_n``:
    most traces of one kind in an entry (0: no limit). ``counts`` = rows used in (traces,
    aux, flags), updated. Returns the entry where a table ran out of room (grow it and
    call again from there), else ``len(starts)``.
    """
    err = np.zeros(3, np.int64)
    scratch = np.zeros(8, np.uint8)
    sf = scratch.view(np.float64)
    for k in range(k0, len(starts)):
        before = (counts[0], counts[1], counts[2])
        ent = entries[k]
        ent["status"] = OK
        ent["main0"], ent["aux0"], ent["flag0"] = before
        ent["n_main"], ent["n_aux"], ent["n_flag"], ent["n_flag_bits"] = 0, 0, 0, -1
        start, stop = starts[k], stops[k]
        if start < 0 or stop > len(buf) or start > stop:
            st = fail(err, E_TRUNCATED, start, stop)
        else:
            st = _entry(buf, start, stop, lens, max_n, entries, k, traces, main_values, aux,
                        aux_values, flags, counts, scratch, sf, err)  # fmt: skip
        if st == NEED_ROOM:
            return k
        if st != OK:
            counts[0], counts[1], counts[2] = before
            ent["status"], ent["err_pos"], ent["err_value"] = err[0], err[1], err[2]
            ent["n_main"], ent["n_aux"], ent["n_flag"] = 0, 0, 0
    return len(starts)


@numba.njit(**_JIT)
def hop_entries(buf, n, offsets):
    """Offsets of the complete entries at the start of ``buf[:n]`` (entries follow each
    other; each is an optional class-name prefix and a byte-counted MGTEvent). Fills
    ``offsets[0..k]`` (k entries, ``offsets[k]`` the end of the last) and returns k."""
    p = 0
    k = 0
    offsets[0] = 0
    while k + 1 < len(offsets) and p < n:
        q = p
        if buf[q] == len(_ENTRY):
            if q + 10 > n or not matches(buf, q + 1, 8, _ENTRY) or buf[q + 9] != 0:
                break
            q += 10
        if q + 4 > n:
            break
        w = u32(buf, q)
        if (w & 0xC0000000) != 0x40000000:
            break
        end = q + 4 + (w & 0x3FFFFFFF)
        if end > n:
            break
        k += 1
        offsets[k] = end
        p = end
    return k
