"""The format registry and the format contract's types."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rawconv.errors import UnknownFormatError
from rawconv.formats import formats, get_format, normalize_stream_type
from rawconv.formats.base import RECORD_DTYPE, Format, RecordIndex, RecordRange, ResumeState
from rawconv.formats.registry import detect_format, known_decoder_names
from rawconv.sources import MemorySource


def test_builtin_formats_and_aliases():
    names = [f.name for f in formats()]
    assert {"FlashCam", "ORCA"} <= set(names)
    assert normalize_stream_type("fcio") == normalize_stream_type("FLASHCAM") == "FlashCam"
    assert normalize_stream_type("Orca") == "ORCA"
    specificities = [f.specificity for f in formats()]
    assert specificities == sorted(specificities, reverse=True)
    with pytest.raises(ValueError, match=r"unknown stream type 'nope'; known: .*FlashCam \(fcio\)"):
        get_format("nope")


@pytest.mark.parametrize("name", ["FlashCam", "ORCA"])
def test_format_lists_every_decoder_of_its_streamer(name):
    fmt = get_format(name)
    streamer_cls = fmt.streamer_class()
    if name == "ORCA":
        from rawconv.formats.orca.streamer import DECODER_CLASSES

        have = {"OrcaHeaderDecoder", *DECODER_CLASSES}
    else:
        have = {d.name for d in streamer_cls().get_decoder_list()}
    assert set(fmt.decoders) == have
    assert set(fmt.decoders) <= known_decoder_names()


def test_detection_errors_name_the_input():
    with pytest.raises(UnknownFormatError, match="the input is empty"):
        detect_format(MemorySource(b"", name="empty.dat"))
    with pytest.raises(UnknownFormatError, match=r"first bytes \(00 01 02"):
        detect_format(MemorySource(bytes(range(64)), name="junk.dat"))


def test_resume_state_is_frozen_and_validated():
    state = ResumeState(10, 20, 3)
    assert not state.at_beginning and ResumeState(0, 5).at_beginning
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.start = 0  # type: ignore[misc]
    assert state.with_stop(30) == ResumeState(10, 30, 3)
    with pytest.raises(ValueError, match="before its start"):
        ResumeState(10, 5)
    with pytest.raises(ValueError, match="starts before the input"):
        ResumeState(-1, 5)
    with pytest.raises(TypeError, match="must be an integer"):
        ResumeState(1.5, 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid record range"):
        RecordRange(3, 2, 0, 10)


def test_format_checks_its_fields():
    with pytest.raises(ValueError, match="identifier"):
        Format(name="two words", sniff=bool, streamer="x:y")
    with pytest.raises(TypeError, match="sniff must be callable"):
        Format(name="X", sniff=3, streamer="x:y")  # type: ignore[arg-type]
    assert Format(name="X", sniff=bool, streamer="x:y", aliases=("XX",)).names == ("x", "xx")


@dataclasses.dataclass
class _Index(RecordIndex):
    records: np.ndarray
    size: int


def test_record_index_save_load_checks_identity_and_class(tmp_path):
    recs = np.zeros(3, RECORD_DTYPE)
    recs["start"], recs["stop"] = [0, 10, 20], [10, 20, 30]
    index = _Index(recs, 30)
    index.save(tmp_path / "i.npz", identity=("f", 30, 1.0))
    back = _Index.load(tmp_path / "i.npz", identity=("f", 30, 1.0))
    assert np.array_equal(back.records, recs) and back.size == 30
    with pytest.raises(ValueError, match="identity differs"):
        _Index.load(tmp_path / "i.npz", identity=("f", 31, 1.0))
    from rawconv.formats.fcio.index import FCIOIndex

    with pytest.raises(ValueError, match="not FCIOIndex"):
        FCIOIndex.load(tmp_path / "i.npz")
    assert index.boundaries().tolist() == [1, 2]
    states = index.resume_states(None, [RecordRange(0, 1, 0, 10), RecordRange(1, 3, 10, 30)])
    assert states == [ResumeState(0, 10), ResumeState(10, 30, 1)]


def test_record_index_refuses_altered_content(tmp_path):
    recs = np.zeros(2, RECORD_DTYPE)
    recs["start"], recs["stop"] = [0, 10], [10, 20]
    _Index(recs, 20).save(tmp_path / "i.npz", identity=("f",))
    with np.load(tmp_path / "i.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["records"]["start"][1] += 4  # offsets shifted, the checksum kept
    np.savez(tmp_path / "i.npz", **arrays)
    with pytest.raises(ValueError, match="does not match its checksum"):
        _Index.load(tmp_path / "i.npz", identity=("f",))
