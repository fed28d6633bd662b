"""ORCA decode kernels (legacy FlashCam waveforms, SIS3302, SIS3316) on hand-built records,
writing into their output structs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rawconv.formats.kernel_outputs import columns_of
from rawconv.formats.orca.flashcam import FlashCamWaveformColumns, waveform_fields
from rawconv.formats.orca.flashcam_kernels import (
    CNT_ADDRESS,
    CNT_SAMPLES,
    CNT_TRACEMAP,
    N_SLOTS,
    decode_fc_waveforms,
)
from rawconv.formats.orca.layout import SIS3302_TRAILER, SIS3316_ABSENT, ccc_key
from rawconv.formats.orca.struck import (
    ORSIS3302DecoderForEnergy,
    ORSIS3316WaveformDecoder,
    SIS3302Columns,
    SIS3316Columns,
)
from rawconv.formats.orca.struck_kernels import N_CCC, decode_sis3302, decode_sis3316
from tests.formats.kernel_tables import table_of


def records(*words: list[int], bad: tuple[int, ...] = ()) -> SimpleNamespace:
    """ORCA records (lists of uint32 words) back to back, as the streamer tables them."""
    buf = np.concatenate([np.array(w, dtype="<u4") for w in words]).view(np.uint8)
    lengths = np.array([len(w) for w in words], dtype=np.int64)
    start = 4 * np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    rec_bad = np.zeros(len(words), dtype=np.int8)
    rec_bad[list(bad)] = 1
    return SimpleNamespace(buf=buf, start=start, words=lengths, n=len(words), bad=rec_bad,
                           pid=np.arange(len(words), dtype=np.int64) + 10)  # fmt: skip


def sample_words(samples: list[int]) -> list[int]:
    padded = [*samples, 0] if len(samples) % 2 else samples
    return [padded[i] | (padded[i + 1] << 16) for i in range(0, len(padded), 2)]


# --- legacy FlashCam waveforms -----------------------------------------------------------

TO = [1_700_000_000, 250_000, 3, 4, 4, 1_699_999_000, 0]
DR = [2, 1000, 2, 3000, 250_000_000]
TS = [9, 12, 125_000_000, 249_999_999]


def fc_waveform(slot: int, address: int, fc_input: int, channel: int, samples: list[int],
                baseline: int = 100, energy: int = 777) -> list[int]:  # fmt: skip
    """A legacy FlashCam ADC waveform record (crate 0; input bits 13-10, channel 9-0)."""
    fhl = 17
    w1 = (3 << 28) | (fhl << 22) | (len(samples) << 6) | 1
    w2 = (slot << 22) | ((address & 0xFF) << 14) | (fc_input << 10) | channel
    header = [*TO, *DR, *TS, baseline | (energy << 16)]
    body = [w1, w2, *header, *sample_words(samples)]
    return [len(body) + 1, *body]


def fc_decode(recs, table, max_rows=8, slot_addr=0x120, tm_board=(0x120, 0x120, 0x120)):
    slot_fcid = np.full(N_SLOTS, -1, dtype=np.int64)
    slot_fcid[[1, 2]] = [1, 2]  # crate 0, slots 1 and 2: listeners 1 and 2
    addr = np.zeros(N_SLOTS, dtype=np.int64)
    addr[1] = slot_addr
    counters = np.zeros(3, dtype=np.int64)
    keys = np.zeros(8, dtype=np.int64)
    done, rows = decode_fc_waveforms(
        recs.buf, recs.start, recs.words, recs.pid, recs.bad, 0, recs.n, max_rows, 1, 10,
        0x3C00, 0x3FF, slot_fcid, addr, 0, 3, np.array(tm_board, dtype=np.int64), counters,
        columns_of(table, FlashCamWaveformColumns), keys,
    )  # fmt: skip
    return done, rows, counters.tolist(), keys


def test_fc_waveforms_of_one_listener():
    table = table_of(waveform_fields(4), 4)
    recs = records(fc_waveform(1, 0x120, 2, 2, [5, 6, 7, 8]),
                   fc_waveform(2, 0x121, 0, 0, [1, 1, 1, 1]),  # listener 2: skipped
                   fc_waveform(1, 0x120, 1, 1, [9, 9, 9, 9]))  # fmt: skip
    done, rows, counters, keys = fc_decode(recs, table)
    assert (done, rows, counters) == (3, 2, [0, 0, 0])
    col = {name: table[name].nda[:2].tolist() for name in FlashCamWaveformColumns._fields[:-1]}
    assert col["packet_id"] == [10, 12]
    assert col["channel"] == [2, 1] and col["fc_input"] == [2, 1]
    assert col["fcid"] == [1, 1] and col["crate"] == [0, 0] and col["slot"] == [1, 1]
    assert col["board_id"] == [0x120] * 2
    assert col["event_type"] == [1, 1] and col["numtraces"] == [1, 1]
    assert (col["eventnumber"], col["ts_pps"], col["ts_ticks"]) == ([9] * 2, [12] * 2,
                                                                    [125_000_000] * 2)  # fmt: skip
    assert col["ts_maxticks"] == [249_999_999] * 2
    assert col["mu_offset_sec"] == [TO[0]] * 2 and col["mu_offset_usec"] == [TO[1]] * 2
    assert col["to_start_sec"] == [TO[5]] * 2
    assert col["dr_start_ticks"] == [1000] * 2 and col["dr_maxticks"] == [250_000_000] * 2
    assert col["dr_ch_idx"] == [0, 0] and col["dr_ch_len"] == [3, 3]
    runtime = 12 + 125_000_000 / 250_000_000
    assert col["runtime"] == [runtime] * 2
    assert col["timestamp"] == [runtime + (TO[0] + TO[1] * 1e-6)] * 2
    assert col["deadtime"] == [0 + 2000 / 250_000_000] * 2
    assert col["lifetime"] == [0.0, 0.0] and col["deadinterval_nsec"] == [0, 0]
    assert col["baseline"] == [100, 100] and col["daqenergy"] == [777, 777]
    assert table["waveform"]["values"].nda[:2].tolist() == [[5, 6, 7, 8], [9, 9, 9, 9]]
    assert keys[:2].tolist() == [1_000_000 + 0x120 * 100 + 2, 1_000_000 + 0x120 * 100 + 1]


def test_fc_waveforms_stop_at_max_rows_and_skip_bad_records():
    table = table_of(waveform_fields(4), 4)
    rec = fc_waveform(1, 0x120, 0, 0, [1, 2, 3, 4])
    done, rows, _, _ = fc_decode(records(rec, rec, rec, bad=(0,)), table, max_rows=1)
    assert (done, rows) == (2, 1)
    assert table["packet_id"].nda[0] == 11


def test_fc_waveform_counters_and_short_waveforms():
    table = table_of(waveform_fields(4), 2)
    # address bits 0x21 instead of the header's 0x20; tracemap says board 0x130 for channel 0
    recs = records(fc_waveform(1, 0x121, 0, 0, [4, 3]))
    done, rows, counters, keys = fc_decode(recs, table, tm_board=(0x130, 0x120, 0x120))
    assert (done, rows) == (1, 1)
    assert counters[CNT_ADDRESS] == 1 and counters[CNT_TRACEMAP] == 1
    assert counters[CNT_SAMPLES] == 1
    assert table["board_id"].nda[0] == 0x130
    assert keys[0] == 1_000_000 + 0x120 * 100  # the key keeps the header's card address
    assert table["waveform"]["values"].nda[0].tolist() == [4, 3, 0, 0]


# --- Struck SIS3302 ----------------------------------------------------------------------


def sis3302(channel: int, samples: list[int], ts: int, energy: int, energy_first: int,
            wrap: tuple[int, int] | None = None) -> list[int]:  # fmt: skip
    """An SIS3302 energy record (crate 1, card 2) with a one-word energy waveform."""
    w1 = (1 << 21) | (2 << 16) | (channel << 8) | (1 if wrap else 0)
    body = [w1, len(samples) // 2, 1, (ts >> 32) << 16, ts & 0xFFFFFFFF, *(wrap or ())]
    body += [*sample_words(samples), 0, energy, energy_first, 0, SIS3302_TRAILER]
    return [len(body) + 1, *body]


def test_sis3302_plain_and_wrap_mode():
    table = table_of(ORSIS3302DecoderForEnergy().get_decoded_values() | {
        "waveform": {"dtype": "uint16", "datatype": "waveform", "wf_len": 6, "dt": 10.0}}, 3)
    group_of = np.full(N_CCC, -1, dtype=np.int64)
    group_of[[ccc_key(1, 2, 0), ccc_key(1, 2, 1)]] = [0, 1]
    wave = [10, 11, 12, 13, 14, 15]
    recs = records(sis3302(0, wave, (7 << 32) + 5, 300, 200),
                   sis3302(1, wave, 1, 1, 1),  # group 1: skipped
                   sis3302(0, wave, 6, 301, 201, wrap=(4, 2)))  # fmt: skip
    counters = np.zeros(1, dtype=np.int64)
    keys = np.zeros(4, dtype=np.int64)
    done, rows = decode_sis3302(recs.buf, recs.start, recs.words, recs.pid, recs.bad, 0, 3, 3,
                                group_of, 0, counters, columns_of(table, SIS3302Columns),
                                keys)  # fmt: skip
    assert (done, rows, counters[0]) == (3, 2, 0)
    assert table["packet_id"].nda[:2].tolist() == [10, 12]
    assert table["timestamp"].nda[:2].tolist() == [(7 << 32) + 5, 6]
    assert table["energy"].nda[:2].tolist() == [300, 301]
    assert table["energy_first"].nda[:2].tolist() == [200, 201]
    assert table["crate"].nda[0] == 1 and table["card"].nda[0] == 2
    assert table["channel"].nda[:2].tolist() == [0, 0]
    # wrap mode: 4 samples in the buffer, the oldest at index 2
    assert table["waveform"]["values"].nda[:2].tolist() == [wave, [12, 13, 10, 11, 0, 0]]
    assert keys[:2].tolist() == [ccc_key(1, 2, 0)] * 2


# --- Struck SIS3316 ----------------------------------------------------------------------

FORMAT_WORDS = (7, 2, 3, 2)  # words of format bits 0-3


def sis3316_event(fmt: int, ts: int, values: list[int], samples: list[int]) -> list[int]:
    """One event: `values` fill the words of the format bits that are set, in order."""
    words = [((ts >> 32) << 16) | fmt, ts & 0xFFFFFFFF, *values]
    return [*words, (0xE << 28) | (len(samples) // 2), *sample_words(samples)]


def sis3316(channel: int, fmt: int, events: list[list[int]]) -> list[int]:
    """An SIS3316 record (crate 1, card 3) of events of format `fmt`."""
    hdr = 3 + sum(n for bit, n in enumerate(FORMAT_WORDS) if fmt >> bit & 1)
    length = len(events[0]) if events else hdr
    body = [(1 << 21) | (3 << 16) | (channel << 8), len(events), length, 0, hdr, 0, 0, 0, 0]
    return [len(body) + 1 + sum(map(len, events)), *body, *(w for e in events for w in e)]


def sis3316_expected(fmt: int, values: list[int]) -> dict[str, int]:
    """The columns of one event, as ORCA's format bits define them."""
    out = dict.fromkeys(("peakHighValue", "peakHighIndex", "accSum1", "information",
                         *(f"accSum{g}" for g in range(2, 9)), "mawMax", "mawBefore",
                         "mawAfter", "startEnergy", "maxEnergy"), SIS3316_ABSENT)  # fmt: skip
    v = iter(values)
    if fmt & 1:
        peak, acc1 = next(v), next(v)
        out.update(peakHighValue=peak & 0xFFFF, peakHighIndex=peak >> 16,
                   accSum1=acc1 & 0xFFFFFF, information=acc1 >> 24)  # fmt: skip
        out.update({f"accSum{g}": next(v) for g in range(2, 7)})
    if fmt & 2:
        out.update(accSum7=next(v), accSum8=next(v))
    if fmt & 4:
        out.update(mawMax=next(v), mawBefore=next(v), mawAfter=next(v))
    if fmt & 8:
        out.update(startEnergy=next(v), maxEnergy=next(v))
    out.update(energy=out["maxEnergy"], energy_first=out["startEnergy"])
    return out


def sis3316_table(size: int):
    return table_of(ORSIS3316WaveformDecoder().get_decoded_values() | {
        "waveform": {"dtype": "uint16", "datatype": "waveform", "wf_len": 4, "dt": 8.0}}, size)


def sis3316_decode(recs, table, max_rows):
    group_of = np.full(N_CCC, -1, dtype=np.int64)
    group_of[ccc_key(1, 3, 0)] = 0
    keys = np.zeros(max(max_rows, 1), dtype=np.int64)
    done, rows = decode_sis3316(recs.buf, recs.start, recs.pid, recs.bad, 0, recs.n, max_rows,
                                group_of, 0, np.zeros(1, dtype=np.int64),
                                columns_of(table, SIS3316Columns), keys)  # fmt: skip
    return done, rows, keys


def test_sis3316_events_follow_their_format_bits():
    table = sis3316_table(3)
    a = sis3316_event(0b1001, (3 << 32) + 1, [0x20005, 0x7F000123, 2, 3, 4, 5, 6, 40, 50],
                      [1, 2, 3, 4])  # fmt: skip
    b = sis3316_event(0b0110, 2, [7, 8, 11, 12, 13], [5, 6, 7, 8])
    recs = records(sis3316(0, 0b1001, [a, a]), sis3316(0, 0b0110, [b]))
    done, rows, keys = sis3316_decode(recs, table, 3)
    assert (done, rows) == (2, 3)
    assert table["packet_id"].nda.tolist() == [10, 10, 11]
    assert table["timestamp"].nda.tolist() == [(3 << 32) + 1] * 2 + [2]
    for row, (fmt, values) in enumerate([(0b1001, a[2:11]), (0b1001, a[2:11]), (0b0110, b[2:7])]):
        for name, value in sis3316_expected(fmt, values).items():
            assert table[name].nda[row] == value, (row, name)
    assert table["information"].nda[0] == 0x7F and table["accSum1"].nda[0] == 0x123
    assert table["waveform"]["values"].nda.tolist() == [[1, 2, 3, 4]] * 2 + [[5, 6, 7, 8]]
    assert keys.tolist() == [ccc_key(1, 3, 0)] * 3


def test_sis3316_record_waits_until_all_its_events_fit():
    a = sis3316_event(0, 1, [], [1, 2, 3, 4])
    done, rows, _ = sis3316_decode(records(sis3316(0, 0, [a, a])), sis3316_table(2), 1)
    assert (done, rows) == (0, 0)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 15), st.lists(st.integers(0, 2**32 - 1), min_size=14, max_size=14),
       st.integers(0, 2**48 - 1))  # fmt: skip
def test_sis3316_any_format_matches_the_layout(fmt, pool, ts):
    n = sum(n for bit, n in enumerate(FORMAT_WORDS) if fmt >> bit & 1)
    values = pool[:n]
    table = sis3316_table(1)
    recs = records(sis3316(0, fmt, [sis3316_event(fmt, ts, values, [9, 8, 7, 6])]))
    assert sis3316_decode(recs, table, 1)[:2] == (1, 1)
    assert table["timestamp"].nda[0] == ts
    for name, value in sis3316_expected(fmt, values).items():
        assert table[name].nda[0] == value, name
    assert table["waveform"]["values"].nda[0].tolist() == [9, 8, 7, 6]
