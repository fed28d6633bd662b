"""Decompressing .gz / .bz2 inputs: ISA-L for gzip in one thread, the compressed extra in
several, and errors worded and placed as Python's gzip / bz2 word and place them."""

from __future__ import annotations

import bz2
import gzip
import io
import os

import pytest
from isal import igzip

from rawconv import RawconvError
from rawconv.decompressors import SourceFile, locate_error, open_decompressor
from rawconv.sources import CompressedSource, MemorySource, open_source

DATA = os.urandom(300_000) * 4  # 1.2 MB, several gzip blocks
COMPRESS = {"gz": gzip.compress, "bz2": bz2.compress}


def _python_error(codec: str, packed: bytes) -> tuple[int, str]:
    """(offset, message) where Python's own module fails, reading 1000 bytes at a time."""
    opener = gzip.GzipFile if codec == "gz" else bz2.BZ2File
    pos = 0
    with opener(fileobj=io.BytesIO(packed)) if codec == "gz" else opener(io.BytesIO(packed)) as f:
        try:
            while chunk := f.read1(1000):
                pos += len(chunk)
        except (OSError, EOFError) as exc:
            return pos, str(exc)
    raise AssertionError("no error")


def test_gzip_is_read_by_isal_with_the_same_bytes(tmp_path):
    path = tmp_path / "x.bin.gz"
    path.write_bytes(gzip.compress(DATA))
    source = open_source(str(path))
    assert source.read(1000, 500_000) == DATA[1000:500_000]
    assert type(source._stream) is igzip.IGzipFile
    assert source.read(0, 2_000_000) == DATA  # read again from the start
    assert source.size == len(DATA)


@pytest.mark.parametrize("codec", ["gz", "bz2"])
@pytest.mark.parametrize("threads", [1, 2])
def test_a_truncated_stream_fails_as_in_python_modules(codec, threads, tmp_path):
    """The message and the offset (every byte before the cut) of Python's gzip / bz2,
    whichever decompressor met the end (rapidgzip ends such a stream silently: its size
    is checked against the gzip trailer)."""
    packed = COMPRESS[codec](DATA)
    offset, message = _python_error(codec, packed[: len(packed) * 2 // 3])
    assert message == "Compressed file ended before the end-of-stream marker was reached"
    source = _source(tmp_path, codec, packed[: len(packed) * 2 // 3], threads)
    with pytest.raises(RawconvError) as info:
        source.read(0, 2 * len(DATA))
    assert str(info.value) == f"{source.name}, offset {offset}: cannot decompress {codec} " + (
        f"stream: {message}"
    )
    assert source._stream is None  # closed: no decompression thread left running


@pytest.mark.parametrize("codec", ["gz", "bz2"])
@pytest.mark.parametrize("threads", [1, 2])
def test_damaged_data_fails_with_the_message_of_python_modules(codec, threads, tmp_path):
    """The offset is where decompression stopped: at most where Python's module, reading
    1000 bytes at a time, stops (the bytes of a read that fails are lost)."""
    packed = bytearray(COMPRESS[codec](DATA))
    packed[len(packed) // 2] ^= 0xFF
    offset, message = _python_error(codec, bytes(packed))
    source = _source(tmp_path, codec, bytes(packed), threads)
    with pytest.raises(RawconvError) as info:
        source.read(0, 2 * len(DATA))
    assert info.value.reason == f"cannot decompress {codec} stream: {message}"
    assert (info.value.path, info.value.offset <= offset) == (source.name, True)


def test_a_gzip_of_several_members_is_read_whole_in_threads(tmp_path):
    source = _source(tmp_path, "gz", gzip.compress(DATA) + gzip.compress(DATA[:1000]), 2)
    assert source.read(0, 3 * len(DATA)) == DATA + DATA[:1000]


def _source(tmp_path, codec: str, packed: bytes, threads: int) -> CompressedSource:
    path = tmp_path / f"x.bin.{codec}"
    path.write_bytes(packed)
    return CompressedSource(open_source(str(path)).inner, codec, threads)


def test_locate_error_of_a_sound_stream_is_none():
    assert locate_error("bz2", MemorySource(bz2.compress(b"abc" * 1000))) is None


@pytest.mark.parametrize(("codec", "module"), [("gz", "rapidgzip"), ("bz2", "indexed_bzip2")])
def test_several_threads_use_the_extra(codec, module, tmp_path):
    path = tmp_path / f"x.bin.{codec}"
    path.write_bytes(COMPRESS[codec](DATA))
    inner = open_source(str(path)).inner
    with open_decompressor(codec, inner, threads=2) as stream:
        assert type(stream).__module__.startswith(module) or module in repr(stream.raw)
        assert stream.read() == DATA
    with open_decompressor(codec, MemorySource(path.read_bytes()), threads=2) as stream:
        assert stream.read() == DATA  # a source that is no local file: read as a file object


def test_source_file_seeks_like_a_file():
    f = SourceFile(MemorySource(b"0123456789"))
    assert f.seekable()
    assert f.seek(-3, io.SEEK_END) == 7
    assert f.read(10) == b"789"
    assert f.seek(-5, io.SEEK_CUR) == 5
    assert f.tell() == 5
    with pytest.raises(ValueError, match="negative seek position -1"):
        f.seek(-1)
