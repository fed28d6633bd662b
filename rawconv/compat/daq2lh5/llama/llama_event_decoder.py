"""``daq2lh5.llama.llama_event_decoder``: :class:`LLAMAEventDecoder` (rawconv's LlamaDaq
format's; an ImportError on use where rawconv has no such format)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .._formats import format_getattr

__all__ = ["check_dict_spec_equal"]

__getattr__ = format_getattr("LlamaDaq", __name__, {"LLAMAEventDecoder": "LLAMAEventDecoder"})


def check_dict_spec_equal(d1: Mapping[str, Any], d2: Mapping[str, Any], specs: Iterable[str]
                          ) -> bool:  # fmt: skip
    """Whether two channel settings agree on every entry named in `specs` (absent entries
    count as None)."""
    return all(d1.get(spec) == d2.get(spec) for spec in specs)
