"""Parallel output equals serial build_raw output, dataset by dataset, for any chunk size."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawconv.parallel import convert

from rawconv.formats.fcio.synthetic import write_synthetic_run
from tests.conftest import data_file
from tests.parallel.conftest import assert_same_lh5, convert_serially, lh5_files

SPECS = {
    "default": None,
    "channels": {
        "FCEventDecoder": {
            "ch{key:07d}/raw": {"key_list": ["*"], "out_stream": "{dir}/{orig_basename}.lh5"}
        },
        "*": {"{name}": {"key_list": ["*"], "out_stream": "{dir}/{orig_basename}.lh5:/aux"}},
    },
    "l200": {  # LEGEND's raw-tier layout: windowed + presummed waveforms, encoded
        "FCEventDecoder": {
            "ch{key:07d}/raw": {
                "key_list": ["*"],
                "out_stream": "{dir}/{orig_basename}.lh5",
                "proc_spec": {
                    "window": ["waveform", 5, 18, "waveform_windowed"],
                    "presum": ["waveform", 4, "waveform_presummed", "presum_rate"],
                    "drop": ["waveform"],
                    "compression": {
                        "waveform_windowed/values": "RadwareSigcompress(codec_shift=-32768)",
                        "waveform_presummed/values": "ULEB128ZigZagDiff()",
                    },
                },
            }
        },
    },
    "two": {
        "FCEventDecoder": {
            "low": {"key_list": ["5280[0-2]", [0, 2]], "out_stream": "{dir}/{orig_basename}.lh5"},
            "high": {"key_list": ["*"], "out_stream": "{dir}/{orig_basename}_high.lh5"},
        },
    },
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Real files and writer-made ones (dead time, status records, sparse and header events)."""
    d = tmp_path_factory.mktemp("in")
    files = []
    for name in ("th228.fcio", "L200-comm-20211130-phy-spms.fcio"):
        files.append(d / name)
        shutil.copy(data_file(f"fcio/{name}"), files[-1])
    write_synthetic_run(d / "dead.fcio", n_events=300, adcs=3, eventsamples=50, mode="sparse",
                        traces_per_event=2, status_every=60, seed=2, rate_hz=40000)  # fmt: skip
    write_synthetic_run(d / "hdr.fcio", n_events=200, adcs=5, eventsamples=20, mode="header",
                        status_every=70, seed=4, rate_hz=40000)  # fmt: skip
    files += [d / "dead.fcio", d / "hdr.fcio"]
    return files


@pytest.mark.parametrize("chunk_size", [1, 50_000, 10**10])
def test_identity_for_chunk_sizes(inputs, client, tmp_path, chunk_size):
    serial, par = tmp_path / "serial", tmp_path / "par"
    serial.mkdir()
    par.mkdir()
    if chunk_size == 1:  # one record per chunk: the smaller files (th228 has 1000 records)
        inputs = [inputs[1], inputs[3]]
    convert_serially(inputs, None, serial)
    report = convert([str(f) for f in inputs], out_spec=str(par / "{orig_basename}.lh5"),
                     client=client, chunk_size=chunk_size, scratch=tmp_path / "scratch",
                     cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert [f.status for f in report.files] == ["done"] * len(inputs), report.summary()
    assert [f.bytes for f in report.files] == [f.stat().st_size for f in inputs]
    if chunk_size == 1:
        assert report.files[0].chunks == 52  # protocol + config, then one record per chunk
    assert lh5_files(serial) == lh5_files(par)
    for name in lh5_files(serial):
        assert assert_same_lh5(serial / name, par / name) > 20
    scratch = tmp_path / "scratch"  # cleaned; not even made when every file is one chunk
    assert (list(scratch.iterdir()) == []) if chunk_size < 10**10 else not scratch.exists()


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chunk_size=st.integers(20_000, 2_000_000), spec=st.sampled_from(sorted(SPECS)))
def test_identity_property(inputs, client, tmp_path_factory, chunk_size, spec):
    tmp = tmp_path_factory.mktemp("prop")
    serial, par = tmp / "serial", tmp / "par"
    serial.mkdir()
    par.mkdir()
    files = inputs[1:]  # the spms file and the writer-made ones
    convert_serially(files, SPECS[spec], serial)
    kwargs = {"out_spec": str(par / "{orig_basename}.lh5")} if spec == "default" else {
        "out_spec": SPECS[spec], "dir": str(par)}  # fmt: skip
    report = convert([str(f) for f in files], client=client, chunk_size=chunk_size,
                     scratch=tmp / "scratch", cache_dir=str(tmp / "cache"), **kwargs)  # fmt: skip
    assert all(f.status == "done" for f in report.files), report.summary()
    assert lh5_files(serial) == lh5_files(par)
    for name in lh5_files(serial):
        assert_same_lh5(serial / name, par / name)


def test_identity_production_layout(inputs, client, tmp_path):
    """Per-channel tables with windowed / presummed waveforms encoded by codecs."""
    serial, par = tmp_path / "serial", tmp_path / "par"
    serial.mkdir()
    par.mkdir()
    files = [inputs[1], inputs[2]]
    convert_serially(files, SPECS["l200"], serial)
    report = convert([str(f) for f in files], out_spec=SPECS["l200"], dir=str(par),
                     client=client, chunk_size=100_000, scratch=tmp_path / "scratch",
                     cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert all(f.status == "done" for f in report.files), report.summary()
    assert report.files[0].chunks > 10
    for name in lh5_files(serial):
        assert assert_same_lh5(serial / name, par / name) > 50
