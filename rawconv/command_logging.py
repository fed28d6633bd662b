"""How the commands print log messages, and putting it back when they return.

The commands are also called in-process (``main([...])`` from a notebook or a test): the
logging they set up for their run must not outlive it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

__all__ = ["command_logging"]

LIBRARIES = ("distributed", "dask", "tornado", "bokeh")
"""Loggers of the libraries rawconv runs on: quiet unless asked for."""


@contextlib.contextmanager
def command_logging(prefix: str, level: int, libraries: int | None = None) -> Iterator[None]:
    """rawconv's messages at `level` on stderr as ``<prefix> LEVEL: message``, and the
    libraries' loggers at `libraries` (untouched when None), for the block; the loggers'
    handlers, levels and propagation as they were afterwards."""
    names = ("rawconv", *(LIBRARIES if libraries is not None else ()))
    saved = {name: _state(logging.getLogger(name)) for name in names}
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{prefix} %(levelname)s: %(message)s"))
    ours = logging.getLogger("rawconv")
    ours.handlers[:] = [handler]
    ours.setLevel(level)
    ours.propagate = False
    if libraries is not None:
        for name in LIBRARIES:
            logging.getLogger(name).setLevel(libraries)
    try:
        yield
    finally:
        for name, (handlers, lvl, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(lvl)
            logger.propagate = propagate


def _state(logger: logging.Logger) -> tuple[list[logging.Handler], int, bool]:
    return list(logger.handlers), logger.level, logger.propagate
