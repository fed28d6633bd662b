"""Reading an input block by block: one growable byte buffer over a Source.

Every streamer and index walks its input the same way: fill a large buffer, let a kernel
table the complete records in it, keep the unconsumed tail, read on behind it, and grow the
buffer when one record does not fit. :class:`BlockReader` is that loop's state, kept in one
place so that offsets, the end of the input and byte order are handled alike everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .sources import Source

__all__ = ["NO_STOP", "BlockReader"]

NO_STOP = 1 << 62
"""The stop offset of a reader that reads to the end of its input."""

_SWAP_WORDS = (0, 2, 4, 8)


class BlockReader:
    """Input bytes ``[base, base + fill)`` in ``buf[:fill]``, read on demand from a Source.

    Parameters
    ----------
    source
        where the bytes come from (a read that returns no bytes ends the input).
    size
        initial buffer size in bytes (the buffer grows when asked to).
    start, stop
        the absolute byte range ``[start, stop)`` to read (`stop` None: to the end).
    swap
        word size in bytes (2, 4 or 8) whose byte order is reversed as bytes arrive (a
        big-endian input read as little-endian words), 0 for none. Words are aligned on
        absolute offsets; a word is swapped once all its bytes are in the buffer.
    mirror
        an object (a record block) whose ``buf`` and ``base`` attributes the reader keeps
        equal to its own whenever they change.

    Attributes
    ----------
    buf
        the byte buffer; ``buf[:fill]`` holds valid input bytes.
    base
        absolute input offset of ``buf[0]``.
    eof
        no more bytes will come: the input ended or `stop` is reached.
    n_bytes_read
        bytes read from the source since the reader was made.
    """

    def __init__(
        self,
        source: Source,
        size: int,
        start: int = 0,
        stop: int | None = None,
        swap: int = 0,
        mirror: Any = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"BlockReader buffer size must be positive, not {size}")
        if swap not in _SWAP_WORDS:
            raise ValueError(f"BlockReader swap word size must be one of {_SWAP_WORDS}, not {swap}")
        self.source = source
        self.buf = np.empty(size, dtype=np.uint8)
        self.swap = swap
        self.mirror = mirror
        self.n_bytes_read = 0
        self.seek(start, stop)

    @property
    def end(self) -> int:
        """Absolute offset just past the buffered bytes."""
        return self.base + self.fill

    def bytes_left(self) -> int | None:
        """Input bytes after the buffered ones, up to `stop` (None where the input's size
        is unknown and there is no `stop`). A method of the reader alone, so that what
        holds it (a route) holds no streamer."""
        size = self.source.size
        end = self.stop if size is None else min(self.stop, size)
        return None if end == NO_STOP else max(end - self.end, 0)

    def seek(self, start: int, stop: int | None = None) -> None:
        """Drop the buffered bytes and read on from `start` up to `stop` (None: the end)."""
        stop = NO_STOP if stop is None else stop
        if not 0 <= start <= stop:
            raise ValueError(f"BlockReader range [{start}, {stop}) is not a byte range")
        self.base, self.fill, self.stop, self.eof = start, 0, stop, False
        self._swapped = -(-start // self.swap) * self.swap if self.swap else start
        self._sync()

    def read(self) -> int:
        """Fill the free end of the buffer from the input (up to `stop`), reading again
        after short reads; returns the bytes read. Sets `eof` when the input ends or `stop`
        is reached."""
        want = min(len(self.buf), self.stop - self.base) - self.fill
        got = 0
        while got < want and not self.eof:
            n = self.source.readinto(self.end, self.buf[self.fill : self.fill + want - got])
            self.eof = n == 0
            self.fill += n
            got += n
        self.n_bytes_read += got
        self.eof = self.eof or self.end >= self.stop
        if not self.eof:  # the next read starts here: a network source fetches it meanwhile
            self.source.prefetch(self.end, min(self.stop, self.end + len(self.buf)))
        if self.swap and got:
            self._swap_words()
        return got

    def compact(self, consumed: int) -> None:
        """Drop the first `consumed` buffered bytes: the rest moves to the front of the
        buffer and `base` moves on by `consumed`."""
        if not 0 <= consumed <= self.fill:
            raise ValueError(f"cannot consume {consumed} of {self.fill} buffered bytes")
        if consumed:
            keep = self.fill - consumed
            self.buf[:keep] = self.buf[consumed : self.fill]
            self.base += consumed
            self.fill = keep
            self._sync()

    def grow(self, size: int = 0) -> None:
        """Enlarge the buffer to at least twice its size (and at least `size` bytes),
        keeping the buffered bytes."""
        new = np.empty(max(2 * len(self.buf), size), dtype=np.uint8)
        new[: self.fill] = self.buf[: self.fill]
        self.buf = new
        self._sync()

    def _swap_words(self) -> None:
        w = self.swap
        start = max(self._swapped, -(-self.base // w) * w)  # words cut by compact stay
        stop = self.end - self.end % w
        if stop > start:
            self.buf[start - self.base : stop - self.base].view(f"u{w}").byteswap(inplace=True)
            self._swapped = stop

    def _sync(self) -> None:
        if self.mirror is not None:
            self.mirror.buf = self.buf
            self.mirror.base = self.base
