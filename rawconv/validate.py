"""Checks of arguments and output paths, made once, before any work.

Every check raises with a message that names the thing at fault: the argument, the output
path, the environment variable.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import OutputError, OutputExistsError, OutSpecError

__all__ = [
    "check_buffer_size",
    "check_keywords",
    "check_n_max",
    "check_not_the_input",
    "check_output_path",
    "expand_env",
    "template_names",
]

_ENV = re.compile(r"\$(\w+|\{[^}]*\})")
_FIELD = re.compile(r"(?<!\{)\{([^{}!:]*)")


def expand_env(text: str, what: str = "", strict: bool = True) -> str:
    """``$VAR`` and ``${VAR}`` replaced by their values. An unset or empty variable is an
    OutSpecError naming it, or with ``strict=False`` stays as written (out_spec expansion,
    as in legend-daq2lh5: :func:`check_env_expanded` refuses it before anything is written
    there)."""

    def value(match: re.Match) -> str:
        name = match.group(1).strip("{}")
        got = os.environ.get(name, "")
        if not got:
            if not strict:
                return match.group(0)
            where = f" in {what}" if what else ""
            raise OutSpecError(f"environment variable ${name}{where} is not set (or empty)")
        return got

    return _ENV.sub(value, text)


def check_env_expanded(path: str) -> None:
    """An output path holds no ``$VAR`` of an unset variable (it would name a folder
    ``$VAR``): OutSpecError naming the variable and the path."""
    expand_env(path, f"the output {path}")


def template_names(values: Any) -> set[str]:
    """The ``{variable}`` names used in the strings of an out_spec (or one string)."""
    names: set[str] = set()
    if isinstance(values, str):
        names.update(m.split(".")[0].split("[")[0] for m in _FIELD.findall(values) if m)
    elif isinstance(values, Mapping):
        for key, value in values.items():
            names |= template_names(key) | template_names(value)
    elif isinstance(values, (list, tuple)):
        for value in values:
            names |= template_names(value)
    return names


def check_keywords(kwargs: Mapping[str, Any], used: Iterable[str], known: Iterable[str]) -> None:
    """Every keyword is a known argument or a variable the out_spec uses: a typo such as
    ``hdf5_setting`` is an error, with the closest names."""
    allowed = set(known) | set(used) | {"orig_basename"}
    for name in kwargs:
        if name not in allowed:
            close = difflib.get_close_matches(name, sorted(allowed), n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise TypeError(
                f"unknown keyword argument {name!r}: neither an argument nor a variable of "
                f"the out_spec{hint}"
            )


def check_buffer_size(buffer_size: Any) -> int:
    """A buffer size: an integer of at least 1."""
    if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 1:
        raise ValueError(f"buffer_size must be an integer of at least 1, not {buffer_size!r}")
    return buffer_size


def check_n_max(n_max: Any) -> float:
    """A row limit: a number of at least 0 (``inf``: no limit)."""
    if isinstance(n_max, bool) or not isinstance(n_max, (int, float)) or n_max < 0 or (
        isinstance(n_max, float) and math.isnan(n_max)
    ):
        raise ValueError(f"n_max must be a number of at least 0, not {n_max!r}")
    return n_max


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a fifo"),
                       (stat.S_ISSOCK, "a socket")):  # fmt: skip
        if test(mode):
            return name
    return "not a regular file"


def check_output_path(path: str | os.PathLike, overwrite: bool) -> None:
    """An output may be written at `path`: it is absent, or a regular file and `overwrite`
    is set, and its parent is (or can become) a folder. Links are followed: a link to a
    device is a device. Raises OutputError / OutputExistsError naming the path."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise OutputError("a parent of the output is not a folder", path=str(p)) from None
    if st is None:
        if p.is_symlink():
            raise OutputError("a link to nothing; rawconv writes only regular files", path=str(p))
        for parent in p.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise OutputError(f"{parent} is not a folder", path=str(p))
                break
        return
    if not stat.S_ISREG(st.st_mode):
        hint = " (end the name with / to write inside the folder)" if p.is_dir() else ""
        raise OutputError(
            f"exists and is {_kind(st.st_mode)}; rawconv writes only regular files{hint}",
            path=str(p),
        )
    if not overwrite:
        raise OutputExistsError("exists; overwrite=True replaces it", path=str(p))


def check_not_the_input(path: str | os.PathLike, input_path: str | os.PathLike | None) -> None:
    """The output at `path` is not the local input file being converted (through a link or
    another name included): overwriting would destroy the data it is made from. Raises
    OutputError naming the path."""
    if input_path is None:
        return
    try:
        same = Path(path).samefile(input_path)
    except (OSError, ValueError):  # either absent (or unreadable): not one file
        return
    if same:
        raise OutputError(
            f"is the input file {os.fspath(input_path)}; rawconv never writes over its input",
            path=os.fspath(path),
        )
