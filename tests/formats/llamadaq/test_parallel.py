"""LlamaDAQ: rawconv-parallel output equals serial build_raw output, dataset by dataset, at
any chunk size (the real file, writer-made files, a damaged one), and the index behind it."""

from __future__ import annotations

import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawconv.parallel import convert, index

from rawconv.formats import detect_format
from rawconv.formats.base import RecordRange
from rawconv.formats.llamadaq.index import LlamaIndex, LlamaResume, build_index
from rawconv.formats.llamadaq.writer import ChannelSpec
from rawconv.sources import open_source
from tests.conftest import compare_with_reference, data_file
from tests.formats.llamadaq.files import write_run
from tests.parallel.conftest import assert_same_lh5, convert_serially, lh5_files

PULSER = "20241218-150158-pulser.bin"
SPECS = {
    "default": None,
    "channels": {
        "LLAMAEventDecoder": {
            "ch{key:03d}/raw": {"key_list": ["*"], "out_stream": "{dir}/{orig_basename}.lh5"}
        },
        "*": {"{name}": {"key_list": ["*"], "out_stream": "{dir}/{orig_basename}.lh5:/aux"}},
    },
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("llama")
    shutil.copy(data_file(f"llamadaq/{PULSER}"), d / PULSER)
    chans = [ChannelSpec(fadc=f, channel=c, format_bits=(3 * f + c) % 16, sample_length=20,
                         avg_sample_length=6 * (c % 2), avg_mode=c % 2, maw_buffer_length=2 * f)
             for f in range(2) for c in range(3)]  # fmt: skip
    write_run(d / "run-20250101T000000Z.bin", chans, 400, seed=1, max_step=1 << 30)
    data = (d / PULSER).read_bytes()  # junk between two events, a truncated tail
    at = 16 + 88 * 2 + 6013 * 4 * 3
    (d / "damaged-20241218-150158.bin").write_bytes(data[:at] + bytes(range(7, 200)) +
                                                    data[at:-5000])  # fmt: skip
    return [d / PULSER, d / "run-20250101T000000Z.bin", d / "damaged-20241218-150158.bin"]


def run_both(files, spec, chunk_size, client, tmp):
    serial, par = tmp / "serial", tmp / "par"
    serial.mkdir()
    par.mkdir()
    convert_serially(files, SPECS[spec], serial)
    kwargs = ({"out_spec": str(par / "{orig_basename}.lh5")} if spec == "default"
              else {"out_spec": SPECS[spec], "dir": str(par)})  # fmt: skip
    report = convert([str(f) for f in files], client=client, chunk_size=chunk_size,
                     scratch=tmp / "scratch", cache_dir=str(tmp / "cache"), **kwargs)  # fmt: skip
    assert [f.status for f in report.files] == ["done"] * len(files), report.summary()
    assert lh5_files(serial) == lh5_files(par)
    n = sum(assert_same_lh5(serial / name, par / name) for name in lh5_files(serial))
    return report, n


def test_one_record_per_chunk(inputs, client, tmp_path):
    report, n = run_both([inputs[0], inputs[2]], "default", 1, client, tmp_path)
    assert report.files[0].chunks == 74  # the pulser file: one chunk per event
    assert n > 150
    with h5py.File(tmp_path / "par" / "damaged-20241218-150158.lh5", "r") as f:
        # junk naming no configured channel (UNKNOWN_TYPE), then the truncated tail
        assert f["garbage/code"][()].tolist() == [4, 3]


def test_parallel_pulser_equals_the_reference(inputs, client, tmp_path):
    run_both([inputs[0]], "default", 200_000, client, tmp_path)
    ref = data_file(f"reference/{PULSER}.lh5")
    assert compare_with_reference(ref, tmp_path / "par" / "20241218-150158-pulser.lh5",
                                  lambda name: False) == 89  # fmt: skip


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(chunk_size=st.integers(5_000, 400_000), spec=st.sampled_from(sorted(SPECS)))
def test_identity_property(inputs, client, tmp_path_factory, chunk_size, spec):
    _, n = run_both(inputs, spec, chunk_size, client, tmp_path_factory.mktemp("prop"))
    assert n > 200


def test_index_tables_every_byte(inputs, tmp_path):
    for f in inputs:
        idx = build_index(str(f))
        rec = idx.records
        assert rec["start"][0] == len(bytes(idx.header_bytes))
        assert np.array_equal(rec["start"][1:], rec["stop"][:-1])  # contiguous
        assert idx.size == rec["stop"][-1] == f.stat().st_size
        events = rec["tag"] >= 0
        assert rec["pid"][events].tolist() == list(range(1, int(events.sum()) + 1))
        idx.save(tmp_path / "i.npz", ("id",))
        back = LlamaIndex.load(tmp_path / "i.npz", ("id",))
        assert np.array_equal(back.records, rec) and back.size == idx.size
        assert bytes(back.header_bytes) == bytes(idx.header_bytes)
    damaged = build_index(str(inputs[2])).records["tag"]
    assert sorted(set(damaged[damaged < 0].tolist())) == [-2, -1]
    fi = index(str(inputs[2]), cache_dir=str(tmp_path / "c"))[0]
    assert fi.stream_type == "LlamaDaq"
    assert -1 not in [int(fi.records["tag"][b]) for b in fi.format_index.boundaries()]


def test_resume_state_invariants(inputs):
    idx = build_index(str(inputs[0]))
    rec = idx.records
    with open_source(str(inputs[0])) as src:
        at = int(rec["start"][5])
        ranges = [RecordRange(0, 5, 0, at), RecordRange(5, 74, at, idx.size)]
        states = idx.resume_states(src, ranges)
    assert isinstance(states[1], LlamaResume) and states[1].pid_counter == 5
    header = bytes(idx.header_bytes)
    with pytest.raises(ValueError, match="inside the file header"):
        LlamaResume(10, 100, 1, header_bytes=header, pid_counter=0)
    with pytest.raises(ValueError, match="needs the file header"):
        LlamaResume(500, 1000, 1, header_bytes=b"", pid_counter=0)
    with pytest.raises(ValueError, match="negative"):
        LlamaResume(500, 1000, 1, header_bytes=header, pid_counter=-1)


def test_cli_converts_the_test_file(inputs, tmp_path):
    src = tmp_path / PULSER
    shutil.copy(inputs[0], src)
    with open_source(str(src)) as s:
        assert detect_format(s) == "LlamaDaq"
    run = subprocess.run([sys.executable, "-m", "rawconv.cli", str(src)], capture_output=True,
                         text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "LLAMAEvent_0" in run.stdout
    with h5py.File(tmp_path / "20241218-150158-pulser.lh5", "r") as f:
        assert sorted(f) == ["LLAMAEvent_0", "LLAMAEvent_4", "LLAMAHeader"]
        assert len(f["LLAMAEvent_4/packet_id"]) == 37
