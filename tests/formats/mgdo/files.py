"""The MGDO test file and ways to read its baskets and entries without rawconv."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import data_file

NAME = "mgdo/gerda-run0050-20150826T170402Z-cal-ged-tier1.root"


def mgdo_file() -> Path:
    return data_file(NAME)


def baskets(path: str | Path) -> list[list[bytes]]:
    """The entries (bytes) of each basket of ``MGTree``/``event``, read by uproot."""
    import uproot

    with uproot.open(str(path)) as f:
        branch = f["MGTree"]["event"]
        out = []
        for i in range(branch.num_baskets):
            basket = branch.basket(i)
            data, offs = bytes(basket.data), basket.byte_offsets
            out.append([data[offs[k] : offs[k + 1]] for k in range(len(offs) - 1)])
        return out


def basket_seeks(path: str | Path) -> list[tuple[int, int]]:
    """(offset, bytes) of each basket."""
    import uproot

    with uproot.open(str(path)) as f:
        b = f["MGTree"]["event"]
        n = b.num_baskets
        return [(int(b.member("fBasketSeek")[i]), int(b.member("fBasketBytes")[i]))
                for i in range(n)]  # fmt: skip


def synthetic_entries(n: int, seed: int, main_len: int = 200, aux_len: int = 50) -> list[bytes]:
    """`n` writer-made entries: 0-5 channels of 24, noisy baselines with a pulse, aux traces
    for most events, some events without flags."""
    import numpy as np

    from rawconv.formats.mgdo.writer import Digitizer, Event, Trace, entry_bytes

    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        chans = sorted(rng.choice(24, size=int(rng.integers(0, 6)), replace=False).tolist())

        def trace(c: int, length: int, freq: float) -> Trace:
            base = 14000 + 300 * c + rng.normal(0, 4, length).cumsum() * 0.1
            pulse = np.where(np.arange(length) > length // 2, rng.integers(0, 9000), 0)
            samples = np.clip(base - pulse, 0, 65535).astype(np.int64)
            return Trace(c, samples, freq, float(rng.integers(0, 80000)))

        digis = [Digitizer(float(rng.uniform(0, 9000)), 1440608785 + k, 0, 0.025, 7 + k,
                           1000, 1, int(rng.integers(0, 10**9)), int(rng.integers(0, 2)), 0, 1,
                           int(rng.integers(0, 3))) for _ in chans]  # fmt: skip
        aux = None if k % 7 == 3 else [trace(c, aux_len, 0.1) for c in chans]
        active = None if k % 5 == 4 else [c in chans for c in range(24)]
        out.append(entry_bytes(Event([trace(c, main_len, 0.025) for c in chans], digis, aux,
                                     active, 0, float(k), 1.44e9 + k, k)))  # fmt: skip
    return out
