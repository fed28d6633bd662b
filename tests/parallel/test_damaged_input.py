"""A damaged FCIO file, whose record index cannot be built past the damage, is planned as
one whole-file task, and that task writes what build_raw writes (no cluster needed)."""

from __future__ import annotations

import bz2
import struct

from rawconv.parallel.tasks import JobSpec, decode_chunk, index_task

from rawconv import build_raw
from tests.conftest import data_file
from tests.parallel.conftest import assert_same_lh5


def test_damaged_fcio_is_converted_whole_as_serially(tmp_path):
    data = bytearray(data_file("fcio/th228.fcio").read_bytes()[:400_000])
    victim = 68 + 84 + 3832 * 50  # the tag word of event 51 (header, config, 50 events)
    assert struct.unpack_from("<i", data, victim)[0] == -3
    struct.pack_into("<i", data, victim, -(2**31))
    src = tmp_path / "bad.fcio"
    src.write_bytes(bytes(data))
    serial = tmp_path / "serial.lh5"
    build_raw(str(src), out_spec=str(serial))

    job = JobSpec(out_spec=str(tmp_path / "parallel.lh5"), scratch=str(tmp_path / "scratch"))
    plan = index_task(str(src), None, None, job, 0, 64 << 10)
    assert len(plan.chunks) == 1
    assert (plan.chunks[0].start, plan.chunks[0].stop) == (0, len(data))
    result = decode_chunk(plan.chunks[0], job)
    assert result.rows == 50
    assert any(f"from offset {victim} to the end" in p for p in result.problems)
    assert assert_same_lh5(serial, tmp_path / "parallel.lh5") > 10


def test_damaged_fcio_in_bz2_is_converted_whole_from_its_decompressed_copy(tmp_path):
    data = bytearray(data_file("fcio/th228.fcio").read_bytes()[:400_000])
    victim = 68 + 84 + 3832 * 50  # the tag word of event 51 (header, config, 50 events)
    struct.pack_into("<i", data, victim, -(2**31))
    src = tmp_path / "bad.fcio.bz2"
    src.write_bytes(bz2.compress(bytes(data)))
    assert src.stat().st_size > 64 << 10  # split if it were sound
    serial = tmp_path / "serial.lh5"
    build_raw(str(src), out_spec=str(serial))

    job = JobSpec(out_spec=str(tmp_path / "parallel.lh5"), scratch=str(tmp_path / "scratch"))
    plan = index_task(str(src), None, None, job, 0, 64 << 10)
    (chunk,) = plan.chunks
    assert (chunk.start, chunk.stop, chunk.n_chunks) == (0, len(data), 1)
    assert chunk.staged == str(tmp_path / "scratch" / "run" / "staged" / "f0" / "bad.fcio")
    result = decode_chunk(chunk, job)
    assert result.rows == 50
    assert any(f"from offset {victim} to the end" in p for p in result.problems)
    assert assert_same_lh5(serial, tmp_path / "parallel.lh5") > 10
