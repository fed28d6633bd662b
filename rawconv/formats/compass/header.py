"""The CoMPASS file header: the event layout (from the header word or from the bytes) and
the ``CompassHeader`` table (formats.md, section 3; reference-converter.md, section 4).

Without the 2-byte header, the layout is found from the first events: every combination
of energy fields (ADC, calibrated, both) and energy short, with and without the waveform
fields, is walked over the first events (up to :data:`PROBE_EVENTS`), each with the first
event's sample count, a plausible board and channel and calibrated energies of plausible
magnitude (:data:`CAL_MIN` to :data:`CAL_MAX`, or 0); the layout whose events end where
the bytes end (or run on past the bytes read) and cover the most bytes wins (ties: ADC
energy before calibrated before both, no energy short before energy short, as the
reference converter tries them). Bytes that two layouts explain
equally well (e.g. all zeros) cannot be told apart by any reader; give such files their
header back.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from ...decoder import DataDecoder
from ...lh5.columns import ScalarCol, TableCol
from .config import CompassConfig
from .kernels import INDEX_BAD_LENGTH, INDEX_NEED_MORE, index_events
from .layout import (
    FLAG_CALIBRATED,
    FLAG_ENERGY,
    FLAG_SHORT,
    FLAG_WAVEFORM,
    HEADER_BYTES,
    MAX_BOARD,
    MAX_CHANNEL,
    MAX_SAMPLES,
    EventLayout,
    is_header,
)

log = logging.getLogger(__name__)

__all__ = ["PROBE_EVENTS", "CompassHeaderDecoder", "find_layout"]

PROBE_EVENTS = 64
"""Events walked to tell layouts apart."""
CAL_MIN, CAL_MAX = 1e-6, 1e12
"""Magnitudes a calibrated energy (keV or MeV) can have, when layouts are told apart."""

DEFAULT_BOARDS = 2
DEFAULT_CHANNELS = 8
"""Boards and channels the header table lists without a settings file (as the reference)."""

_ENERGY_ORDER = (FLAG_ENERGY, FLAG_CALIBRATED, FLAG_ENERGY | FLAG_CALIBRATED)


def _probe(buf: np.ndarray, fill: int, eof: bool, layout: EventLayout, guess: bool,
           ) -> tuple[int, int, int]:  # fmt: skip
    """How well a layout explains the first bytes: (the number of its events if they end
    where the bytes end or run on past them, else 0; bytes they cover; their sample count), or
    (0, 0, -1) when it explains no event. When the walk with the first event's sample
    count fails, the count of a second event whose distance from the first fits it is
    tried (the first event's length word may be the damaged one)."""
    start = layout.data_start
    if start + layout.head > fill:
        return 0, 0, -1
    wf_len = _u32(buf, start + layout.off_nsamples) if layout.off_nsamples >= 0 else 0
    clean, stop = _walk(buf, fill, eof, layout, guess, start, wf_len)
    if clean or layout.off_nsamples < 0:
        return clean, stop - start, wf_len if stop > start else -1
    head = layout.head
    qs = np.arange(start + head, fill - head + 1, 2, dtype=np.int64)
    offs = qs[:, None] + layout.off_nsamples + np.arange(4)[None, :]
    ws = buf[offs].copy().view("<u4").ravel().astype(np.int64)
    for q in qs[qs - start - head == 2 * ws][:16].tolist():
        w = (q - start - head) // 2
        ok, end = _walk(buf, fill, eof, layout, guess, int(q), w)
        if ok:
            return ok + 1, end - start, w  # the damaged first event counts too
    return clean, stop - start, wf_len if stop > start else -1


def _u32(buf: np.ndarray, at: int) -> int:
    return int(buf[at]) | (int(buf[at + 1]) << 8) | (int(buf[at + 2]) << 16) | (
        int(buf[at + 3]) << 24)  # fmt: skip


def _walk(buf: np.ndarray, fill: int, eof: bool, layout: EventLayout, guess: bool,
          start: int, wf_len: int) -> tuple[int, int]:  # fmt: skip
    """(the number of events of `wf_len` samples from `start` if they are plausible and
    end cleanly, else 0; where they end: `start` if there is none)."""
    if wf_len > MAX_SAMPLES or (guess and (wf_len > 0) != layout.has_waveform):
        return 0, start  # guessed layouts: bit 3 set exactly when events have samples
    starts = np.zeros(PROBE_EVENTS, np.int64)
    n, nxt, status = index_events(
        buf, start, fill, layout.head, layout.off_nsamples, wf_len, starts, PROBE_EVENTS
    )
    starts = starts[:n]
    boards = buf[starts].astype(np.int64) | (buf[starts + 1].astype(np.int64) << 8)
    chans = buf[starts + 2].astype(np.int64) | (buf[starts + 3].astype(np.int64) << 8)
    if n == 0 or (boards >= MAX_BOARD).any() or (chans >= MAX_CHANNEL).any():
        return 0, start
    if layout.has_calibrated and not _plausible_energies(buf, starts + layout.off_calibrated):
        return 0, start
    clean = status != INDEX_BAD_LENGTH and not (status == INDEX_NEED_MORE and eof)
    return int(clean) * n, int(nxt)


def _plausible_energies(buf: np.ndarray, at: np.ndarray) -> bool:
    """Whether the float64 values at offsets `at` look like calibrated energies: finite,
    0 or of magnitude in [CAL_MIN, CAL_MAX) (bytes read from the wrong offset give
    exponents out of that range)."""
    raw = buf[at[:, None] + np.arange(8)[None, :]].copy().view("<f8").ravel()
    mag = np.abs(raw)
    return bool(np.all(np.isfinite(raw) & ((mag == 0) | ((mag >= CAL_MIN) & (mag < CAL_MAX)))))


def find_layout(buf: np.ndarray, fill: int, eof: bool) -> tuple[EventLayout, int] | None:
    """The event layout and sample count of a file whose first `fill` bytes are in `buf`
    (`eof`: they are all of it); None when no layout explains the bytes.

    With the header, only whether events carry the waveform fields is open (when bit 3
    is clear); an input of the header alone has no events and gets the usual layout; a
    header whose flags fit no event is taken as damaged and the layout is guessed. Without
    it, the layout whose events end cleanly and cover the most bytes wins.
    """
    word = int(buf[0]) | (int(buf[1]) << 8) if fill >= HEADER_BYTES else -1
    if word >= 0 and is_header(word):
        flags = word & 0xF
        candidates = [EventLayout(flags, True, True)]
        if not flags & FLAG_WAVEFORM:
            candidates.append(EventLayout(flags, False, True))
        if fill <= HEADER_BYTES:
            return candidates[0], 0
        found = _best(buf, fill, eof, candidates)
        if found is None:  # a damaged header word: its flags do not fit the events
            found = _best(buf, fill, eof, _guesses(header=True), min_events=2)
            if found is not None:
                log.warning("CoMPASS header flags %#x do not fit the events; they read as %s",
                            flags, found[0].describe())  # fmt: skip
        return found
    return _best(buf, fill, eof, _guesses(header=False))


def _guesses(header: bool) -> list[EventLayout]:
    """Every layout a file could have, in the order ties are decided."""
    out = []
    for energy in _ENERGY_ORDER:
        for short in (0, FLAG_SHORT):
            for wave in (FLAG_WAVEFORM, 0):
                out.append(EventLayout(energy | short | wave, True, header))
            out.append(EventLayout(energy | short, False, header))
    return out


def _best(buf: np.ndarray, fill: int, eof: bool, candidates: list[EventLayout],
          min_events: int = 1) -> tuple[EventLayout, int] | None:  # fmt: skip
    """The candidate that explains the bytes best; with `min_events` > 1, only one whose
    events (at least that many) end cleanly."""
    best: tuple[tuple[int, int], EventLayout, int] | None = None
    guess = len(candidates) > 2
    for layout in candidates:
        clean, nbytes, wf_len = _probe(buf, fill, eof, layout, guess)
        clean = min(clean, 1) if clean >= min_events else 0
        if min_events > 1 and not clean:
            continue
        if nbytes > 0 and (best is None or (clean, nbytes) > best[0]):
            best = ((clean, nbytes), layout, wf_len)
    return None if best is None else (best[1], best[2])


def _struct(members: dict[str, Any]) -> TableCol:
    return TableCol(members, size=0, kind="struct")


class CompassHeaderDecoder(DataDecoder):
    """The file header and settings -> ``CompassHeader``, a struct as the reference writes:
    ``boards/<i>/{modelName, adcBitCount, sample_rate, wf_len, channels/<ch>/{...}}`` and
    the flags ``energy_channels, energy_calibrated, energy_short, waveform_samples,
    header_present`` (int64). Without settings: 2 boards x 8 channels of NaN, ``wf_len``
    from the first event."""

    def __init__(self) -> None:
        super().__init__(garbage_length=1)
        self.layout: EventLayout | None = None
        self.config: CompassConfig | None = None
        self.wf_len = 0

    def set_header(self, layout: EventLayout, wf_len: int, config: CompassConfig | None) -> None:
        self.layout, self.wf_len, self.config = layout, wf_len, config

    def get_decoded_values(self, key: Any = None) -> dict[str, dict[str, Any]]:
        return {}

    def make_table(self, key: Any = None, size: int | None = None) -> TableCol:
        layout = self.layout or EventLayout(0)
        struct = _struct({"boards": self._boards()})
        for name, value in (
            ("energy_channels", layout.has_energy),
            ("energy_calibrated", layout.has_calibrated),
            ("energy_short", layout.has_short),
            ("waveform_samples", layout.has_waveform),
            ("header_present", layout.header),
        ):
            struct[name] = ScalarCol(np.int64(value))
        return struct

    def _boards(self) -> TableCol:
        boards = _struct({})
        if self.config is None:
            for b in range(DEFAULT_BOARDS):
                channels = _struct({str(c): ScalarCol(math.nan) for c in range(DEFAULT_CHANNELS)})
                boards[str(b)] = _struct(
                    {"modelName": ScalarCol(math.nan), "adcBitCount": ScalarCol(math.nan),
                     "sample_rate": ScalarCol(math.nan), "wf_len": ScalarCol(float(self.wf_len)),
                     "channels": channels}
                )  # fmt: skip
            return boards
        for b, board in enumerate(self.config.boards):
            channels = _struct({})
            for ch, values in board.channels.items():
                channels[str(ch)] = _struct({k: ScalarCol(v) for k, v in values.items()})
            boards[str(b)] = _struct(
                {"modelName": ScalarCol(board.model), "adcBitCount": ScalarCol(board.adc_bits),
                 "sample_rate": ScalarCol(float(board.sample_rate)),
                 "wf_len": ScalarCol(float(board.wf_len)), "channels": channels}
            )  # fmt: skip
        return boards
