"""Baskets of a ROOT file whose TTree cannot be read (a truncated or damaged file).

ROOT writes a TTree's metadata (basket offsets, entry counts) when the file is closed, at
its end: a file cut short has baskets but no tree. As ROOT's own recovery does, the keys
are walked from the first record on (each key: i32 total bytes, i16 version, i32 object
length, u32 date, i16 key length, i16 cycle, seek words, class name, name, title) and the
``TBasket`` keys of the wanted branch are kept. A basket cut by the end of the file keeps
the complete entries of what can be decompressed (zlib only), found from their byte counts.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from ...errors import CorruptDataError
from ...sources import Source
from .kernels import hop_entries

__all__ = ["RecoveredBasket", "read_recovered", "walk_basket_keys"]

_KEY_HEAD = struct.Struct(">ihiIhh")
_BASKET_HEAD = struct.Struct(">hiiii")  # version, fBufferSize, fNevBufSize, fNevBuf, fLast
_READ_KEY = 1024


@dataclass(frozen=True)
class RecoveredBasket:
    """A TBasket key found by the walk: bytes ``[seek, seek + nbytes)`` (fewer when the file
    ends inside it: ``complete`` False)."""

    seek: int
    nbytes: int
    keylen: int
    objlen: int
    n_entries: int
    last: int
    complete: bool


def _tstring(head: bytes, p: int) -> tuple[bytes, int]:
    n = head[p]
    p += 1
    if n == 255:
        (n,) = struct.unpack_from(">I", head, p)
        p += 4
    if p + n > len(head):
        raise ValueError("string past the key header")
    return head[p : p + n], p + n


def walk_basket_keys(
    source: Source, branch: bytes = b"event"
) -> tuple[list[RecoveredBasket], str | None]:
    """The TBasket keys of `branch`, in file order, and why the walk stopped early (None
    when it reached the end of the file)."""
    size = source.size
    head = source.read(0, 64)
    if len(head) < 16 or head[:4] != b"root":
        raise CorruptDataError("not a ROOT file (no 'root' magic)", path=source.name, offset=0)
    (begin,) = struct.unpack_from(">i", head, 8)
    pos, found = begin, []
    end = size if size is not None else 2**62
    if not 16 <= begin < end:  # fBEGIN: where the first key is, after this header
        return found, f"impossible offset of the first key ({begin}) in the file header"
    while pos < end:
        key = source.read(pos, pos + _READ_KEY)
        if len(key) < _KEY_HEAD.size:
            return found, f"the file ends inside a key header at offset {pos}"
        nbytes, version, objlen, _, keylen, _ = _KEY_HEAD.unpack_from(key, 0)
        if nbytes < 0:  # a free gap left by a deleted object
            pos += -nbytes
            continue
        if nbytes < keylen or keylen < _KEY_HEAD.size + 8 or objlen < 0:
            return found, f"impossible key header at offset {pos}"
        try:
            p = _KEY_HEAD.size + (16 if version > 1000 else 8)
            classname, p = _tstring(key, p)
            name, p = _tstring(key, p)
        except (ValueError, IndexError, struct.error):
            return found, f"unreadable key header at offset {pos}"
        if classname == b"TBasket" and name == branch:
            q = keylen - _BASKET_HEAD.size - 1
            if q < p or keylen > len(key):
                return found, f"impossible basket key header at offset {pos}"
            _, _, _, nev, last = _BASKET_HEAD.unpack_from(key, q)
            if nev < 0 or not keylen <= last <= keylen + objlen:
                return found, f"impossible basket header at offset {pos}"
            complete = pos + nbytes <= end
            found.append(RecoveredBasket(pos, nbytes, keylen, objlen, nev, last, complete))
        pos += nbytes
    return found, None if pos == end else f"the last key runs past the end of the file ({pos})"


def _decompress(payload: bytes, objlen: int, partial: bool) -> bytes:
    """ROOT compression blocks (9-byte headers: algorithm, method, sizes) -> bytes; with
    `partial`, what a cut zlib stream gives."""
    if len(payload) == objlen and not partial:
        return payload  # stored uncompressed
    out = bytearray()
    p = 0
    while len(out) < objlen and p + 9 <= len(payload):
        algo = payload[p : p + 2]
        c = int.from_bytes(payload[p + 3 : p + 6], "little")
        u = int.from_bytes(payload[p + 6 : p + 9], "little")
        block = payload[p + 9 : p + 9 + c]
        p += 9 + c
        if algo == b"ZL":
            if partial and len(block) < c:
                out += zlib.decompressobj().decompress(block)
                break
            got = zlib.decompress(block)
        elif algo == b"XZ" and not (partial and len(block) < c):
            got = lzma.decompress(block)
        else:
            raise ValueError(f"compression {algo!r} is not read by recovery")
        if len(got) != u:
            raise ValueError(f"a block gave {len(got)} bytes, its header says {u}")
        out += got
    return bytes(out)


def read_recovered(source: Source, basket: RecoveredBasket) -> tuple[np.ndarray, np.ndarray]:
    """(entry bytes, entry offsets) of a recovered basket; a cut basket gives its complete
    entries. Raises CorruptDataError when nothing usable is there."""
    size = source.size if source.size is not None else basket.seek + basket.nbytes
    raw = source.read(basket.seek, min(basket.seek + basket.nbytes, size))
    try:
        return _entries(raw, basket)
    except (zlib.error, lzma.LZMAError, ValueError, IndexError) as exc:
        raise CorruptDataError(
            f"recovered basket does not read: {exc}", path=source.name, offset=basket.seek
        ) from exc


def _entries(raw: bytes, basket: RecoveredBasket) -> tuple[np.ndarray, np.ndarray]:
    full = _decompress(raw[basket.keylen :], basket.objlen, partial=not basket.complete)
    border = basket.last - basket.keylen
    data = np.frombuffer(full, np.uint8)
    if basket.complete and len(full) == basket.objlen and border < len(full):
        n = basket.n_entries
        table = np.frombuffer(full[border : border + 4 * (n + 2)], ">i4").astype(np.int64)
        if len(table) < n + 1:
            raise ValueError("entry offset table too short")
        offsets = np.append(table[1 : 1 + n] - basket.keylen, border)
        return data[:border], offsets
    # the offset table (at the end of the basket) is lost: hop over entries
    offsets = np.zeros(len(full) // 8 + 2, np.int64)
    k = hop_entries(data, min(len(full), border), offsets)
    return data[: int(offsets[k])], offsets[: k + 1].copy()
