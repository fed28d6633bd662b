"""The registry of formats: the folders under ``rawconv/formats/`` and the ``rawconv.formats``
entry-point group of installed packages.

A folder ``rawconv/formats/<fmt>/`` whose ``__init__.py`` exports ``FORMAT`` (a
:class:`~.base.Format`) is a format; so is every entry point of the group ``rawconv.formats``
that loads to a Format (``[project.entry-points."rawconv.formats"] mine = "pkg:FORMAT"``).
Names and aliases are matched case-insensitively; a name taken twice is an error.
"""

from __future__ import annotations

import functools
import importlib
import logging
import pkgutil

from ..errors import UnknownFormatError
from ..sources import Source
from .base import SNIFF_BYTES, Format
from .entry_points import entry_points

log = logging.getLogger(__name__)

__all__ = [
    "ENTRY_POINT_GROUP",
    "detect_format",
    "format_names",
    "format_options",
    "formats",
    "get_format",
    "get_streamer",
    "implied_format",
    "known_decoder_names",
    "normalize_stream_type",
    "refresh",
]

ENTRY_POINT_GROUP = "rawconv.formats"


@functools.cache
def formats() -> tuple[Format, ...]:
    """Every known format, most specific first (the order detection tries them in)."""
    found: list[Format] = []
    package = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(package.__path__):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"{__package__}.{info.name}")
        fmt = getattr(module, "FORMAT", None)
        if isinstance(fmt, Format):
            found.append(fmt)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            fmt = ep.load()
        except Exception as exc:  # a broken plug-in must not break the built-in formats
            log.warning("format entry point %s (%s) failed to load: %s", ep.name, ep.value, exc)
            continue
        if not isinstance(fmt, Format):
            log.warning("format entry point %s (%s) is not a rawconv Format", ep.name, ep.value)
            continue
        found.append(fmt)
    taken: dict[str, str] = {}
    for fmt in found:
        for name in fmt.names:
            if name in taken and taken[name] != fmt.name:
                raise RuntimeError(f"formats {taken[name]} and {fmt.name} both take name {name!r}")
            taken[name] = fmt.name
    found = list({fmt.name: fmt for fmt in found}.values())
    return tuple(sorted(found, key=lambda f: -f.specificity))


def known_decoder_names() -> set[str]:
    """The decoder names of every format (an out_spec naming another one has a typo)."""
    return {name for fmt in formats() for name in fmt.decoders}


def refresh() -> None:
    """Forget the registry (after installing a format at run time; used by tests)."""
    formats.cache_clear()


def format_names() -> str:
    """``"FlashCam (fcio), ORCA, ..."``: the names for help texts and errors."""
    parts = []
    for fmt in formats():
        aliases = [a for a in fmt.aliases if a != fmt.name.lower()]
        parts.append(f"{fmt.name} ({', '.join(aliases)})" if aliases else fmt.name)
    return ", ".join(parts)


def get_format(name: str) -> Format:
    """The format called `name` (or one of its aliases); ValueError naming the known ones."""
    wanted = str(name).lower()
    for fmt in formats():
        if wanted in fmt.names:
            return fmt
    raise ValueError(f"unknown stream type {name!r}; known: {format_names()}")


def normalize_stream_type(name: str) -> str:
    """The canonical name of stream type `name`."""
    return get_format(name).name


def get_streamer(stream_type: str, **kwargs: object) -> object:
    """A new streamer for `stream_type`, given those of the build_raw keywords `kwargs`
    that are options of the format (:attr:`~.base.Format.options`); others are ignored."""
    fmt = get_format(stream_type)
    return fmt.make_streamer(**fmt.pick_options(kwargs))


def format_options() -> set[str]:
    """The build_raw keywords that some format's streamer takes (``compass_config_file``)."""
    return {name for fmt in formats() for name in fmt.options}


def implied_format(kwargs: dict) -> str | None:
    """The format whose streamer options `kwargs` name (e.g. ``compass_config_file``
    -> Compass), when exactly one does; None otherwise."""
    named = {fmt.name for fmt in formats() if fmt.pick_options(kwargs)}
    return named.pop() if len(named) == 1 else None


def detect_format(source: Source) -> str:
    """The stream type of `source`, from its first bytes (not its name).

    Raises UnknownFormatError naming the input when no format matches.
    """
    head = source.read(0, SNIFF_BYTES)
    if not head:
        raise UnknownFormatError("the input is empty", path=source.name, offset=0)
    for fmt in formats():
        try:
            if fmt.sniff(head):
                return fmt.name
        except Exception as exc:  # a sniffer must not take detection down
            log.debug("sniffer of %s failed on %s: %s", fmt.name, source.name, exc)
    shown = head[:16].hex(" ")
    raise UnknownFormatError(
        f"unknown format: the first bytes ({shown}) match none of {format_names()}; "
        "give the stream type explicitly if you know it",
        path=source.name,
        offset=0,
    )
