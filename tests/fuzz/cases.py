"""A fuzz case: a seed, a second file for splices, and one mutation; saved as JSON in
``tests/fuzz/corpus/<format>/`` when it finds a problem, and replayed from there."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .mutations import Mutation, apply, first_damage, random_mutation
from .seeds import SEEDS, Seed, record_starts, record_stops, records, seed_bytes

CORPUS = Path(__file__).resolve().parent / "corpus"

OPEN_ENDED = {"FCIO": (4, (1,))}
"""Formats whose records carry no length, as (bytes of the header that starts a record,
tags of records whose last frames are optional). An FCIO record ends where the next
one's tag word starts, and an FCIOConfig may end with a tracemap and a streamid frame, or
without: a damaged tag word that reads as a frame length makes the next record's frames
read as those optional frames (a 4-byte frame is a streamid), and no reader can tell
them from an intact FCIOConfig that has them. Such a record lies before the damage only
when the tag word after it is intact too (or the input ends there)."""


@dataclass(frozen=True)
class Case:
    """`mutation` done to `seed` (`other`: the second file of a splice)."""

    seed: Seed
    other: Seed
    mutation: Mutation

    @property
    def fmt(self) -> str:
        return self.seed.fmt

    def build(self) -> tuple[bytes, int | None]:
        """(the damaged input, the end of the last whole record of the seed before its
        first damaged byte: None when there is none, or when the input is undamaged)."""
        data = seed_bytes(self.seed)
        damaged = apply(self.mutation, data, seed_bytes(self.other))
        first = first_damage(data, damaged)
        if first is None:
            return damaged, None
        stops = record_stops(self.seed)
        before = np.flatnonzero(stops <= first)
        if before.size and self.fmt in OPEN_ENDED and first < len(damaged):
            mark, tags = OPEN_ENDED[self.fmt]
            last = before[-1]
            if stops[last] + mark > first and records(self.seed)["tag"][last] in tags:
                before = before[:-1]
        return damaged, int(stops[before[-1]]) if before.size else None

    @property
    def key(self) -> tuple:
        """What identifies the undamaged seed (for the cache of prefix conversions)."""
        return (self.seed.file, self.seed.max_bytes)

    def as_dict(self) -> dict:
        return {"format": self.fmt, "seed": self.seed.file, "seed_max_bytes": self.seed.max_bytes,
                "other": self.other.file, "other_max_bytes": self.other.max_bytes,
                "mutation": self.mutation.as_dict()}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict) -> Case:
        fmt = d["format"]
        seed = Seed(fmt, d["seed"], d["seed_max_bytes"])
        other = Seed(fmt, d["other"], d["other_max_bytes"])
        return cls(seed, other, Mutation(**d["mutation"]))


def random_case(fmt: str, rng: np.random.Generator) -> Case:
    """A case of `fmt` drawn by `rng`: one of its seeds, a splice partner, a mutation."""
    seeds = SEEDS[fmt]
    seed = seeds[int(rng.integers(len(seeds)))]
    other = seeds[int(rng.integers(len(seeds)))]
    size = len(seed_bytes(seed))
    m = random_mutation(rng, size, record_starts(seed), len(seed_bytes(other)))
    return Case(seed, other, m)


def save(case: Case, problems: list[str], name: str, corpus: Path = CORPUS) -> Path:
    """Write `case` and what it found to ``corpus/<format>/<name>.json``."""
    folder = corpus / case.fmt
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({**case.as_dict(), "found": problems}, indent=1) + "\n")
    return path


def load(path: Path) -> Case:
    """The case saved in `path`."""
    return Case.from_dict(json.loads(path.read_text()))


def corpus_files(corpus: Path = CORPUS) -> list[Path]:
    """Every saved case, sorted."""
    return sorted(corpus.glob("*/*.json"))
