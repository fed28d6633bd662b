"""rawconv.parallel: convert many DAQ files on a Dask cluster, identical to serial build_raw.

- :func:`index`: the record table of each input (cached by file identity);
- :func:`plan`: chunks of about a target size on record boundaries;
- :func:`convert`: index, plan, decode chunks on the workers, merge the parts per output.

Run from the shell with ``rawconv-parallel``. The names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rawconv._lazy import lazy_exports

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .convert import convert
    from .index import FileIndex, index
    from .plan import DEFAULT_CHUNK_BYTES, Chunk, plan
    from .report import FileReport, RunReport

_EXPORTS = {
    "DEFAULT_CHUNK_BYTES": ".plan",
    "Chunk": ".plan",
    "FileIndex": ".index",
    "FileReport": ".report",
    "RunReport": ".report",
    "convert": ".convert",
    "index": ".index",
    "plan": ".plan",
}

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "Chunk",
    "FileIndex",
    "FileReport",
    "RunReport",
    "convert",
    "index",
    "plan",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
