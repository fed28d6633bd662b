"""Local copies of remote and compressed inputs in a run's scratch folder.

A remote input that has to be indexed is read whole by its index task anyway; that task
writes the bytes its index reads into a copy in the run's scratch folder (shared by the
workers, as the part files are) as it reads them (:class:`StagingCopy`), and the chunk
tasks read the copy instead of the network: the input crosses the wire once, in one pass.
An input whose index comes from the cache is not staged: its chunks read their byte
ranges from the URL.

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
    "StagingCopy",
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


class StagingCopy(Source):
    """An input read through to its copy in the scratch folder: every byte read through
    it is also written to the copy (under a temporary name), so that an index built from
    it stages the input in the same pass. Bytes a reader skips are copied before the ones
    after them; bytes read again come from the copy, never from the input a second time.
    :meth:`finish` copies the rest and puts the copy in place; :meth:`discard` removes it."""

    def __init__(self, source: Source, path: str) -> None:
        self.inner = source
        self.name = source.name
        self.target = Path(path)
        self.tmp = self.target.with_name(f".{self.target.name}.{os.getpid()}.tmp")
        self.copied = 0
        """Bytes ``[0, copied)`` are in the copy."""
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.tmp, "w+b", buffering=0)  # noqa: SIM115  # finish/discard
        except OSError as exc:
            raise self._error(exc) from None

    @property
    def size(self) -> int | None:
        return self.inner.size

    def identity(self) -> tuple:
        return self.inner.identity()

    @property
    def cacheable(self) -> bool:
        return self.inner.cacheable

    def prefetch(self, start: int, stop: int) -> None:
        if stop > self.copied:
            self.inner.prefetch(max(start, self.copied), stop)

    def readinto(self, start: int, out: np.ndarray | memoryview) -> int:
        view = memoryview(out).cast("B")
        if start > self.copied:  # skipped bytes first: the copy grows in order
            self._copy_until(start)
        local = 0
        if start < self.copied:  # what is copied already is read from the copy
            local = os.preadv(self._file.fileno(), [view[: min(len(view), self.copied - start)]],
                              start)  # fmt: skip
            if local == len(view) or start + local < self.copied:
                return local
        n = self.inner.readinto(start + local, view[local:])
        self._write(view[local : local + n])
        return local + n

    def _write(self, data: memoryview) -> None:
        try:
            done = 0
            while done < len(data):  # unbuffered: what is written can be read back at once
                done += self._file.write(data[done:]) or 0
        except OSError as exc:
            raise self._error(exc) from None
        self.copied += len(data)

    def _copy_until(self, stop: int | None) -> None:
        """Copy the input's bytes ``[copied, stop)`` (`stop` None: to its end)."""
        size = self.inner.size
        end = size if stop is None or (size is not None and stop > size) else stop
        buf = np.empty(STAGE_READ_BYTES, dtype=np.uint8)
        while end is None or self.copied < end:
            want = len(buf) if end is None else min(len(buf), end - self.copied)
            n = self.inner.readinto(self.copied, buf[:want])
            if n == 0 and end is None:
                return
            if n == 0:
                raise RawconvError(
                    f"cannot read: the input ends at {self.copied} bytes, before its listed "
                    f"size {size}",
                    path=self.name,
                    offset=self.copied,
                )
            if end is None or self.copied + n < end:  # fetched while this block is written
                self.inner.prefetch(self.copied + n, self.copied + n + len(buf))
            self._write(memoryview(buf[:n]))

    def finish(self) -> FileSource:
        """Copy the rest of the input, put the copy in place and return it (named after the
        input: errors name the URL and its offsets). The copy is removed on any error."""
        try:
            self._copy_until(None)
            self._file.close()
            self.tmp.replace(self.target)
        except OSError as exc:
            self.discard()
            raise self._error(exc) from None
        except BaseException:
            self.discard()
            raise
        return open_staged(str(self.target), self.name)

    def discard(self) -> None:
        """Close and remove the unfinished copy."""
        with contextlib.suppress(OSError):
            self._file.close()
        _discard(self.tmp)

    def close(self) -> None:
        self.inner.close()

    def _error(self, exc: OSError) -> RawconvError:
        kind = "decompressed" if isinstance(self.inner, CompressedSource) else "remote"
        reason = f"cannot stage the {kind} input {self.name} in the scratch folder: "
        return RawconvError(reason + (exc.strerror or str(exc)), path=str(self.target))


def stage(source: Source, path: str) -> Source:
    """Copy all bytes of `source` to `path` and return the copy as a source that keeps the
    name of the input (errors name the URL and its offsets). A source of unknown size (a
    compressed stream) is read until its end. The copy is written under a temporary name
    and renamed when complete; a failed write is a RawconvError naming the scratch file."""
    return StagingCopy(source, path).finish()


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
