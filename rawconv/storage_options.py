"""``--storage-option``: fsspec storage options from the command line.

Each item is ``KEY=VALUE`` or a ``.json`` / ``.yaml`` file holding a mapping; items are
applied in order, later ones overriding earlier ones. A dotted key sets a nested option
(``client_kwargs.endpoint_url=http://127.0.0.1:9000``); a value that reads as JSON
(``true``, ``3``, ``{"a": 1}``) is taken as such, anything else as a string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["STORAGE_OPTION_HELP", "parse_storage_options"]

STORAGE_OPTION_HELP = (
    "fsspec option for URL inputs and outputs, KEY=VALUE (dotted keys nest: "
    "client_kwargs.endpoint_url=http://host:9000), or a .json/.yaml file of them; repeatable"
)


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


def _load_file(name: str) -> Mapping[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(Path(name).read_text())
    except OSError as exc:
        raise ValueError(f"cannot read {name}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{name} is not valid JSON/YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"{name} must hold a mapping of options, not {type(data).__name__}")
    return data


def parse_storage_options(items: Iterable[str] | None) -> dict[str, Any]:
    """The storage options that `items` (``KEY=VALUE`` or file names) give; ValueError
    naming the item that is neither."""
    options: dict[str, Any] = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        if not sep:
            if not item.lower().endswith((".json", ".yaml", ".yml")):
                raise ValueError(f"{item!r}: use KEY=VALUE or a .json/.yaml file of options")
            _merge(options, _load_file(item))
            continue
        parts = [p.strip() for p in key.split(".")]
        if not all(parts):
            raise ValueError(f"{item!r}: the key before '=' is empty")
        nested: dict[str, Any] = {parts[-1]: _value(text)}
        for part in reversed(parts[:-1]):
            nested = {part: nested}
        _merge(options, nested)
    return options
