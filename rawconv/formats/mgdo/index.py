"""The record index of an MGDO file: one record per basket of ``MGTree``/``event``.

Baskets are independent compressed units whose entries need nothing from before them, so
the parallel layer may cut a file before any basket (formats.md, section 5); the plain
:class:`~rawconv.formats.base.ResumeState` of a range selects the baskets that start in it.
Baskets stored inside the tree metadata (a file whose writer crashed) have no offset of
their own: they are decoded by the range that reaches the end of the file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...sources import Source
from ..base import RECORD_DTYPE, RecordIndex
from .root import open_tree

__all__ = ["MGDOIndex"]


@dataclass
class MGDOIndex(RecordIndex):
    """Baskets as records: ``[seek, seek + bytes)``, tag 0, pid = first entry."""

    records: np.ndarray
    size: int
    splittable: bool = True
    """False when the baskets are not in file order with their entries: one chunk."""

    @classmethod
    def build(cls, source: Source) -> MGDOIndex:
        tree = open_tree(source)
        table = tree.table
        size = source.size if source.size is not None else 0
        normal = table.seek >= 0
        records = np.zeros(int(normal.sum()), RECORD_DTYPE)
        records["start"] = table.seek[normal]
        stop = table.seek[normal] + table.nbytes[normal]
        records["stop"] = np.minimum(stop, size) if size else stop
        records["pid"] = table.first_entry[normal]
        # entry order must be file order, with the metadata-stored baskets last
        ordered = bool(np.all(records["start"][1:] >= records["stop"][:-1]))
        ordered &= bool(np.all(np.diff(normal.astype(np.int8)) <= 0))
        return cls(records=records, size=int(size or records["stop"].max(initial=0)),
                   splittable=ordered)  # fmt: skip

    def boundaries(self) -> np.ndarray:
        if not self.splittable:
            return np.empty(0, np.int64)
        return np.arange(1, len(self.records), dtype=np.int64)
