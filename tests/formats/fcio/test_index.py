"""The FCIO index: record tables, and decoding resumed at any record equals a full decode."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawconv import RawBufferLibrary
from rawconv.formats.base import ResumeState
from rawconv.formats.fcio.index import FCIOIndex, build_index, resume_state
from rawconv.formats.fcio.streamer import FCIOStreamer
from rawconv.formats.fcio.synthetic import write_synthetic_run
from tests.formats.fcio.test_bad_input import record_starts

SPEC = {
    "FCEventDecoder": {"ev": {"key_list": ["*"], "out_stream": ""}},
    "FCStatusDecoder": {"st": {"key_list": ["*"], "out_stream": ""}},
    "FCEventHeaderDecoder": {"hdr": {"key_list": ["*"], "out_stream": ""}},
}
COLUMNS = ("packet_id", "channel", "timestamp", "runtime", "lifetime", "deadtime",
           "deadinterval_nsec", "baseline", "eventnumber", "dr_ch_len")  # fmt: skip


def decode(path, **open_kwargs) -> dict[str, dict[str, np.ndarray]]:
    streamer = FCIOStreamer(block_bytes=1 << 15)
    streamer.open_stream(str(path), rb_lib=RawBufferLibrary(SPEC), buffer_size=40, **open_kwargs)
    out: dict[str, dict[str, list]] = {}
    for chunk in streamer:
        for rb in chunk:
            cols = out.setdefault(rb.name, {})
            for name, col in rb.table.items():
                if hasattr(col, "nda") and (rb.name != "ev" or name in COLUMNS):
                    cols.setdefault(name, []).append(col.nda[: rb.loc].copy())
    return {t: {c: np.concatenate(v) for c, v in cols.items()} for t, cols in out.items()}


@pytest.fixture(scope="module")
def dead_time_run(tmp_path_factory):
    """A run with dead intervals and status records (the stateful fields are not trivial)."""
    path = tmp_path_factory.mktemp("idx") / "run.fcio"
    write_synthetic_run(path, n_events=400, adcs=4, eventsamples=32, status_every=50, seed=5,
                        rate_hz=50000)  # fmt: skip
    return path


def test_index_tables(spms, tmp_path):
    index = build_index(str(spms))
    starts = record_starts(spms.read_bytes())
    assert [int(s) for s in index.records["start"][1:]] == [s for s, _ in starts]
    assert index.records["tag"].tolist() == [0, 1] + [6] * 36 + [4] + [6] * 14
    assert index.records["pid"].tolist() == [-1, 0, *range(1, 52)]
    assert index.size == spms.stat().st_size
    assert len(index.event_rows) == 50
    assert index.event_state[0, 8:12].tolist() == [0, 0, 134454796, 249999999]
    index.save(tmp_path / "i.npz")
    again = FCIOIndex.load(tmp_path / "i.npz")
    assert np.array_equal(again.records, index.records)
    assert np.array_equal(again.event_state, index.event_state)


def _assert_same(full, parts):
    for table, cols in full.items():
        for name, values in cols.items():
            got = np.concatenate([p[table][name] for p in parts if table in p])
            np.testing.assert_array_equal(got, values, err_msg=f"{table}/{name}")


def _split(path, cuts):
    index = build_index(str(path))
    bounds = index.boundaries()
    cuts = sorted({int(bounds[c % len(bounds)]) for c in cuts})
    edges = [0, *cuts, len(index.records)]
    parts = []
    for a, b in itertools.pairwise(edges):
        if a == 0:  # the first chunk reads the header itself
            parts.append(decode(path, resume=ResumeState(0, int(index.records["stop"][b - 1]))))
        else:
            parts.append(decode(path, resume=resume_state(index, str(path), a, b)))
    return parts


def test_resume_at_every_record_of_spms(spms):
    full = decode(spms)
    index = build_index(str(spms))
    for cut in index.boundaries().tolist():
        _assert_same(full, _split(spms, [cut]))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=12))
def test_resume_with_dead_time_at_random_records(dead_time_run, cuts):
    full = decode(dead_time_run)
    assert full["ev"]["deadtime"].max() > 0  # the bookkeeping is exercised
    _assert_same(full, _split(dead_time_run, cuts))
