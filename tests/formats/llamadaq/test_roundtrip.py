"""Writer-made llamaDAQ files decode to exactly what was written."""

from __future__ import annotations

import calendar

import h5py
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawconv import build_raw
from rawconv.formats.llamadaq.writer import ChannelSpec, Event, LlamaWriter
from tests.formats.llamadaq.files import ABSENT, BIT_FIELDS, expected_row, table_names, write_run

RUN_NAME = "run-20250102T030405Z.bin"
RUN_START = float(calendar.timegm((2025, 1, 2, 3, 4, 5, 0, 0, 0)))


def decoded(path, out) -> dict[str, dict[str, np.ndarray]]:
    """table name -> column path -> values of a conversion with the default out_spec."""
    build_raw(str(path), out_spec=str(out))
    tables: dict[str, dict[str, np.ndarray]] = {}
    with h5py.File(out, "r") as f:
        for name in f:
            if name.startswith("LLAMAEvent"):
                cols = {}
                f[name].visititems(lambda k, v, c=cols: c.__setitem__(k, v[()])
                                   if isinstance(v, h5py.Dataset) else None)  # fmt: skip
                tables[name] = cols
    return tables


def check_roundtrip(channels, events, tables) -> None:
    """Every event is a row of its channel's table, in file order, with every value."""
    specs = {c.fch: c for c in channels}
    names = table_names(channels)
    bits = dict.fromkeys(names.values(), 0)  # a table has the fields of any of its channels
    for c in channels:
        bits[names[c.fch]] |= c.format_bits
    for name, cols in tables.items():
        for bit, fields in BIT_FIELDS.items():
            assert all((f in cols) == bool((bits[name] >> bit) & 1) for f in fields), name
    rows = dict.fromkeys(tables, 0)
    assert set(tables) == {names[ev.fch] for ev in events}  # empty tables are not written
    for pid, ev in enumerate(events, start=1):
        name = names[ev.fch]
        cols, r = tables[name], rows[name]
        rows[name] += 1
        for field, want in expected_row(specs[ev.fch], ev, pid, RUN_START).items():
            if field == "waveform_maw/values":
                if field in cols:  # zero-padded to the longest MAW buffer of the table
                    got = cols[field][r]
                    np.testing.assert_array_equal(got[: len(want)], want, err_msg=name)
                    assert not got[len(want) :].any()
                continue
            if field not in cols and not isinstance(want, np.ndarray) and want == ABSENT:
                continue
            got = cols[field][r]
            if isinstance(want, np.ndarray):
                np.testing.assert_array_equal(got, want, err_msg=f"{name}/{field} row {r}")
            else:
                assert got == want, (name, field, r, got, want)
    assert rows == {name: len(cols["packet_id"]) for name, cols in tables.items()}


channel_st = st.builds(
    ChannelSpec,
    fadc=st.integers(0, 3),
    channel=st.integers(0, 15),
    format_bits=st.integers(0, 15),
    sample_length=st.sampled_from([0, 2, 8, 40]),
    avg_sample_length=st.sampled_from([0, 4, 10]),
    avg_mode=st.integers(0, 3),
    maw_buffer_length=st.sampled_from([0, 0, 3]),
    sample_freq=st.sampled_from([250.0, 125.0, 62.5]),
    sample_start_index=st.integers(0, 100),
    sample_pretrigger=st.integers(0, 100),
    avg_sample_pretrigger=st.integers(0, 20),
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    channels=st.lists(channel_st, min_size=1, max_size=5, unique_by=lambda c: c.fch),
    n_events=st.integers(0, 60),
    seed=st.integers(0, 2**16),
)
def test_writer_files_decode_to_what_was_written(tmp_path_factory, channels, n_events, seed):
    d = tmp_path_factory.mktemp("rt")
    events = write_run(d / RUN_NAME, channels, n_events, seed=seed)
    check_roundtrip(channels, events, decoded(d / RUN_NAME, d / "out.lh5"))


def test_every_format_bit_combination(tmp_path):
    """16 channels, one per combination of format bits, sharing one table (equal lengths):
    each row has its own channel's fields and ABSENT elsewhere."""
    channels = [ChannelSpec(fadc=1, channel=b, format_bits=b, sample_length=6) for b in range(16)]
    events = write_run(tmp_path / RUN_NAME, channels, 200, seed=3)
    tables = decoded(tmp_path / RUN_NAME, tmp_path / "out.lh5")
    assert list(tables) == ["LLAMAEvent"]
    check_roundtrip(channels, events, tables)


def test_run_past_2_to_the_32_ticks(tmp_path):
    """Bits 47-32 of the tick counter are kept: times go on rising past 2^32 ticks
    (17.18 s at 250 MHz), where the reference converter wraps back to 0 (it builds the
    timestamp in uint32 arithmetic, reference-converter.md 8)."""
    spec = ChannelSpec(fadc=2, channel=3, sample_length=4)
    step = 1_000_000_007  # 4 s per event: 60 events span 2^32 ticks about 14 times
    events = [Event(fch=spec.fch, ticks=123 + k * step, raw=np.arange(4, dtype=np.uint16) + k)
              for k in range(60)]  # fmt: skip
    with LlamaWriter(tmp_path / RUN_NAME, [spec]) as w:
        for ev in events:
            w.write(ev)
    tables = decoded(tmp_path / RUN_NAME, tmp_path / "out.lh5")
    t = tables["LLAMAEvent"]["time_since_run_start"]
    assert np.all(np.diff(t) > 0)
    assert t[-1] == (123 + 59 * step) * 4.0 * 1e-9  # 236 s: far past the wrap at 17.18 s
    assert t[-1] > 2**32 * 4e-9 * 13
    np.testing.assert_array_equal(tables["LLAMAEvent"]["unixtime"], t + RUN_START)
    check_roundtrip([spec], events, tables)


def test_maw_test_data_is_decoded(tmp_path):
    """Events with the MAW-test flag carry the MAW test buffer after their samples; rawconv
    decodes them (waveform_maw, flag in fadc_status_bits bit 1), where the reference stops
    with "Cannot handle data with MAW test data!"."""
    spec = ChannelSpec(fadc=0, channel=1, format_bits=0x5, sample_length=10,
                       avg_sample_length=4, avg_mode=1, maw_buffer_length=7)  # fmt: skip
    events = write_run(tmp_path / RUN_NAME, [spec], 30, seed=9)
    tables = decoded(tmp_path / RUN_NAME, tmp_path / "out.lh5")
    cols = tables["LLAMAEvent"]
    assert cols["waveform_maw/values"].shape == (30, 7)
    assert cols["waveform_maw/values"].dtype == np.uint32
    assert set((cols["fadc_status_bits"] >> 1).tolist()) == {1}
    np.testing.assert_array_equal(cols["fadc_status_bits"] & 1, [e.status for e in events])
    check_roundtrip([spec], events, tables)
