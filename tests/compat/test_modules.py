"""rawconv.compat.daq2lh5: legend-daq2lh5's module paths and names over rawconv's objects."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import rawconv
from rawconv.compat.daq2lh5 import _formats
from rawconv.formats import get_format
from rawconv.formats.fcio import decoders as fcio_decoders
from rawconv.formats.fcio.streamer import FCIOStreamer
from rawconv.formats.orca import decoders as orca_decoders
from rawconv.formats.orca import packets
from rawconv.formats.orca.streamer import OrcaStreamer

# legend-daq2lh5 module -> name -> the rawconv object it must be
SAME_OBJECTS = {
    "build_raw": {"build_raw": rawconv.build_raw},
    "raw_buffer": {
        "RawBuffer": rawconv.RawBuffer,
        "RawBufferList": rawconv.RawBufferList,
        "RawBufferLibrary": rawconv.RawBufferLibrary,
        "write_to_lh5_and_clear": rawconv.write_to_lh5_and_clear,
    },
    "data_decoder": {"DataDecoder": rawconv.DataDecoder},
    "data_streamer": {"DataStreamer": rawconv.DataStreamer},
    "fc.fc_streamer": {"FCStreamer": FCIOStreamer},
    "fc.fc_config_decoder": {"FCConfigDecoder": fcio_decoders.FCConfigDecoder},
    "fc.fc_event_decoder": {"FCEventDecoder": fcio_decoders.FCEventDecoder},
    "fc.fc_eventheader_decoder": {"FCEventHeaderDecoder": fcio_decoders.FCEventHeaderDecoder},
    "fc.fc_status_decoder": {"FCStatusDecoder": fcio_decoders.FCStatusDecoder},
    "orca.orca_streamer": {"OrcaStreamer": OrcaStreamer},
    "orca.orca_run_decoder": {"ORRunDecoderForRun": orca_decoders.ORRunDecoderForRun},
    "orca.orca_base": {"OrcaDecoder": orca_decoders.OrcaDecoder},
    "orca.orca_packet": {name: getattr(packets, name) for name in (
        "get_data_id", "get_n_words", "hex_dump", "is_extended", "is_short")},
}  # fmt: skip

NAMES = {
    "fc.fc_fsp_decoder": ("FSPConfigDecoder", "FSPEventDecoder", "FSPStatusDecoder"),
    "orca.orca_flashcam": (
        "ORFlashCamListenerConfigDecoder", "ORFlashCamListenerStatusDecoder",
        "ORFlashCamWaveformDecoder", "ORFlashCamADCWaveformDecoder",
    ),
    "orca.orca_fcio": (
        "ORFCIOConfigDecoder", "ORFCIOEventDecoder", "ORFCIOEventHeaderDecoder",
        "ORFCIOStatusDecoder",
    ),
    "orca.orca_digitizers": ("ORSIS3302DecoderForEnergy", "ORSIS3316WaveformDecoder"),
    "orca.orca_header": ("OrcaHeader",),
    "orca.orca_header_decoder": ("OrcaHeaderDecoder",),
}  # fmt: skip


def compat(module: str):
    return importlib.import_module(f"rawconv.compat.daq2lh5.{module}")


@pytest.mark.parametrize("module", sorted(SAME_OBJECTS))
def test_names_are_rawconvs_own_objects(module):
    for name, obj in SAME_OBJECTS[module].items():
        assert getattr(compat(module), name) is obj, f"{module}.{name}"


@pytest.mark.parametrize("module", sorted(NAMES))
def test_decoder_names_are_the_decoders_out_specs_name(module):
    for name in NAMES[module]:
        cls = getattr(compat(module), name)
        assert cls.__module__.startswith("rawconv.formats."), name
        assert cls.__name__ == name  # what out_specs and tables call it


def test_top_level_names():
    import rawconv.compat.daq2lh5 as daq2lh5
    from rawconv.opening import get_streamer, open_stream

    assert daq2lh5.build_raw is rawconv.build_raw
    assert daq2lh5.get_streamer is get_streamer
    assert daq2lh5.open_stream is open_stream
    assert daq2lh5.__version__ == rawconv.__version__
    assert compat("buffer_processor.lh5_buffer_processor").lh5_buffer_processor.__module__ == (
        "rawconv.lh5_processing"
    )
    assert compat("cli").daq2lh5_cli.__module__ == "rawconv.compat.daq2lh5.cli"


def test_expand_rblist_dict_expands_in_place():
    spec = {"g{key}": {"key_list": [[3, 5]], "out_stream": "{run}.lh5"}}
    compat("raw_buffer").expand_rblist_dict(spec, {"run": "r1"})
    assert list(spec) == ["g3", "g4", "g5"]
    assert spec["g4"] == {"key_list": [4], "out_stream": "r1.lh5", "out_name": "g4"}


def test_key_helpers_take_numpy_integers_of_any_width():
    fc_event = compat("fc.fc_event_decoder")
    fcid, board, inp = np.uint16(1105), np.uint16(600), np.uint16(4)  # 1105 * 1e6 > 2**16
    key = fc_event.get_key(fcid, board, inp)
    assert key == 1105_060_004 and type(key) is int
    assert (fc_event.get_fcid(key), fc_event.get_card_address(key)) == (1105, 600)
    assert fc_event.get_card_input(key) == 4
    assert fc_event.get_key(np.int32(0), 3, 4, iwf=np.int64(7)) == 7  # no stream id: trace index
    assert fc_event.get_key(np.uint32(0x20001), 2, 3) == 1_000_203  # low 16 bits of streamid
    orca_fc = compat("orca.orca_flashcam")
    assert orca_fc.get_key(np.uint8(11), np.uint16(56), np.uint8(0)) == 11_005_600
    assert (orca_fc.get_fcid(11_005_600), orca_fc.get_board_id(11_005_600)) == (11, 56)
    assert orca_fc.get_fc_input(11_005_602) == 2
    status = compat("fc.fc_status_decoder")
    skey = status.get_key(np.uint32(0x10005), np.uint16(8192))
    assert skey == "fcid_5/status/card8192"
    assert (status.get_fcid(skey), status.get_reqid(skey)) == (5, 8192)
    with pytest.raises(ValueError, match="not a status key"):
        status.get_fcid(52800)
    base = compat("orca.orca_base")
    ccc = base.get_ccc(np.uint8(1), np.uint8(9), np.uint8(14))
    assert ccc == (1 << 9) + (9 << 4) + 14
    assert (base.get_crate(ccc), base.get_card(ccc), base.get_channel(ccc)) == (1, 9, 14)


def test_a_format_folder_found_by_name():
    module = "rawconv.compat.daq2lh5.test"
    getter = _formats.format_getattr(
        "ORCA", module, {"TheStreamer": None, "RunDecoder": "ORRunDecoderForRun"}
    )
    assert getter("TheStreamer") is OrcaStreamer
    assert getter("RunDecoder") is orca_decoders.ORRunDecoderForRun
    with pytest.raises(AttributeError, match="no attribute 'Other'"):
        getter("Other")


def test_a_missing_format_imports_but_cannot_be_used(monkeypatch):
    monkeypatch.setattr(_formats, "_find_format", lambda name: None)
    getter = _formats.format_getattr("Compass", "m", {"CompassStreamer": None})
    cls = getter("CompassStreamer")
    assert getter("CompassStreamer") is cls  # one placeholder: isinstance stays consistent
    with pytest.raises(ImportError, match="CompassStreamer needs rawconv's Compass format"):
        cls()


@pytest.mark.parametrize(
    ("module", "name", "fmt"),
    [
        ("compass.compass_streamer", "CompassStreamer", "Compass"),
        ("llama.llama_streamer", "LLAMAStreamer", "LlamaDaq"),
    ],
)
def test_compass_and_llama_streamers(module, name, fmt):
    cls = getattr(compat(module), name)
    try:
        expected = get_format(fmt).streamer_class()
    except ValueError:  # this rawconv has no such format (yet): a placeholder
        with pytest.raises(ImportError, match=f"rawconv's {fmt} format"):
            cls()
    else:
        assert cls is expected


def test_llama_settings_comparison():
    check = compat("llama.llama_event_decoder").check_dict_spec_equal
    a, b = {"gate": 1, "len": 8, "x": 0}, {"gate": 1, "len": 8, "x": 5}
    assert check(a, b, ["gate", "len"]) is True
    assert check(a, b, ["gate", "x"]) is False
    assert check(a, {"len": 8}, ["gate"]) is False  # absent counts as None
