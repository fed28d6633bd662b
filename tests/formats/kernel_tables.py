"""Helpers of the kernel tests: tables as the decoders allocate them, inputs for every
kernel that writes an output struct."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rawconv.decoder import make_column


def table_of(fields: dict[str, dict[str, Any]], size: int) -> Any:
    """A table of `size` rows with the columns `fields` describes (as decoders make it),
    numeric columns zeroed."""
    table = {name: make_column(name, spec, size) for name, spec in fields.items()}
    for col in table.values():
        for arr in _arrays(col):
            arr[...] = 0
    return table


def _arrays(col: Any) -> list:
    if hasattr(col, "nda"):
        return [col.nda]
    if hasattr(col, "flattened_data"):
        return [col.flattened_data.nda, col.cumulative_length.nda]
    return [a for sub in col.values() for a in _arrays(sub)]



def convert_through_struct_kernels(folder: str | Path) -> None:
    """Convert writer-made ORCA files whose records pass through every kernel that writes
    an output struct (FCIO events, event headers, status, FSP; legacy FlashCam; Struck)."""
    from rawconv import build_raw
    from rawconv.sources import MemorySource
    from tests.formats.orca.files import fcio_file, mixed_file

    for name, data in (("fcio", fcio_file()), ("mixed", mixed_file())):
        build_raw(MemorySource(data, f"{name}.orca"), out_spec=str(Path(folder) / f"{name}.lh5"))
