"""The seeds of the fuzzing campaign: the real test files (``../shared/testdata``, or
``$RAWCONV_TESTDATA``), each cut after the last whole record below a size so that one
conversion takes a fraction of a second."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = Path(os.environ.get("RAWCONV_TESTDATA", ROOT.parent / "shared" / "testdata"))


@dataclass(frozen=True)
class Seed:
    """A real file of `fmt`, cut after its last whole record ending at or before
    `max_bytes` (the header always kept; None: the whole file)."""

    fmt: str
    file: str
    max_bytes: int | None = None

    @property
    def path(self) -> Path:
        return TESTDATA / self.file

    @property
    def name(self) -> str:
        return Path(self.file).name


SEEDS: dict[str, tuple[Seed, ...]] = {
    "FCIO": (
        Seed("FCIO", "fcio/th228.fcio", 200_000),
        Seed("FCIO", "fcio/L200-comm-20211130-phy-spms.fcio", 400_000),
    ),
    "ORCA": (
        Seed("ORCA", "orca/fc/L200-comm-20220519-phy-geds.orca", 260_000),
        Seed("ORCA", "orca/fcio/l200-p14-r004-cal-20250606T010224Z.orca"),
    ),
    "Compass": (Seed("Compass", "compass/compass_test_data.BIN", 120_000),),
    "LlamaDAQ": (Seed("LlamaDAQ", "llamadaq/20241218-150158-pulser.bin", 200_000),),
    "MGDO": (Seed("MGDO", "mgdo/gerda-run0050-20150826T170402Z-cal-ged-tier1.root"),),
}
"""Format name -> its seeds. Splices join two seeds of a format (a seed with itself when
the format has one)."""

FORMATS = tuple(SEEDS)


def available(fmt: str) -> bool:
    """Whether every seed file of `fmt` is present."""
    return all(s.path.exists() for s in SEEDS[fmt])


@functools.cache
def records(seed: Seed) -> np.ndarray:
    """The format's record table (start, stop, tag, pid) of the whole seed file."""
    from rawconv.formats import get_format
    from rawconv.sources import open_source

    index_class = get_format(seed.fmt).index_class()
    return index_class.build(open_source(str(seed.path))).records


@functools.cache
def seed_bytes(seed: Seed) -> bytes:
    """The seed's bytes: the file cut after its last whole record before `max_bytes`."""
    data = seed.path.read_bytes()
    if seed.max_bytes is None or len(data) <= seed.max_bytes:
        return data
    stops = records(seed)["stop"]
    below = stops[stops <= seed.max_bytes]
    cut = int(below.max()) if below.size else int(stops.min())
    return data[:cut]


def record_starts(seed: Seed) -> np.ndarray:
    """Starts of the records that lie in the (cut) seed."""
    recs = records(seed)
    return recs["start"][recs["stop"] <= len(seed_bytes(seed))].astype(np.int64)


def record_stops(seed: Seed) -> np.ndarray:
    """Ends of the records that lie in the (cut) seed."""
    recs = records(seed)
    return recs["stop"][recs["stop"] <= len(seed_bytes(seed))].astype(np.int64)
