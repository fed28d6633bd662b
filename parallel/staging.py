"""Local copies of remote and compressed inputs in a run's scratch folder.

A remote input that has to be indexed is read whole by its index task anyway; that task
stages the bytes it reads into the run's scratch folder (shared by the workers, as the part
files are) and indexes the copy, and the chunk tasks read the copy instead of the network:
the input crosses the wire once. An input whose index comes from the cache is not staged:
its chunks read their byte ranges from the URL.

A ``.gz`` / ``.bz2`` input larger than a chunk is decompressed once, by its index task, into
the scratch folder (in several threads with the ``compressed`` extra), and its chunks read
the decompressed copy: a compressed stream cannot be entered in its middle. Its index is not
cached (it describes the copy, which goes with the run).

Every copy goes with the run's scratch folder on every exit path.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from rawconv.decompressors import gzip_isize
from rawconv.diskspace import check_free_space
from rawconv.errors import RawconvError
from rawconv.sources import CompressedSource, FileSource, Source

__all__ = [
    "STAGE_READ_BYTES",
    "check_stage_space",
    "decompress_threads",
    "open_staged",
    "stage",
    "staged_path",
]

STAGE_READ_BYTES = 16 << 20
"""Bytes per request while staging (few requests, bounded memory)."""


def staged_path(scratch: str, run_id: str, file_id: int, input: str) -> str:
    """Where the copy of input `file_id` of a run lies in its scratch folder."""
    name = input.rstrip("/").rsplit("/", 1)[-1] or "input"
    return str(Path(scratch) / run_id / "staged" / f"f{file_id}" / name)


def stage(source: Source, path: str) -> Source:
    """Copy all bytes of `source` to `path` and return the copy as a source that keeps the
    name of the input (errors name the URL and its offsets). A source of unknown size (a
    compressed stream) is read until its end. The copy is written under a temporary name
    and renamed when complete; a failed write is a RawconvError naming the scratch file."""
    size = source.size
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    step = STAGE_READ_BYTES if size is None else min(size, STAGE_READ_BYTES)
    buf = np.empty(step or 1, dtype=np.uint8)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as out:
            start = 0
            while size is None or start < size:
                n = source.readinto(start, buf[: len(buf) if size is None else size - start])
                if n == 0 and size is None:
                    break
                if n == 0:
                    raise RawconvError(
                        f"cannot read: the input ends at {start} bytes, before its listed "
                        f"size {size}",
                        path=source.name,
                        offset=start,
                    )
                start += n
                if size is not None and start < size:  # fetched while this block is written
                    source.prefetch(start, min(size, start + len(buf)))
                out.write(memoryview(buf[:n]))
        tmp.replace(target)
    except OSError as exc:
        _discard(tmp)
        kind = "decompressed" if isinstance(source, CompressedSource) else "remote"
        reason = f"cannot stage the {kind} input {source.name} in the scratch folder: "
        raise RawconvError(reason + (exc.strerror or str(exc)), path=str(target)) from None
    except BaseException:
        _discard(tmp)
        raise
    return open_staged(path, source.name)


def decompress_threads(requested: int) -> int:
    """Threads to decompress an input with on this worker: as the client asked (its
    cluster's threads over its compressed inputs to split), at most this machine's cores."""
    return max(1, min(requested, os.cpu_count() or 1))


def check_stage_space(source: CompressedSource, path: str) -> None:
    """Refuse to decompress a gzip input into a scratch folder that cannot hold what its
    trailer says it holds at least (OutputError naming the folder); a bzip2 stream tells
    no size and is not checked (a full disk then stops the copy with ENOSPC)."""
    hint = gzip_isize(source.inner) if source.codec == "gz" else None
    if hint:
        check_free_space([(path, hint)], f"decompressed copy of {source.name}")


def _discard(tmp: Path) -> None:
    with contextlib.suppress(OSError):  # absent, or its folder could not be made
        tmp.unlink()


def open_staged(path: str, name: str) -> FileSource:
    """The staged copy at `path` of the input `name`, as a source named `name`."""
    source = FileSource(path)
    source.name = name
    return source
