"""Waveform columns encoded on a thread of their own while the tables before them are written.

A fill of the production layout writes a table per channel, each with two columns encoded
by LEGEND's waveform codecs: numba kernels that release the GIL, beside some forty dataset
writes per table that hold it. The writer (:meth:`~rawconv.lh5.writer.LH5Writer.encode_ahead`)
hands the encodable columns of the next few tables
(:data:`rawconv.buffers.ENCODE_AHEAD_TABLES`) to one encoding thread, in the order the
tables are written, and each table's write takes its columns' encodings (:func:`take`)
instead of encoding them itself: the encoding of the next tables overlaps the writes of
this one (:func:`rawconv.lh5.encoded.encode_table_ahead` finds a table's columns). On
1 GB of 120 x 8192 in the l200 layout, about 0.4 s less of 3.5-4.5, for 0.3-0.6 CPU s
more (benchmarks/README.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .chunks import compression_threads

__all__ = ["discard", "start", "take"]

_EXECUTOR: ThreadPoolExecutor | None = None
_LOCK = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    with _LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rawconv-encode")
        return _EXECUTOR


def start(ahead: dict[int, tuple[Any, int, Future]], columns: Sequence[tuple[Any, Any]],
          n_rows: int, encode: Callable[[Any, Any, int], Any]) -> int:  # fmt: skip
    """Queue ``encode(col, codec, n_rows)`` of each ``(col, codec)`` of `columns` on the
    encoding thread, in `ahead` (an open file's, by column); returns how many were
    queued. Nothing is queued where chunks are compressed by the appending thread
    (one-thread workers of the parallel layer keep to one core)."""
    if compression_threads() == 0:
        return 0
    for col, codec in columns:
        ahead[id(col)] = (col, n_rows, _executor().submit(encode, col, codec, n_rows))
    return len(columns)


def take(ahead: dict[int, tuple[Any, int, Future]], col: Any, n_rows: int | None) -> Any:
    """The encoding of `col`'s first `n_rows` rows queued by :func:`start` (its errors
    raised here), or None where none was queued for that column and those rows."""
    entry = ahead.pop(id(col), None)
    if entry is None or entry[0] is not col or n_rows is None or entry[1] != n_rows:
        return None
    return entry[2].result()


def discard(ahead: dict[int, tuple[Any, int, Future]]) -> None:
    """Drop what was queued and not taken, once its encoding is no longer running (it
    reads the buffers' rows, which the next rows may overwrite)."""
    entries = list(ahead.values())
    ahead.clear()
    for _, _, future in entries:
        if not future.cancel():
            future.exception()  # waits; an error of a column nobody writes is dropped
