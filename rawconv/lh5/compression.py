"""HDF5 compression settings by name.

``gzip[:level]``, ``lzf`` and ``none`` use HDF5's built-in filters; ``zstd[:level]``,
``blosc[:level]``, ``lz4``, ``bitshuffle`` and ``bzip2[:level]`` come from hdf5plugin (which
readers need installed; legend-lh5io imports it). Settings are h5py ``create_dataset``
keywords; a name may stand wherever a settings mapping is accepted.
:func:`encode_settings` / :func:`decode_settings` store settings as JSON (in part files of
the parallel layer, whose merge applies them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "FILTER_NAMES",
    "decode_settings",
    "encode_settings",
    "parse_compression",
    "resolve_settings",
]

FILTER_NAMES = ("gzip", "lzf", "none", "zstd", "blosc", "lz4", "bitshuffle", "bzip2")

_COMPRESSION_KEYS = ("compression", "compression_opts", "shuffle")


def _plugin(name: str, level: int | None) -> Any:
    try:
        import hdf5plugin
    except ImportError as exc:  # pragma: no cover - hdf5plugin is a dependency
        raise ImportError(f"compression {name!r} needs hdf5plugin: pip install hdf5plugin") from exc
    if name == "zstd":
        return hdf5plugin.Zstd(clevel=3 if level is None else level)
    if name == "blosc":
        return hdf5plugin.Blosc(cname="zstd", clevel=5 if level is None else level)
    if name == "lz4":
        return hdf5plugin.LZ4()
    if name == "bitshuffle":
        return hdf5plugin.Bitshuffle(cname="lz4")
    if name == "bzip2":
        return hdf5plugin.BZip2(blocksize=9 if level is None else level)
    raise ValueError(name)


def parse_compression(spec: str) -> dict[str, Any]:
    """h5py settings for a compression name: ``"gzip:6"`` -> gzip level 6 with shuffle.

    Raises ValueError for unknown names or levels that are not integers.
    """
    name, _, level_text = spec.strip().lower().partition(":")
    level: int | None = None
    if level_text:
        try:
            level = int(level_text)
        except ValueError:
            raise ValueError(f"compression level must be an integer: {spec!r}") from None
    if name in ("none", "", "off", "no"):
        return {"compression": None, "compression_opts": None, "shuffle": False}
    if name in ("gzip", "deflate", "zlib"):
        level = 4 if level is None else level
        if not 0 <= level <= 9:
            raise ValueError(f"gzip level must be 0-9: {spec!r}")
        return {"compression": "gzip", "compression_opts": level, "shuffle": True}
    if name == "lzf":
        return {"compression": "lzf", "compression_opts": None, "shuffle": True}
    if name in ("zstd", "blosc", "lz4", "bitshuffle", "bzip2"):
        return {
            "compression": _plugin(name, level),
            "compression_opts": None,
            "shuffle": name != "blosc" and name != "bitshuffle",
        }
    raise ValueError(f"unknown compression {spec!r}; known: {', '.join(FILTER_NAMES)}")


def resolve_settings(
    base: Mapping[str, Any], override: Mapping[str, Any] | str | None
) -> dict[str, Any]:
    """`base` h5py settings updated by `override` (a mapping or a compression name).

    A new ``compression`` drops the base's ``compression_opts`` unless given too, so that a
    gzip level never leaks into another filter. ``None`` values remove a setting.
    """
    out = dict(base)
    if override is None:
        return out
    if isinstance(override, str):
        override = parse_compression(override)
    elif not isinstance(override, Mapping):
        # an hdf5plugin filter object or other h5py filter value
        override = {"compression": override}
    override = dict(override)
    comp = override.get("compression")
    if isinstance(comp, str):
        named = parse_compression(comp)
        if "compression_opts" in override and override["compression_opts"] is not None:
            named["compression_opts"] = override["compression_opts"]
        for key in ("compression", "compression_opts"):
            override[key] = named[key]
        override.setdefault("shuffle", out.get("shuffle", named["shuffle"]))
    if "compression" in override and "compression_opts" not in override:
        out.pop("compression_opts", None)
    out.update(override)
    return {k: v for k, v in out.items() if v is not None and not (k == "shuffle" and v is False)}


def encode_settings(settings: Mapping[str, Any]) -> str:
    """JSON of h5py dataset settings (hdf5plugin filters as filter id and options)."""
    out: dict[str, Any] = {"compression": None, "shuffle": False}
    for key, value in settings.items():
        if key in ("chunks", "direct_chunks"):
            continue
        if key == "compression" and not isinstance(value, (str, int, type(None))):
            out["compression"] = int(value.filter_id)
            out["compression_opts"] = [int(v) for v in value.filter_options]
            continue
        out[key] = list(value) if isinstance(value, tuple) else value
    return json.dumps(out)


def decode_settings(text: str) -> dict[str, Any]:
    """The h5py settings stored by :func:`encode_settings`."""
    out = json.loads(text)
    if isinstance(out.get("compression_opts"), list):
        out["compression_opts"] = tuple(out["compression_opts"])
    return out
