"""Hand-built records of each kind, decoded field by field."""

from __future__ import annotations

import io

import h5py
import numpy as np

from rawconv import build_raw
from rawconv.formats.orca.header_builder import FlashCamSpec, StruckSpec, make_header
from rawconv.formats.orca.writer import OrcaWriter
from rawconv.sources import MemorySource
from tests.formats.orca.files import mixed_file


def _convert(data: bytes, tmp_path, name="out.lh5"):
    out = tmp_path / name
    build_raw(MemorySource(data, "in.orca"), out_spec=str(out))
    return h5py.File(out, "r")


def test_run_records(tmp_path):
    buf = io.BytesIO()
    w = OrcaWriter(buf, make_header(["ORRunDecoderForRun"]))
    w.write_run(77, 1_700_000_000, subrun=3, start=True, quick=True, start_subrun=True)
    w.write_run(30, 1_700_000_030, heartbeat=True, remote=True)
    w.write_run(77, 1_700_000_099, end_subrun=True)
    with _convert(buf.getvalue(), tmp_path) as f:
        t = f["ORRunDecoderForRun"]
        assert t["run_number"][()].tolist() == [77, 30, 77]
        assert t["time"][()].tolist() == [1_700_000_000, 1_700_000_030, 1_700_000_099]
        assert t["subrun_number"][()].tolist() == [3, 0, 0]
        assert t["runstartorstop"][()].tolist() == [1, 0, 0]
        assert t["quickstartrun"][()].tolist() == [1, 0, 0]
        assert t["remotecontrolrun"][()].tolist() == [0, 1, 0]
        assert t["heartbeatrecord"][()].tolist() == [0, 1, 0]
        assert t["endsubrunrecord"][()].tolist() == [0, 0, 1]
        assert t["startsubrunrecord"][()].tolist() == [1, 0, 0]


def test_legacy_config_and_status(tmp_path):
    rng = np.random.default_rng(3)
    cards = rng.integers(0, 1000, (2, 295))  # as mixed_file writes them
    with _convert(mixed_file(), tmp_path) as f:
        c = f["ORFlashCamListenerConfig"]
        assert c["fcid"][0] == 1 and c["readout_id"][0] == 1
        assert (c["nadcs"][0], c["nsamples"][0], c["adccards"][0]) == (3, 10, 1)
        assert c["ch_board_id/flattened_data"][()].tolist() == [0x120] * 3
        assert c["ch_inputnum/flattened_data"][()].tolist() == [0, 1, 2]
        assert c["packet_len"][0] == 13 + 2400
        s = f["ORFlashCamListenerStatus"]
        assert s["n_cards"][0] == 2 and s["card_data_size"][0] == 295
        assert s["statustime"][0] == np.float32(5 + 6e-6)
        assert s["cputime"][0] == 7 + 8e-6
        assert s["card_id/flattened_data"][()].tolist() == cards[:, 0].tolist()
        assert s["card_temps/flattened_data"][()].tolist() == cards[:, 19:24].ravel().tolist()
        assert s["card_cti_links/flattened_data"][()].tolist() == cards[:, 35:39].ravel().tolist()
        links = s["card_link_states/flattened_data"][()].reshape(2, 256)
        for k in range(2):
            n = cards[k, 8]
            assert links[k, :n].tolist() == cards[k, 39 : 39 + n].tolist()
            assert not links[k, n:].any()


def test_waveform_variants_and_card_address(tmp_path):
    """ORFlashCamWaveformDecoder: input bits 13-9, channel 8-0; the address comes from
    the header (the record keeps 8 bits); nsamples from the records."""
    fc = [FlashCamSpec(2, cards=[(1, 4, 0x2A7, [True] * 24)], event_samples=4096,
                       card_class="ORFlashCamADCStdModel")]  # fmt: skip
    buf = io.BytesIO()
    w = OrcaWriter(buf, make_header(["ORFlashCamWaveformDecoder"], flashcam=fc))
    for k in range(3):
        w.write_fc_waveform(crate=1, slot=4, board_id=0x2A7, fc_input=17 + k, channel=300 + k,
                            samples=[k, 1, 2, 3, 4], timestamp=[k, 7, 125_000_000, 249_999_999],
                            timeoffset=[1_700_000_000, 250_000, 9, 0, 0, 0, 0],
                            deadregion=[1, 0, 2, 125_000_000, 250_000_000], adc=False)  # fmt: skip
    with _convert(buf.getvalue(), tmp_path) as f:
        t = f["ORFlashCamWaveform"]
        assert t["fc_input"][()].tolist() == [17, 18, 19]
        assert t["channel"][()].tolist() == [300, 301, 302]
        assert set(t["board_id"][()].tolist()) == {0x2A7}
        assert set(t["fcid"][()].tolist()) == {2}
        assert (t["crate"][0], t["slot"][0]) == (1, 4)
        assert t["waveform/values"].shape == (3, 5)
        assert t["waveform/values"][2].tolist() == [2, 1, 2, 3, 4]
        assert t["runtime"][0] == 7 + 125_000_000 / 250_000_000
        assert t["timestamp"][0] == t["runtime"][0] + (1_700_000_000 + 250_000 * 1e-6)
        assert t["deadtime"][0] == 1 + 125_000_000 / 250_000_000
        assert set(t["dr_ch_len"][()].tolist()) == {24}


def test_sis3302_wrap_buffer_shorter_than_record(tmp_path):
    """Wrap mode with fewer buffer samples than the record holds: the rest is 0."""
    buf = io.BytesIO()
    card = StruckSpec("ORSIS3302Model", 0, 1, 1, sample_lengths=[6])
    header = make_header(["ORSIS3302DecoderForEnergy"], struck=[card])
    w = OrcaWriter(buf, header)
    words = [1 << 16 | 0 << 8 | 1, 3, 0, 0, 0, 4, 2]  # wrap: 4 buffer samples, oldest at 2
    samples = np.array([10, 11, 12, 13, 99, 99], "<u2").view("<u4")
    w.write_record("ORSIS3302DecoderForEnergy",
                   [*words, *samples, 5, 6, 0, 0xDEADBEEF])  # fmt: skip
    with _convert(buf.getvalue(), tmp_path) as f:
        t = f["ORSIS3302DecoderForEnergy"]
        assert t["waveform/values"][0].tolist() == [12, 13, 10, 11, 0, 0]
        assert (t["energy"][0], t["energy_first"][0]) == (5, 6)
