"""``daq2lh5.orca.orca_packet``: helpers for one ORCA record as uint32 words."""

from ....formats.orca.packets import get_data_id, get_n_words, hex_dump, is_extended, is_short

__all__ = ["get_data_id", "get_n_words", "hex_dump", "is_extended", "is_short"]
