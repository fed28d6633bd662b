"""ORFCIO* decoders: FCIO records wrapped in ORCA records (formats.md 2.5).

Each ORCA decoder fronts the FCIO decoders of every listener (:mod:`.listeners`); its
key lists and default table names are the reference converter's:

==========================  ===================================================  =========
decoder                     key lists                                            max rows
==========================  ===================================================  =========
ORFCIOConfigDecoder         [fcid_N/config ...], [swtid_N/config ...]            1 (+1 FSP)
ORFCIOEventDecoder          per listener: [fcid*1e6 + address*100 + input ...],  traces
                            then [swtid_N/event] if FSP is on                    (+1 FSP)
ORFCIOEventHeaderDecoder    [fcid_N/evt_hdr ...], [swtid_N/evt_hdr ...]          1 (+1 FSP)
ORFCIOStatusDecoder         per listener: [fcid_N/status/card<reqid> ...],       cards
                            then [swtid_N/status] if FSP is on                   (+1 FSP)
==========================  ===================================================  =========
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..fcio.fsp_fields import FSP_EVENT_FIELDS, FSP_STATUS_FIELDS
from .decoders import OrcaDecoder
from .layout import KIND_FCIO_CONFIG, KIND_FCIO_EVENT, KIND_FCIO_HEADER, KIND_FCIO_STATUS
from .listeners import KeyedPart, Listener

__all__ = [
    "ORFCIOConfigDecoder",
    "ORFCIOEventDecoder",
    "ORFCIOEventHeaderDecoder",
    "ORFCIOStatusDecoder",
]


class _ORFCIODecoder(OrcaDecoder):
    """Common part: the listeners (shared with the streamer) and key dispatch."""

    def __init__(self, listeners: dict[int, Listener] | None = None) -> None:
        super().__init__()
        self.listeners: dict[int, Listener] = {} if listeners is None else listeners
        self._parts_cache: dict[int, list[KeyedPart]] = {}

    def _listener(self, key: Any) -> Listener:
        if isinstance(key, str):
            fcid = int(key.split("/", 1)[0].split("_", 1)[1])
        elif key is None:
            fcid = next(iter(self.listeners))
        else:
            fcid = int(key) // 1_000_000
        if fcid not in self.listeners:
            raise KeyError(f"{self.name}: no listener {fcid} for key {key!r}")
        return self.listeners[fcid]

    def _fsp(self) -> list[Listener]:
        return [lst for lst in self.listeners.values() if lst.fsp]

    def parts_of(self, lst: Listener) -> list[KeyedPart]:
        """The parts decoding `lst`'s records, FSP first (the order records come in)."""
        parts = self._parts_cache.get(lst.fcid)
        if parts is None:
            parts = self._parts_cache[lst.fcid] = self._make_parts(lst)
        return parts

    def _make_parts(self, lst: Listener) -> list[KeyedPart]:
        raise NotImplementedError

    def parts(self) -> list[Any]:
        return [p for lst in self.listeners.values() for p in self.parts_of(lst)]


class ORFCIOConfigDecoder(_ORFCIODecoder):
    """FCIOConfig (and FSPConfig) records -> the FCConfig (FSPConfig) columns."""

    kind = KIND_FCIO_CONFIG

    def get_key_lists(self) -> list[list[Any]]:
        return [
            [lst.key("config") for lst in self.listeners.values()],
            [lst.key("config", fsp=True) for lst in self._fsp()],
        ]

    def get_decoded_values(self, key: Any = None) -> dict[str, dict[str, Any]]:
        lst = self._listener(key)
        if isinstance(key, str) and key.startswith("swtid_"):
            return lst.fsp_config.get_decoded_values(key)
        return lst.config_dec.get_decoded_values(key)

    def get_max_rows_in_packet(self) -> int:
        return 2 if self._fsp() else 1

    def _make_parts(self, lst: Listener) -> list[KeyedPart]:
        parts = []
        if lst.fsp:
            parts.append(KeyedPart(lst.fsp_config, [lst.key("config", True)], self.name))
        parts.append(KeyedPart(lst.config_dec, [lst.key("config")], self.name))
        return parts


class ORFCIOEventDecoder(_ORFCIODecoder):
    """FCIOEvent / FCIOSparseEvent (and FSPEvent) records -> one row per trace."""

    kind = KIND_FCIO_EVENT

    def get_key_lists(self) -> list[list[Any]]:
        out = []
        for lst in self.listeners.values():
            out.append(lst.event_keys())
            if lst.fsp:
                out.append([lst.key("event", fsp=True)])
        return out

    def get_decoded_values(self, key: Any = None) -> dict[str, dict[str, Any]]:
        if isinstance(key, str) and key.startswith("swtid_"):
            return FSP_EVENT_FIELDS
        return self._listener(key).event_values()

    def get_max_rows_in_packet(self) -> int:
        traces = max((lst.ntraces for lst in self.listeners.values()), default=1)
        return max(traces, 1) + (1 if self._fsp() else 0)

    def max_rows_for(self, keys: list[Any]) -> int:
        """The traces of one listener with these keys (a tracemap may repeat a key), plus
        its FSP row."""
        wanted = set(keys)
        best = 1
        for lst in self.listeners.values():
            if lst.config is not None:
                tm = lst.config.tracemap.astype(np.int64)
                trace_keys = lst.fcid * 1_000_000 + (tm >> 16) * 100 + (tm & 0xFFFF)
                ints = [k for k in wanted if isinstance(k, (int, np.integer))]
                n = int(np.isin(trace_keys, ints).sum()) if ints else 0
            else:
                n = len(wanted & set(lst.event_keys()))
            best = max(best, n + (lst.key("event", fsp=True) in wanted))
        return best

    def _make_parts(self, lst: Listener) -> list[KeyedPart]:
        parts = []
        if lst.fsp:
            parts.append(KeyedPart(lst.fsp_event, [lst.key("event", True)], self.name))
        parts.append(KeyedPart(lst.event_dec, lst.event_keys(), self.name))
        return parts


class ORFCIOEventHeaderDecoder(_ORFCIODecoder):
    """FCIOEventHeader (and FSPEvent) records -> one row per record."""

    kind = KIND_FCIO_HEADER

    def get_key_lists(self) -> list[list[Any]]:
        return [
            [lst.key("evt_hdr") for lst in self.listeners.values()],
            [lst.key("evt_hdr", fsp=True) for lst in self._fsp()],
        ]

    def get_decoded_values(self, key: Any = None) -> dict[str, dict[str, Any]]:
        if isinstance(key, str) and key.startswith("swtid_"):
            return FSP_EVENT_FIELDS
        return self._listener(key).header_dec.decoded_values

    def get_max_rows_in_packet(self) -> int:
        return 2 if self._fsp() else 1

    def _make_parts(self, lst: Listener) -> list[KeyedPart]:
        parts = []
        if lst.fsp:
            parts.append(KeyedPart(lst.fsp_event, [lst.key("evt_hdr", True)], self.name))
        parts.append(KeyedPart(lst.header_dec, [lst.key("evt_hdr")], self.name))
        return parts


class ORFCIOStatusDecoder(_ORFCIODecoder):
    """FCIOStatus (and FSPStatus) records -> one row per card (FSP: one per record)."""

    kind = KIND_FCIO_STATUS

    def get_key_lists(self) -> list[list[Any]]:
        out = []
        for lst in self.listeners.values():
            out.append(lst.status_keys())
            if lst.fsp:
                out.append([lst.key("status", fsp=True)])
        return out

    def get_decoded_values(self, key: Any = None) -> dict[str, dict[str, Any]]:
        if isinstance(key, str) and key.startswith("swtid_"):
            return FSP_STATUS_FIELDS
        return self._listener(key).status_dec.decoded_values

    def get_max_rows_in_packet(self) -> int:
        cards = max((len(lst.status_keys()) for lst in self.listeners.values()), default=1)
        return cards + (1 if self._fsp() else 0)

    def _make_parts(self, lst: Listener) -> list[KeyedPart]:
        parts = []
        if lst.fsp:
            parts.append(KeyedPart(lst.fsp_status, [lst.key("status", True)], self.name))
        parts.append(KeyedPart(lst.status_dec, lst.status_keys(), self.name))
        return parts
