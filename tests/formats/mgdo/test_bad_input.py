"""Damaged MGDO files: a clear one-line error or garbage rows, never a traceback or a
hang, and every entry before the damage (every undamaged entry, where the file tells where
they are) kept with its values."""

from __future__ import annotations

import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawconv import build_raw
from rawconv.cli import main
from rawconv.errors import RawconvError
from rawconv.formats.mgdo.writer import rebasket
from tests.formats.mgdo.files import basket_seeks, baskets, mgdo_file

KEYLEN = 74  # the test file's basket keys
HYPO = settings(max_examples=12, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


def tables(path: Path) -> dict[str, np.ndarray]:
    """Columns that identify every row: packet ids, channels, energies, samples."""
    with h5py.File(path) as f:
        return {
            "pid": f["MGDOEvent/packet_id"][()],
            "channel": f["MGDOEvent/channel"][()],
            "energy": f["MGDOEvent/energy"][()],
            "timestamp": f["MGDOEvent/timestamp"][()],
            "values": f["MGDOEvent/waveform/values"][()],
            "aux_pid": f["MGDOAuxWaveform/packet_id"][()],
            "aux_values": f["MGDOAuxWaveform/waveform/values"][()],
        }


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict[str, np.ndarray]:
    out = tmp_path_factory.mktemp("clean") / "clean.lh5"
    build_raw(str(mgdo_file()), out_spec=str(out))
    return tables(out)


def assert_entries_kept(got: dict, clean: dict, pids: set[int]) -> None:
    """The rows of entries `pids` are in `got` exactly as in the clean conversion."""
    for key, pid_key in (("values", "pid"), ("channel", "pid"), ("energy", "pid"),
                         ("timestamp", "pid"), ("aux_values", "aux_pid")):  # fmt: skip
        want = np.isin(clean[pid_key], list(pids))
        have = np.isin(got[pid_key], list(pids))
        np.testing.assert_array_equal(got[key][have], clean[key][want], err_msg=key)


def decompressible_entries(raw: bytes, seek: int, cut: int, offsets: list[int]) -> int:
    """Entries of the basket at `seek` whose bytes a zlib stream cut at `cut` still gives."""
    got = zlib.decompressobj().decompress(raw[seek + KEYLEN + 9 : cut])
    return sum(1 for end in offsets[1:] if end <= len(got))


@pytest.mark.parametrize("where", ["in basket 0", "at basket 1", "in basket 2", "after the baskets",
                                   "in the metadata"])  # fmt: skip
def test_truncated_file_keeps_complete_entries(where, clean, tmp_path):
    raw = mgdo_file().read_bytes()
    seeks = basket_seeks(mgdo_file())
    cut = {"in basket 0": seeks[0][0] + 20000, "at basket 1": seeks[1][0],
           "in basket 2": seeks[2][0] + 15000, "after the baskets": sum(seeks[3]),
           "in the metadata": len(raw) - 50}[where]  # fmt: skip
    bad = tmp_path / "cut.root"
    bad.write_bytes(raw[:cut])
    entries = baskets(mgdo_file())
    expected, first = 0, 0
    for (seek, nbytes), ents in zip(seeks, entries):
        if seek + nbytes <= cut:
            expected = first + len(ents)
        elif seek < cut:
            offsets = np.cumsum([0] + [len(e) for e in ents]).tolist()
            expected = first + decompressible_entries(raw, seek, cut, offsets)
            break
        first += len(ents)
    assert expected >= {"in basket 0": 2, "in basket 2": 6}.get(where, 0)
    out = tmp_path / "cut.lh5"
    report = build_raw(str(bad), out_spec=str(out))
    got = tables(out)
    assert sorted(set(got["pid"].tolist())) == list(range(expected))
    assert_entries_kept(got, clean, set(range(expected)))
    if where != "in the metadata":
        assert any("recovered from the keys" in p for p in report.problems)


def test_file_cut_before_any_basket_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "head.root"
    bad.write_bytes(mgdo_file().read_bytes()[:400])
    with pytest.raises(RawconvError, match="finds no basket"):
        build_raw(str(bad), out_spec=str(tmp_path / "x.lh5"))
    assert main([str(bad), "-o", str(tmp_path / "y.lh5")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"rawconv: error: {bad}")
    assert "Traceback" not in err


@pytest.mark.parametrize("begin", [-(2**31), -704643072, 2**31 - 1])
def test_impossible_first_key_offset_is_a_one_line_error(tmp_path, capsys, begin):
    """fBEGIN (offset 8 of the file header) out of the file, as after a byte inserted
    before it (-704643072: tests/fuzz/corpus/MGDO/4-2815.json), with a directory that
    does not read: no OSError from a read at a negative offset, but the error of a file
    whose keys cannot be walked."""
    data = bytearray(mgdo_file().read_bytes())
    data[8:12] = begin.to_bytes(4, "big", signed=True)
    data[60:] = bytes(len(data) - 60)  # the directory after the header no longer reads
    bad = tmp_path / "bad.root"
    bad.write_bytes(bytes(data))
    with pytest.raises(RawconvError, match=rf"impossible offset of the first key \({begin}\)"):
        build_raw(str(bad), out_spec=str(tmp_path / "x.lh5"))
    assert main([str(bad), "-o", str(tmp_path / "y.lh5")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"rawconv: error: {bad}")


def test_flipped_byte_in_compressed_basket(clean, tmp_path):
    raw = bytearray(mgdo_file().read_bytes())
    seek, _ = basket_seeks(mgdo_file())[1]
    raw[seek + KEYLEN + 500] ^= 0x5A
    bad = tmp_path / "flip.root"
    bad.write_bytes(bytes(raw))
    out = tmp_path / "flip.lh5"
    report = build_raw(str(bad), out_spec=str(out))
    got = tables(out)
    assert sorted(set(got["pid"].tolist())) == [0, 1, 2, 3, 5, 6, 7, 8, 9, 10]
    assert_entries_kept(got, clean, {0, 1, 2, 3, 5, 6, 7, 8, 9, 10})
    assert len(report.problems) == 1 and f"offset {seek}" in report.problems[0]
    with h5py.File(out) as f:
        assert f["garbage/packet_id"][()].tolist() == [4]
        assert f["garbage/offset"][()].tolist() == [seek]
        assert f["garbage/code"][()].tolist() == [2]


def _rebasketed(tmp_path: Path, entries: list[bytes]) -> Path:
    path = tmp_path / "re.root"
    rebasket(mgdo_file(), path, [entries[:4], entries[4:5], entries[5:9], entries[9:]])
    return path


def test_rebasketed_file_converts_like_the_original(clean, tmp_path):
    path = _rebasketed(tmp_path, [e for b in baskets(mgdo_file()) for e in b])
    build_raw(str(path), out_spec=str(tmp_path / "re.lh5"))
    got = tables(tmp_path / "re.lh5")
    for key in clean:
        np.testing.assert_array_equal(got[key], clean[key], err_msg=key)


@HYPO
@given(k=st.integers(0, 10), where=st.floats(0, 1, exclude_max=True), xor=st.integers(1, 255))
def test_flipped_byte_in_an_entry(clean, tmp_path, k, where, xor):
    entries = [bytearray(e) for b in baskets(mgdo_file()) for e in b]
    pos = int(where * len(entries[k]))
    entries[k][pos] ^= xor
    path = _rebasketed(tmp_path, [bytes(e) for e in entries])
    out = tmp_path / "e.lh5"
    report = build_raw(str(path), out_spec=str(out), overwrite=True)
    got = tables(out)
    others = set(range(11)) - {k}
    assert set(got["pid"].tolist()) >= others
    assert_entries_kept(got, clean, others)
    with h5py.File(out) as f:
        garbage = f["garbage/packet_id"][()].tolist() if "garbage" in f else []
    assert garbage in ([], [k])
    if garbage:
        assert k not in got["pid"] and k not in got["aux_pid"]
        assert len(report.problems) == 1 and report.problems[0].count(f"entry {k} ") == 1


@HYPO
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                      min_size=1, max_size=3))  # fmt: skip
def test_flipped_bytes_anywhere(clean, tmp_path, capsys, flips):
    raw = bytearray(mgdo_file().read_bytes())
    offsets = []
    for where, xor in flips:
        offsets.append(int(where * len(raw)))
        raw[offsets[-1]] ^= xor
    bad = tmp_path / "any.root"
    bad.write_bytes(bytes(raw))
    out = tmp_path / "any.lh5"
    capsys.readouterr()
    rc = main([str(bad), "-o", str(out), "--overwrite", "-q"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    first, before = 0, set()
    for (seek, nbytes), ents in zip(basket_seeks(mgdo_file()), baskets(mgdo_file())):
        if seek + nbytes <= min(offsets):
            before |= set(range(first, first + len(ents)))
        first += len(ents)
    if rc == 1:
        assert not before and err.startswith("rawconv: error: ") and err.count("\n") == 1
        return
    assert rc == 0
    assert_entries_kept(tables(out), clean, before)
