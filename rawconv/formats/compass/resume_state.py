"""The state a CoMPASS chunk starts from (kept apart from the index, which reads files
through the streamer: the streamer imports this module, not the index)."""

from __future__ import annotations

from dataclasses import dataclass

from ..base import ResumeState

__all__ = ["CompassResume"]


@dataclass(frozen=True)
class CompassResume(ResumeState):
    """What a CompassStreamer needs to decode the events in bytes ``[start, stop)``."""

    pid_counter: int = 0
    """The packet id before the event at `start` (damaged regions take one each)."""
    flags: int = 0
    wave_fields: bool = True
    header: bool = True
    wf_len: int = 0
    keys: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.flags <= 0xF:
            raise ValueError(f"CompassResume: flags {self.flags:#x} are not 4 bits")
        if self.wf_len < 0:
            raise ValueError(f"CompassResume: negative sample count {self.wf_len}")
        if self.pid_counter < 0:
            raise ValueError(f"CompassResume: negative packet counter {self.pid_counter}")
        if self.start < 2 * self.header:
            raise ValueError(f"CompassResume: start {self.start} inside the file header")
