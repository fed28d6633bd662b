"""Writes MGTEvent entries (formats.md, section 5) and MGDO files made of them.

:func:`entry_bytes` serialises an :class:`Event` as ROOT's streamers do (every layout
detail the parser checks). :func:`rebasket` writes a copy of an existing MGDO file whose
``MGTree`` baskets are replaced by new ones (any entries, any number of baskets): the
template gives the ROOT skeleton (header, streamer infos, tree metadata), whose basket
tables and entry counts are patched and written anew at its end; its old baskets and tree
are marked free, as ROOT marks deleted records. Used by tests and benchmarks.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Digitizer", "Event", "Trace", "encode_samples", "entry_bytes",
           "rebasket"]  # fmt: skip


@dataclass
class Trace:
    """An MGTWaveform: samples (0..65535) of channel `channel`."""

    channel: int
    samples: np.ndarray
    sampling_frequency: float = 0.025
    t0: float = 0.0
    waveform_type: int = 3


@dataclass
class Digitizer:
    """A GETGERDADigitizerData (fID: `channel`, by default the channel of the trace of
    its slot)."""

    energy: float = 0.0
    timestamp_sec: int = 0
    digitizer_index: int = 0
    clock_frequency: float = 0.025
    eventnumber: int = 0
    pretrigger: int = 1000
    trigger_number: int = 1
    timestamp_nsec: int = 0
    is_mu_vetoed: int = 0
    mu_veto_sample: int = 0
    is_inverted: int = 1
    waveform_tag: int = 0
    channel: int | None = None


@dataclass
class Event:
    """An MGTEvent; ``active`` None and ``aux`` None write null pointers."""

    traces: list[Trace] = field(default_factory=list)
    digitizers: list[Digitizer] = field(default_factory=list)
    aux: list[Trace] | None = field(default_factory=list)
    active: list[bool] | None = None
    event_type: int = 0
    event_energy: float = 0.0
    event_time: float = 0.0
    event_number: int = 0
    use_aux: int = 1


def _bc(body: bytes, version: int) -> bytes:
    return struct.pack(">IH", 0x40000000 | (len(body) + 2), version) + body


def _tstring(s: bytes) -> bytes:
    return bytes([len(s)]) + s if len(s) < 255 else b"\xff" + struct.pack(">I", len(s)) + s


_TOBJECT = struct.pack(">HII", 1, 0, 0x03000000)
_DATA_OBJECT = _bc(_bc(_TOBJECT + _tstring(b"") + _tstring(b""), 1), 2)


def encode_samples(samples: np.ndarray) -> bytes:
    """Zig-zag LEB128 varints of the first differences of `samples` (sample[-1] = 0)."""
    d = np.diff(np.asarray(samples, np.int64), prepend=0)
    zz = ((d << 1) ^ (d >> 63)).astype(np.uint64)
    nbytes = np.ones(len(zz), np.int64)
    for k in range(1, 10):
        nbytes += zz >= (np.uint64(1) << np.uint64(7 * k))
    ends = np.cumsum(nbytes)
    out = np.zeros(int(ends[-1]) if len(ends) else 0, np.uint8)
    starts = ends - nbytes
    for k in range(int(nbytes.max(initial=0))):
        has = nbytes > k
        byte = (zz[has] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (nbytes[has] > k + 1).astype(np.uint64) << np.uint64(7)
        out[starts[has] + k] = (byte | more).astype(np.uint8)
    return out.tobytes()


def _waveform(t: Trace) -> bytes:
    samples = np.asarray(t.samples)
    head = struct.pack(">ddiiii", t.sampling_frequency, t.t0, t.waveform_type, 0, len(samples), 3)
    return _bc(_DATA_OBJECT + head + encode_samples(samples) + struct.pack(">i", t.channel), 5)


def _digitizer(d: Digitizer, channel: int) -> bytes:
    base = _bc(_DATA_OBJECT + struct.pack(">dQIQ", d.energy, d.timestamp_sec, channel,
                                          d.digitizer_index), 1)  # fmt: skip
    tail = struct.pack(
        ">diQQIBIBi", d.clock_frequency, d.eventnumber, d.pretrigger, d.trigger_number,
        d.timestamp_nsec, d.is_mu_vetoed, d.mu_veto_sample, d.is_inverted, d.waveform_tag,
    )  # fmt: skip
    return _bc(_bc(base + tail, 2), 1)


class _Classes:
    """Class tags of one entry: the class name the first time, a reference after."""

    def __init__(self) -> None:
        self.seen: dict[bytes, int] = {}

    def tag(self, name: bytes) -> bytes:
        if name in self.seen:
            return struct.pack(">I", 0x80000000 | self.seen[name])
        self.seen[name] = 140 + 16 * len(self.seen)  # any offset: references are positional
        return b"\xff\xff\xff\xff" + name + b"\0"


def _pointer(classes: _Classes, name: bytes, body: bytes) -> bytes:
    tagged = classes.tag(name) + body
    return struct.pack(">I", 0x40000000 | len(tagged)) + tagged


def _clones(classes: _Classes, elements: list[bytes] | None, name: bytes, element: bytes) -> bytes:
    if elements is None:
        return struct.pack(">I", 0)
    slots = b"".join(b"\x01" + e for e in elements)
    inner = _TOBJECT + _tstring(name) + _tstring(element) + struct.pack(">ii", len(elements), 0)
    return _pointer(classes, b"MGTClonesArray", _bc(_bc(inner + slots, 4) + b"\x01", 2))


def entry_bytes(ev: Event) -> bytes:
    """The bytes of one entry of the ``event`` branch."""
    classes = _Classes()
    body = _DATA_OBJECT + struct.pack(">idd", ev.event_type, ev.event_energy, ev.event_time)
    body += _clones(classes, [_waveform(t) for t in ev.traces], b"MGTWaveforms", b"MGTWaveform;5")
    digis = [
        _digitizer(d, d.channel if d.channel is not None else ev.traces[i].channel)
        for i, d in enumerate(ev.digitizers)
    ]
    body += _clones(classes, digis, b"GETGERDADigitizerDatas", b"GETGERDADigitizerData;1")
    if ev.active is None:
        body += struct.pack(">I", 0)
    else:
        flags = bytes(1 if a else 0 for a in ev.active)
        body += _pointer(classes, b"vector<bool>", struct.pack(">i", len(flags)) + flags)
    body += bytes([ev.use_aux])
    aux = None if ev.aux is None else [_waveform(t) for t in ev.aux]
    body += _clones(classes, aux, b"MGTWaveforms", b"MGTWaveform;5")
    body += struct.pack(">i", ev.event_number)
    return b"\x08MGTEvent\x00" + _bc(body, 9)


def _compress(payload: bytes, level: int) -> bytes:
    """ROOT zlib blocks ("ZL", deflate, 3-byte little-endian sizes) of <= 16 MiB each."""
    out = bytearray()
    for i in range(0, len(payload), 0xFFFFFF):
        chunk = payload[i : i + 0xFFFFFF]
        packed = zlib.compress(chunk, level)
        out += b"ZL\x08" + len(packed).to_bytes(3, "little") + len(chunk).to_bytes(3, "little")
        out += packed
    return bytes(out)


def _basket_key(template: bytes, seek: int, entries: Sequence[bytes], level: int) -> bytes:
    """A TBasket key like `template` (the key header of a basket of the template file)
    holding `entries`, for offset `seek`."""
    keylen = len(template)
    data = b"".join(entries)
    offsets = keylen + np.concatenate([[0], np.cumsum([len(e) for e in entries])[:-1]])
    table = struct.pack(f">i{len(entries)}ii", len(entries) + 1,
                        *offsets.astype(int).tolist(), 0)  # fmt: skip
    payload = data + table
    packed = _compress(payload, level)
    key = bytearray(template)
    struct.pack_into(">i", key, 0, keylen + len(packed))
    struct.pack_into(">i", key, 6, len(payload))
    struct.pack_into(">q", key, 18, seek)
    last = keylen + len(data)
    struct.pack_into(">iiii", key, keylen - 17, last, 1000, len(entries), last)
    return bytes(key) + packed


def _patch(obj: bytearray, old: bytes, new: bytes) -> None:
    at = obj.find(old)
    if at < 0 or obj.find(old, at + 1) >= 0 or len(old) != len(new):
        raise ValueError("the template's tree metadata is not laid out as expected")
    obj[at : at + len(old)] = new


_MEMBERS = (
    "fBasketBytes", "fBasketEntry", "fBasketSeek", "fWriteBasket", "fEntryNumber", "fEntries",
    "fFirstEntry", "fTotBytes", "fZipBytes", "fMaxBaskets", "fSplitLevel",
)  # fmt: skip
_ARRAYS = (("fBasketBytes", ">i4"), ("fBasketEntry", ">i8"), ("fBasketSeek", ">i8"))


def _tree_object(obj: bytes, m: dict, tree: list[int], sizes: list[int], seeks: list[int],
                 firsts: list[int]) -> bytes:  # fmt: skip
    """The template's streamed TTree with the basket arrays (fBasketBytes, fBasketEntry,
    fBasketSeek: as many slots as baskets + 1, at least the template's) and the counts of
    the new baskets; the byte counts of the objects around the arrays grow with them."""
    obj = bytearray(obj)
    old = b"".join(b"\x01" + m[name].astype(dt).tobytes() for name, dt in _ARRAYS)
    at = obj.find(old)
    if at < 0 or obj.find(old, at + 1) >= 0:
        raise ValueError("the template's basket arrays are not laid out as expected")
    slots = max(len(m["fBasketSeek"]), len(sizes) + 1)
    pad = [0] * (slots - len(sizes))
    new = (b"\x01" + np.array(sizes + pad, ">i4").tobytes() + b"\x01"
           + np.array(firsts + pad[1:], ">i8").tobytes() + b"\x01"
           + np.array(seeks + pad, ">i8").tobytes())  # fmt: skip
    delta = len(new) - len(old)
    for q in range(at):  # byte counts of the objects that hold the arrays
        (word,) = struct.unpack_from(">I", obj, q)
        end = q + 4 + (word & 0x3FFFFFFF)
        (version,) = struct.unpack_from(">H", obj, q + 4)
        if word >> 30 == 1 and at + len(old) <= end <= len(obj) and version < 100:
            struct.pack_into(">I", obj, q, word + delta)
    obj[at : at + len(old)] = new
    n, tot = firsts[-1], sum(sizes)
    _patch(obj, struct.pack(">iq", m["fWriteBasket"], m["fEntryNumber"]),
           struct.pack(">iq", len(sizes), n))  # fmt: skip
    _patch(obj, struct.pack(">iiqqqq", *(int(m[k]) for k in _MEMBERS[-2:] + _MEMBERS[5:9])),
           struct.pack(">iiqqqq", slots, int(m["fSplitLevel"]), n, 0, tot, tot))  # fmt: skip
    _patch(obj, struct.pack(">qqq", *tree), struct.pack(">qqq", n, tot, tot))
    return bytes(obj)


def rebasket(
    template: str | Path, out: str | Path, baskets: Sequence[Sequence[bytes]], level: int = 1
) -> None:
    """Write `out`: the MGDO file `template` with its MGTree baskets replaced by `baskets`
    (each a list of entry bytes), zlib level `level`. Checked by reading it back."""
    import uproot

    raw = bytearray(Path(template).read_bytes())
    with uproot.open(str(template)) as f:
        tree, key = f["MGTree"], f.key("MGTree")
        m = {n: tree["event"].member(n) for n in _MEMBERS}
        tm = [int(tree.member(n)) for n in ("fEntries", "fTotBytes", "fZipBytes")]
        seek0, (end,) = int(m["fBasketSeek"][0]), struct.unpack_from(">i", raw, 12)
        t_seek, t_keylen, t_nbytes = key.fSeekKey, key.fKeylen, key.fNbytes
    (keylen,) = struct.unpack_from(">h", raw, seek0 + 14)
    template_key = bytes(raw[seek0 : seek0 + keylen])
    out_bytes = raw[:end]
    for i in range(int(m["fWriteBasket"])):  # free gaps: a negative length
        struct.pack_into(">i", out_bytes, int(m["fBasketSeek"][i]), -int(m["fBasketBytes"][i]))
    seeks, sizes, firsts = [], [], [0]
    for entries in baskets:
        k = _basket_key(template_key, len(out_bytes), entries, level)
        seeks.append(len(out_bytes))
        sizes.append(len(k))
        out_bytes += k
        firsts.append(firsts[-1] + len(entries))
    payload = bytes(raw[t_seek + t_keylen : t_seek + t_nbytes])
    obj = _tree_object(zlib.decompress(payload[9:]), m, tm, sizes, seeks, firsts)
    # the tree goes into a new key at the end; the directory's key list points there
    packed = _compress(obj, 9)
    head = bytes(raw[t_seek : t_seek + t_keylen])
    new_head = bytearray(head)
    struct.pack_into(">ii", new_head, 0, t_keylen + len(packed), 0)
    struct.pack_into(">hi", new_head, 4, struct.unpack_from(">h", head, 4)[0], len(obj))
    small = struct.unpack_from(">h", head, 4)[0] <= 1000
    struct.pack_into(">i" if small else ">q", new_head, 18, len(out_bytes))
    listed = out_bytes.find(head, t_seek + 1)
    if listed < 0 or out_bytes.find(head, listed + 1) >= 0:
        raise ValueError("the template's key list does not list its tree once")
    out_bytes[listed : listed + t_keylen] = new_head
    out_bytes += new_head + packed
    struct.pack_into(">i", out_bytes, t_seek, -t_nbytes)
    if len(out_bytes) >= 2**31:
        raise ValueError("the template's small-file header cannot address 2 GB")
    struct.pack_into(">i", out_bytes, 12, len(out_bytes))  # fEND
    Path(out).write_bytes(bytes(out_bytes))
    with uproot.open(str(out)) as f:
        if f["MGTree"]["event"].entry_offsets != firsts:
            raise ValueError(f"{out}: the rewritten tree does not read back")
