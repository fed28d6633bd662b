"""The legacy FlashCam listener status record (ORFlashCamListenerStatusDecoder).

Words: 1 readout_id << 16 | fcid; 2 status (1: no errors); 3-4 status time (s, us);
5-6 cpu time (s, us); 7 unused; 8-9 start offset (s, us); 10-12 unused; 13 n_cards;
14 card_data_size (words); then n_cards blocks of card_data_size words, each the FCIO card
status block (formats.md 1.5; word offsets below). Column names are the reference
converter's; its per-card arrays are vectors with k values per card (k = 5 other errors,
5 temperatures, 6 voltages, 2 ADC temperatures, 4 CTI links, 256 link states).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...lh5.columns import TableCol
from .layout import FC_CARD_WORDS, FC_STATUS_CARD_SIZE, FC_STATUS_CARDS, FC_STATUS_FIRST_CARD

_VOV = "array<1>{array<1>{real}}"

# per card: column, first word in the card block, values per card, dtype, units
CARD_VALUES: tuple[tuple[str, int, int, str, str | None], ...] = (
    ("card_id", 0, 1, "uint32", None),
    ("card_status", 1, 1, "uint32", None),
    ("card_eventnumber", 2, 1, "uint32", None),
    ("card_pps_count", 3, 1, "uint32", None),
    ("card_clock_tick_count", 4, 1, "uint32", None),
    ("card_max_clock_ticks", 5, 1, "uint32", None),
    ("card_n_env_vals", 6, 1, "uint32", None),
    ("card_n_cti_links", 7, 1, "uint32", None),
    ("card_n_link_states", 8, 1, "uint32", None),
    ("card_n_errors_tot", 10, 1, "uint32", None),
    ("card_n_env_errors", 11, 1, "uint32", None),
    ("card_n_cti_errors", 12, 1, "uint32", None),
    ("card_n_link_errors", 13, 1, "uint32", None),
    ("card_n_other_errors", 14, 5, "uint32", None),
    ("card_temps", 19, 5, "int32", "mC"),
    ("card_voltages", 24, 6, "int32", "mV"),
    ("card_main_current", 30, 1, "int32", "mA"),
    ("card_humidity", 31, 1, "int32", "o/oo"),
    ("card_adc_temps", 32, 2, "int32", "mC"),
    ("card_cti_links", 35, 4, "uint32", None),
    ("card_link_states", 39, 256, "uint32", None),
)


def _field(dtype: str, description: str, units: str | None = None, **extra: Any) -> dict:
    spec: dict[str, Any] = {"dtype": dtype, "description": description, **extra}
    if units:
        spec["units"] = units
    return spec


STATUS_FIELDS: dict[str, dict[str, Any]] = {
    "packet_id": _field("uint32", "Index of the record (packet) in the input."),
    "readout_id": _field("uint16", "FlashCam readout id."),
    "fcid": _field("uint16", "Listener id."),
    "status": _field("int32", "1: no errors, 0: errors occurred."),
    "statustime": _field("float32", "FlashCam time of the status.", "s"),
    "cputime": _field("float64", "Server time of the status.", "s"),
    "startoffset": _field("float32", "Start time offset.", "s"),
    "n_cards": _field("int32", "Number of cards reported."),
    "card_data_size": _field("int32", "Words per card block."),
    **{
        name: _field(
            dtype, f"Per card ({per} per card).", units, datatype=_VOV, length_guess=4 * per
        )
        for name, _, per, dtype, units in CARD_VALUES
    },
}


def decode_status_record(words: np.ndarray, packet_id: int, table: TableCol, row: int) -> None:
    """Fill row `row` of an ORFlashCamListenerStatus table from a record's uint32 words
    (validated: the card blocks lie inside the record)."""
    iw = words.view(np.int32)
    table["packet_id"].nda[row] = packet_id
    table["readout_id"].nda[row] = words[1] >> 16
    table["fcid"].nda[row] = words[1] & 0xFFFF
    table["status"].nda[row] = iw[2]
    table["statustime"].nda[row] = np.float64(iw[3]) + iw[4] * 1e-6
    table["cputime"].nda[row] = np.float64(iw[5]) + iw[6] * 1e-6
    table["startoffset"].nda[row] = np.float64(iw[8]) + iw[9] * 1e-6
    n_cards = int(iw[FC_STATUS_CARDS])
    size = int(iw[FC_STATUS_CARD_SIZE])
    table["n_cards"].nda[row] = n_cards
    table["card_data_size"].nda[row] = size
    body = words[FC_STATUS_FIRST_CARD : FC_STATUS_FIRST_CARD + n_cards * size]
    cards = np.zeros((n_cards, FC_CARD_WORDS), dtype="<u4")
    width = min(size, FC_CARD_WORDS)
    cards[:, :width] = body.reshape(n_cards, size)[:, :width]
    for name, first, per, dtype, _ in CARD_VALUES:
        values = cards[:, first : first + per]
        if name == "card_link_states":  # only the first numlinks entries are valid
            valid = np.arange(per)[None, :] < cards[:, 8:9].astype(np.int64)
            values = np.where(valid, values, 0)
        table[name].set_row(row, values.astype("<u4").view(dtype).reshape(-1))
