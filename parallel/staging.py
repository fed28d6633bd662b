"""Local copies of remote inputs in a run's scratch folder.

A remote input that has to be indexed is read whole by its index task anyway; that task
stages the bytes it reads into the run's scratch folder (shared by the workers, as the part
files are) and indexes the copy, and the chunk tasks read the copy instead of the network:
the input crosses the wire once. The copy goes with the run's scratch folder on every exit
path. An input whose index comes from the cache is not staged: its chunks read their
byte ranges from the URL.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from rawconv.errors import RawconvError
from rawconv.sources import FileSource, Source

__all__ = ["STAGE_READ_BYTES", "open_staged", "stage", "staged_path"]

STAGE_READ_BYTES = 16 << 20
"""Bytes per request while staging (few requests, bounded memory)."""


def staged_path(scratch: str, run_id: str, file_id: int, input: str) -> str:
    """Where the copy of input `file_id` of a run lies in its scratch folder."""
    name = input.rstrip("/").rsplit("/", 1)[-1] or "input"
    return str(Path(scratch) / run_id / "staged" / f"f{file_id}" / name)


def stage(source: Source, path: str) -> Source:
    """Copy all bytes of `source` (of known size) to `path` and return the copy as a source
    that keeps the name of the input (errors name the URL and its offsets). The copy is
    written under a temporary name and renamed when complete; a failed write is a
    RawconvError naming the scratch file."""
    size = source.size
    if size is None:
        raise ValueError(f"{source.name}: cannot stage an input of unknown size")
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    buf = np.empty(min(size, STAGE_READ_BYTES) or 1, dtype=np.uint8)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as out:
            start = 0
            while start < size:
                n = source.readinto(start, buf[: min(len(buf), size - start)])
                if n == 0:
                    raise RawconvError(
                        f"cannot read: the input ends at {start} bytes, before its listed "
                        f"size {size}",
                        path=source.name,
                        offset=start,
                    )
                out.write(memoryview(buf[:n]))
                start += n
        tmp.replace(target)
    except OSError as exc:
        _discard(tmp)
        reason = f"cannot stage the remote input {source.name} in the scratch folder: "
        raise RawconvError(reason + (exc.strerror or str(exc)), path=str(target)) from None
    except BaseException:
        _discard(tmp)
        raise
    return open_staged(path, source.name)


def _discard(tmp: Path) -> None:
    with contextlib.suppress(OSError):  # absent, or its folder could not be made
        tmp.unlink()


def open_staged(path: str, name: str) -> FileSource:
    """The staged copy at `path` of the input `name`, as a source named `name`."""
    source = FileSource(path)
    source.name = name
    return source
