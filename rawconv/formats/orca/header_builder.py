"""Building ORCA file headers (plists) for files written by :mod:`.writer`.

:func:`make_header` describes the hardware (FlashCam listeners and their cards, Struck
cards) and assigns data ids (``dataDescription``) to the decoders the file will hold;
:func:`header_record` serialises a header as record 0 (formats.md 2.1).
"""

from __future__ import annotations

import plistlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .layout import LONG_ID_SHIFT, SHORT_ID_SHIFT

__all__ = ["FlashCamSpec", "StruckSpec", "header_record", "make_header"]

_CLASS_OF = {
    "ORRunDecoderForRun": ("ORRunModel", "Run"),
    "ORFlashCamListenerConfigDecoder": ("ORFlashCamListenerModel", "FlashCamConfig"),
    "ORFlashCamListenerStatusDecoder": ("ORFlashCamListenerModel", "FlashCamStatus"),
    "ORFlashCamADCWaveformDecoder": ("ORFlashCamADCModel", "FlashCamADC"),
    "ORFlashCamWaveformDecoder": ("ORFlashCamADCStdModel", "FlashCamADCStd"),
    "ORFCIOConfigDecoder": ("ORFlashCamListenerModel", "FlashCamConfig"),
    "ORFCIOEventDecoder": ("ORFlashCamListenerModel", "FlashCamEvent"),
    "ORFCIOEventHeaderDecoder": ("ORFlashCamListenerModel", "FlashCamEventHeader"),
    "ORFCIOStatusDecoder": ("ORFlashCamListenerModel", "FlashCamStatus"),
    "ORSIS3302DecoderForEnergy": ("ORSIS3302Model", "Energy"),
    "ORSIS3316WaveformDecoder": ("ORSIS3316Model", "Waveform"),
}


@dataclass
class FlashCamSpec:
    """One FlashCam listener: ``cards`` are (crate, slot, CardAddress, enabled inputs)."""

    fcid: int
    cards: Sequence[tuple[int, int, int, Sequence[bool]]] = ()
    event_samples: int = 0
    fsp_enabled: bool = False
    card_class: str = "ORFlashCamADCModel"
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class StruckSpec:
    """One Struck card. SIS3302: ``enabled_mask`` (8 bits) and ``sample_lengths`` (one per
    channel pair); SIS3316: ``enabled_mask`` (16 bits) and ``raw_length``."""

    model: str
    crate: int
    card: int
    enabled_mask: int
    sample_lengths: Sequence[int] = ()
    raw_length: int = 0


def make_header(
    decoders: Sequence[str],
    flashcam: Sequence[FlashCamSpec] = (),
    struck: Sequence[StruckSpec] = (),
    short: Sequence[str] = (),
    first_id: int = 1,
) -> dict[str, Any]:
    """A header plist describing `decoders` (long records, ids from `first_id`) and `short`
    (short records, ids 32, 33, ...), the FlashCam listeners and the Struck cards."""
    desc: dict[str, dict[str, Any]] = {}
    for k, name in enumerate(decoders):
        cls, entry = _CLASS_OF.get(name, (f"{name}Model", "Data"))
        desc.setdefault(cls, {})[entry] = {
            "dataId": (first_id + k) << LONG_ID_SHIFT, "decoder": name, "length": -1,
            "variable": True,
        }  # fmt: skip
    for k, name in enumerate(short):
        desc.setdefault(f"{name}Model", {})["Short"] = {
            "dataId": (32 + k) << SHORT_ID_SHIFT, "decoder": name, "length": 1,
            "variable": False,
        }  # fmt: skip
    crates: dict[int, list[dict[str, Any]]] = {}
    readout: list[dict[str, Any]] = []
    auxhw: list[dict[str, Any]] = []
    for lst in flashcam:
        children = []
        for crate, slot, address, enabled in lst.cards:
            crates.setdefault(crate, []).append({
                "Class Name": lst.card_class, "Card": slot, "CardAddress": address,
                "Enabled": [bool(e) for e in enabled],
            })  # fmt: skip
            children.append({"crate": crate, "name": lst.card_class, "station": slot})
        readout.append({"children": children, "name": "ORFlashCamListenerModel",
                        "uniqueID": lst.fcid})  # fmt: skip
        auxhw.append({"Class Name": "ORFlashCamListenerModel", "uniqueID": lst.fcid,
                      "eventSamples": lst.event_samples, "fspEnabled": lst.fsp_enabled,
                      **lst.extra})  # fmt: skip
    for card in struck:
        info: dict[str, Any] = {"Class Name": card.model, "Card": card.card}
        if card.model == "ORSIS3302Model":
            info.update(internalTriggerEnabledMask=card.enabled_mask,
                        externalTriggerEnabledMask=0,
                        sampleLengths=list(card.sample_lengths))  # fmt: skip
        else:
            info.update(enabledMask=card.enabled_mask, rawDataBufferLen=card.raw_length)
        crates.setdefault(card.crate, []).append(info)
    return {
        "Document Info": {"OrcaVersion": "rawconv", "dataVersion": 3},
        "Header Length": 0,
        "ObjectInfo": {
            "AuxHw": auxhw,
            "Crates": [{"CrateNumber": c, "Cards": cards} for c, cards in sorted(crates.items())],
            "DataChain": [],
        },
        "ReadoutDescription": readout,
        "dataDescription": desc,
    }


def header_record(header: Mapping[str, Any] | bytes, order: str = "<") -> bytes:
    """Record 0: word 0 = record length in words (data id 0), word 1 = XML byte length,
    the XML padded with NULs to a word boundary. A dict header gets its ``Header Length``
    (the record's byte length) filled in; XML bytes are written as given."""
    if isinstance(header, (bytes, bytearray)):
        xml = bytes(header)
    else:
        plist = dict(header)
        length = 0
        while True:
            plist["Header Length"] = length
            xml = plistlib.dumps(plist, fmt=plistlib.FMT_XML)
            total = 8 + len(xml) + (-len(xml)) % 4
            if total == length:
                break
            length = total
    padded = xml + b"\0" * ((-len(xml)) % 4)
    words = (8 + len(padded)) // 4
    return struct.pack(order + "II", words, len(xml)) + padded
