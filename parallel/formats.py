"""What the parallel layer needs of each format: index, split points, resume state."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from rawconv.sources import Source

__all__ = ["FormatBackend", "backend_for"]


class FormatBackend(Protocol):
    """Per-format hooks of the parallel layer."""

    def build(self, source: Source) -> Any:
        """Walk the input into the format's index (records, state to resume)."""

    def load(self, path: Any) -> Any:
        """Read an index stored with its ``save``."""

    def boundaries(self, fmt_index: Any) -> np.ndarray:
        """Record indices where a chunk may start (ascending; the first is the first chunk's)."""

    def open_kwargs(
        self, fmt_index: Any, source: Source, ranges: list[tuple[int, int, int]]
    ) -> list[dict[str, Any]]:
        """Extra ``open_stream`` arguments to decode each (first record, last record, stop
        byte) range of `ranges` (ascending, covering the file)."""


class _RecordIndexBackend:
    """Shared part: the format index lists the records where a later chunk may start."""

    def boundaries(self, fmt_index: Any) -> np.ndarray:
        return np.concatenate(([0], fmt_index.boundaries())).astype(np.int64)


class FCIOBackend(_RecordIndexBackend):
    """FlashCam FCIO: the index keeps per-event state; chunks carry config and dead time."""

    def build(self, source: Source) -> Any:
        from rawconv.formats.fcio.index import build_index

        return build_index(source)

    def load(self, path: Any) -> Any:
        from rawconv.formats.fcio.index import FCIOIndex

        return FCIOIndex.load(path)

    def open_kwargs(
        self, fmt_index: Any, source: Source, ranges: list[tuple[int, int, int]]
    ) -> list[dict[str, Any]]:
        from rawconv.formats.fcio.index import resume_states

        out: list[dict[str, Any]] = [{"stop": ranges[0][2]}] if ranges else []
        resumes = resume_states(fmt_index, source, [(a, b) for a, b, _ in ranges[1:]])
        for resume, (_, _, stop) in zip(resumes, ranges[1:]):
            resume.stop = stop
            out.append({"resume": resume})
        return out


class OrcaBackend(_RecordIndexBackend):
    """ORCA: the index walks records as the streamer does and keeps each FlashCam
    listener's event state; chunks carry the packet counter, the configuration records
    before them and the listeners' event and dead-time state."""

    def build(self, source: Source) -> Any:
        from rawconv.formats.orca.resume import build_orca_index

        return build_orca_index(source)

    def load(self, path: Any) -> Any:
        from rawconv.formats.orca.resume import OrcaIndex

        return OrcaIndex.load(path)

    def open_kwargs(
        self, fmt_index: Any, source: Source, ranges: list[tuple[int, int, int]]
    ) -> list[dict[str, Any]]:
        from rawconv.formats.orca.resume import orca_resume_states

        out: list[dict[str, Any]] = [{"stop": ranges[0][2]}] if ranges else []
        starts = [(a, stop) for a, _, stop in ranges[1:]]
        out.extend({"resume": r} for r in orca_resume_states(fmt_index, starts, source.name))
        return out


_BACKENDS: dict[str, FormatBackend] = {"FlashCam": FCIOBackend(), "ORCA": OrcaBackend()}


def backend_for(stream_type: str) -> FormatBackend:
    """The backend of a stream type; ValueError if the parallel layer does not know it."""
    try:
        return _BACKENDS[stream_type]
    except KeyError:
        known = ", ".join(_BACKENDS)
        raise ValueError(
            f"the parallel layer does not split {stream_type} inputs yet (known: {known})"
        ) from None
