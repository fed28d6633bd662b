"""Replays every input the fuzzing found problems with (``tests/fuzz/corpus/<format>/``,
saved by ``benchmarks/fuzz_campaign.py``): each must now convert or fail cleanly."""

from __future__ import annotations

import logging

import pytest

from tests.fuzz.cases import corpus_files, load
from tests.fuzz.harness import check
from tests.fuzz.seeds import available

CASES = corpus_files()


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_corpus_case(path, tmp_path, caplog):
    caplog.set_level(logging.CRITICAL, logger="rawconv")
    case = load(path)
    if not available(case.fmt):
        pytest.skip(f"seed files of {case.fmt} not found (set RAWCONV_TESTDATA)")
    data, cut = case.build()
    problems, _ = check(case.fmt, data, cut, tmp_path)
    assert problems == [], case.as_dict()
