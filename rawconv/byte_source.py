"""The :class:`Source` interface: random access to the bytes of one input, by absolute,
half-open offset ranges. The sources themselves are in :mod:`rawconv.sources` (local
files, memory, compressed streams) and :mod:`rawconv.url_source` (fsspec URLs)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

__all__ = ["Source"]


class Source(ABC):
    """Random access to the bytes of one input."""

    name: str

    @property
    @abstractmethod
    def size(self) -> int | None:
        """Total size in bytes, or None when unknown until read (compressed streams)."""

    @abstractmethod
    def readinto(self, start: int, out: np.ndarray | memoryview) -> int:
        """Fill `out` with bytes from `start` on; return how many were read (short at EOF)."""

    def prefetch(self, start: int, stop: int) -> None:
        """A hint that bytes ``[start, stop)`` are read next: a source whose reads wait on
        a network fetches them in the background (the default does nothing)."""

    def read(self, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)``; fewer only at the end of the input."""
        if stop <= start:
            return b""
        buf = bytearray(stop - start)
        n = self.readinto(start, memoryview(buf))
        return bytes(buf[:n])

    def identity(self) -> tuple:
        """What identifies this version of the input (name, size, modification stamp)."""
        return (self.name, self.size)

    @property
    def cacheable(self) -> bool:
        """Whether :meth:`identity` tells versions apart (so an index may be cached)."""
        return True

    def close(self) -> None:
        """Release handles; the source reopens itself on the next read."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
