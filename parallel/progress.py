"""Progress bars of a run: one per phase (index, decode, merge).

``tqdm.auto``: a widget in a notebook (with ipywidgets), a text bar on a terminal.
``rawconv-parallel`` asks for them only when stderr is a terminal and never with ``-q``;
``convert(progress=True)`` always.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Bars"]

PHASES = ("index", "decode", "merge")


class Bars:
    """The bars of one run, made when their phase starts (none when not `enabled`)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict[str, Any] = {}

    def start(self, phase: str, total: int, unit: str) -> None:
        """Show the bar of `phase` (one of :data:`PHASES`) with `total` units to do
        (bytes when `unit` is "B")."""
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        scaled = {"unit_scale": True, "unit_divisor": 1024} if unit == "B" else {}
        self.bars[phase] = tqdm(total=total, unit=unit, desc=f"{phase:<6}", dynamic_ncols=True,
                                **scaled)  # fmt: skip

    def update(self, phase: str, n: int = 1) -> None:
        """`n` more units of `phase` done."""
        if phase in self.bars:
            self.bars[phase].update(n)

    def close(self, phase: str | None = None) -> None:
        """Close the bar of `phase` (None: every bar)."""
        for name in [phase] if phase else list(self.bars):
            bar = self.bars.pop(name, None)
            if bar is not None:
                bar.close()
