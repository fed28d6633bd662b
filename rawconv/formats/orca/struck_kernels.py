"""Numba kernels of the Struck SIS3302 and SIS3316 records of ORCA files.

SIS3302 energy record (one event; ORCA's ORSIS3302DecoderForEnergy):

========  ==============================================================================
word      content
========  ==============================================================================
1         crate (24-21) | card (20-16) | channel (15-8) | buffer-wrap mode (0)
2, 3      raw waveform length, energy waveform length (words, 2 samples per word)
4, 5      timestamp bits 47-32 (31-16) | event header (15-0); timestamp bits 31-0
6, 7      wrap mode only: samples in the wrap buffer, index of the oldest sample
then      raw waveform, energy waveform, energy max, energy first, flags, 0xDEADBEEF
========  ==============================================================================

In wrap mode the raw buffer is circular: sample i of the waveform is buffer sample
``(start + i) % n_wrap`` for i < n_wrap, the rest are 0 (as ORCA's own decoder reads it).

SIS3316 waveform record (several events): word 1 as above; 2 number of events; 3 words per
event; 5 event header words; events from word 10. Event: timestamp bits 47-32 (31-16) |
format bits (3-0); timestamp bits 31-0; format bit 0: peak (value 15-0, index 31-16),
information (31-24) | gate 1 (23-0), gates 2-6; bit 1: gates 7, 8; bit 2: MAW max, before,
after; bit 3: start energy, max energy; the last header word has 0xE in bits 31-28 and the
number of raw sample words in bits 25-0; then the raw samples.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..copy_kernels import copy_samples_padded
from .kernels import read_u32
from .layout import (
    KIND_SIS3302,
    KIND_SIS3316,
    REC_BAD_PAYLOAD,
    SIS3302_TRAILER,
    SIS3316_ABSENT,
    SIS3316_ORCA_WORDS,
)

N_CCC = 1 << 13


@nb.njit(cache=True, nogil=True, inline="always")
def ccc_of(w1):
    """The reference's key from word 1: (crate << 9) + ((card & 0x1F) << 4) + (channel & 0xF)."""
    crate = np.int64((w1 >> 21) & 0xF)
    card = np.int64((w1 >> 16) & 0x1F)
    channel = np.int64((w1 >> 8) & 0xFF)
    return (crate << 9) + ((card & 0x1F) << 4) + (channel & 0xF), crate, card, channel


@nb.njit(cache=True, nogil=True)
def _event_ok(buf, e, length, hdr):
    fmt = read_u32(buf, e) & 0xF
    need = 2 + 7 * (fmt & 1) + 2 * ((fmt >> 1) & 1) + 3 * ((fmt >> 2) & 1) + 2 * ((fmt >> 3) & 1)
    if hdr < need + 1:
        return False
    w = read_u32(buf, e + 4 * (hdr - 1))
    return (w >> 28) == 0xE and np.int64(w & 0x3FFFFFF) <= length - hdr


@nb.njit(cache=True, nogil=True)
def validate_struck(buf, rec_start, rec_words, rec_kind, n, rec_bad):
    """Mark SIS3302 / SIS3316 records whose payload does not fit their layout."""
    marked = 0
    for i in range(n):
        kind = rec_kind[i]
        s = rec_start[i]
        w = rec_words[i]
        bad = False
        if kind == KIND_SIS3302:
            if w < 10:
                bad = True
            else:
                wrap = read_u32(buf, s + 4) & 1
                hdr = 4 if wrap else 2
                wf = np.int64(read_u32(buf, s + 8))
                en = np.int64(read_u32(buf, s + 12))
                bad = (w != 4 + hdr + wf + en + 4
                       or read_u32(buf, s + 4 * (w - 1)) != SIS3302_TRAILER)  # fmt: skip
                if not bad and wrap:
                    bad = np.int64(read_u32(buf, s + 24)) > 2 * wf
        elif kind == KIND_SIS3316:
            if w < SIS3316_ORCA_WORDS:
                bad = True
            else:
                n_ev = np.int64(read_u32(buf, s + 8))
                length = np.int64(read_u32(buf, s + 12))
                hdr = np.int64(read_u32(buf, s + 20))
                if length < 3 or hdr < 3 or hdr > length:
                    bad = n_ev > 0
                elif SIS3316_ORCA_WORDS + n_ev * length > w:
                    bad = True
                else:
                    for k in range(n_ev):
                        e = s + 4 * (SIS3316_ORCA_WORDS + k * length)
                        if not _event_ok(buf, e, length, hdr):
                            bad = True
                            break
        if bad:
            rec_bad[i] = REC_BAD_PAYLOAD
            marked += 1
    return marked


@nb.njit(cache=True, nogil=True)
def decode_sis3302(
    buf, rec_start, rec_words, rec_pid, rec_bad, first, last, max_rows, group_of, want,
    counters, out, keys,
):  # fmt: skip
    """Decode the SIS3302 records ``[first, last)`` whose key is in group `want` into `out`
    (a ``SIS3302Columns`` of :mod:`.struck` from the buffer's fill position) and their
    keys into `keys`. Returns ``(records_done, rows)``."""
    wf_bytes = out.waveform.view(np.uint8)  # samples are copied as little-endian bytes
    wf_len = wf_bytes.shape[1] // 2
    row = 0
    for i in range(first, last):
        if rec_bad[i] != 0:
            continue
        s = rec_start[i]
        w = rec_words[i]
        w1 = read_u32(buf, s + 4)
        key, crate, card, channel = ccc_of(w1)
        if group_of[key] != want:
            continue
        if row >= max_rows:
            return i - first, row
        wrap = w1 & 1
        hdr = 4 if wrap else 2
        wf = np.int64(read_u32(buf, s + 8))
        out.packet_id[row] = rec_pid[i]
        out.crate[row] = crate
        out.card[row] = card
        out.channel[row] = channel
        ts_high = np.uint64(read_u32(buf, s + 16) >> 16)
        out.timestamp[row] = (ts_high << np.uint64(32)) | np.uint64(read_u32(buf, s + 20))
        out.energy[row] = read_u32(buf, s + 4 * (w - 4))
        out.energy_first[row] = read_u32(buf, s + 4 * (w - 3))
        p = s + 4 * (4 + hdr)
        if not wrap:
            if copy_samples_padded(wf_bytes, row, buf, p, 2 * wf):
                counters[0] += 1
        else:
            n_wrap = np.int64(read_u32(buf, s + 24))
            j = np.int64(read_u32(buf, s + 28))
            wf_bytes[row, :] = 0
            for k in range(min(n_wrap, wf_len)):
                if j >= n_wrap:
                    j = 0
                wf_bytes[row, 2 * k] = buf[p + 2 * j]
                wf_bytes[row, 2 * k + 1] = buf[p + 2 * j + 1]
                j += 1
            if 2 * wf != wf_len:
                counters[0] += 1
        keys[row] = key
        row += 1
    return last - first, row


@nb.njit(cache=True, nogil=True)
def sis3316_events(buf, rec_start, rec_bad, first, last):
    """Events in each SIS3316 record ``[first, last)`` (0 for bad records)."""
    out = np.zeros(last - first, dtype=np.int64)
    for i in range(first, last):
        if rec_bad[i] == 0:
            out[i - first] = read_u32(buf, rec_start[i] + 8)
    return out


@nb.njit(cache=True, nogil=True)
def decode_sis3316(
    buf, rec_start, rec_pid, rec_bad, first, last, max_rows, group_of, want, counters,
    out, keys,
):  # fmt: skip
    """Decode the events of the SIS3316 records ``[first, last)`` whose key is in group
    `want` into `out` (a ``SIS3316Columns`` of :mod:`.struck` from the buffer's fill
    position) and their keys into `keys`; values the event's format bits leave out are
    ``SIS3316_ABSENT``. A record whose events do not all fit in `max_rows` is left for the
    next call. Returns ``(records_done, rows)``."""
    wf = out.waveform.view(np.uint8)  # samples are copied as little-endian bytes
    row = 0
    for i in range(first, last):
        if rec_bad[i] != 0:
            continue
        s = rec_start[i]
        w1 = read_u32(buf, s + 4)
        key, crate, card, channel = ccc_of(w1)
        if group_of[key] != want:
            continue
        n_ev = np.int64(read_u32(buf, s + 8))
        length = np.int64(read_u32(buf, s + 12))
        hdr = np.int64(read_u32(buf, s + 20))
        if row + n_ev > max_rows:
            return i - first, row
        for k in range(n_ev):
            e = s + 4 * (SIS3316_ORCA_WORDS + k * length)
            e0 = read_u32(buf, e)
            fmt = e0 & 0xF
            out.packet_id[row] = rec_pid[i]
            out.crate[row] = crate
            out.card[row] = card
            out.channel[row] = channel
            out.timestamp[row] = (np.uint64(e0 >> 16) << np.uint64(32)) | np.uint64(
                read_u32(buf, e + 4)
            )
            q = e + 8
            absent = np.uint32(SIS3316_ABSENT)
            if fmt & 1:
                peak = read_u32(buf, q)
                acc1 = read_u32(buf, q + 4)
                out.peakHighValue[row] = peak & 0xFFFF
                out.peakHighIndex[row] = peak >> 16
                out.accSum1[row] = acc1 & 0xFFFFFF
                out.information[row] = acc1 >> 24
                out.accSum2[row] = read_u32(buf, q + 8)
                out.accSum3[row] = read_u32(buf, q + 12)
                out.accSum4[row] = read_u32(buf, q + 16)
                out.accSum5[row] = read_u32(buf, q + 20)
                out.accSum6[row] = read_u32(buf, q + 24)
                q += 28
            else:
                out.peakHighValue[row] = absent
                out.peakHighIndex[row] = absent
                out.accSum1[row] = absent
                out.information[row] = absent
                out.accSum2[row] = absent
                out.accSum3[row] = absent
                out.accSum4[row] = absent
                out.accSum5[row] = absent
                out.accSum6[row] = absent
            if fmt & 2:
                out.accSum7[row] = read_u32(buf, q)
                out.accSum8[row] = read_u32(buf, q + 4)
                q += 8
            else:
                out.accSum7[row] = absent
                out.accSum8[row] = absent
            if fmt & 4:
                out.mawMax[row] = read_u32(buf, q)
                out.mawBefore[row] = read_u32(buf, q + 4)
                out.mawAfter[row] = read_u32(buf, q + 8)
                q += 12
            else:
                out.mawMax[row] = absent
                out.mawBefore[row] = absent
                out.mawAfter[row] = absent
            # energy is the max energy, energy_first the start energy
            start_energy = read_u32(buf, q) if fmt & 8 else absent
            max_energy = read_u32(buf, q + 4) if fmt & 8 else absent
            out.startEnergy[row] = start_energy
            out.maxEnergy[row] = max_energy
            out.energy[row] = max_energy
            out.energy_first[row] = start_energy
            raw = np.int64(read_u32(buf, e + 4 * (hdr - 1)) & 0x3FFFFFF)
            if copy_samples_padded(wf, row, buf, e + 4 * hdr, 2 * raw):
                counters[0] += 1
            keys[row] = key
            row += 1
    return last - first, row

