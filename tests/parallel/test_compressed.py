"""Compressed inputs (.gz, .bz2) no larger than a chunk in the parallel layer: each converted
whole by one task, identical to the serial conversion (larger ones are split:
test_compressed_split.py)."""

from __future__ import annotations

import bz2
import gzip

from rawconv.parallel import convert

from rawconv import build_raw
from tests.parallel.conftest import assert_same_lh5

MiB = 1 << 20


def test_gz_and_bz2_inputs_no_larger_than_a_chunk_are_one_task_each(th228, spms, client, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    gz, bz = inputs / "th228.fcio.gz", inputs / "spms.fcio.bz2"
    gz.write_bytes(gzip.compress(th228.read_bytes()))
    bz.write_bytes(bz2.compress(spms.read_bytes()))
    assert th228.stat().st_size > 3 * MiB  # would be 2 chunks uncompressed
    assert max(gz.stat().st_size, bz.stat().st_size) <= 3 * MiB  # compressed: one chunk
    out = tmp_path / "out"
    report = convert([str(gz), str(bz)], out_spec=str(out / "{orig_basename}.lh5"), client=client,
                     chunk_size=3 * MiB, cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert [(f.status, f.chunks) for f in report.files] == [("done", 1), ("done", 1)]
    assert report.files[0].bytes == th228.stat().st_size  # decompressed bytes decoded
    for name, source, plain in (("th228", gz, th228), ("spms", bz, spms)):
        serial = tmp_path / f"serial-{name}.lh5"
        build_raw(str(source), out_spec=str(serial))
        assert assert_same_lh5(serial, out / f"{name}.lh5") > 10
        plain_out = tmp_path / f"plain-{name}.lh5"
        build_raw(str(plain), out_spec=str(plain_out))
        assert assert_same_lh5(plain_out, out / f"{name}.lh5") > 10
    assert not (tmp_path / "cache").exists()  # nothing indexed
