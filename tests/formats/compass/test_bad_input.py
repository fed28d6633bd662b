"""Damaged CoMPASS input never crashes or hangs: a cut event and a damaged length word go
to the garbage table (code, offset, bytes) and decoding goes on at the next valid event;
every complete event before the damage is kept; what cannot be read at all gives a
one-line error naming the input."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawconv import GarbageCode, RawconvError, build_raw
from rawconv.cli import main
from rawconv.formats.compass.config import read_config
from rawconv.formats.compass.layout import EventLayout
from rawconv.formats.compass.writer import encode_events, random_events, write_compass
from rawconv.sources import MemorySource
from tests.formats.compass.oracle import read_events

FLAGS = 0xD  # energy, energy short, waveform: events of 12 + 2 + 2 + 4 + 5 + 2 * 5 bytes
WF_LEN = 5
EVENT = 35
N = 8
EVENTS = random_events(N, WF_LEN, keys=[(0, 0), (0, 1), (1, 2)], seed=11)
DATA = b"\xed\xca" + encode_events(EVENTS, EventLayout(FLAGS))
NS_FIELD = 2 + 12 + 2 + 2 + 4 + 1  # offset of the first event's sample count


def _convert(data: bytes, tmp_path, name="o.lh5"):
    out = tmp_path / name
    report = build_raw(MemorySource(data, "in.BIN"), in_stream_type="Compass",
                       out_spec=str(out), overwrite=True)  # fmt: skip
    return report, out


def _rows(out) -> dict[int, tuple]:
    """packet id -> (board, channel, timestamp, energy, energy_short, flags, samples)."""
    if not out.exists():
        return {}
    with h5py.File(out, "r") as f:
        if "CompassEvent" not in f:
            return {}
    ev = read_events(out)
    return {
        int(p): (int(b), int(c), float(t), int(e), int(s), int(fl), tuple(w.tolist()))
        for p, b, c, t, e, s, fl, w in zip(
            ev["packet_id"], ev["board"], ev["channel"], ev["timestamp"], ev["energy"],
            ev["energy_short"], ev["flags"], ev["waveform/values"])
    }  # fmt: skip


ORIGINAL = {
    i + 1: (int(EVENTS.board[i]), int(EVENTS.channel[i]), float(EVENTS.timestamp[i]),
            int(EVENTS.energy[i]), int(EVENTS.energy_short[i]), int(EVENTS.flags[i]),
            tuple(EVENTS.waveforms[i].tolist()))
    for i in range(N)
}  # fmt: skip


def _garbage(out) -> list[tuple[int, int, int, bytes]]:
    with h5py.File(out, "r") as f:
        if "garbage" not in f:
            return []
        g = f["garbage"]
        cl = g["packet/cumulative_length"][:]
        flat = g["packet/flattened_data"][:]
        starts = np.concatenate(([0], cl[:-1]))
        return [(int(p), int(c), int(o), flat[s:e].tobytes()) for p, c, o, s, e in
                zip(g["packet_id"][:], g["code"][:], g["offset"][:], starts, cl)]  # fmt: skip


def test_truncation_at_every_byte(tmp_path):
    """Every cut in the header and the first two events, every 5th byte after."""
    cuts = sorted({*range(2 + 2 * EVENT + 1), *range(2 + 2 * EVENT, len(DATA) + 1, 5)})
    for cut in cuts:
        data = DATA[:cut]
        if cut < 2:
            with pytest.raises(RawconvError) as exc:
                _convert(data, tmp_path)
            assert "in.BIN" in str(exc.value) and "\n" not in str(exc.value)
            continue
        report, out = _convert(data, tmp_path)
        complete = (cut - 2) // EVENT
        assert _rows(out) == {p: ORIGINAL[p] for p in range(1, complete + 1)}, cut
        tail = (cut - 2) % EVENT
        if tail:
            assert _garbage(out) == [(complete + 1, GarbageCode.TRUNCATED, 2 + complete * EVENT,
                                      data[2 + complete * EVENT :])], cut  # fmt: skip
            assert any("incomplete event" in p for p in report.problems)
        else:
            assert _garbage(out) == [] and report.problems == []


@pytest.mark.parametrize("k", range(N))
def test_damaged_length_word_is_one_garbage_row(tmp_path, k):
    """Event k's sample count corrupted: it becomes a garbage row with its packet id;
    events before and after are decoded with their own packet ids."""
    data = bytearray(DATA)
    at = NS_FIELD + k * EVENT
    data[at : at + 4] = (70000).to_bytes(4, "little")
    report, out = _convert(bytes(data), tmp_path)
    assert _rows(out) == {p: v for p, v in ORIGINAL.items() if p != k + 1}
    assert _garbage(out) == [(k + 1, GarbageCode.BAD_LENGTH, 2 + k * EVENT,
                              bytes(data[2 + k * EVENT : 2 + (k + 1) * EVENT]))]  # fmt: skip
    assert any("damaged length word" in p for p in report.problems)


def test_length_change_without_recovery_is_an_error(tmp_path):
    """Events of another record length after the first ones: no valid event follows the
    first foreign one; the conversion fails with an error naming where."""
    longer = random_events(40, 900, seed=3)
    data = DATA + encode_events(longer, EventLayout(FLAGS))
    _, out = _convert(data, tmp_path)  # within MAX_RESYNC_BYTES: one garbage row
    assert _rows(out) == ORIGINAL
    assert _garbage(out)[0][:3] == (N + 1, GarbageCode.BAD_LENGTH, len(DATA))
    import rawconv.formats.compass.streamer as streamer

    saved = streamer.MAX_RESYNC_BYTES
    streamer.MAX_RESYNC_BYTES = 1 << 12
    try:
        with pytest.raises(RawconvError, match=r"offset 282.*no valid event follows"):
            s = streamer.CompassStreamer(block_bytes=1 << 10)
            s.open_stream(MemorySource(data, "in.BIN"), out_stream="")
            while s.read_chunk():
                pass
    finally:
        streamer.MAX_RESYNC_BYTES = saved


@settings(max_examples=60, deadline=None)
@given(pos=st.integers(0, len(DATA) - 1), value=st.integers(1, 255))
def test_flipped_bytes(tmp_path_factory, pos, value):
    """Any byte changed: a one-line RawconvError, or rows of which every event before the
    damaged one is unchanged (the damaged one and later ones may carry changed values)."""
    data = bytearray(DATA)
    data[pos] ^= value
    tmp = tmp_path_factory.mktemp("flip")
    try:
        _, out = _convert(bytes(data), tmp)
    except RawconvError as exc:
        assert "\n" not in str(exc) and "in.BIN" in str(exc)
        assert pos < 2  # only a header made unreadable stops a conversion
        return
    rows = _rows(out)
    damaged = (pos - 2) // EVENT + 1 if pos >= 2 else 0
    for p in range(1, damaged):
        assert rows[p] == ORIGINAL[p], (pos, p)


def test_damaged_header_flags_are_guessed(tmp_path):
    data = bytearray(DATA)
    data[0] = 0xE9  # says: energy and waveform only (no energy short)
    _, out = _convert(bytes(data), tmp_path)
    assert _rows(out) == ORIGINAL


def test_command_line_errors_are_one_line(tmp_path, capsys):
    empty = tmp_path / "empty.BIN"
    empty.write_bytes(b"")
    assert main(["-t", "Compass", str(empty)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "empty.BIN" in err and "Traceback" not in err
    junk = tmp_path / "junk.BIN"
    junk.write_bytes(bytes(range(256)) * 3)
    assert main(["-t", "Compass", str(junk)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a CoMPASS list-mode file" in err
    bad_xml = tmp_path / "bad.xml"
    bad_xml.write_text("<configuration><board><modelName>DT5730</board>")
    good = tmp_path / "good.BIN"
    write_compass(good, EVENTS, FLAGS)
    assert main(["--compass-config", str(bad_xml), str(good)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.xml" in err and "malformed XML" in err


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<configuration><board>", "malformed XML"),
        ("<settings/>", "root element <settings>"),
        ("<configuration/>", "no <board>"),
        ("<configuration><board><modelName>DT5730</modelName></board></configuration>",
         "no SRV_PARAM_RECLEN"),
        ('<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><configuration>&e;'
         "</configuration>", "malformed XML"),
    ],
)  # fmt: skip
def test_bad_settings(tmp_path, text, reason):
    path = tmp_path / "s.xml"
    path.write_text(text)
    with pytest.raises(RawconvError, match=reason) as exc:
        read_config(path)
    assert "s.xml" in str(exc.value)
    with pytest.raises(RawconvError, match="cannot be read"):
        read_config(tmp_path / "missing.xml")
