"""rawconv-parallel output equals serial build_raw output for CoMPASS files, at every chunk
size (one event per chunk included), with and without header and settings XML, and the
CoMPASS index and resume state check themselves."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawconv.parallel import convert

from rawconv import build_raw
from rawconv.formats import get_format
from rawconv.formats.compass.index import CompassIndex, CompassResume, build_compass_index
from rawconv.formats.compass.layout import EventLayout
from rawconv.formats.compass.writer import (
    SettingsBoard,
    encode_events,
    random_events,
    write_compass,
    write_settings,
)
from tests.conftest import data_file
from tests.parallel.conftest import assert_same_lh5, lh5_files, stem

CHANNELS = {
    "CompassEventDecoder": {
        "ch{key}": {"key_list": ["*"], "out_stream": "{dir}/{orig_basename}.lh5:/ch"}
    }
}
FIXTURE = [HealthCheck.function_scoped_fixture]
ON = {"SRV_PARAM_CH_ENABLED": "true"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The real file, a header-less part with calibrated energies, a file with a damaged
    length word, and a settings XML."""
    d = tmp_path_factory.mktemp("in")
    shutil.copy(data_file("compass/compass_test_data.BIN"), d / "real.BIN")
    events = random_events(150, 30, keys=[(0, 0), (0, 1), (1, 5), (0, 20)], seed=5)
    write_compass(d / "part.BIN", events, 0xF, header=False)
    layout = EventLayout(0xD)
    data = bytearray(b"\xed\xca" + encode_events(events, layout))
    at = 2 + 40 * layout.event_bytes(30) + layout.off_nsamples
    data[at : at + 4] = b"\xff\xff\x00\x00"
    (d / "damaged.BIN").write_bytes(bytes(data))
    board = SettingsBoard("DT5725", sample_time_ps=None, reclen_ns=120.0, channels={0: ON, 6: ON})
    write_settings(d / "settings.xml", [board])
    return d


def _serial(files, out, spec=None, **kw):
    for f in files:
        if spec is None:
            build_raw(str(f), out_spec=str(out / f"{stem(f)}.lh5"), **kw)
        else:
            build_raw(str(f), out_spec=spec, dir=str(out), orig_basename=stem(f), **kw)


def _compare(serial, par):
    assert lh5_files(serial) == lh5_files(par)
    return sum(assert_same_lh5(serial / n, par / n) for n in lh5_files(serial))


@pytest.mark.parametrize("chunk_size", [1, 7_000, 10**9])
def test_identity_for_chunk_sizes(inputs, client, tmp_path, chunk_size):
    files = [inputs / "real.BIN", inputs / "damaged.BIN"]
    serial, par = tmp_path / "serial", tmp_path / "par"
    serial.mkdir()
    par.mkdir()
    _serial(files, serial)
    report = convert([str(f) for f in files], out_spec=str(par / "{orig_basename}.lh5"),
                     client=client, chunk_size=chunk_size, scratch=tmp_path / "scratch",
                     cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert [f.status for f in report.files] == ["done", "done"], report.summary()
    if chunk_size == 1:  # one event per chunk; none starts right after the damage
        assert report.files[0].chunks == 102
        assert report.files[1].chunks == 150 - 1 - 3
    assert _compare(serial, par) >= 20


def test_identity_with_settings_and_without_header(inputs, client, tmp_path):
    """The settings file travels to the tasks as the build_raw keyword; the header-less
    part is converted with the stream type given, per channel."""
    serial, par = tmp_path / "serial", tmp_path / "par"
    serial.mkdir()
    par.mkdir()
    xml = str(inputs / "settings.xml")
    _serial([inputs / "real.BIN"], serial, compass_config_file=xml)
    _serial([inputs / "part.BIN"], serial, CHANNELS, in_stream_type="Compass")
    report = convert([str(inputs / "real.BIN")], out_spec=str(par / "{orig_basename}.lh5"),
                     client=client, chunk_size=20_000, scratch=tmp_path / "s1",
                     compass_config_file=xml)  # fmt: skip
    assert report.files[0].chunks > 5 and report.files[0].status == "done"
    report = convert([str(inputs / "part.BIN")], out_spec=CHANNELS, dir=str(par),
                     stream_type="Compass", client=client, chunk_size=2_000,
                     scratch=tmp_path / "s2")  # fmt: skip
    assert report.files[0].chunks > 5 and report.files[0].status == "done"
    assert _compare(serial, par) >= 30


@settings(max_examples=3, deadline=None, suppress_health_check=FIXTURE)
@given(chunk_size=st.integers(500, 60_000))
def test_identity_property(inputs, client, tmp_path_factory, chunk_size):
    tmp = tmp_path_factory.mktemp("prop")
    serial, par = tmp / "serial", tmp / "par"
    serial.mkdir()
    par.mkdir()
    files = [inputs / "part.BIN"]
    _serial(files, serial, CHANNELS, in_stream_type="Compass")
    report = convert([str(f) for f in files], out_spec=CHANNELS, dir=str(par),
                     stream_type="Compass", client=client, chunk_size=chunk_size,
                     scratch=tmp / "scratch", cache_dir=str(tmp / "cache"))  # fmt: skip
    assert report.files[0].status == "done", report.summary()
    _compare(serial, par)


def test_index_and_resume_state(inputs, tmp_path):
    index = build_compass_index(str(inputs / "damaged.BIN"))
    size = EventLayout(0xD).event_bytes(30)
    assert len(index.records) == 149 and index.size == 2 + 150 * size
    assert index.records["pid"].tolist() == [*range(1, 41), *range(42, 151)]
    assert index.records["start"][40] == 2 + 41 * size  # the damaged event is a gap
    assert 40 not in index.boundaries() and 41 not in index.boundaries()
    assert 39 in index.boundaries() and 43 in index.boundaries()
    assert get_format("compass").index_class() is CompassIndex
    index.save(tmp_path / "i.npz", ("x",))
    again = CompassIndex.load(tmp_path / "i.npz", ("x",))
    np.testing.assert_array_equal(again.records, index.records)
    assert (again.flags, again.wf_len, again.header) == (0xD, 30, True)
    with pytest.raises(ValueError, match="inside the file header"):
        CompassResume(1, 10, 1, flags=0xD)
    with pytest.raises(ValueError, match="not 4 bits"):
        CompassResume(2, 10, 1, flags=0x1D)
    with pytest.raises(ValueError, match="negative packet counter"):
        CompassResume(2, 10, 1, pid_counter=-1)
