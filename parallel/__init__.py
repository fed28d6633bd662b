"""rawconv.parallel: convert many DAQ files on a Dask cluster, identical to serial build_raw.

- :func:`index`: the record table of each input (cached by file identity);
- :func:`plan`: chunks of about a target size on record boundaries;
- :func:`convert`: index, plan, decode chunks on the workers, merge the parts per output.

Run from the shell with ``rawconv-parallel``.
"""

from .convert import convert
from .index import FileIndex, index
from .plan import DEFAULT_CHUNK_BYTES, Chunk, plan
from .report import FileReport, RunReport

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
