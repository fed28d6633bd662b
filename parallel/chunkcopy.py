"""The merge's side of packed parts: compressed chunks stored as they are.

The merge appends the parts' rows as before; for a dataset a pack task packed
(:mod:`rawconv.parallel.pack`) it reads only the rows outside the packed chunks of each
part (:meth:`ChunkCopy.skip`) and its writer, about to encode a whole chunk, takes the
packed bytes instead (:meth:`ChunkCopy.supply`, stored with ``write_direct_chunk``). The
chunks that straddle part boundaries are encoded as usual. A packed chunk whose encoding
differs from the merged dataset's, or that the writer never asked for, fails the merge:
never a file with chunks out of place.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rawconv.errors import RawconvError
from rawconv.lh5.chunks import ChunkCodec, ChunkSupply

from .pack import PackedPart, codec_key

__all__ = ["ChunkCopy"]


class ChunkCopy:
    """The packed chunks of one output's parts (None for a part not packed)."""

    def __init__(self, final: str, packed: list[PackedPart | None]) -> None:
        self.final = final
        self.packed = packed
        self.chunks: dict[str, dict[int, tuple[int, int, int]]] = {}
        """Dataset path -> merged first row -> (part number, byte offset, bytes)."""
        for i, part in enumerate(packed):
            if part is None:
                continue
            for path, table in part.chunks.items():
                mine = self.chunks.setdefault(path, {})
                for row, pos, size in table:
                    mine[row] = (i, pos, size)
        self.used: set[tuple[str, int]] = set()
        self.files: dict[int, int] = {}

    def supplies(self) -> dict[str, ChunkSupply]:
        """Dataset path -> the supply its appender takes packed chunks from."""
        return {path: self._supply(path) for path in self.chunks}

    def _supply(self, path: str) -> ChunkSupply:
        table = self.chunks[path]

        def supply(first_row: int, rows: int, codec: ChunkCodec) -> bytes | None:
            found = table.get(first_row)
            if found is None:
                return None
            i, pos, size = found
            part = self.packed[i]
            assert part is not None
            if part.codecs[path] != codec_key(rows, codec):
                raise RawconvError(
                    f"merging {path}: a packed chunk's encoding {part.codecs[path]} is not the "
                    f"merged dataset's {codec_key(rows, codec)}", path=self.final,
                )  # fmt: skip
            self.used.add((path, first_row))
            return os.pread(self._fd(i), size, pos)

        return supply

    def _fd(self, i: int) -> int:
        if i not in self.files:
            part = self.packed[i]
            assert part is not None
            self.files[i] = os.open(part.path, os.O_RDONLY)
        return self.files[i]

    def skip(self, i: int, done: Callable[[str], int]) -> Callable[[str], tuple[int, int] | None]:
        """For part `i`: dataset path -> its rows the merge need not read (the packed
        chunks'), checking first that the rows merged before (`done(path)`) are where the
        pack task placed the part."""
        part = self.packed[i] if i < len(self.packed) else None
        checked: set[str] = set()

        def skip(path: str) -> tuple[int, int] | None:
            if part is None or path not in part.interior:
                return None
            if path not in checked:
                if done(path) != part.offsets[path]:
                    raise RawconvError(
                        f"merging {path}: part {i} was packed at row {part.offsets[path]}, "
                        f"the merge is at row {done(path)}", path=self.final,
                    )  # fmt: skip
                checked.add(path)
            return part.interior[path]

        return skip

    def check_complete(self) -> None:
        """Raise unless every packed chunk was stored."""
        missing = sum(len(t) for t in self.chunks.values()) - len(self.used)
        if missing:
            raise RawconvError(
                f"{missing} packed chunk(s) were not placed by the merge", path=self.final
            )

    def close(self, remove: bool) -> None:
        """Close the side files (and delete them with `remove`)."""
        for fd in self.files.values():
            os.close(fd)
        self.files.clear()
        if remove:
            for part in self.packed:
                if part is not None:
                    Path(part.path).unlink(missing_ok=True)
