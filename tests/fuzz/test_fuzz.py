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
from tests.fuzz.harness import check, check_cli, convert, convert_in_memory
from tests.fuzz.memory import same
from tests.fuzz.mutations import INTERESTING_WORDS, KINDS, Mutation
from tests.fuzz.seeds import FORMATS, SEEDS, available, record_starts, records, seed_bytes

EXAMPLES = {True: 120, False: 15}
"""Inputs per format in this brief run: decoded into memory (about 0.1 s each on one
core), and converted with build_raw to LH5 files (about 0.5 s each)."""

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


@pytest.mark.parametrize("in_memory", [True, False], ids=["memory", "lh5"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_mutated_inputs_convert_or_fail_cleanly(fmt, in_memory):
    _need(fmt)
    found: list[tuple[Case, list[str]]] = []
    with tempfile.TemporaryDirectory() as tmp:

        @settings(max_examples=EXAMPLES[in_memory], derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=cases(fmt))
        def run(case: Case) -> None:
            data, cut = case.build()
            problems, _ = check(fmt, data, cut, Path(tmp), case.key, in_memory=in_memory)
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


@pytest.mark.parametrize("in_memory", [True, False], ids=["memory", "lh5"])
def test_the_harness_finds_lost_records(tmp_path, monkeypatch, in_memory):
    """The prefix check fails when a record before the damage goes missing (a harness that
    could not fail would prove nothing)."""
    _need("Compass")
    seed = SEEDS["Compass"][0]
    case = Case(seed, seed, Mutation("bitflip", len(seed_bytes(seed)) - 3, value=0))
    data, cut = case.build()
    assert check("Compass", data, cut, tmp_path, in_memory=in_memory) == ([], None)
    from tests.fuzz import harness

    def drop_first_row(tables, name):
        if name.startswith("damaged"):
            tables = {t: {c: v[1:] for c, v in cols.items()} for t, cols in tables.items()}
        return tables

    if in_memory:
        real_decode = harness.decode
        monkeypatch.setattr(harness, "decode", lambda fmt, src: (
            drop_first_row(real_decode(fmt, src)[0], src.name), None))  # fmt: skip
    else:
        real_rows = harness.table_rows
        monkeypatch.setattr(harness, "table_rows",
                            lambda path: drop_first_row(real_rows(path), path.name))  # fmt: skip
    problems, error = check("Compass", data, cut, tmp_path, in_memory=in_memory)
    assert error is None
    assert problems and all("rows before the damage" in p or "differ" in p for p in problems)


def test_a_damaged_tag_word_after_the_fcio_config_leaves_it_out_of_the_prefix():
    """An FCIOConfig counts as lying before the damage only when the tag word after it is
    intact (its last frames are optional: see ``OPEN_ENDED``); other records, and an
    FCIOConfig at the end of a truncated input, count as before."""
    _need("FCIO")
    seed = SEEDS["FCIO"][1]  # protocol header [0, 68), FCIOConfig [68, 180), events
    recs = records(seed)
    assert recs["tag"][:3].tolist() == [0, 1, 6] and recs["stop"][:2].tolist() == [68, 180]
    event_end = int(recs["stop"][2])

    def cut(kind: str, offset: int, value: int = 0) -> int | None:
        return Case(seed, seed, Mutation(kind, offset, value=value)).build()[1]

    assert cut("length_word", 180, 4) == 68
    assert cut("bitflip", 183, 0) == 68
    assert cut("bitflip", 184, 0) == 180  # the event's first frame: the tag word is intact
    assert cut("truncate", 182) == 180
    assert cut("length_word", event_end, 4) == event_end  # an event's frames are counted


@pytest.mark.parametrize("fmt", FORMATS)
def test_in_memory_decoding_gives_the_rows_build_raw_writes(fmt, tmp_path):
    """The fast mode reads back what build_raw would write: the same tables, columns and
    rows as the LH5 file of the undamaged seed."""
    _need(fmt)
    data = seed_bytes(SEEDS[fmt][0])
    memory = convert_in_memory(fmt, data, tmp_path, "damaged")
    lh5 = convert(fmt, data, tmp_path, "prefix")
    assert memory.problems == [] and lh5.problems == []
    assert memory.error is None and lh5.error is None
    assert memory.n_rows > 0 and memory.n_rows == lh5.n_rows
    assert sorted(memory.tables) == sorted(lh5.tables)
    for table, cols in lh5.tables.items():
        assert sorted(memory.tables[table]) == sorted(cols), table
        for col, rows in cols.items():
            assert same(memory.tables[table][col], rows), f"{table}/{col}"
