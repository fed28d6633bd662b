"""Damaged llamaDAQ input: events before (and after) the damage are kept; damaged bytes
become garbage rows with a one-line report; a damaged header is a one-line RawconvError."""

from __future__ import annotations

import struct
import subprocess
import sys

import h5py
import numpy as np
import pytest

from rawconv import RawBufferLibrary, RawconvError, build_raw
from rawconv.decoder import GarbageCode
from rawconv.formats.llamadaq.streamer import LLAMAStreamer
from rawconv.formats.llamadaq.writer import ChannelSpec
from rawconv.sources import MemorySource
from tests.conftest import data_file
from tests.formats.llamadaq.files import write_run

HEADER = 16 + 88 * 2  # the pulser file's header


def starts_of(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of every event, walked with the header's event lengths."""
    n_open = struct.unpack_from("<I", data, 12)[0]
    length = {}
    for i in range(n_open):
        w = struct.unpack_from("<22I", data, 16 + 88 * i)
        length[(w[0] << 4) | w[1]] = 4 * w[16]
    pos, out = 16 + 88 * n_open, []
    while pos + 4 <= len(data):
        fch = (struct.unpack_from("<I", data, pos)[0] >> 4) & 0xFFF
        out.append((pos, length[fch]))
        pos += length[fch]
    return out


def decode(data: bytes, name: str = "cut.bin", **kwargs) -> dict:
    """Rows of every LLAMAEvent key (nothing written) in packet-id order, as tuples of all
    their values but the packet id; problems and garbage rows."""
    streamer = LLAMAStreamer(block_bytes=1 << 16, **kwargs)
    lib = RawBufferLibrary({"LLAMAEventDecoder": {"ev_{key}": {"key_list": ["*"]}}})
    streamer.open_stream(MemorySource(data, name=name), rb_lib=lib, buffer_size=16)
    rows = {}
    for chunk in streamer:
        for rb in chunk:
            t = rb.lgdo
            cols = [t[c].nda for c in sorted(t) if c != "packet_id" and not c.startswith("wave")]
            cols += [t[c]["values"].nda for c in sorted(t) if c.startswith("wave")]
            for r in range(rb.loc):
                rows[int(t["packet_id"].nda[r])] = tuple(c[r].tobytes() for c in cols)
    g = streamer.garbage.garbage_table
    n = streamer.garbage.n_garbage
    cl = g["packet"].cumulative_length.nda[:n]
    return {
        "pids": sorted(rows), "rows": [rows[p] for p in sorted(rows)],
        "problems": list(streamer.problems),
        "garbage": list(zip(g["offset"].nda[:n].tolist(), np.diff(cl, prepend=0).tolist(),
                            g["code"].nda[:n].tolist(), g["packet_id"].nda[:n].tolist())),
    }  # fmt: skip


@pytest.fixture(scope="module")
def pulser() -> bytes:
    return data_file("llamadaq/20241218-150158-pulser.bin").read_bytes()


def cut_points(data: bytes) -> list[int]:
    """Every event boundary -1..+5 bytes, and 40 random points (header included)."""
    cuts = set()
    for s, _ in starts_of(data):
        cuts.update(s + d for d in (-1, 0, 1, 2, 3, 5))
    rng = np.random.default_rng(2)
    cuts.update(int(c) for c in rng.integers(1, len(data), 40))
    return sorted(c for c in cuts if 0 < c < len(data))


def test_truncation_keeps_every_complete_event(pulser):
    events = starts_of(pulser)
    assert decode(pulser)["pids"] == list(range(1, 75))
    for cut in cut_points(pulser):
        if cut < HEADER:
            with pytest.raises(RawconvError, match="input ends inside the LlamaDAQ") as err:
                decode(pulser[:cut])
            assert "\n" not in str(err.value) and err.value.path == "cut.bin"
            continue
        got = decode(pulser[:cut])
        complete = sum(1 for s, n in events if s + n <= cut)
        assert got["pids"] == list(range(1, complete + 1)), cut
        cut_at = max((s for s, n in events if s < cut < s + n), default=None)
        if cut_at is None:  # the cut falls on an event boundary
            assert got["problems"] == [] and got["garbage"] == [], cut
        else:
            assert got["garbage"] == [(cut_at, cut - cut_at, GarbageCode.TRUNCATED,
                                       complete + 1)], cut  # fmt: skip
            assert got["problems"] == [
                f"input ends inside an event: {cut - cut_at} bytes of an incomplete event at "
                f"offset {cut_at} ignored"
            ]


@pytest.mark.parametrize("where", ["fch", "format", "marker", "raw_words", "avg_words"])
def test_one_damaged_event_is_one_garbage_row(pulser, where):
    """A corrupted word 0 (channel id, format bits), sample marker or length word makes
    exactly that event a garbage row; every other event decodes unchanged."""
    events = starts_of(pulser)
    full = decode(pulser)
    for k in (0, 9, 40, 73):
        s, n = events[k]
        data = bytearray(pulser)
        if where == "fch":
            data[s] ^= 0x70  # channel id bits 6-4
        elif where == "format":
            data[s] ^= 0x04
        elif where == "marker":
            data[s + 4 * 11 + 3] = 0x50
        elif where == "raw_words":
            struct.pack_into("<I", data, s + 44, struct.unpack_from("<I", data, s + 44)[0] + 7)
        else:
            struct.pack_into("<I", data, s + 48, struct.unpack_from("<I", data, s + 48)[0] ^ 0x3)
        got = decode(bytes(data), name="bad.bin")
        assert got["pids"] == list(range(1, 74)), (where, k)  # one event fewer
        assert got["rows"] == full["rows"][:k] + full["rows"][k + 1 :]
        assert len(got["garbage"]) == 1
        offset, size, _, pid = got["garbage"][0]
        assert (offset, size, pid) == (s, n, k + 1), (where, k)
        assert len(got["problems"]) == 1
        assert got["problems"][0].startswith(f"{n} bytes at offset {s} do not parse as an event")


def test_flipped_bytes_never_crash(tmp_path):
    """Random single-byte flips in a writer-made file: never an exception; every other
    event decodes unchanged; the flipped event either decodes (a flip in samples, ticks or
    gates, which no check can see) or is exactly one garbage row."""
    chans = [
        ChannelSpec(channel=c, format_bits=c + 5, sample_length=8, avg_sample_length=4 * (c % 2),
                    avg_mode=c % 2)
        for c in range(3)
    ]  # fmt: skip
    write_run(tmp_path / "r.bin", chans, 120, seed=5)
    data = (tmp_path / "r.bin").read_bytes()
    events = starts_of(data)
    full = decode(data)
    assert full["pids"] == list(range(1, 121))
    rng = np.random.default_rng(7)
    garbage_seen = 0
    for pos in rng.integers(16 + 88 * 3, len(data), 80).tolist():
        bad = bytearray(data)
        bad[pos] ^= int(rng.integers(1, 256))
        got = decode(bytes(bad))
        k = next(i for i, (s, n) in enumerate(events) if s <= pos < s + n)
        others = full["rows"][:k] + full["rows"][k + 1 :]
        if got["garbage"]:
            garbage_seen += 1
            assert got["garbage"][0][:2] == events[k], pos
            assert len(got["garbage"]) == 1 and got["rows"] == others, pos
        else:
            assert got["rows"][:k] + got["rows"][k + 1 :] == others, pos
            assert got["rows"][k] != full["rows"][k], pos  # the flip shows in its values
    assert garbage_seen > 0


def test_corrupted_event_length_in_the_header(pulser):
    """Channel 0's event length word made 4 words longer: its events no longer add up and
    become garbage, channel 4's events all decode."""
    data = bytearray(pulser)
    struct.pack_into("<I", data, 16 + 16 * 4, 6013 + 4)
    got = decode(bytes(data))
    full = decode(pulser)
    ch4 = [i for i, (s, _) in enumerate(starts_of(pulser)) if pulser[s] >> 4 == 4]
    assert len(ch4) == 37
    assert got["rows"] == [full["rows"][i] for i in ch4]
    assert got["garbage"] and got["garbage"][0][0] == HEADER
    assert all(code != GarbageCode.TRUNCATED for *_, code, _ in got["garbage"])


def test_long_damaged_region_is_split_and_decoding_resumes(pulser):
    events = starts_of(pulser)
    s, _ = events[20]
    junk = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    data = pulser[:s] + junk + pulser[s:]
    got = decode(data, max_garbage=1000)
    assert got["pids"] == list(range(1, 75))
    assert [(o, n) for o, n, _, _ in got["garbage"]] == [(s + 1000 * i, 1000) for i in range(5)]
    assert {pid for *_, pid in got["garbage"]} == {21}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ((0, "<I", 0x12345678), "not a LlamaDAQ file: magic word 0x12345678"),
        ((10, "<H", 64), "channel config size 64 bytes"),
        ((12, "<I", 9), "offset 192: impossible channel config: FADC id 3"),  # an event
        ((12, "<I", 5000), "5000 open channels"),
        ((16 + 16, "<d", 0.0), "impossible config of channel 0: sample frequency 0.0"),
        ((16 + 88 + 4, "<I", 0), "two channel configs for FADC 0 channel 0"),
        ((16 + 88 + 4, "<I", 16), "impossible channel config: FADC id 0, channel id 16"),
        ((16 + 4 * 16, "<I", 10), "impossible config of channel 0: sample lengths"),
    ],
)
def test_damaged_header_is_a_one_line_error(pulser, patch, message):
    data = bytearray(pulser)
    at, fmt, value = patch
    struct.pack_into(fmt, data, at, value)
    with pytest.raises(RawconvError) as err:
        decode(bytes(data), name="hdr.bin")
    assert message in str(err.value)
    assert err.value.path == "hdr.bin" and "\n" not in str(err.value)


def test_truncated_file_converts_and_cli_reports(pulser, tmp_path):
    events = starts_of(pulser)
    s, _ = events[-2]
    src = tmp_path / "20241218-150158-cut.bin"
    src.write_bytes(pulser[: s + 100])
    report = build_raw(str(src))
    out = tmp_path / "20241218-150158-cut.lh5"
    assert report.tables[f"{out}:/LLAMAEvent_0"] + report.tables[f"{out}:/LLAMAEvent_4"] == 72
    with h5py.File(out, "r") as f:
        assert f["garbage/offset"][()].tolist() == [s]
        assert f["garbage/packet/cumulative_length"][()].tolist() == [100]
    bad = tmp_path / "bad.bin"
    bad.write_bytes(pulser[:100])
    run = subprocess.run([sys.executable, "-m", "rawconv.cli", str(bad)], capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"rawconv: error: {bad}, offset 100: input ends inside the LlamaDAQ channel "
        "configs (100 of 192 bytes)"
    ]
