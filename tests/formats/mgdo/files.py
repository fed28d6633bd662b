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
