"""Free disk space checked before a long write: a conversion that cannot fit is refused
before it starts, not after it has filled the disk.

The output size is estimated from the input size and the compression: measured on the FCIO
test files, LH5 outputs are 1.2-1.3x the input uncompressed, 0.55-0.6x with lzf and
0.4-0.55x with gzip or zstd; the factors below add a margin.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import OutputError

__all__ = ["OUTPUT_FACTORS", "check_free_space", "estimate_output_bytes"]

OUTPUT_FACTORS: dict[str, float] = {"none": 1.5, "lzf": 0.8, "gzip": 0.75, "plugin": 0.75}
"""Output bytes per input byte, by kind of compression."""


def compression_kind(hdf5_settings: Mapping[str, Any] | str | None) -> str:
    """``none``, ``lzf``, ``gzip`` (the default) or ``plugin`` for `hdf5_settings`."""
    if hdf5_settings is None:
        return "gzip"
    if isinstance(hdf5_settings, str):
        from .lh5.compression import parse_compression

        hdf5_settings = parse_compression(hdf5_settings)
    compression = hdf5_settings.get("compression", "gzip")
    if compression is None:
        return "none"
    return compression if compression in ("lzf", "gzip") else "plugin"


def estimate_output_bytes(input_bytes: int, hdf5_settings: Any = None) -> int:
    """Bytes the outputs of an input of `input_bytes` need at most, about."""
    return int(input_bytes * OUTPUT_FACTORS[compression_kind(hdf5_settings)])


def _folder(output: str) -> Path:
    """The nearest existing folder of an output (the filesystem it will be written to)."""
    folder = Path(os.path.abspath(output)).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_free_space(needs: Iterable[tuple[str, int]], what: str = "output") -> None:
    """Refuse (OutputError naming the folder and the numbers) when the filesystem of a
    folder lacks the bytes to be written there; `needs` are (path written, bytes) pairs,
    summed per filesystem. Filesystems that cannot tell their free space are not checked."""
    per_device: dict[int, tuple[Path, int]] = {}
    for path, n_bytes in needs:
        folder = _folder(path)
        try:
            device = folder.stat().st_dev
        except OSError:
            continue
        first, total = per_device.get(device, (folder, 0))
        per_device[device] = (first, total + n_bytes)
    for folder, need in per_device.values():
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            continue
        if free < need:
            raise OutputError(
                f"not enough free space for the {what}: about {_mib(need)} needed "
                f"(input size x compression factor), {_mib(free)} free",
                path=str(folder),
            )


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB"
