"""The ORCA file header: an XML plist in record 0 (formats.md 2.1), parsed and queried.

The header assigns data ids to decoder classes (``dataDescription``), describes the
hardware (``ObjectInfo``: crates, cards, auxiliary hardware such as FlashCam listeners) and
the readout (``ReadoutDescription``). It is written to LH5 as the ``OrcaHeader`` table: one
Scalar string holding the plist as JSON, as the reference converter writes it.
"""

from __future__ import annotations

import json
import plistlib
import struct
from dataclasses import dataclass, field
from typing import Any

from ...decoder import DataDecoder
from ...errors import CorruptDataError
from ...lh5.columns import ScalarCol
from .layout import LONG_ID_MASK, LONG_LENGTH_MASK, SHORT_BIT, SHORT_ID_MASK, XML_MAGIC, fc_key
from .plist import parse_lenient

__all__ = [
    "FlashCamListener",
    "OrcaHeader",
    "OrcaHeaderDecoder",
    "byte_order",
    "header_words",
]

FC_CARD_CLASSES = ("ORFlashCamADCModel", "ORFlashCamADCStdModel")
FC_ALL_CARD_CLASSES = (
    "ORFlashCamGlobalTriggerModel", "ORFlashCamTriggerModel", *FC_CARD_CLASSES,
)  # fmt: skip
LISTENER_CLASS = "ORFlashCamListenerModel"


def byte_order(head: bytes) -> str | None:
    """``"<"`` or ``">"`` if `head` (the first 12 bytes) starts an ORCA header, else None.

    Test: data id 0 in word 0, the XML length in word 1 fits the record within 0-3 bytes of
    padding, and bytes 8-11 are ``<?xm`` (formats.md 2.1).
    """
    if len(head) < 12 or head[8:12] != XML_MAGIC:
        return None
    for order in ("<", ">"):
        w0, w1 = struct.unpack_from(order + "II", head, 0)
        if (w0 >> 18) == 0 and 0 <= 4 * w0 - 8 - w1 <= 3:
            return order
    return None


def header_words(head: bytes, order: str) -> tuple[int, int]:
    """(record words, XML byte length) of the header record starting `head`."""
    w0, w1 = struct.unpack_from(order + "II", head, 0)
    return w0 & LONG_LENGTH_MASK, w1


@dataclass
class FlashCamListener:
    """What the header says about one FlashCam listener (``uniqueID`` = fcid)."""

    fcid: int
    event_samples: int = 0
    fsp_enabled: bool = False
    cards: list[tuple[int, int, int]] = field(default_factory=list)
    """(crate, slot, card address) of the ADC cards read out by this listener."""
    keys: list[int] = field(default_factory=list)
    """``fcid * 1e6 + address * 100 + input`` of every enabled input, in header order."""

    @property
    def n_adc(self) -> int:
        """Enabled inputs (the reference's dr_ch_len of legacy waveforms)."""
        return len(self.keys)


class OrcaHeader(dict):
    """The parsed plist of an ORCA file header (a dict), with lookups used by decoders.

    ``damage`` says what was guessed when the XML had to be read leniently (else None).
    """

    damage: str | None = None

    @classmethod
    def from_record(cls, record: bytes, order: str = "<", where: dict | None = None) -> OrcaHeader:
        """Parse header record bytes (word 0, word 1 = XML length, XML)."""
        where = where or {}
        if len(record) < 8:
            raise CorruptDataError("ORCA header record shorter than 2 words", **where)
        words, n_xml = header_words(record[:12].ljust(12, b"\0"), order)
        if 8 + n_xml > len(record) or n_xml > 4 * words - 8:
            raise CorruptDataError(
                f"ORCA header says {n_xml} XML bytes, the record holds {len(record) - 8}",
                **where,
            )
        damage = None
        try:
            plist = plistlib.loads(record[8 : 8 + n_xml], fmt=plistlib.FMT_XML)
        except Exception as exc:
            plist, n_damaged = parse_lenient(bytes(record[8 : 8 + n_xml]))
            if not isinstance(plist, dict) or not isinstance(plist.get("dataDescription"), dict):
                raise CorruptDataError(f"ORCA header XML does not parse: {exc}", **where) from exc
            damage = (
                f"the ORCA header XML is damaged ({exc}); read leniently, {n_damaged} damaged "
                "element(s) skipped: check the OrcaHeader table and the decoders found"
            )
        if not isinstance(plist, dict):
            raise CorruptDataError("ORCA header plist is not a dictionary", **where)
        header = cls(plist)
        header.damage = damage
        return header

    def to_json(self) -> str:
        """The header as JSON text (what the ``OrcaHeader`` table holds)."""
        return json.dumps(self, default=str)

    # data ids ----------------------------------------------------------------------------

    def data_ids(self) -> list[tuple[int, str]]:
        """(unshifted data id as uint32, decoder class name) of every described record."""
        out = []
        desc = self.get("dataDescription", {})
        for per_class in desc.values():
            if not isinstance(per_class, dict):
                continue
            for entry in per_class.values():
                if not isinstance(entry, dict) or "dataId" not in entry:
                    continue
                data_id = int(entry["dataId"]) & 0xFFFFFFFF
                data_id &= SHORT_ID_MASK if data_id & SHORT_BIT else LONG_ID_MASK
                out.append((data_id, str(entry.get("decoder", ""))))
        return out

    def get_id_to_decoder_name_dict(self, shift_data_id: bool = True) -> dict[int, str]:
        """data id -> decoder name, 0 being the header (``OrcaHeaderDecoder``); ids shifted
        down as :func:`~.packets.get_data_id` gives them for records (bits 31-26 of short
        records, 31-18 of long ones), or in place with ``shift_data_id=False``."""
        out = {0: "OrcaHeaderDecoder"}
        for data_id, name in self.data_ids():
            if shift_data_id:
                data_id = data_id >> 26 if data_id & SHORT_BIT else data_id >> 18
            out[data_id] = name
        return out

    def get_decoder_list(self) -> list[str]:
        """The names of the decoders the header describes (and the header's own)."""
        return sorted(set(self.get_id_to_decoder_name_dict().values()))

    def get_run_number(self) -> int:
        """The run number (``ObjectInfo/DataChain``'s Run Control); ValueError if none."""
        for entry in self.get("ObjectInfo", {}).get("DataChain", []) or []:
            if isinstance(entry, dict) and "Run Control" in entry:
                return int(entry["Run Control"]["RunNumber"])
        raise ValueError("the ORCA header names no run number (no Run Control)")

    # hardware ------------------------------------------------------------------------------

    def object_info(self, class_names: str | tuple[str, ...]) -> dict[int, dict[int, dict]]:
        """``{crate: {slot: card dict}}`` of the cards of the given ORCA classes."""
        names = (class_names,) if isinstance(class_names, str) else class_names
        out: dict[int, dict[int, dict]] = {}
        for crate in self.get("ObjectInfo", {}).get("Crates", []):
            for card in crate.get("Cards", []):
                if card.get("Class Name") in names:
                    out.setdefault(int(crate.get("CrateNumber", 0)), {})[int(card["Card"])] = card
        return out

    def readout_info(self, class_name: str) -> list[dict]:
        """The ``ReadoutDescription`` entries of objects of `class_name`."""
        out = []
        for entry in self.get("ReadoutDescription", []) or []:
            if isinstance(entry, dict) and entry.get("name") == class_name:
                out.append(entry)
        return out

    def auxhw_info(self, class_name: str, unique_id: int) -> dict:
        """The ``ObjectInfo/AuxHw`` entry of `class_name` with `unique_id` ({} if none)."""
        for obj in self.get("ObjectInfo", {}).get("AuxHw", []) or []:
            if obj.get("Class Name") == class_name and obj.get("uniqueID") == unique_id:
                return obj
        return {}

    def flashcam_listeners(
        self, card_classes: tuple[str, ...] = FC_ALL_CARD_CLASSES
    ) -> dict[int, FlashCamListener]:
        """fcid -> :class:`FlashCamListener`, in ``ReadoutDescription`` order.

        Keys are built as the reference converter does: for each child card (crate,
        station) of the listener, its ``CardAddress`` and every enabled input.
        """
        cards = self.object_info(card_classes)
        out: dict[int, FlashCamListener] = {}
        for info in self.readout_info(LISTENER_CLASS):
            fcid = int(info.get("uniqueID", 0))
            aux = self.auxhw_info(LISTENER_CLASS, fcid)
            lst = FlashCamListener(
                fcid=fcid,
                event_samples=int(aux.get("eventSamples", 0) or 0),
                fsp_enabled=bool(aux.get("fspEnabled", False)),
            )
            for child in info.get("children", []) or []:
                crate, slot = int(child.get("crate", -1)), int(child.get("station", -1))
                card = cards.get(crate, {}).get(slot)
                if card is None:
                    continue
                address = int(card.get("CardAddress", 0))
                lst.cards.append((crate, slot, address))
                for fc_input, enabled in enumerate(card.get("Enabled") or []):
                    key = fc_key(fcid, address, fc_input)
                    if enabled and key not in lst.keys:
                        lst.keys.append(key)
            out[fcid] = lst
        return out

    def card_slots(
        self, class_names: tuple[str, ...] = FC_CARD_CLASSES
    ) -> dict[tuple[int, int], int]:
        """(crate, slot) -> CardAddress of the FlashCam ADC cards."""
        return {
            (crate, slot): int(card.get("CardAddress", 0))
            for crate, slots in self.object_info(class_names).items()
            for slot, card in slots.items()
        }


class HeaderScalar(ScalarCol):
    """The ``OrcaHeader`` table: a Scalar string (also behaves as a one-row buffer)."""

    def __len__(self) -> int:
        return 1

    def items(self) -> list:
        return []

    def resize(self, size: int) -> None:
        """A scalar has no rows to resize."""

    def form_datatype(self) -> str:
        return "string"


class OrcaHeaderDecoder(DataDecoder):
    """The file header (record 0) -> ``OrcaHeader``: the plist as a JSON Scalar string."""

    def __init__(self) -> None:
        super().__init__(garbage_length=1)
        self.header: OrcaHeader | None = None

    def set_header(self, header: OrcaHeader) -> None:
        """The header this decoder writes."""
        self.header = header

    def get_decoded_values(self, key: Any = None) -> dict[str, dict[str, Any]]:
        return {}

    def make_table(self, key: Any = None, size: int | None = None) -> HeaderScalar:
        text = "" if self.header is None else self.header.to_json()
        return HeaderScalar(text)

    def make_lgdo(self, key: Any = None, size: int | None = None) -> Any:
        return self.make_table(key, size)
