"""Streamers for inputs: :func:`get_streamer` picks one, :func:`open_stream` opens it.

Both take legend-daq2lh5's arguments and raise its errors: RuntimeError when the type of
an input cannot be told, NotImplementedError for a stream type rawconv does not read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from .buffers import RawBuffer
from .errors import UnknownFormatError
from .formats import detect_format, get_format
from .sources import open_source
from .streamer import DataStreamer

log = logging.getLogger(__name__)

__all__ = ["get_streamer", "open_stream", "stream_type_from_name"]

_EXTENSIONS = {"fcio": "FlashCam", "orca": "ORCA", "BIN": "Compass"}
"""File extensions that name a format (used only when the input cannot be read).
CoMPASS writes ``.BIN``; a lower-case ``.bin`` may be CoMPASS or LlamaDAQ."""


_COMING = ("compass", "llamadaq")
"""Stream types of legend-daq2lh5 whose rawconv formats may be missing from an install."""


def stream_type_from_name(name: str) -> str:
    """The stream type an input's name implies (``run.fcio`` -> ``FlashCam``).

    Raises RuntimeError for a name without a known extension, and for ``.bin``, which
    both CoMPASS and LlamaDAQ write.
    """
    filename = name.rsplit("/", 1)[-1]
    for suffix in (".gz", ".bz2"):
        filename = filename.removesuffix(suffix)
    stem, dot, ext = filename.rpartition(".")
    if not dot or not stem:
        raise RuntimeError(
            f"cannot tell the type of {name}: it cannot be read and its name has no "
            "extension; specify in_stream_type"
        )
    if ext == "bin":
        raise RuntimeError(
            f"cannot tell the type of {name}: it cannot be read, and .bin files are written "
            "by CoMPASS and by LlamaDAQ; specify in_stream_type"
        )
    if ext not in _EXTENSIONS:
        raise RuntimeError(f"unknown file extension {ext} of {name}; specify in_stream_type")
    return _EXTENSIONS[ext]


def _detected_type(in_stream: Any) -> str:
    """The stream type of an input: from its first bytes when it can be read, else from
    its name."""
    try:
        source = open_source(in_stream)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        if isinstance(in_stream, (str, os.PathLike)):
            return stream_type_from_name(os.fspath(in_stream))
        raise
    except TypeError as exc:
        raise RuntimeError(f"cannot tell the type of {in_stream!r}: {exc}") from exc
    try:
        return detect_format(source)
    except UnknownFormatError as exc:
        raise RuntimeError(f"{exc}; specify in_stream_type") from exc
    finally:
        source.close()


def get_streamer(
    in_stream: Any, in_stream_type: str | None = None, compass_config_file: Any = None
) -> DataStreamer:
    """A new (unopened) streamer for an input.

    Parameters
    ----------
    in_stream
        the input: a path, URL, bytes or Source. Without `in_stream_type` its format is
        detected from its first bytes; from its name (``.fcio``, ``.orca``, ``.BIN``) only
        when it cannot be read.
    in_stream_type
        a format name or alias (``ORCA``, ``FlashCam``, ``Compass``, ``LlamaDaq``, ...).
    compass_config_file
        a CoMPASS settings file; given alone, it implies the Compass format.

    Raises
    ------
    RuntimeError
        when the input's type cannot be told.
    NotImplementedError
        when `in_stream_type` names no format rawconv reads.
    """
    if in_stream_type is None:
        if compass_config_file is not None:
            in_stream_type = "Compass"
        else:
            in_stream_type = _detected_type(in_stream)
    try:
        fmt = get_format(in_stream_type)
    except ValueError as exc:
        if str(in_stream_type).lower() in _COMING:
            raise ImportError(
                f"stream type {in_stream_type} needs rawconv's {in_stream_type} format, which "
                f"this installation does not have ({exc})"
            ) from exc
        raise NotImplementedError(str(exc)) from exc
    options = {"compass_config_file": compass_config_file}
    taken = getattr(fmt, "options", ())
    given = {k: v for k, v in options.items() if v is not None and k in taken}
    for name in sorted({k for k, v in options.items() if v is not None} - set(given)):
        log.warning("%s is not an option of the %s format; ignored", name, fmt.name)
    return fmt.streamer_class()(**given)


@contextmanager
def open_stream(
    in_stream: Any,
    in_stream_type: str | None = None,
    compass_config_file: Any = None,
    **open_kwargs: Any,
) -> Iterator[tuple[DataStreamer, list[RawBuffer]]]:
    """Open an input with the streamer :func:`get_streamer` picks; yields ``(streamer,
    header_buffers)`` and closes the stream on leaving the ``with`` block, also on errors
    (and when opening fails).

    `open_kwargs` go to :meth:`~rawconv.streamer.DataStreamer.open_stream` (``rb_lib``,
    ``buffer_size``, ``chunk_mode``, ``out_stream``). Iterating the streamer yields the
    header buffers first, unless they were written (cleared) before::

        with open_stream("run.fcio") as (streamer, header):
            for chunk in streamer:
                ...
    """
    streamer = get_streamer(in_stream, in_stream_type, compass_config_file)
    try:
        header = streamer.open_stream(in_stream, **open_kwargs)
    except BaseException:
        with suppress(Exception):
            streamer.close_stream()
        raise
    try:
        yield streamer, header
    finally:
        streamer.close_stream()
