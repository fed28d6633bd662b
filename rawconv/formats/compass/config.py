"""CoMPASS settings XML (``*_settings.xml``): board model, sampling, record length, channels.

Read with the standard library's :mod:`xml.etree.ElementTree` (expat; entity expansion is
bounded by expat's own protection). Only what the header table and the sampling period
need is kept:

- per ``<board>`` (boards are numbered in file order, as CoMPASS numbers them in events):
  ``modelName``, ``adcBitCount``, ``sampleTime`` (ps per sample), and from its
  ``<parameters>`` the record length ``SRV_PARAM_RECLEN`` (ns);
- per ``<channel>``: its ``<values>`` entries (channel settings that differ from the
  board's), kept for the enabled channels (``SRV_PARAM_CH_ENABLED``, the channel's own
  value or else the board's), an entry without a value taking the board's.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ...errors import RawconvError

__all__ = ["DEFAULT_DT_NS", "BoardConfig", "CompassConfig", "read_config"]

DEFAULT_DT_NS = 16.0
"""Sampling period written without a settings XML (the reference converter's value; the
true one depends on the board: 2 ns for a DT5730). Give ``compass_config_file``."""

SAMPLES_PER_NS = {"730": 0.5, "725": 0.25, "720": 0.25, "751": 1.0, "724": 0.1, "740": 0.0625}
"""Sampling rate by digitizer family (the 3 digits after DT5 / V1 / VX1 / N6)."""

_FAMILY = re.compile(r"(?:DT5|VX1|V1|N6)(7\d\d)")


@dataclass(frozen=True)
class BoardConfig:
    """One board of the settings file."""

    model: str
    adc_bits: str
    sample_rate: float
    """samples per ns (NaN: unknown)."""
    reclen_ns: float
    channels: dict[int, dict[str, str]] = field(default_factory=dict)
    """enabled channel -> its settings (text, as in the file)."""

    @property
    def wf_len(self) -> float:
        """Samples per waveform that the record length gives."""
        return self.reclen_ns * self.sample_rate

    @property
    def dt(self) -> float:
        """Sampling period in ns (the default when the rate is unknown)."""
        return 1.0 / self.sample_rate if self.sample_rate > 0 else DEFAULT_DT_NS


@dataclass(frozen=True)
class CompassConfig:
    """The boards of a settings file, in file order."""

    path: str
    boards: tuple[BoardConfig, ...]

    def keys(self) -> list[int]:
        """Table keys of the enabled channels."""
        from .layout import event_key

        return [event_key(b, ch) for b, board in enumerate(self.boards) for ch in board.channels]


def _fail(path: str, reason: str) -> RawconvError:
    return RawconvError(f"CoMPASS settings XML: {reason}", path=path)


def _text(elem: ET.Element | None) -> str | None:
    return None if elem is None or elem.text is None else elem.text.strip()


def read_config(path: str | os.PathLike) -> CompassConfig:
    """Read a CoMPASS settings XML; RawconvError naming the file for anything unreadable."""
    path = os.fspath(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise _fail(path, f"malformed XML ({exc})") from None
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc})") from None
    if root.tag != "configuration":
        raise _fail(path, f"root element <{root.tag}>, not <configuration>")
    boards = root.findall("board")
    if not boards:
        raise _fail(path, "no <board> element")
    return CompassConfig(path, tuple(_board(path, i, b) for i, b in enumerate(boards)))


def _board(path: str, index: int, elem: ET.Element) -> BoardConfig:
    model = _text(elem.find("modelName")) or ""
    params: dict[str, str] = {}
    for entry in elem.iterfind("parameters/entry"):
        key = _text(entry.find("key"))
        value = _text(entry.find("value/value"))
        if key is not None and value is not None:
            params[key] = value
    if "SRV_PARAM_RECLEN" not in params:
        raise _fail(path, f"board {index} ({model}) has no SRV_PARAM_RECLEN (record length)")
    try:
        reclen = float(params["SRV_PARAM_RECLEN"])
    except ValueError:
        raise _fail(path, f"board {index}: record length {params['SRV_PARAM_RECLEN']!r}") from None
    return BoardConfig(
        model=model,
        adc_bits=_text(elem.find("adcBitCount")) or "",
        sample_rate=_sample_rate(_text(elem.find("sampleTime")), model),
        reclen_ns=reclen,
        channels=_channels(elem, params),
    )


def _sample_rate(sample_time: str | None, model: str) -> float:
    """Samples per ns: from ``sampleTime`` (ps per sample), else from the board family."""
    try:
        ps = float(sample_time) if sample_time else 0.0
    except ValueError:
        ps = 0.0
    if ps > 0 and math.isfinite(ps):
        return 1000.0 / ps
    found = _FAMILY.search(model.upper())
    return SAMPLES_PER_NS.get(found.group(1), math.nan) if found else math.nan


def _channels(elem: ET.Element, params: dict[str, str]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    default_on = params.get("SRV_PARAM_CH_ENABLED")
    for ch in elem.iterfind("channel"):
        index = _text(ch.find("index"))
        if index is None or not index.isdigit():
            continue
        values: dict[str, str] = {}
        for entry in ch.iterfind("values/entry"):
            key = _text(entry.find("key"))
            if key is None:
                continue
            own = entry.find("value")
            text = _text(own) if own is not None else params.get(key)
            values[key] = "" if text is None else text
        enabled = values.get("SRV_PARAM_CH_ENABLED", default_on)
        on = enabled.lower() == "true" if enabled is not None else bool(values)
        if on:
            out[int(index)] = values
    return out
