"""A cache entry with a valid checksum but wrong record offsets: the chunk that fails to
decode drops the entry, the input is indexed again, and the output still equals serial."""

from __future__ import annotations

import logging
import shutil

import numpy as np
from rawconv.parallel import convert

from rawconv import build_raw
from rawconv.formats import get_format
from rawconv.sources import open_source
from tests.conftest import data_file
from tests.parallel.conftest import assert_same_lh5


def _doctor(entry, input_path) -> np.ndarray:
    """Shift the records of the middle of the input by 4 bytes and store the entry again
    (its checksum recomputed: only decoding can tell); returns the true records."""
    cls = get_format("FCIO").index_class()
    index = cls.load(entry)
    true = index.records.copy()
    n = len(index.records)
    for field in ("start", "stop"):
        index.records[field][n // 3 : n - 1] += 4
    with open_source(str(input_path)) as source:
        identity = source.identity()
    index.save(entry, identity)
    assert (cls.load(entry, identity).records["start"] != true["start"]).sum() > 300
    return true


def test_wrong_cached_offsets_are_dropped_and_rebuilt(tmp_path, client, caplog):
    src = tmp_path / "a.fcio"
    shutil.copy(data_file("fcio/th228.fcio"), src)
    build_raw(str(src), out_spec=str(tmp_path / "serial.lh5"))
    cache, out = tmp_path / "cache", tmp_path / "out" / "a.lh5"

    def run():
        return convert(
            [str(src)], out_spec=str(out), client=client, chunk_size=1 << 20,
            cache_dir=str(cache), overwrite=True, scratch=str(tmp_path / "s"),
        )  # fmt: skip

    assert [f.status for f in run().files] == ["done"]
    (entry,) = cache.glob("*.npz")
    true = _doctor(entry, src)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rawconv"):
        report = run()
    (fr,) = report.files
    assert (fr.status, fr.rows, fr.chunks, fr.problems) == ("done", 1000, 4, [])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"{src}: a chunk planned from the cached index failed to decode")
    assert warnings[0].endswith("the cache entry is dropped and the file indexed again")
    assert "CorruptDataError" in warnings[0]
    assert assert_same_lh5(tmp_path / "serial.lh5", out) > 40
    # the entry was rebuilt right: the next run uses it without a warning
    (entry,) = cache.glob("*.npz")
    np.testing.assert_array_equal(get_format("FCIO").index_class().load(entry).records, true)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rawconv"):
        assert [f.status for f in run().files] == ["done"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
