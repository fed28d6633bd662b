"""Numba kernels of the legacy (pre-FCIO) FlashCam records (formats.md 2.3, 2.4).

Waveform record, one trace (``ohl`` = ORCA header words, ``fhl`` = FCIO header words):

====================  ======================================================
word                  content
====================  ======================================================
1                     ohl (31-28) | fhl (27-22) | nsamples (21-6) | type (5-0)
2                     crate (31-27) | slot (26-22) | address & 0xFF (21-14) |
                      input (13-10) | channel (9-0) [variant: 13-9, 8-0]
ohl .. ohl+6          timeoffset[0..6]
ohl+7 .. ohl+11       deadregion[0..4]
ohl+12 .. ohl+15      timestamp[0..3] (event number, pps, ticks, maxticks)
ohl+fhl-1             baseline (15-0) | integrator (31-16)
ohl+fhl ..            nsamples uint16 samples, two per word
====================  ======================================================
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..copy_kernels import copy_samples_padded
from .kernels import read_u32
from .layout import (
    FC_CONFIG_SLOTS,
    FC_CONFIG_TRACEMAP,
    FC_STATUS_CARD_SIZE,
    FC_STATUS_CARDS,
    FC_STATUS_FIRST_CARD,
    FC_WF_MIN_FHL,
    KIND_FC_CONFIG,
    KIND_FC_STATUS,
    KIND_FC_WAVEFORM,
    KIND_FC_WAVEFORM_V2,
    KIND_RUN,
    REC_BAD_PAYLOAD,
    REC_NO_LISTENER,
    RUN_WORDS,
)

N_SLOTS = 32 * 32
"""Entries of the (crate, slot) lookup tables: index ``crate * 32 + slot``."""

# counters of decode_fc_waveforms
CNT_ADDRESS = 0
"""records whose 8 address bits differ from the header's CardAddress."""
CNT_TRACEMAP = 1
"""records whose card address differs from the listener config's tracemap."""
CNT_SAMPLES = 2
"""records whose nsamples differs from the table's waveform length."""


@nb.njit(cache=True, nogil=True, inline="always")
def _i32(x):
    return np.int64(np.int32(np.uint32(x)))


@nb.njit(cache=True, nogil=True, inline="always")
def _wrap32(x):
    """int32 wrap-around of an integer (as numpy int32 arithmetic)."""
    return np.int64(np.int32(np.uint32(np.int64(x) & 0xFFFFFFFF)))


@nb.njit(cache=True, nogil=True)
def validate_flashcam(buf, rec_start, rec_words, rec_kind, n, slot_fcid, rec_bad):
    """Mark legacy FlashCam and run records whose payload does not fit their layout.
    Returns the number of records marked."""
    marked = 0
    for i in range(n):
        kind = rec_kind[i]
        s = rec_start[i]
        w = rec_words[i]
        bad = 0
        if kind == KIND_RUN:
            bad = w < RUN_WORDS
        elif kind == KIND_FC_CONFIG:
            if w < FC_CONFIG_TRACEMAP:
                bad = 1
            else:
                nadcs = _i32(read_u32(buf, s + 12))
                bad = nadcs < 0 or nadcs > FC_CONFIG_SLOTS or w < FC_CONFIG_TRACEMAP + nadcs
        elif kind == KIND_FC_STATUS:
            if w < FC_STATUS_FIRST_CARD:
                bad = 1
            else:
                cards = _i32(read_u32(buf, s + 4 * FC_STATUS_CARDS))
                size = _i32(read_u32(buf, s + 4 * FC_STATUS_CARD_SIZE))
                bad = (cards < 0 or size < 39 or cards > 4096
                       or w < FC_STATUS_FIRST_CARD + cards * size)  # fmt: skip
        elif kind in (KIND_FC_WAVEFORM, KIND_FC_WAVEFORM_V2):
            if w < 3:
                bad = 1
            else:
                w1 = read_u32(buf, s + 4)
                w2 = read_u32(buf, s + 8)
                ohl = np.int64(w1 >> 28)
                fhl = np.int64((w1 >> 22) & 0x3F)
                ns = np.int64((w1 >> 6) & 0xFFFF)
                bad = ohl < 3 or fhl < FC_WF_MIN_FHL or w != ohl + fhl + (ns + 1) // 2
                if not bad and slot_fcid[np.int64(w2 >> 27) * 32 + np.int64((w2 >> 22) & 0x1F)] < 0:
                    rec_bad[i] = REC_NO_LISTENER
                    marked += 1
                    continue
        if bad:
            rec_bad[i] = REC_BAD_PAYLOAD
            marked += 1
    return marked


@nb.njit(cache=True, nogil=True, error_model="numpy")
def decode_fc_waveforms(
    buf, rec_start, rec_words, rec_pid, rec_bad, first, last, max_rows, want_fcid,
    input_shift, input_mask, channel_mask, slot_fcid, slot_addr, gps, n_adc, tm_board,
    counters, out, keys,
):  # fmt: skip
    """Decode the waveform records ``[first, last)`` of listener `want_fcid` (others are
    skipped), one row each, as the reference does (runtime = pps + ticks / (maxticks + 1),
    deadtime from this record's dead region only), into `out` (a ``FlashCamWaveformColumns``
    of :mod:`.flashcam` from the buffer's fill position) and their keys into `keys`.
    Returns ``(records_done, rows)``."""
    wf = out.waveform.view(np.uint8)  # samples are copied as little-endian bytes
    row = 0
    for i in range(first, last):
        if rec_bad[i] != 0:
            continue
        s = rec_start[i]
        w1 = read_u32(buf, s + 4)
        w2 = read_u32(buf, s + 8)
        crate = np.int64(w2 >> 27)
        slot = np.int64((w2 >> 22) & 0x1F)
        lut = crate * 32 + slot
        if slot_fcid[lut] != want_fcid:
            continue
        if row >= max_rows:
            return i - first, row
        ohl = np.int64(w1 >> 28)
        fhl = np.int64((w1 >> 22) & 0x3F)
        ns = np.int64((w1 >> 6) & 0xFFFF)
        fc_input = np.int64((w2 & input_mask) >> input_shift)
        channel = np.int64(w2 & channel_mask)
        board = slot_addr[lut]
        if (board & 0xFF) != np.int64((w2 >> 14) & 0xFF):
            counters[CNT_ADDRESS] += 1
        key = want_fcid * 1000000 + board * 100 + fc_input
        if channel < tm_board.shape[0] and tm_board[channel] != board:
            counters[CNT_TRACEMAP] += 1
            board = tm_board[channel]
        h = s + 4 * ohl
        to0 = _i32(read_u32(buf, h))
        to1 = _i32(read_u32(buf, h + 4))
        to2 = _i32(read_u32(buf, h + 8))
        d = h + 28
        dr0 = _i32(read_u32(buf, d))
        dr1 = _i32(read_u32(buf, d + 4))
        dr2 = _i32(read_u32(buf, d + 8))
        dr3 = _i32(read_u32(buf, d + 12))
        dr4 = _i32(read_u32(buf, d + 16))
        t = h + 48
        pps = read_u32(buf, t + 4)
        ticks = read_u32(buf, t + 8)
        maxticks = _i32(read_u32(buf, t + 12))
        out.packet_id[row] = rec_pid[i]
        out.channel[row] = channel
        out.fcid[row] = want_fcid
        out.crate[row] = crate
        out.slot[row] = slot
        out.board_id[row] = board
        out.fc_input[row] = fc_input
        out.event_type[row] = w1 & 0x3F
        out.numtraces[row] = 1
        out.eventnumber[row] = _i32(read_u32(buf, t))
        out.ts_pps[row] = np.int64(np.int32(pps))
        out.ts_ticks[row] = np.int64(np.int32(ticks))
        out.ts_maxticks[row] = maxticks
        out.mu_offset_sec[row] = to0
        out.mu_offset_usec[row] = to1
        out.to_master_sec[row] = to2
        out.delta_mu_usec[row] = _i32(read_u32(buf, h + 12))
        out.abs_delta_mu_usec[row] = _i32(read_u32(buf, h + 16))
        out.to_start_sec[row] = _i32(read_u32(buf, h + 20))
        out.to_start_usec[row] = _i32(read_u32(buf, h + 24))
        out.dr_start_pps[row] = dr0
        out.dr_start_ticks[row] = dr1
        out.dr_stop_pps[row] = dr2
        out.dr_stop_ticks[row] = dr3
        out.dr_maxticks[row] = dr4
        out.dr_ch_idx[row] = 0
        out.dr_ch_len[row] = n_adc
        runtime = np.float64(pps) + np.float64(ticks) / np.float64(_wrap32(maxticks + 1))
        out.runtime[row] = runtime
        if gps == 0:
            toff = np.float64(to0) + np.float64(to1) * 1e-6
        else:
            toff = np.float64(to2)
        out.timestamp[row] = runtime + toff
        out.deadtime[row] = np.float64(_wrap32(dr2 - dr0)) + np.float64(
            _wrap32(dr3 - dr1)
        ) / np.float64(dr4)
        out.lifetime[row] = 0.0
        out.deadinterval_nsec[row] = 0
        e = read_u32(buf, s + 4 * (ohl + fhl - 1))
        out.baseline[row] = e & 0xFFFF
        out.daqenergy[row] = e >> 16
        p = s + 4 * (ohl + fhl)
        if copy_samples_padded(wf, row, buf, p, ns):
            counters[CNT_SAMPLES] += 1
        keys[row] = key
        row += 1
    return last - first, row


@nb.njit(cache=True, nogil=True)
def fc_waveform_fcids(buf, rec_start, rec_bad, first, last, slot_fcid):
    """The listener id of each waveform record ``[first, last)`` (-1 for bad records)."""
    out = np.full(last - first, -1, dtype=np.int64)
    for i in range(first, last):
        if rec_bad[i] == 0:
            w2 = read_u32(buf, rec_start[i] + 8)
            out[i - first] = slot_fcid[np.int64(w2 >> 27) * 32 + np.int64((w2 >> 22) & 0x1F)]
    return out
