"""Mutations of DAQ files for fuzzing: bit flips, byte overwrites, truncations, corrupted
length words, inserted and deleted byte runs, splices of two files.

A :class:`Mutation` is a small frozen description; :func:`apply` turns it and the seed
bytes into the damaged input, deterministically, so that hypothesis (tests) and the
campaign script (``benchmarks/fuzz_campaign.py``) share one implementation, and a found
input is rebuilt from its description.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

KINDS = ("bitflip", "overwrite", "truncate", "length_word", "insert", "delete", "splice")

INTERESTING_WORDS = (0, 1, 2, 3, 4, 7, 8, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
                     0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)  # fmt: skip
"""Values written over a length word: zero, tiny, byte/short/int limits, -1 and -2."""


@dataclass(frozen=True)
class Mutation:
    """One damage done to a seed.

    Parameters
    ----------
    kind
        one of :data:`KINDS`.
    offset
        where the damage starts (clipped to the seed's size).
    length
        bytes overwritten, inserted or deleted; for ``splice`` unused.
    value
        the bit number (``bitflip``), the fill seed (``overwrite``, ``insert``), the
        word (``length_word``, a 32-bit value, added to the word found there when
        ``relative``), or the offset in the other file (``splice``).
    relative
        ``length_word``: add `value` (as a signed 32-bit number) to the word there
        instead of writing it.
    """

    kind: str
    offset: int
    length: int = 1
    value: int = 0
    relative: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown mutation kind {self.kind!r}; one of {KINDS}")
        if self.offset < 0 or self.length < 0:
            raise ValueError(f"offset and length must not be negative: {self}")

    def as_dict(self) -> dict:
        """The fields, for a JSON sidecar."""
        return asdict(self)


def _fill(seed: int, n: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def apply(m: Mutation, data: bytes, other: bytes | None = None) -> bytes:
    """The damaged input: `data` with `m` done to it (`other`: the second file of a splice,
    `data` itself when None)."""
    n = len(data)
    at = min(m.offset, n)
    if m.kind == "bitflip":
        if at >= n:
            return data
        return data[:at] + bytes([data[at] ^ (1 << (m.value % 8))]) + data[at + 1 :]
    if m.kind == "overwrite":
        return data[:at] + _fill(m.value, min(m.length, n - at)) + data[at + m.length :]
    if m.kind == "truncate":
        return data[:at]
    if m.kind == "length_word":
        at = min(at - at % 4, max(n - 4, 0))
        if n - at < 4:
            return data
        word = int.from_bytes(data[at : at + 4], "little")
        if m.relative:
            delta = m.value - (1 << 32) if m.value & 0x80000000 else m.value
            word = (word + delta) % (1 << 32)
        else:
            word = m.value % (1 << 32)
        return data[:at] + word.to_bytes(4, "little") + data[at + 4 :]
    if m.kind == "insert":
        return data[:at] + _fill(m.value, m.length) + data[at:]
    if m.kind == "delete":
        return data[:at] + data[at + m.length :]
    other = data if other is None else other  # splice: data up to offset, then other's tail
    return data[:at] + other[min(m.value, len(other)) :]


def first_damage(seed: bytes, damaged: bytes) -> int | None:
    """The first offset where `damaged` differs from `seed` (its length when it is a
    prefix of `seed`); None when the two are equal."""
    if seed == damaged:
        return None
    n = min(len(seed), len(damaged))
    a = np.frombuffer(seed, np.uint8, n)
    b = np.frombuffer(damaged, np.uint8, n)
    diff = np.flatnonzero(a != b)
    return int(diff[0]) if diff.size else n


def random_mutation(rng: np.random.Generator, size: int, record_starts: np.ndarray,
                    other_size: int) -> Mutation:  # fmt: skip
    """A mutation drawn by `rng` for a seed of `size` bytes; length words are looked for at
    the record starts (and the words after them) about half of the time."""
    kind = KINDS[int(rng.integers(len(KINDS)))]
    offset = int(rng.integers(max(size, 1)))
    run = int(rng.choice([1, 2, 3, 4, 7, 8, 16, 100, 1000, 4096]))
    if kind == "bitflip":
        return Mutation(kind, offset, value=int(rng.integers(8)))
    if kind in ("overwrite", "insert"):
        return Mutation(kind, offset, length=run, value=int(rng.integers(1 << 31)))
    if kind == "delete":
        return Mutation(kind, offset, length=run)
    if kind == "truncate":
        return Mutation(kind, offset)
    if kind == "splice":
        return Mutation(kind, offset, value=int(rng.integers(max(other_size, 1))))
    if record_starts.size and rng.random() < 0.5:
        offset = int(rng.choice(record_starts)) + 4 * int(rng.integers(4))
    if rng.random() < 0.3:
        delta = int(rng.choice([1, 2, 4, 8, 1000, -1, -2, -4, -8, -1000]))
        return Mutation(kind, offset, value=delta % (1 << 32), relative=True)
    return Mutation(kind, offset, value=int(rng.choice(INTERESTING_WORDS)))
