"""Replays every input the fuzzing found problems with (``tests/fuzz/corpus/<format>/``,
saved by ``benchmarks/fuzz_campaign.py``): each must now convert or fail cleanly. A case
whose JSON has an ``open`` entry (why it is not fixed yet) is a strict xfail: it fails the
suite once it passes, so that the entry is removed."""

from __future__ import annotations

import json
import logging

import pytest

from tests.fuzz.cases import corpus_files, load
from tests.fuzz.harness import check
from tests.fuzz.seeds import available


def _param(path):
    entry = json.loads(path.read_text())
    marks = [pytest.mark.xfail(reason=entry["open"], strict=True)] if "open" in entry else []
    return pytest.param(path, id=f"{path.parent.name}/{path.stem}", marks=marks)


CASES = [_param(p) for p in corpus_files()]


@pytest.mark.parametrize("path", CASES)
def test_corpus_case(path, tmp_path, caplog):
    caplog.set_level(logging.CRITICAL, logger="rawconv")
    case = load(path)
    if not available(case.fmt):
        pytest.skip(f"seed files of {case.fmt} not found (set RAWCONV_TESTDATA)")
    data, cut = case.build()
    problems, _ = check(case.fmt, data, cut, tmp_path)
    assert problems == [], case.as_dict()
