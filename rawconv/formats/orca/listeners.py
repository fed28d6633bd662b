"""FlashCam listeners of FCIO-wrapped ORCA files: per-listener FCIO state and decoders.

Each listener (``fcid`` = streamid & 0xFFFF) has its own FCIOConfig, its own event state
(shared by its event and event-header decoders, formats.md 1.7) and its own set of FCIO
decoder objects, which decode the listener's FCIO records found inside ORCA records.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import CorruptDataError
from ..fcio.block import RecordBlock
from ..fcio.config import FCIOConfig
from ..fcio.decoders import (
    FCConfigDecoder,
    FCEventDecoder,
    FCEventHeaderDecoder,
    FCIOEventState,
    FCStatusDecoder,
)
from ..fcio.fields import event_fields
from ..fcio.fsp import FSPConfigDecoder, FSPEventDecoder, FSPStatusDecoder
from ..fcio.layout import MAX_CARDS
from .header import FlashCamListener

__all__ = ["KeyedPart", "Listener"]


class Listener:
    """One FlashCam listener: header info, FCIO configuration, state and decoders."""

    def __init__(self, fcid: int, info: FlashCamListener | None = None) -> None:
        self.fcid = fcid
        self.info = info
        self.fsp = bool(info is not None and info.fsp_enabled)
        self.config: FCIOConfig | None = None
        self.state: FCIOEventState | None = None
        self.config_dec = FCConfigDecoder()
        self.event_dec = FCEventDecoder()
        self.header_dec = FCEventHeaderDecoder()
        self.status_dec = FCStatusDecoder()
        self.fsp_config = FSPConfigDecoder()
        self.fsp_event = FSPEventDecoder()
        self.fsp_status = FSPStatusDecoder()
        self.idx = np.zeros(0, dtype=np.int64)
        """This listener's records among the current block's FCIO records."""
        self.block: RecordBlock | None = None
        """Those records as an FCIO RecordBlock."""

    def apply(self, config: FCIOConfig) -> None:
        """Use `config` for the records that follow.

        Raises
        ------
        CorruptDataError
            impossible card counts, or a later config that changes the event shape (the
            tables are made for the first).
        """
        counts = (config.mastercards, config.triggercards, config.adccards)
        if not all(0 <= c <= MAX_CARDS for c in counts):
            raise CorruptDataError(f"FCIOConfig with impossible card counts {counts}")
        if self.config is not None and not self.config.same_shape(config):
            raise CorruptDataError(
                f"listener {self.fcid}: an FCIOConfig changes the event shape from "
                f"{self.config.ntraces} x {self.config.eventsamples} to {config.ntraces} x "
                f"{config.eventsamples}; convert the parts of the file separately"
            )
        self.state = self.state or FCIOEventState(config.ntraces)
        self.config = config
        for dec in (self.event_dec, self.header_dec):
            dec.set_config(config, self.state)
        for dec in (self.config_dec, self.status_dec, self.fsp_config, self.fsp_event,
                    self.fsp_status):  # fmt: skip
            dec.set_config(config)

    @property
    def ntraces(self) -> int:
        if self.config is not None:
            return self.config.ntraces
        return self.info.n_adc if self.info is not None else 0

    @property
    def samples(self) -> int:
        if self.config is not None:
            return self.config.eventsamples
        return max(self.info.event_samples if self.info is not None else 1, 1)

    # keys --------------------------------------------------------------------------------

    def event_keys(self) -> list[int]:
        """Trace keys: the header's (reference order), then any others of the tracemap."""
        keys = list(self.info.keys) if self.info is not None else []
        if self.config is not None:
            tm = self.config.tracemap.astype(np.int64)
            tm = tm[((tm >> 16) < 10_000) & ((tm & 0xFFFF) < 100)]  # keys of this listener
            extra = (self.fcid * 1_000_000 + (tm >> 16) * 100 + (tm & 0xFFFF)).tolist()
            keys += [k for k in dict.fromkeys(extra) if k not in set(keys)]
        return keys

    def status_keys(self) -> list[str]:
        """Card keys: master and ADC cards of the header (as the reference), then any
        other card of the configuration."""
        n_cards = len(self.info.cards) if self.info is not None else 0
        ids = [0, *(0x2000 + i for i in range(n_cards))]
        if self.config is not None:
            ids += [i for i in self.config.card_ids() if i not in ids]
        return [f"fcid_{self.fcid}/status/card{i}" for i in ids]

    def key(self, what: str, fsp: bool = False) -> str:
        return f"{'swtid' if fsp else 'fcid'}_{self.fcid}/{what}"

    def event_values(self) -> dict[str, dict[str, Any]]:
        """Columns of this listener's event rows."""
        if self.config is not None:
            return self.event_dec.decoded_values
        return event_fields(self.samples, 16.0)

    def set_records(self, block: Any, idx: np.ndarray) -> None:
        """Take FCIO records `idx` of an ORCA block as this listener's current records."""
        self.idx = idx
        self.block = block.fcio_subset(idx)

    def span(self, first: int, last: int) -> tuple[int, int]:
        """This listener's records among the block's FCIO records ``[first, last)``."""
        return (int(np.searchsorted(self.idx, first)), int(np.searchsorted(self.idx, last)))


class KeyedPart:
    """An FCIO decoder as a part of an ORCA decoder, with the keys its rows may have."""

    def __init__(self, decoder: Any, keys: list[Any], name: str) -> None:
        self.decoder = decoder
        self.keys = list(keys)
        self.name = name

    def get_key_lists(self) -> list[list[Any]]:
        return [self.keys]

    def get_max_rows_in_packet(self) -> int:
        return self.decoder.get_max_rows_in_packet()

    def make_table(self, key: Any = None, size: int | None = None) -> Any:
        return self.decoder.make_table(key=key, size=size)

    def decode_block(self, block: Any, first: int, last: int, table: Any, row0: int,
                     max_rows: int) -> tuple[int, int]:  # fmt: skip
        return self.decoder.decode_block(block, first, last, table, row0, max_rows)

    def row_keys(self, table: Any, row0: int, n: int) -> Any:
        return self.decoder.row_keys(table, row0, n)
