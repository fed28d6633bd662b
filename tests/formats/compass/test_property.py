"""Writer-made CoMPASS files decode to exactly what was written, for every flag
combination, with and without the file header, with and without the waveform fields and
with and without a settings XML; through build_raw and through the streamer with small
blocks and buffers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rawconv import build_raw
from rawconv.buffers import write_to_lh5_and_clear
from rawconv.formats.compass.streamer import CompassStreamer
from rawconv.formats.compass.writer import (
    SettingsBoard,
    random_events,
    write_compass,
    write_settings,
)
from rawconv.lh5.writer import LH5Writer
from tests.formats.compass.oracle import layouts_explaining, read_events, walk

FIXTURE = [HealthCheck.function_scoped_fixture]
BOARD_DT = {0: 4.0, 1: 2.0}
"""Sampling periods of the settings written below: a DT5725 (family rate) and a DT5730
(sampleTime 2000 ps); other boards get the default 16 ns."""


@st.composite
def files(draw):
    header = draw(st.booleans())
    energy = draw(st.integers(0 if header else 1, 3))
    flags = energy | draw(st.sampled_from([0, 4])) | draw(st.sampled_from([0, 8]))
    wave_fields = True if flags & 8 else draw(st.booleans())
    n = draw(st.integers(1 if not header else 0, 25))
    wf_len = draw(st.integers(1, 40)) if flags & 8 else 0
    keys = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40)), min_size=1,
                         max_size=5, unique=True))  # fmt: skip
    return header, flags, wave_fields, n, wf_len, keys, draw(st.integers(0, 2**31)), \
        draw(st.booleans())


def _write(tmp, spec):
    header, flags, wave_fields, n, wf_len, keys, seed, xml = spec
    events = random_events(n, wf_len, keys=keys, seed=seed)
    path = tmp / "run.BIN"
    write_compass(path, events, flags, header=header, wave_fields=wave_fields)
    xml_path = None
    if xml:
        xml_path = tmp / "run_settings.xml"
        write_settings(xml_path, [
            SettingsBoard("DT5725", sample_time_ps=None, reclen_ns=4.0 * wf_len,
                          channels={0: {"SRV_PARAM_CH_ENABLED": "true"}}),
            SettingsBoard("DT5730", reclen_ns=2.0 * wf_len,
                          channels={3: {"SRV_PARAM_CH_ENABLED": "true", "X": "1"}}),
        ])  # fmt: skip
    return events, path, xml_path


def _expect_equal(out, events, spec, xml_path):
    header, flags, _, n, wf_len, *_ = spec
    got = read_events(out)
    assert got["packet_id"].tolist() == list(range(1, n + 1))
    for name in ("board", "channel", "flags"):
        np.testing.assert_array_equal(got[name], getattr(events, name), err_msg=name)
    np.testing.assert_array_equal(got["timestamp"], events.timestamp.astype(np.float64))
    np.testing.assert_array_equal(got["energy"], events.energy if flags & 1 else 0)
    np.testing.assert_array_equal(got["energy_short"], events.energy_short if flags & 4 else 0)
    np.testing.assert_array_equal(got["num_samples"], np.full(n, wf_len))
    assert ("energy_calibrated" in got) == bool(flags & 2)
    if flags & 2:
        np.testing.assert_array_equal(got["energy_calibrated"], events.calibrated)
    assert ("waveform/values" in got) == (wf_len > 0)
    if wf_len:
        np.testing.assert_array_equal(got["waveform/values"], events.waveforms)
        dt = [BOARD_DT.get(int(b), 16.0) if xml_path else 16.0 for b in events.board]
        np.testing.assert_array_equal(got["waveform/dt"], np.array(dt, np.float32))
        np.testing.assert_array_equal(got["waveform/t0"], np.zeros(n, np.float32))
    hdr = read_events(out, "CompassHeader")
    assert [int(hdr[k]) for k in ("energy_channels", "energy_calibrated", "energy_short",
                                  "waveform_samples", "header_present")] == [
        flags & 1, (flags >> 1) & 1, (flags >> 2) & 1, (flags >> 3) & 1, int(header)]  # fmt: skip


def _check_decodable(path, spec):
    """The bytes say what was written (the oracle reads them back); without header, no
    other layout explains them (else no reader can tell, and the example is skipped)."""
    header, flags, wave_fields, *_ = spec
    data = path.read_bytes()
    assert walk(data, flags, wave_fields, 2 if header else 0) is not None
    if not header:
        assume(layouts_explaining(data) == [(flags, wave_fields)])


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURE)
@given(spec=files())
def test_build_raw_reads_what_was_written(tmp_path_factory, spec):
    tmp = tmp_path_factory.mktemp("w")
    events, path, xml_path = _write(tmp, spec)
    _check_decodable(path, spec)
    if spec[3] == 0:  # header only: no events, no event table
        build_raw(str(path), out_spec=str(tmp / "o.lh5"))
        assert sorted(read_events(tmp / "o.lh5", "/")) != []
        return
    extra = {"compass_config_file": str(xml_path)} if xml_path else {}
    build_raw(str(path), in_stream_type=None if spec[0] or xml_path else "Compass",
              out_spec=str(tmp / "o.lh5"), **extra)  # fmt: skip
    _expect_equal(tmp / "o.lh5", events, spec, xml_path)


@settings(max_examples=15, deadline=None, suppress_health_check=FIXTURE)
@given(spec=files(), block=st.integers(8, 300), buffer_size=st.integers(1, 9))
def test_small_blocks_and_buffers(tmp_path_factory, spec, block, buffer_size):
    assume(spec[3] > 0)
    tmp = tmp_path_factory.mktemp("b")
    events, path, xml_path = _write(tmp, spec)
    _check_decodable(path, spec)
    out = tmp / "o.lh5"
    s = CompassStreamer(compass_config_file=xml_path, block_bytes=block)
    writer = LH5Writer(atomic=False)
    write_to_lh5_and_clear(s.open_stream(str(path), buffer_size=buffer_size,
                                         out_stream=str(out)), writer)  # fmt: skip
    for chunk in s:
        write_to_lh5_and_clear(chunk, writer)
    writer.close()
    _expect_equal(out, events, spec, xml_path)


@pytest.mark.parametrize("flags", [0x1, 0x3, 0x5, 0x7, 0xB, 0xF, 0x2, 0xE])
@pytest.mark.parametrize("header", [True, False])
def test_each_energy_variant(tmp_path, flags, header):
    """Every energy variant, timestamps of all 64 bits, channels past 15 keyed apart."""
    events = random_events(12, 8 if flags & 8 else 0, keys=[(0, 0), (1, 17), (2, 1)], seed=flags)
    events.timestamp[-1] = np.uint64(2**64 - 2**20)
    write_compass(tmp_path / "f.BIN", events, flags, header=header)
    spec = (header, flags, True, 12, 8 if flags & 8 else 0, None, 0, False)
    build_raw(str(tmp_path / "f.BIN"), in_stream_type="compass", out_spec=str(tmp_path / "o.lh5"))
    _expect_equal(tmp_path / "o.lh5", events, spec, None)
    keys = {"CompassEventDecoder": {"k{key}": {"key_list": ["*"],
                                               "out_stream": str(tmp_path / "k.lh5")}}}
    build_raw(str(tmp_path / "f.BIN"), in_stream_type="Compass", out_spec=keys)
    got = read_events(tmp_path / "k.lh5", "k529")  # board 1, channel 17
    assert got["channel"].tolist() == [17] * 4
