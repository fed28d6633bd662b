"""A damaged XML header (a flipped byte in its text) no longer loses the file: the plist is
read leniently, the data records convert, and the report says what was guessed."""

from __future__ import annotations

import plistlib
import struct

import h5py
import numpy as np
import pytest

from rawconv import build_raw
from rawconv.errors import RawconvError
from rawconv.formats.orca.plist import parse_lenient
from tests.conftest import data_file

P14 = "orca/fcio/l200-p14-r004-cal-20250606T010224Z.orca"


def _xml_span(raw: bytes) -> tuple[int, int]:
    _, n_xml = struct.unpack_from("<II", raw, 0)
    return 8, 8 + n_xml


def _data_tables(path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()])
                     if isinstance(o, h5py.Dataset) and not n.startswith("OrcaHeader")
                     else None)  # fmt: skip
    return out


def test_lenient_reader_equals_plistlib_on_valid_xml():
    raw = data_file(P14).read_bytes()
    a, b = _xml_span(raw)
    valid = plistlib.loads(raw[a:b].rstrip(b"\0"), fmt=plistlib.FMT_XML)
    value, damaged = parse_lenient(raw[a:b])
    assert damaged == 0
    assert value == valid


def test_lenient_reader_repairs_hand_built_damage():
    xml = (b"<?xml version='1.0'?><plist><dict><key>a</key><integer>1</integez>"
           b"<key>b</key><array><string>x &amp; y</string><true/></array>"
           b"<kez>c</key><string>lost</string><key>d</key><real>2.5</real></dict></plist>")
    value, damaged = parse_lenient(xml)
    assert value == {"a": 1, "b": ["x & y", True], "c": "lost", "d": 2.5}
    assert damaged == 2  # two tag names one letter off, read as the tags they stand for


@pytest.mark.parametrize("target", [b"</key>", b"<integer>", b"</dict>", b"<string>"])
def test_a_flipped_byte_in_the_header_keeps_the_data(tmp_path, target):
    src = data_file(P14)
    raw = bytearray(src.read_bytes())
    a, b = _xml_span(raw)
    where = raw.index(target, a + (b - a) // 2)  # in the middle of the header
    raw[where + len(target) - 2] ^= 0x01  # a letter of the tag name
    bad = tmp_path / "bad.orca"
    bad.write_bytes(bytes(raw))
    good_out, bad_out = tmp_path / "good.lh5", tmp_path / "bad.lh5"
    build_raw(str(src), out_spec=str(good_out))
    report = build_raw(str(bad), out_spec=str(bad_out))
    assert any("ORCA header XML is damaged" in p for p in report.problems)
    good, got = _data_tables(good_out), _data_tables(bad_out)
    assert sorted(got) == sorted(good)
    for name, values in good.items():
        np.testing.assert_array_equal(got[name], values, err_msg=name)


def test_random_flips_in_the_header_never_crash(tmp_path):
    src = data_file(P14)
    raw = src.read_bytes()
    a, b = _xml_span(raw)
    rng = np.random.default_rng(7)
    converted = 0
    for k, pos in enumerate(rng.integers(a, b, 12).tolist()):
        bad = bytearray(raw)
        bad[pos] ^= 1 << int(rng.integers(0, 8))
        path = tmp_path / f"f{k}.orca"
        path.write_bytes(bytes(bad))
        try:
            build_raw(str(path), out_spec=str(tmp_path / f"f{k}.lh5"))
            converted += 1
        except RawconvError as exc:  # a clear error naming the file is acceptable
            assert str(path) in str(exc)
    assert converted >= 9  # most flips land in text or tags the data does not depend on
