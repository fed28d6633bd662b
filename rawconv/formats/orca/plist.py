"""A lenient reader of XML property lists, for ORCA headers that plistlib refuses.

One flipped byte in a header of megabytes (a tag name, a bracket) makes the XML invalid,
and the whole file would be lost with it, though the data-id map and the hardware
description are intact around the damage. :func:`parse_lenient` reads the plist elements
it recognises, in order, and skips what it does not; it reports how many pieces it skipped
or repaired so that the caller can say what was guessed.
"""

from __future__ import annotations

import base64
import html
import re
from typing import Any

__all__ = ["parse_lenient"]

_TOKEN = re.compile(rb"<(/?)([A-Za-z]+)[^<>]*?(/?)>|<[?!][^<>]*>|[^<]+|<")
_SCALARS = {"key", "string", "integer", "real", "data", "date"}
_TAGS = ("plist", "dict", "array", "true", "false", *sorted(_SCALARS))


def _repair(tag: str) -> str | None:
    """The plist tag a damaged name stands for: the one tag of the same length that differs
    in one letter (a flipped byte), if there is exactly one."""
    close = [t for t in _TAGS if len(t) == len(tag) and sum(a != b for a, b in zip(t, tag)) == 1]
    return close[0] if len(close) == 1 else None


def _scalar(tag: str, text: str) -> Any:
    if tag == "integer":
        return int(text.strip())
    if tag == "real":
        return float(text.strip())
    if tag == "data":
        return base64.b64decode("".join(text.split()))
    return text


def parse_lenient(xml: bytes) -> tuple[Any, int]:
    """The plist value of `xml` as far as it can be read, and the number of elements
    skipped or repaired on the way (0 for a valid plist)."""
    tokens = [(m.group(1), m.group(2), m.group(3), m.group(0)) for m in _TOKEN.finditer(xml)]
    stack: list[list | dict] = []
    keys: list[str | None] = []
    root: Any = None
    damaged = 0

    def attach(value: Any) -> None:
        nonlocal root, damaged
        if not stack:
            root = value if root is None else root
            return
        top = stack[-1]
        if isinstance(top, list):
            top.append(value)
        elif keys[-1] is not None:
            top[keys[-1]] = value
            keys[-1] = None
        else:
            damaged += 1  # a value without its key

    i = 0
    while i < len(tokens):
        close, name, empty, raw = tokens[i]
        i += 1
        if name is None:
            if raw.strip() and not raw.startswith((b"<?", b"<!")):
                damaged += 1  # text outside a scalar element, or a broken bracket
            continue
        tag = name.decode("ascii", "replace")
        if tag not in _TAGS:
            damaged += 1
            tag = _repair(tag) or tag
            name = tag.encode()
        if tag == "plist":
            continue
        if not close and tag in ("dict", "array") and not empty:
            stack.append({} if tag == "dict" else [])
            keys.append(None)
        elif not close and tag in ("dict", "array"):
            attach({} if tag == "dict" else [])
        elif close and tag in ("dict", "array"):
            if stack and isinstance(stack[-1], dict) == (tag == "dict"):
                keys.pop()
                attach(stack.pop())
            else:
                damaged += 1
        elif not close and tag in ("true", "false"):
            attach(tag == "true")
        elif not close and tag in _SCALARS:
            text = b""
            if empty:
                pass
            elif i < len(tokens) and tokens[i][1] is None and not tokens[i][3].startswith(b"<"):
                text = tokens[i][3]
                i += 1
            if not empty:
                if i < len(tokens) and tokens[i][0] == b"/" and (
                    tokens[i][1] == name or _repair(tokens[i][1].decode("ascii", "replace")) == tag
                ):
                    damaged += tokens[i][1] != name
                    i += 1
                else:
                    damaged += 1  # its closing tag is damaged: the text is kept
            value_text = html.unescape(text.decode("utf-8", "replace"))
            try:
                value = _scalar(tag, value_text)
            except ValueError:
                damaged += 1
                value = value_text
            if tag == "key":
                if stack and isinstance(stack[-1], dict):
                    keys[-1] = value
                else:
                    damaged += 1
            else:
                attach(value)
        else:
            damaged += 1  # a closing tag out of place
    while stack:  # unclosed containers (the damage hit a closing tag)
        damaged += 1
        keys.pop()
        attach(stack.pop())
    return root, damaged
