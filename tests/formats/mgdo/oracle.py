"""A slow pure-Python walk of MGTEvent entry bytes (formats.md, section 5), written apart
from rawconv's kernels so that tests can check every decoded value against it."""

from __future__ import annotations

import struct
from typing import Any


class WalkError(ValueError):
    """The bytes do not follow the layout."""


class Cursor:
    """Big-endian reads over ``data[pos:end]``."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos = data, pos
        self.end = len(data) if end is None else end

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(">" + fmt)
        if self.pos + size > self.end:
            raise WalkError(f"read of {size} bytes past the end at {self.pos}")
        (value,) = struct.unpack_from(">" + fmt, self.data, self.pos)
        self.pos += size
        return value

    def counted(self, version: int) -> int:
        """A byte count + version; returns where the object ends."""
        word = self.take("I")
        if word >> 30 != 1:
            raise WalkError(f"no byte count at {self.pos - 4}")
        end = self.pos + (word & 0x3FFFFFFF)
        if self.take("H") != version:
            raise WalkError(f"version is not {version} at {self.pos - 2}")
        return end

    def string(self) -> bytes:
        n = self.take("B")
        if n == 255:
            n = self.take("I")
        s = self.data[self.pos : self.pos + n]
        self.pos += n
        return s

    def at(self, where: int) -> None:
        if self.pos != where:
            raise WalkError(f"object ends at {where}, fields at {self.pos}")


def data_object(c: Cursor) -> None:
    end = c.counted(2)
    c.counted(1)
    c.take("H")
    c.take("I")
    if c.take("I") & 0x10:
        c.take("H")
    c.string()
    c.string()
    c.at(end)


def pointer(c: Cursor) -> int | None:
    """An object pointer: the end of its object, None for a null pointer."""
    word = c.take("I")
    if word == 0:
        return None
    end = c.pos + (word & 0x3FFFFFFF)
    tag = c.take("I")
    if tag == 0xFFFFFFFF:
        while c.take("B") != 0:
            pass
    elif not tag & 0x80000000:
        raise WalkError("object reference")
    return end


def varints(c: Cursor, n: int) -> list[int]:
    out, value = [], 0
    for _ in range(n):
        shift, raw = 0, 0
        while True:
            byte = c.take("B")
            raw += (byte & 0x7F) << shift
            shift += 7
            if byte < 128:
                break
        value += raw // 2 if raw % 2 == 0 else -(raw + 1) // 2
        out.append(value)
    return out


def waveform(c: Cursor) -> dict[str, Any]:
    end = c.counted(5)
    data_object(c)
    wf = {"sampling_frequency": c.take("d"), "t0": c.take("d"), "waveform_type": c.take("i")}
    c.take("i")
    n = c.take("i")
    if c.take("i") != 3:
        raise WalkError("encoding")
    wf["samples"] = varints(c, n)
    wf["channel"] = c.take("i")
    c.at(end)
    return wf


def digitizer(c: Cursor) -> dict[str, Any]:
    end = c.counted(1)
    mid = c.counted(2)
    inner = c.counted(1)
    data_object(c)
    names = ("energy", "timestamp_sec", "channel", "digitizer_index")
    d = dict(zip(names, (c.take(f) for f in "dQIQ")))
    c.at(inner)
    names = ("clock_frequency", "eventnumber", "pretrigger", "trigger_number", "timestamp_nsec",
             "is_mu_vetoed", "mu_veto_sample", "is_inverted", "waveform_tag")  # fmt: skip
    d.update(zip(names, (c.take(f) for f in "diQQIBIBi")))
    c.at(mid)
    c.at(end)
    return d


def clones(c: Cursor, element: Any) -> list[dict[str, Any]] | None:
    end = pointer(c)
    if end is None:
        return None
    outer = c.counted(2)
    inner = c.counted(4)
    c.take("H")
    c.take("I")
    c.take("I")
    c.string()
    c.string()
    n = c.take("i")
    c.take("i")
    items = []
    for _ in range(n):
        if c.take("B") != 1:
            raise WalkError("empty slot")
        items.append(element(c))
    c.at(inner)
    c.pos = outer
    c.at(end)
    return items


def walk_entry(data: bytes) -> dict[str, Any]:
    """Every field of one entry: event fields, ``main`` (waveform + digitizer per slot),
    ``active`` (flag list), ``aux``."""
    c = Cursor(data)
    if data[:1] == b"\x08":
        if data[1:10] != b"MGTEvent\x00":
            raise WalkError("prefix")
        c.pos = 10
    end = c.counted(9)
    data_object(c)
    ev: dict[str, Any] = {"event_type": c.take("i"), "event_energy": c.take("d"),
                          "event_time": c.take("d")}  # fmt: skip
    waves = clones(c, waveform) or []
    digis = clones(c, digitizer) or []
    if len(waves) != len(digis):
        raise WalkError("counts")
    ev["main"] = [{**d, **w} for w, d in zip(waves, digis)]
    if any(w["channel"] != d["channel"] for w, d in zip(waves, digis)):
        raise WalkError("channel ids")
    flags_end = pointer(c)
    ev["active"] = None
    if flags_end is not None:
        n = c.take("i")
        ev["active"] = [bool(c.take("B")) for _ in range(n)]
        c.at(flags_end)
    ev["use_aux"] = c.take("B")
    ev["aux"] = clones(c, waveform) or []
    ev["event_number"] = c.take("i")
    c.at(end)
    if end != len(data):
        raise WalkError("entry size")
    return ev
