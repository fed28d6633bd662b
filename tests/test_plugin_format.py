"""A format defined outside rawconv and registered by entry point is detected and converted
by build_raw, ``rawconv`` and ``rawconv-parallel``, and parallel output equals serial."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawconv import build_raw
from rawconv.formats import detect_format, get_format, registry
from rawconv.sources import open_source
from tests.conftest import ROOT
from tests.parallel.conftest import assert_same_lh5
from tests.plugins.toyformat import HEAD, MAGIC, N_SAMPLES, write_toy

N_RECORDS = 40
CHANNELS = [i % 4 for i in range(N_RECORDS)]
TIMESTAMPS = [1000 * i + 7 for i in range(N_RECORDS)]
N_DATASETS = 6  # packet_id, channel, timestamp, waveform t0, dt and values


def _register(site: Path) -> None:
    dist = site / "rawconv_toy-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rawconv-toy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[rawconv.formats]\ntoy = tests.plugins.toyformat:FORMAT\n"
    )


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy format installed as a plug-in (for this process and its children) and a toy
    file; yields (file, environment for subprocesses)."""
    tmp = tmp_path_factory.mktemp("toy")
    _register(tmp / "site")
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(tmp / "site"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp / "site"), str(ROOT), env.get("PYTHONPATH", "")])
    registry.refresh()
    path = tmp / "run.toy"
    write_toy(path, CHANNELS, TIMESTAMPS)
    yield path, env
    mp.undo()
    registry.refresh()


def test_plugin_is_registered_and_detected(toy):
    path, _ = toy
    fmt = get_format("toy")
    assert fmt.name == "ToyDaq"
    assert registry.formats()[0] is fmt  # most specific first
    with open_source(str(path)) as source:
        assert detect_format(source) == "ToyDaq"
    assert "ToyDaq (toy)" in registry.format_names()


def test_build_raw_converts_the_plugin_format(toy, tmp_path):
    path, _ = toy
    out = tmp_path / "out.lh5"
    report = build_raw(str(path), out_spec=str(out))
    assert report.stream_type == "ToyDaq"
    assert report.bytes_read == path.stat().st_size
    with h5py.File(out, "r") as f:
        assert list(f) == ["Toy"]
        assert f["Toy/packet_id"][()].tolist() == list(range(N_RECORDS))
        assert f["Toy/channel"][()].tolist() == CHANNELS
        assert f["Toy/timestamp"][()].tolist() == TIMESTAMPS
        values = f["Toy/waveform/values"][()]
    raw = path.read_bytes()
    step = HEAD.size + 2 * N_SAMPLES
    for i in (0, 17, N_RECORDS - 1):
        start = len(MAGIC) + i * step + HEAD.size
        expected = np.frombuffer(raw, "<i2", N_SAMPLES, start)
        np.testing.assert_array_equal(values[i], expected)


def test_out_spec_with_key_groups_on_the_plugin(toy, tmp_path):
    path, _ = toy
    buffers = {"ch{key}": {"key_list": [[1, 2]], "out_stream": str(tmp_path / "o.lh5")}}
    spec = {"ToyDecoder": buffers}
    build_raw(str(path), out_spec=spec)
    assert sorted(spec["ToyDecoder"]) == ["ch1", "ch2"]  # expanded in place
    with h5py.File(tmp_path / "o.lh5", "r") as f:
        assert sorted(f) == ["ch1", "ch2"]
        assert f["ch2/timestamp"][()].tolist() == [t for c, t in zip(CHANNELS, TIMESTAMPS)
                                                    if c == 2]  # fmt: skip


def _run(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def test_cli_commands_convert_the_plugin_format(toy, tmp_path):
    path, env = toy
    serial = tmp_path / "serial.lh5"
    done = _run(["-m", "rawconv.cli", str(path), "-o", str(serial), "-q"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    helped = _run(["-m", "rawconv.cli", "--help"], env, tmp_path)
    assert "ToyDaq" in helped.stdout
    par = tmp_path / "par.lh5"
    done = _run(["-m", "rawconv.parallel.cli", str(path), "-o", str(par), "-q", "--workers", "1",
                 "--chunk-size", "200", "--scratch", str(tmp_path / "scratch")],
                dict(env, RAWCONV_CACHE=str(tmp_path / "cache")), tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    assert assert_same_lh5(serial, par) == N_DATASETS


@pytest.fixture(scope="module")
def threads_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                           dashboard_address=":0")  # fmt: skip
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(chunk=st.integers(1, 1500))
def test_parallel_equals_serial_at_every_chunk_size(toy, threads_client, tmp_path, chunk):
    from rawconv.parallel import convert

    path, _ = toy
    out = tmp_path / f"c{chunk}"
    out.mkdir()
    build_raw(str(path), out_spec=str(out / "serial.lh5"))
    report = convert([str(path)], out_spec=str(out / "par.lh5"), client=threads_client,
                     chunk_size=chunk, scratch=out / "scratch",
                     cache_dir=str(out / "cache"))  # fmt: skip
    assert [f.status for f in report.files] == ["done"], report.summary()
    step = HEAD.size + 2 * N_SAMPLES  # records of `step` bytes
    pieces = -(-N_RECORDS * step // chunk)  # the chunks `chunk` asks for, rounded up
    # the k-th cut at the first record at or past k shares: ceil(k * N_RECORDS / pieces),
    # all different while a share is a record or more; one record per chunk at most
    cuts = {-(-k * N_RECORDS // pieces) for k in range(1, pieces)} - {N_RECORDS}
    assert report.files[0].chunks == len(cuts) + 1 == min(pieces, N_RECORDS)
    assert assert_same_lh5(out / "serial.lh5", out / "par.lh5") == N_DATASETS


def test_format_without_index_is_converted_whole(toy, threads_client, tmp_path, monkeypatch):
    import dataclasses

    from rawconv.parallel import convert

    path, _ = toy
    plain = tuple(dataclasses.replace(f, index=None) if f.name == "ToyDaq" else f
                  for f in registry.formats())  # fmt: skip
    monkeypatch.setattr(registry, "formats", lambda: plain)
    assert get_format("toy").index_class() is None
    build_raw(str(path), out_spec=str(tmp_path / "serial.lh5"))
    report = convert([str(path)], out_spec=str(tmp_path / "par.lh5"), client=threads_client,
                     chunk_size=100, scratch=tmp_path / "scratch",
                     cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert [(f.status, f.chunks) for f in report.files] == [("done", 1)]
    assert assert_same_lh5(tmp_path / "serial.lh5", tmp_path / "par.lh5") == N_DATASETS


def test_altered_index_cache_entry_is_rebuilt(toy, threads_client, tmp_path, caplog):
    from rawconv.parallel import convert

    path, _ = toy
    cache = tmp_path / "cache"
    build_raw(str(path), out_spec=str(tmp_path / "serial.lh5"))
    kwargs = {"client": threads_client, "chunk_size": 300, "cache_dir": str(cache)}
    convert([str(path)], out_spec=str(tmp_path / "a.lh5"), scratch=tmp_path / "s1", **kwargs)
    (entry,) = cache.glob("*.npz")
    with np.load(entry) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["records"]["start"][1:] += 4  # offsets shifted; the stored checksum no longer fits
    arrays["records"]["stop"][1:] += 4
    np.savez(entry, **arrays)
    with caplog.at_level("WARNING"):
        report = convert([str(path)], out_spec=str(tmp_path / "b.lh5"), scratch=tmp_path / "s2",
                         **kwargs)  # fmt: skip
    assert [f.status for f in report.files] == ["done"]
    assert "does not match its checksum" in caplog.text
    assert assert_same_lh5(tmp_path / "serial.lh5", tmp_path / "b.lh5") == N_DATASETS
