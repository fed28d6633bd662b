"""The state an ORCA stream resumes from (built by :mod:`.resume`, used by the streamer).

It lives apart from the index so that the streamer, which the index walks the input with,
does not import the index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..base import ResumeState

__all__ = ["OrcaResume"]


@dataclass(frozen=True)
class OrcaResume(ResumeState):
    """What an OrcaStreamer needs to decode the records in bytes ``[start, stop)``."""

    pid_counter: int = -1
    """The packet id of the record before `start`."""
    configs: tuple[tuple[int, int], ...] = ()
    """Byte ranges of the configuration records before `start`, applied again in order."""
    listeners: Mapping[int, tuple[tuple[np.ndarray, ...], Mapping]] = field(
        default_factory=dict, repr=False
    )
    """Per listener with events before `start`: its event arrays and compact dead time."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for a, b in self.configs:
            if not 0 <= a < b <= self.start:
                raise ValueError(f"OrcaResume: config record [{a}, {b}) not before {self.start}")
