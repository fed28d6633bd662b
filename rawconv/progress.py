"""A byte-progress bar for long conversions (tqdm on stderr, silent when disabled)."""

from __future__ import annotations

from typing import Any


class Progress:
    """Context manager around a tqdm bar counting bytes; a no-op when not enabled."""

    def __init__(self, total: int | None, enabled: bool, desc: str = "") -> None:
        self._bar: Any = None
        self._done = 0
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                delay=1.0, leave=False, dynamic_ncols=True,
            )  # fmt: skip

    def update_to(self, done: int) -> None:
        """Move the bar to `done` bytes."""
        if self._bar is not None and done > self._done:
            self._bar.update(done - self._done)
            self._done = done

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
