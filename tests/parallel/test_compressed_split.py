""".gz / .bz2 inputs larger than a chunk: decompressed once into the scratch folder by their
index task (in several threads with the ``compressed`` extra) and split; the output equals
the serial conversion of the uncompressed file, and nothing stays in the scratch folder."""

from __future__ import annotations

import bz2
import gzip
import importlib
import sys

import pytest
from rawconv.parallel import convert
from rawconv.parallel.cli import main as parallel_main
from rawconv.parallel.convert import _decompress_threads
from rawconv.parallel.tasks import JobSpec, index_task

from rawconv import RawconvError, build_raw, decompressors
from rawconv.cli import main as serial_main
from tests.conftest import data_file
from tests.parallel.conftest import assert_same_lh5, stem

CHUNK = 256 << 10
"""Chunk size of these tests: the compressed test files are larger."""

COMPRESS = {"bz2": bz2.compress, "gz": gzip.compress}


def _compressed(tmp_path, plain, codec: str):
    """`plain` compressed with `codec` into tmp_path, named ``<name>.<codec>``."""
    path = tmp_path / f"{plain.name}.{codec}"
    path.write_bytes(COMPRESS[codec](plain.read_bytes()))
    assert path.stat().st_size > CHUNK  # split, not one task
    return path


@pytest.mark.parametrize(
    ("relative", "codec"),
    [("fcio/th228.fcio", "bz2"), ("fcio/th228.fcio", "gz"),
     ("orca/fc/L200-comm-20220519-phy-geds.orca", "bz2")],
)  # fmt: skip
def test_split_equals_serial_of_the_plain_file(relative, codec, client, tmp_path):
    plain = data_file(relative)
    (tmp_path / "in").mkdir()
    src = _compressed(tmp_path / "in", plain, codec)
    scratch, cache, out = tmp_path / "scratch", tmp_path / "cache", tmp_path / "out"
    report = convert([str(src)], out_spec=str(out / "{orig_basename}.lh5"), client=client,
                     chunk_size=CHUNK, scratch=str(scratch), cache_dir=str(cache))  # fmt: skip
    (fr,) = report.files
    assert fr.status == "done", fr.reason
    assert fr.chunks >= 3  # th228: 3.8 MB, geds: 1.0 MB in 256 kB chunks
    assert fr.bytes == plain.stat().st_size  # decompressed bytes decoded, once
    serial = tmp_path / "serial.lh5"
    build_raw(str(plain), out_spec=str(serial))
    assert assert_same_lh5(serial, out / f"{stem(plain)}.lh5") > 10
    assert list(scratch.iterdir()) == []  # the decompressed copy went with the run
    assert not cache.exists() or list(cache.iterdir()) == []  # no index cached


def test_truncated_bz2_fails_with_the_serial_error(th228, client, tmp_path, capsys):
    data = bz2.compress(th228.read_bytes())
    src = tmp_path / "cut.fcio.bz2"
    src.write_bytes(data[: len(data) * 2 // 3])
    assert serial_main([str(src), "-o", str(tmp_path / "serial.lh5"), "-q"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"rawconv: error: {src}, offset ")
    assert line.endswith("cannot decompress bz2 stream: Compressed file ended before the "
                         "end-of-stream marker was reached")  # fmt: skip
    scratch = tmp_path / "scratch"
    status = parallel_main([str(src), "-o", str(tmp_path / "par.lh5"), "-q", "--chunk-size",
                            str(CHUNK), "--scratch", str(scratch), "--scheduler",
                            client.scheduler.address])  # fmt: skip
    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        line.replace("rawconv:", "rawconv-parallel:", 1)
    ]
    assert list(scratch.iterdir()) == []
    assert not (tmp_path / "par.lh5").exists()


class _Spy:
    """Records the calls of a decompressor module's ``open``."""

    def __init__(self, monkeypatch, module_name: str) -> None:
        module = importlib.import_module(module_name)
        self.calls: list[tuple[object, dict]] = []
        real = module.open

        def spy(target, **kwargs):
            self.calls.append((target, kwargs))
            return real(target, **kwargs)

        monkeypatch.setattr(module, "open", spy)


@pytest.mark.parametrize("codec", ["bz2", "gz"])
def test_the_extra_decompresses_in_threads(codec, th228, tmp_path, monkeypatch):
    spy = _Spy(monkeypatch, decompressors.MULTI_THREAD_MODULES[codec])
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    src = _compressed(tmp_path, th228, codec)
    job = JobSpec(out_spec=str(tmp_path / "x.lh5"), scratch=str(tmp_path / "s"),
                  decompress_threads=3)  # fmt: skip
    plan = index_task(str(src), None, str(tmp_path / "cache"), job, 0, CHUNK)
    assert spy.calls == [(str(src), {"parallelization": 3})]  # the local path, 3 threads
    _check_staged(plan, th228, tmp_path)


def test_threads_are_capped_at_the_cores(th228, tmp_path, monkeypatch):
    spy = _Spy(monkeypatch, "indexed_bzip2")
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    src = _compressed(tmp_path, th228, "bz2")
    job = JobSpec(scratch=str(tmp_path / "s"), decompress_threads=16)
    _check_staged(index_task(str(src), None, None, job, 0, CHUNK), th228, tmp_path)
    assert spy.calls == [(str(src), {"parallelization": 2})]


def test_a_url_is_decompressed_through_a_file_object(th228, tmp_path, monkeypatch):
    spy = _Spy(monkeypatch, "rapidgzip")
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    src = _compressed(tmp_path, th228, "gz")
    job = JobSpec(scratch=str(tmp_path / "s"), decompress_threads=2)
    plan = index_task(f"file://{src}", None, str(tmp_path / "cache"), job, 0, CHUNK)
    ((target, kwargs),) = spy.calls
    assert isinstance(target, decompressors.SourceFile)
    assert kwargs == {"parallelization": 2}
    _check_staged(plan, th228, tmp_path)


@pytest.mark.parametrize("codec", ["bz2", "gz"])
def test_without_the_extra_one_thread_decompresses(codec, th228, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, decompressors.MULTI_THREAD_MODULES[codec], None)
    with pytest.raises(ImportError):  # as if not installed
        importlib.import_module(decompressors.MULTI_THREAD_MODULES[codec])
    src = _compressed(tmp_path, th228, codec)
    job = JobSpec(scratch=str(tmp_path / "s"), decompress_threads=2)
    _check_staged(index_task(str(src), None, str(tmp_path / "cache"), job, 0, CHUNK), th228,
                  tmp_path)  # fmt: skip


def test_truncated_bz2_in_threads_names_the_file_and_offset(th228, tmp_path, monkeypatch):
    """indexed_bzip2's error for a stream cut short is worded as the serial one."""
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    data = bz2.compress(th228.read_bytes())
    src = tmp_path / "cut.fcio.bz2"
    src.write_bytes(data[: len(data) // 2])
    with pytest.raises(RawconvError) as serial:
        build_raw(str(src), out_spec=str(tmp_path / "serial.lh5"))
    job = JobSpec(scratch=str(tmp_path / "s"), decompress_threads=2)
    with pytest.raises(RawconvError) as split:
        index_task(str(src), None, None, job, 0, CHUNK)
    assert str(split.value) == str(serial.value)
    assert list((tmp_path / "s" / "run" / "staged" / "f0").iterdir()) == []  # no partial copy


def _check_staged(plan, plain, tmp_path) -> None:
    """The plan splits the decompressed copy, which equals the plain file; no index cached."""
    assert len(plan.chunks) > 4
    assert plan.size == plain.stat().st_size
    (copy,) = {c.staged for c in plan.chunks}
    assert copy == str(tmp_path / "s" / "run" / "staged" / "f0" / plain.name)
    with open(copy, "rb") as f:
        assert f.read() == plain.read_bytes()
    assert not (tmp_path / "cache").exists()


class _Client:
    """A client whose cluster has workers of these numbers of threads."""

    def __init__(self, *threads: int) -> None:
        self.threads = threads

    def nthreads(self) -> dict[str, int]:
        return {f"tcp://w{i}": n for i, n in enumerate(self.threads)}


def test_cluster_threads_are_shared_by_the_compressed_inputs_to_split(tmp_path):
    big, small = tmp_path / "big.fcio.bz2", tmp_path / "small.fcio.gz"
    big.write_bytes(b"x" * (CHUNK + 1))
    small.write_bytes(b"x" * CHUNK)  # one chunk: not decompressed by its index task
    plain = tmp_path / "plain.fcio"
    plain.write_bytes(b"x" * (4 * CHUNK))
    inputs = [str(big), str(small), str(plain)]
    assert _decompress_threads(_Client(4, 4), inputs, CHUNK) == 8
    assert _decompress_threads(_Client(4, 4), [*inputs, "https://h/r.fcio.gz"], CHUNK) == 4
    assert _decompress_threads(_Client(1, 1), [str(big)] * 3, CHUNK) == 1
    assert _decompress_threads(_Client(2), [str(plain)], CHUNK) == 2


def test_dry_run_and_resume_decide_before_decompressing(th228, client, tmp_path, capsys):
    """A dry run plans a large compressed input without decompressing it; a resumed run
    decompresses and splits only an input it converts, and skips a converted one as is."""
    (tmp_path / "in").mkdir()
    src = _compressed(tmp_path / "in", th228, "bz2")
    scratch, out = tmp_path / "scratch", tmp_path / "out"
    job = JobSpec(out_spec=str(out / "{orig_basename}.lh5"), scratch=str(scratch), run_id="r")
    plan = index_task(str(src), None, None, job, 0, CHUNK, split_compressed=False)
    assert plan.split_deferred and len(plan.chunks) == 1
    assert not scratch.exists()  # nothing decompressed
    options = {"out_spec": str(out / "{orig_basename}.lh5"), "client": client,
               "chunk_size": CHUNK, "scratch": str(scratch)}  # fmt: skip
    dry = convert([str(src)], dry_run=True, **options)
    assert [(f.status, f.chunks, f.note) for f in dry.files] == [
        ("planned", 1, "compressed: decompressed and split when converted")]  # fmt: skip
    assert not out.exists()
    first = convert([str(src)], resume=True, **options)
    (fr,) = first.files
    assert fr.status == "done" and fr.chunks >= 3 and fr.note == ""  # split once converted
    assert fr.bytes == th228.stat().st_size
    serial = tmp_path / "serial.lh5"
    build_raw(str(th228), out_spec=str(serial))
    assert assert_same_lh5(serial, out / f"{stem(th228)}.lh5") > 10
    again = convert([str(src)], resume=True, **options)
    assert [f.status for f in again.files] == ["skipped"]
    assert list(scratch.iterdir()) == []
    code = parallel_main([str(src), "-o", str(tmp_path / "o2" / "{orig_basename}.lh5"),
                          "--chunk-size", str(CHUNK), "--dry-run", "--workers", "1"])  # fmt: skip
    assert code == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{src}: planned, 1 chunk(s) -> ")
    assert line.endswith("th228.lh5 (compressed: decompressed and split when converted)")
