"""Damaged ORCA input never crashes or hangs: damaged records go to the garbage table with a
code and their offset, decoding resumes at the next valid record, and every valid record
before and after the damage is kept."""

from __future__ import annotations

import struct

import h5py
import numpy as np
import pytest

from rawconv import GarbageCode, RawconvError, build_raw
from rawconv.formats.orca.streamer import OrcaStreamer
from rawconv.sources import MemorySource
from tests.formats.orca.files import fcio_file, mixed_file, record_offsets

MIXED = mixed_file()
FCIO = fcio_file(fsp=False)


def _convert(data: bytes, path, block_bytes: int | None = None):
    if block_bytes is None:
        return build_raw(MemorySource(data, "in.orca"), out_spec=str(path), in_stream_type="ORCA")
    from rawconv.buffers import write_to_lh5_and_clear
    from rawconv.lh5.writer import LH5Writer

    s = OrcaStreamer(block_bytes=block_bytes)
    writer = LH5Writer(atomic=False)
    write_to_lh5_and_clear(s.open_stream(MemorySource(data, "in.orca"), out_stream=str(path)),
                           writer)  # fmt: skip
    for chunk in s:
        write_to_lh5_and_clear(chunk, writer)
    s.garbage.write_out_garbage(str(path), "/", lh5_store=writer)
    writer.close()
    return s


def _rows(path) -> dict[str, dict[int, list]]:
    """table -> packet id -> row values (every column but packet_id)."""
    out: dict[str, dict[int, list]] = {}
    with h5py.File(path, "r") as f:
        for name in f:
            if name == "garbage" or "packet_id" not in getattr(f[name], "keys", lambda: ())():
                continue
            cols: dict[str, np.ndarray] = {}
            f[name].visititems(lambda n, o, c=cols: c.__setitem__(n, o[()])
                               if isinstance(o, h5py.Dataset) else None)  # fmt: skip
            pid = cols["packet_id"]
            flat = {n: v for n, v in cols.items() if len(v) == len(pid) and n != "packet_id"}
            table = out.setdefault(name, {})
            for r, p in enumerate(pid.tolist()):
                table.setdefault(p, []).append([np.asarray(v[r]).tolist() for v in flat.values()])
    return out


def _garbage(path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        g = f["garbage"]
        return {"code": g["code"][()], "offset": g["offset"][()],
                "packet_id": g["packet_id"][()],
                "bytes": g["packet/cumulative_length"][()]}  # fmt: skip


def _check_kept(good, bad, lost: set[int], shift_after: int | None = None) -> None:
    """Every row of `good` but those of packets `lost` is in `bad` (packet ids after
    `shift_after` one higher there: the damaged region took one)."""
    want, got = _rows(good), _rows(bad)
    assert sorted(got) == sorted(want)
    for table, rows in want.items():
        expected = {(p + 1 if shift_after is not None and p > shift_after else p): r
                    for p, r in rows.items() if p not in lost}  # fmt: skip
        kept = {p: [row[1:] for row in r] for p, r in got[table].items()}
        assert sorted(kept) == sorted(expected), table
        for p, r in expected.items():
            assert kept[p] == [row[1:] for row in r], (table, p)


def _patch(data: bytes, offset: int, word: int) -> bytes:
    return data[:offset] + struct.pack("<I", word) + data[offset + 4 :]


@pytest.fixture(scope="module")
def good_mixed(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "mixed.lh5"
    _convert(MIXED, path)
    return path


def _waveform_record(data: bytes, which: int = 5) -> tuple[int, int, int]:
    """(index, offset, bytes) of a legacy waveform record in the middle."""
    recs = record_offsets(data)
    waves = [i for i, (o, n) in enumerate(recs) if n == 4 * 25]
    i = waves[which]
    return i, *recs[i]


@pytest.mark.parametrize("word1", [0, 1, 0xFFFFFFFF])
def test_impossible_length_resyncs(tmp_path, good_mixed, word1):
    i, off, n = _waveform_record(MIXED)
    w0 = struct.unpack_from("<I", MIXED, off)[0]
    data = _patch(_patch(MIXED, off, w0 & 0xFFFC0000), off + 4, word1)  # length 0: extended
    report = _convert(data, tmp_path / "bad.lh5")
    _check_kept(good_mixed, tmp_path / "bad.lh5", lost={i + 1})
    g = _garbage(tmp_path / "bad.lh5")
    assert g["code"].tolist() == [GarbageCode.BAD_LENGTH]
    assert g["offset"].tolist() == [off]
    assert g["packet_id"].tolist() == [i + 1]
    assert g["bytes"].tolist() == [n]
    assert any(f"skipped {n} bytes from offset {off} to {off + n}" in p for p in report.problems)


@pytest.mark.parametrize("junk", [1, 7, 4096 + 3])
@pytest.mark.parametrize("block_bytes", [None, 4096])
def test_inserted_junk_resyncs(tmp_path, good_mixed, junk, block_bytes):
    i, off, _ = _waveform_record(MIXED)
    rng = np.random.default_rng(junk)
    data = MIXED[:off] + bytes(rng.integers(1, 255, junk, dtype=np.uint8)) + MIXED[off:]
    _convert(data, tmp_path / "bad.lh5", block_bytes)
    _check_kept(good_mixed, tmp_path / "bad.lh5", lost=set(), shift_after=i)
    g = _garbage(tmp_path / "bad.lh5")
    assert g["offset"].tolist() == [off]
    assert g["bytes"].tolist() == [junk]
    assert g["code"][0] in (GarbageCode.BAD_LENGTH, GarbageCode.UNKNOWN_TYPE)


def test_bad_payload_goes_to_garbage(tmp_path, good_mixed):
    i, off, n = _waveform_record(MIXED)
    w1 = struct.unpack_from("<I", MIXED, off + 4)[0]
    data = _patch(MIXED, off + 4, w1 ^ (1 << 6))  # nsamples no longer matches the length
    report = _convert(data, tmp_path / "bad.lh5")
    _check_kept(good_mixed, tmp_path / "bad.lh5", lost={i + 1})
    g = _garbage(tmp_path / "bad.lh5")
    assert g["code"].tolist() == [GarbageCode.BAD_PAYLOAD]
    assert (g["offset"].tolist(), g["bytes"].tolist()) == ([off], [n])
    assert any(f"record {i + 1} (ORFlashCamADCWaveformDecoder" in p for p in report.problems)


def test_undescribed_id_is_skipped_by_length(tmp_path, good_mixed):
    i, off, n = _waveform_record(MIXED)
    w0 = struct.unpack_from("<I", MIXED, off)[0]
    data = _patch(MIXED, off, (0x3FF0 << 18) | (w0 & 0x3FFFF))  # an id the header lacks
    _convert(data, tmp_path / "bad.lh5")
    _check_kept(good_mixed, tmp_path / "bad.lh5", lost={i + 1})
    g = _garbage(tmp_path / "bad.lh5")
    assert g["code"].tolist() == [GarbageCode.UNKNOWN_TYPE]
    assert (g["offset"].tolist(), g["bytes"].tolist()) == ([off], [n])


def test_damaged_fcio_payload(tmp_path):
    good = tmp_path / "good.lh5"
    _convert(FCIO, good)
    recs = record_offsets(FCIO)
    i = 6  # an event record of listener 1 in the middle
    off, n = recs[i]
    data = _patch(FCIO, off + 12 + 4, 0x7FFFFFF0)  # a frame longer than the record
    _convert(data, tmp_path / "bad.lh5")
    _check_kept(good, tmp_path / "bad.lh5", lost={i + 1})
    g = _garbage(tmp_path / "bad.lh5")
    assert g["code"].tolist() == [GarbageCode.BAD_PAYLOAD]
    assert (g["offset"].tolist(), g["bytes"].tolist()) == ([off], [n])


def test_truncated_input(tmp_path, good_mixed):
    recs = record_offsets(MIXED)
    off, n = recs[-3]
    data = MIXED[: off + n // 2]
    report = _convert(data, tmp_path / "bad.lh5")
    g = _garbage(tmp_path / "bad.lh5")
    assert g["code"].tolist() == [GarbageCode.TRUNCATED]
    assert (g["offset"].tolist(), g["bytes"].tolist()) == ([off], [n // 2])
    assert any("input ends inside a record" in p for p in report.problems)
    want, got = _rows(good_mixed), _rows(tmp_path / "bad.lh5")
    for table, rows in got.items():
        assert rows == {p: r for p, r in want[table].items() if p <= len(recs) - 3}


def test_every_byte_flip_is_survived(tmp_path):
    """Damage anywhere in a small file: no crash, no hang."""
    data = bytearray(fcio_file(n=2))
    rng = np.random.default_rng(1)
    for k, pos in enumerate(rng.integers(0, len(data), 40).tolist()):
        bad = bytearray(data)
        bad[pos] ^= 0xFF
        try:
            _convert(bytes(bad), tmp_path / f"flip{k}.lh5", block_bytes=2048)
        except RawconvError as exc:  # header damage, or a changed event shape
            assert exc.path == "in.orca"


def test_not_orca_and_damaged_header(tmp_path):
    with pytest.raises(RawconvError, match="not an ORCA file"):
        OrcaStreamer().open_stream(MemorySource(b"\0" * 64, "x.orca"))
    with pytest.raises(RawconvError, match="inside the ORCA header"):
        OrcaStreamer().open_stream(MemorySource(MIXED[:100], "x.orca"))
    words = struct.unpack_from("<I", MIXED, 0)[0]
    broken = MIXED[:8] + b"<?xml junk" + MIXED[18:]  # a damaged declaration: read leniently
    streamer = OrcaStreamer()
    streamer.open_stream(MemorySource(broken, "x.orca"))
    assert any("ORCA header XML is damaged" in p for p in streamer.problems)
    assert "dataDescription" in streamer.header
    n_xml = struct.unpack_from("<I", MIXED, 4)[0]
    junk = MIXED[:8] + b"<?xml" + b"x" * (n_xml - 5) + MIXED[8 + n_xml :]  # no plist left
    with pytest.raises(RawconvError, match="XML does not parse") as info:
        OrcaStreamer().open_stream(MemorySource(junk, "x.orca"))
    assert info.value.offset == 0 and info.value.record == 0 and words > 0
