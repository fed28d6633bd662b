"""Indexing inputs: the record table of every file, cached by file identity.

An index is built by walking record headers (large sequential reads, no payload decoding)
and stored in a cache folder under a name derived from the file's identity (path, size and
modification time; for URLs the ETag, else Last-Modified). A changed file gets a new
identity and is re-indexed; a URL whose server sends neither is indexed every time; an
unreadable or inconsistent cache entry is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rawconv.formats import RecordIndex, detect_format, get_format, normalize_stream_type
from rawconv.sources import Source, open_source

log = logging.getLogger(__name__)

__all__ = ["FileIndex", "default_cache_dir", "index", "index_file"]


def default_cache_dir() -> Path:
    """``$RAWCONV_CACHE``, else ``~/.cache/rawconv/index``."""
    env = os.environ.get("RAWCONV_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "rawconv" / "index"


@dataclass
class FileIndex:
    """The index of one input: where its records are, and how to start anywhere."""

    input: str
    stream_type: str
    identity: tuple
    size: int
    records: np.ndarray = field(repr=False)
    """The record table (``rawconv.formats.base.RECORD_DTYPE``)."""
    format_index: RecordIndex = field(repr=False)
    """The format's index (boundaries and resume states)."""
    from_cache: bool = False
    """Loaded from the cache (not built by this run)."""
    staged: Source | None = field(default=None, repr=False)
    """The local copy the index was built from (a remote input staged by this run)."""

    @property
    def n_records(self) -> int:
        return len(self.records)


def _key(identity: tuple) -> str:
    return hashlib.sha1(repr(identity).encode()).hexdigest()


def _load_cached(path: Path, identity: tuple, index_class: type[RecordIndex]) -> Any | None:
    if not path.exists():
        return None
    try:
        fmt_index = index_class.load(path, identity)
        if int(fmt_index.records["stop"].max(initial=0)) > int(identity[1] or 2**62):
            raise ValueError("records beyond the end of the file")
        return fmt_index
    except Exception as exc:  # a corrupt cache is ignored and rebuilt
        log.warning("ignoring unreadable index cache %s (%s); rebuilding", path, exc)
        path.unlink(missing_ok=True)
        return None


def index_file(
    input: str,
    stream_type: str | None = None,
    cache_dir: str | Path | None = None,
    refresh: bool = False,
    storage_options: dict[str, Any] | None = None,
    source: Source | None = None,
    stage: Callable[[Source], Source] | None = None,
) -> FileIndex:
    """Index one input (from the cache when its identity is unchanged, unless `refresh`:
    then the cache entry is dropped and the index built anew); `source`: the input already
    open (else it is opened with `storage_options`; closed when done either way). `stage`:
    when the index must be built, the input is given to it and the index built from the
    source it returns (a local copy, kept open in :attr:`FileIndex.staged`); the cache
    entry keeps the input's identity.

    Raises ValueError for a format that has no index (its inputs are converted whole).
    """
    source = source if source is not None else open_source(input, **(storage_options or {}))
    kind = normalize_stream_type(stream_type) if stream_type else detect_format(source)
    index_class = get_format(kind).index_class()
    if index_class is None:
        source.close()
        raise ValueError(f"{kind} inputs have no record index; they are converted whole")
    identity = source.identity()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"{_key((kind, *identity))}.npz"
    cacheable = source.cacheable  # a URL with no ETag or Last-Modified: never from a cache
    if refresh:
        path.unlink(missing_ok=True)
    fmt_index = _load_cached(path, identity, index_class) if cacheable and not refresh else None
    from_cache = fmt_index is not None
    staged = None
    if fmt_index is None:
        staged = stage(source) if stage is not None else None
        fmt_index = index_class.build(staged if staged is not None else source)
    if cacheable and not from_cache:
        try:
            cache.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
            fmt_index.save(tmp, identity)
            tmp.replace(path)
        except OSError as exc:  # a read-only cache only costs time
            log.warning("cannot store index in %s: %s", cache, exc)
    size = source.size if source.size is not None else int(fmt_index.size)
    source.close()
    return FileIndex(
        input, kind, identity, int(size), fmt_index.records, fmt_index, from_cache, staged
    )


def index(
    inputs: list[str] | str, stream_type: str | None = None, cache_dir: str | Path | None = None
) -> list[FileIndex]:
    """Index several inputs (here, one after the other; `convert` spreads this over workers)."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [os.fspath(inputs)]
    return [index_file(os.fspath(i), stream_type, cache_dir) for i in inputs]
