"""The baskets of an MGDO file's ``MGTree`` branch ``event``: where they are, and their bytes.

uproot (imported only here, when an MGDO file is opened) reads the file's directory and
the TTree metadata, and gives each basket's decompressed bytes and entry offsets; what the
entries mean is rawconv's own business (:mod:`.kernels`). When uproot cannot read the tree
(a truncated file: ROOT writes the tree when it closes the file), the baskets are found
by a key walk (:mod:`.recovery`).
"""

from __future__ import annotations

import io
import logging
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import CorruptDataError, RawconvError
from ...sources import Source
from .recovery import RecoveredBasket, read_recovered, walk_basket_keys

log = logging.getLogger(__name__)

__all__ = ["BasketTable", "MGDOTree", "UprootMissingError", "import_uproot", "open_tree"]

TREE = "MGTree"
BRANCH = "event"
INSTALL_HINT = "reading MGDO (ROOT) files needs uproot: pip install rawconv[mgdo]"
MAX_OBJLEN = 1 << 30
"""Larger decompressed baskets are taken for damage (ROOT's own limit is 1 GB)."""


class UprootMissingError(RawconvError, ImportError):
    """uproot is not installed (the message says how to install it)."""


def import_uproot() -> Any:
    """uproot, or UprootMissingError with the install hint."""
    try:
        import uproot
    except ImportError as exc:
        raise UprootMissingError(INSTALL_HINT) from exc
    return uproot


class SourceFile(io.RawIOBase):
    """A seekable read-only file object over a :class:`~rawconv.sources.Source` (what
    uproot opens)."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._pos = 0

    def __repr__(self) -> str:  # uproot names the file by it in its messages
        return self._source.name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            offset += self._source.size or 0
        self._pos = max(int(offset), 0)
        return self._pos

    def readinto(self, b: Any) -> int:
        n = self._source.readinto(self._pos, b)
        self._pos += n
        return n


@dataclass
class BasketTable:
    """The baskets of the branch in entry order: byte offset (-1 for a basket stored in
    the tree metadata), compressed bytes with the key, first entry, entries."""

    seek: np.ndarray
    nbytes: np.ndarray
    first_entry: np.ndarray
    n_entries: np.ndarray

    def __len__(self) -> int:
        return len(self.seek)


@dataclass
class MGDOTree:
    """Access to the baskets of one input (through uproot, or recovered)."""

    source: Source
    table: BasketTable
    branch: Any = None
    recovered: list[RecoveredBasket] | None = None
    problems: list[str] = field(default_factory=list)

    def read(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(entry bytes, entry offsets) of basket `i`; CorruptDataError when it does not
        read (the message names the basket's offset)."""
        where = {"path": self.source.name, "offset": int(self.table.seek[i])}
        where["offset"] = where["offset"] if where["offset"] >= 0 else None
        where["record"] = int(self.table.first_entry[i])
        if self.recovered is not None:
            return read_recovered(self.source, self.recovered[i])
        seek = int(self.table.seek[i])
        if seek >= 0:
            self._check_key(i, seek, where)
        try:
            basket = self.branch.basket(i)
            data, offsets = basket.data, basket.byte_offsets
        except Exception as exc:  # uproot raises many kinds on damaged bytes
            raise CorruptDataError(f"basket does not read: {_one_line(exc)}", **where) from exc
        if offsets is None or len(offsets) != int(self.table.n_entries[i]) + 1:
            n = "no" if offsets is None else len(offsets) - 1
            raise CorruptDataError(
                f"basket has {n} entry offsets for {int(self.table.n_entries[i])} entries",
                **where,
            )
        return np.asarray(data, np.uint8), np.asarray(offsets, np.int64)

    def raw_basket(self, i: int) -> bytes:
        """The stored (compressed) bytes of basket `i`, as far as the file has them."""
        seek = int(self.table.seek[i])
        if seek < 0:
            return b""
        size = self.source.size if self.source.size is not None else seek
        return self.source.read(seek, min(seek + int(self.table.nbytes[i]), size))

    def _check_key(self, i: int, seek: int, where: dict) -> None:
        head = self.source.read(seek, seek + 18)
        if len(head) < 18:
            raise CorruptDataError("the file ends inside the basket's key", **where)
        nbytes, _, objlen, _, keylen = struct.unpack(">ihiIh", head[:16])
        if nbytes != int(self.table.nbytes[i]) or not 0 < keylen < nbytes:
            raise CorruptDataError(
                f"basket key says {nbytes} bytes, the tree says {int(self.table.nbytes[i])}",
                **where,
            )
        if not 0 <= objlen <= MAX_OBJLEN:
            raise CorruptDataError(f"basket key with impossible length {objlen}", **where)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


def open_tree(source: Source) -> MGDOTree:
    """The baskets of `source`'s ``MGTree``/``event`` (recovered by a key walk when uproot
    cannot read the tree). RawconvError for a ROOT file without an MGTree."""
    uproot = import_uproot()
    try:
        root = uproot.open(SourceFile(source), object_cache=None, array_cache=None)
        keys = root.keys(cycle=False)
    except Exception as exc:
        return _recover(source, f"the ROOT directory does not read ({_one_line(exc)})")
    if TREE not in keys:  # a damaged directory: the baskets may still be there
        listed = ", ".join(keys) or "none"
        try:
            return _recover(source, f"the ROOT directory lists no {TREE} tree (keys: {listed})")
        except CorruptDataError:
            raise RawconvError(
                f"a ROOT file without an {TREE} tree (keys: {listed}): not a GERDA MGDO tier1 file",
                path=source.name,
            ) from None
    try:
        branch = root[TREE][BRANCH]
        table = _table(branch)
    except Exception as exc:
        return _recover(source, f"the {TREE} tree does not read ({_one_line(exc)})")
    return MGDOTree(source, table, branch=branch)


def _table(branch: Any) -> BasketTable:
    n = branch.num_baskets
    normal = branch._num_normal_baskets  # the others live in the tree metadata
    seeks = np.full(n, -1, np.int64)
    seeks[:normal] = branch.member("fBasketSeek")[:normal]
    nbytes = np.array([branch.basket_compressed_bytes(i) for i in range(n)], np.int64)
    edges = np.asarray(branch.entry_offsets, np.int64)
    if len(edges) != n + 1 or np.any(np.diff(edges) < 0):
        raise ValueError(f"inconsistent entry offsets {edges.tolist()}")
    return BasketTable(seeks, nbytes, edges[:-1].copy(), np.diff(edges))


def _recover(source: Source, why: str) -> MGDOTree:
    found, stop = walk_basket_keys(source, BRANCH.encode())
    if not found:
        raise CorruptDataError(
            f"{why}, and a walk over its keys finds no basket of branch {BRANCH!r}"
            + (f" ({stop})" if stop else ""),
            path=source.name,
        )
    n_entries = np.array([b.n_entries if b.complete else 0 for b in found], np.int64)
    first = np.concatenate([[0], np.cumsum(n_entries)[:-1]]).astype(np.int64)
    table = BasketTable(
        np.array([b.seek for b in found], np.int64),
        np.array([b.nbytes for b in found], np.int64),
        first,
        n_entries,
    )
    tree = MGDOTree(source, table, recovered=found)
    msg = f"{source.name}: {why}; {len(found)} basket(s) of branch {BRANCH!r} recovered from "
    msg += "the keys" + (f" ({stop})" if stop else "")
    tree.problems.append(msg)
    log.warning("%s", msg)
    return tree
