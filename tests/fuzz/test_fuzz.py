"""A brief fuzzing run (issue 13): mutated real files of every format through build_raw and,
for a few, the ``rawconv`` command. The long campaign is ``benchmarks/fuzz_campaign.py``.

Each input must convert, or fail with one of rawconv's errors in one line naming the file;
leave no file behind; and keep, with equal values, every record that lies wholly before the
first damaged byte. Examples are drawn deterministically (``derandomize``).
"""

from __future__ import annotations

import faulthandler
import logging
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.cases import Case, random_case
from tests.fuzz.harness import check, check_cli
from tests.fuzz.mutations import INTERESTING_WORDS, KINDS, Mutation
from tests.fuzz.seeds import FORMATS, SEEDS, available, record_starts, seed_bytes

EXAMPLES = 40
"""Inputs per format in this brief run (about 0.5 s each on one core)."""

HANG_S = 600
"""A conversion stuck this long ends the test process with its traceback, not a hang."""


def _need(fmt: str) -> None:
    if not available(fmt):
        pytest.skip(f"seed files of {fmt} not found (set RAWCONV_TESTDATA)")


@st.composite
def cases(draw: st.DrawFn, fmt: str) -> Case:
    seed = draw(st.sampled_from(SEEDS[fmt]))
    other = draw(st.sampled_from(SEEDS[fmt]))
    size = len(seed_bytes(seed))
    kind = draw(st.sampled_from(KINDS))
    offset = draw(st.integers(0, size))
    run = draw(st.sampled_from([1, 2, 3, 4, 8, 100, 1000, 4096]))
    fill = draw(st.integers(0, 2**31 - 1))
    if kind == "length_word":
        starts = record_starts(seed)
        if starts.size and draw(st.booleans()):
            offset = int(draw(st.sampled_from(starts.tolist()))) + 4 * draw(st.integers(0, 3))
        if draw(st.booleans()):
            delta = draw(st.sampled_from([1, 2, 4, 8, 1000, -1, -2, -4, -1000]))
            return Case(seed, other, Mutation(kind, offset, value=delta % 2**32, relative=True))
        fill = draw(st.sampled_from(INTERESTING_WORDS))
    elif kind == "bitflip":
        fill = draw(st.integers(0, 7))
    elif kind == "splice":
        fill = draw(st.integers(0, len(seed_bytes(other))))
    return Case(seed, other, Mutation(kind, offset, length=run, value=fill))


@pytest.fixture(autouse=True)
def _quiet_and_no_hang(caplog):
    caplog.set_level(logging.CRITICAL, logger="rawconv")  # damage is reported, as it should be
    faulthandler.dump_traceback_later(HANG_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutated_inputs_convert_or_fail_cleanly(fmt):
    _need(fmt)
    found: list[tuple[Case, list[str]]] = []
    with tempfile.TemporaryDirectory() as tmp:

        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=cases(fmt))
        def run(case: Case) -> None:
            data, cut = case.build()
            problems, _ = check(fmt, data, cut, Path(tmp), case.key)
            if problems:
                found.append((case, problems))
            assert not problems, (case.as_dict(), problems)

        run()
    assert not found


@pytest.mark.parametrize("fmt", FORMATS)
def test_rawconv_command_on_mutated_inputs(fmt, tmp_path):
    _need(fmt)
    rng = np.random.default_rng([13, FORMATS.index(fmt)])
    for _ in range(2):
        case = random_case(fmt, rng)
        data, _ = case.build()
        assert check_cli(data, tmp_path) == [], case.as_dict()


def test_the_harness_finds_lost_records(tmp_path, monkeypatch):
    """The prefix check fails when a record before the damage goes missing (a harness that
    could not fail would prove nothing)."""
    _need("Compass")
    seed = SEEDS["Compass"][0]
    case = Case(seed, seed, Mutation("bitflip", len(seed_bytes(seed)) - 3, value=0))
    data, cut = case.build()
    assert check("Compass", data, cut, tmp_path) == ([], None)
    from tests.fuzz import harness

    real = harness.table_rows

    def drop_first_row(path):
        tables = real(path)
        if path.name.startswith("damaged"):
            tables = {t: {c: v[1:] for c, v in cols.items()} for t, cols in tables.items()}
        return tables

    monkeypatch.setattr(harness, "table_rows", drop_first_row)
    problems, error = check("Compass", data, cut, tmp_path)
    assert error is None
    assert problems and all("rows before the damage" in p or "differ" in p for p in problems)
