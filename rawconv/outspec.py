"""The out_spec shorthand: which decoded rows go to which buffer, file and table.

An out_spec is a dict (or a JSON / YAML file holding one)::

    {DecoderClassName | "*": {buffer_name: {"key_list": [...], "out_stream": "file.lh5:/group",
                                            "out_name": "table", "proc_spec": {...}}}}

Expansion rules (reference-converter.md, section 2), with the reference's quirks fixed:

1. an empty buffer name or a missing ``key_list`` is an error;
2. a 2-element list of ints in ``key_list`` is an inclusive range: ``[[24, 26], 30]`` gives
   ``[24, 25, 26, 30]``;
3. a buffer whose name, ``out_name`` or ``out_stream`` contains ``{key`` is split into one
   buffer per key, for concrete keys here and for wildcard keys once the decoder's keys are
   known;
4. ``out_stream`` and ``out_name`` are formatted with the keyword dict, ``{name}`` (the buffer
   name) and ``{key}``; then environment variables (``$VAR``) are expanded. Every buffer gets its
   own copy of the keywords, so nothing leaks from one buffer to the next;
5. ``out_name`` defaults to the buffer name;
6. wildcards (``"*"`` takes every key no other buffer of the decoder took; other strings with
   ``*``, ``?`` or ``[`` are fnmatch patterns on ``str(key)``) are resolved against the
   decoders' keys when the stream is opened;
7. every buffer listed under the decoder ``"*"`` applies to each decoder the spec does not
   name, with ``{name}`` in its buffer name standing for the decoder's name without "Decoder";
   as in legend-daq2lh5, a decoder gets them once per table of its default buffers, the names
   suffixed as those tables' are (``ORFCIOConfig_0``, ``LLAMAEvent_4``: a decoder whose keys
   fall into several table layouts, or that the reference names so).

:func:`expand_out_spec` applies rules 1-5 (no input needed); :func:`resolve_out_spec`, a pure
function of (out_spec, the input's decoders and keys, keywords), gives the whole resolved
spec that a :class:`~rawconv.buffers.RawBufferLibrary` is built from.
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import json
import os
import string
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import OutSpecError
from .validate import expand_env

__all__ = [
    "as_out_spec",
    "decoder_short_name",
    "expand_key_list",
    "expand_out_spec",
    "expand_rblist_json_dict",
    "format_template",
    "is_wildcard",
    "load_out_spec",
    "resolve_out_spec",
    "resolve_wildcards",
    "unmatched_keys",
]

_WILDCARD_CHARS = "*?["


def is_wildcard(key: Any) -> bool:
    """True for string keys that are patterns (``"*"``, ``"11*"``, ``"ch?"``...)."""
    return isinstance(key, str) and any(c in key for c in _WILDCARD_CHARS)


def decoder_short_name(decoder_name: str) -> str:
    """``"FCEventDecoder"`` -> ``"FCEvent"``."""
    return decoder_name[: -len("Decoder")] if decoder_name.endswith("Decoder") else decoder_name


def load_out_spec(path: str | os.PathLike) -> dict:
    """Read an out_spec from a ``.json``, ``.yaml`` or ``.yml`` file."""
    path = Path(os.path.expandvars(os.fspath(path)))
    if not path.exists():
        raise FileNotFoundError(f"out_spec file not found: {path}")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            spec = yaml.safe_load(text)
        else:
            spec = json.loads(text)
    except Exception as exc:
        raise OutSpecError(f"cannot parse out_spec: {exc}", path=str(path)) from exc
    if not isinstance(spec, dict):
        raise OutSpecError("an out_spec file must hold a mapping", path=str(path))
    return spec


def expand_key_list(key_list: Iterable[Any]) -> list[Any]:
    """Expand 2-element ``[first, last]`` int lists into inclusive ranges."""
    keys: list[Any] = []
    for key in key_list:
        if isinstance(key, (list, tuple)):
            if len(key) == 2 and all(isinstance(k, int) for k in key):
                first, last = key
                if last < first:
                    raise OutSpecError(f"empty key range {list(key)}: first > last")
                keys.extend(range(first, last + 1))
            else:
                keys.extend(key)
        else:
            keys.append(key)
    return keys


class _KeepUnknown(dict):
    """Format mapping that raises for unknown names, except `key` which is kept for later."""

    def __missing__(self, name: str) -> Any:
        raise KeyError(name)


def format_template(template: str, values: Mapping[str, Any], keep: Iterable[str] = ()) -> str:
    """Format `template` with `values`, leaving ``{name...}`` placeholders in `keep` untouched.

    Unknown names not in `keep` raise OutSpecError. Environment variables are not expanded here.
    """
    keep = set(keep)
    out = []
    for literal, field, spec, conv in string.Formatter().parse(template):
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if field is None:
            continue
        if literal.endswith("$") and not spec and not conv:  # ${VAR}: an environment variable
            out.append("{{" + field + "}}")
            continue
        base = field.split(".")[0].split("[")[0]
        if base != field or not field.isidentifier():
            raise OutSpecError(
                f"template field {{{field}}} in {template!r}: only plain names are allowed"
            )
        if base in values:
            piece = "{" + field + ("!" + conv if conv else "") + (":" + spec if spec else "") + "}"
            out.append(piece)
        elif base in keep:
            kept = "{" + field + ("!" + conv if conv else "") + (":" + spec if spec else "") + "}"
            out.append(kept.replace("{", "{{").replace("}", "}}"))
        else:
            raise OutSpecError(
                f"undefined variable {{{base}}} in {template!r}; "
                f"known: {sorted(set(values) | keep)}"
            )
    try:
        return "".join(out).format_map(_KeepUnknown(values))
    except (ValueError, KeyError, IndexError) as exc:
        raise OutSpecError(f"cannot format {template!r}: {exc}") from exc


def _has_key_field(*templates: str) -> bool:
    return any("{key" in t for t in templates if t)


def _finish_buffer(name: str, spec: Mapping[str, Any], kw_dict: Mapping[str, Any]) -> dict:
    """Format out_stream / out_name of a buffer whose keys are concrete (or not needed)."""
    keys = spec["key_list"]
    values = dict(kw_dict)
    if len(keys) == 1 and not is_wildcard(keys[0]):
        values["key"] = keys[0]
    keep = () if "key" in values else ("key",)
    name = format_template(name, values, keep) if "{" in name else name
    values["name"] = name
    out = dict(spec)
    out["out_stream"] = expand_env(
        format_template(str(spec.get("out_stream", "")), values, keep), strict=False
    )
    out["out_name"] = expand_env(
        format_template(str(spec.get("out_name") or name), values, keep), strict=False
    )
    return {name: out}


def _expand_buffer(name: str, spec: Any, kw_dict: Mapping[str, Any], where: str) -> dict:
    """Rules 1-5 for one buffer; a buffer with wildcard keys is returned with its key list
    expanded and its templates as they are (formatted once its keys are known)."""
    if not isinstance(name, str) or name == "":
        raise OutSpecError(f"{where}: empty buffer name")
    if not isinstance(spec, Mapping):
        raise OutSpecError(f"{where}/{name}: a buffer must be a mapping, got {spec!r}")
    if "key_list" not in spec:
        raise OutSpecError(f"{where}/{name}: missing 'key_list'")
    unknown = set(spec) - {"key_list", "out_stream", "out_name", "proc_spec"}
    if unknown:
        raise OutSpecError(f"{where}/{name}: unknown buffer settings {sorted(unknown)}")
    if not isinstance(spec["key_list"], (list, tuple, range)):
        raise OutSpecError(f"{where}/{name}: 'key_list' must be a list, got {spec['key_list']!r}")
    spec = dict(spec)
    spec["key_list"] = expand_key_list(spec["key_list"])
    keys = spec["key_list"]
    templates = (name, str(spec.get("out_name") or ""), str(spec.get("out_stream", "")))
    if any(is_wildcard(k) for k in keys):
        return {name: spec}
    if _has_key_field(*templates) and len(keys) != 1:
        out: dict = {}
        for key in keys:
            values = {"key": key}
            kname = format_template(name, values) if "{key" in name else f"{name}_{key}"
            sub = dict(spec, key_list=[key])
            for field in ("out_name", "out_stream"):
                if sub.get(field):
                    sub[field] = format_template(
                        str(sub[field]), values, keep=set(kw_dict) | {"name"}
                    )
            if not spec.get("out_name"):
                sub["out_name"] = kname
            out.update(_finish_buffer(kname, sub, kw_dict))
        return out
    return _finish_buffer(name, spec, kw_dict)


def expand_rblist_json_dict(json_dict: dict, kw_dict: Mapping[str, Any] | None = None) -> dict:
    """Expand the shorthand of one decoder's buffer dict (rules 1-5), in place; returns it."""
    kw_dict = dict(kw_dict or {})
    expanded: dict = {}
    for name, spec in list(json_dict.items()):
        expanded.update(_expand_buffer(name, spec, kw_dict, "out_spec"))
    json_dict.clear()
    json_dict.update(expanded)
    return json_dict


def as_out_spec(out_spec: Mapping | str | os.PathLike) -> dict:
    """A deep copy of an out_spec given as a mapping or a JSON / YAML file, checked to map
    decoder names to mappings of buffers."""
    if isinstance(out_spec, (str, os.PathLike)):
        out_spec = load_out_spec(out_spec)
    if not isinstance(out_spec, Mapping):
        raise OutSpecError(f"an out_spec must be a mapping, got {type(out_spec).__name__}")
    for decoder_name, buffers in out_spec.items():
        if not isinstance(buffers, Mapping):
            raise OutSpecError(
                f"out_spec[{decoder_name!r}] must map buffer names to buffer settings"
            )
    return copy_spec(out_spec)


def expand_out_spec(out_spec: Mapping | str | os.PathLike, kw_dict: Mapping | None = None) -> dict:
    """The out_spec with its shorthand expanded (rules 1-5), as a new dict.

    Needs no input: buffers with wildcard keys and the ``"*"`` decoder are kept as written,
    to be resolved by :func:`resolve_out_spec` once the decoders are known.
    """
    kw_dict = dict(kw_dict or {})
    expanded: dict = {}
    for decoder_name, buffers in as_out_spec(out_spec).items():
        where = f"out_spec[{decoder_name!r}]"
        if decoder_name == "*":
            checked = {**kw_dict, "name": "<decoder>"}  # {name}: each decoder's, later
            for name, spec in buffers.items():  # checked here, expanded per decoder later
                _expand_buffer(name, spec, checked, where)
            expanded["*"] = buffers
            continue
        expanded[decoder_name] = {}
        for name, spec in buffers.items():
            expanded[decoder_name].update(_expand_buffer(name, spec, kw_dict, where))
    return expanded


def resolve_out_spec(
    out_spec: Mapping | str | os.PathLike,
    decoders: Mapping[str, Iterable[Any]],
    kw_dict: Mapping | None = None,
    known: Iterable[str] | None = None,
    splits: Mapping[str, Sequence[tuple[str, Sequence[Any]]]] | None = None,
) -> dict[str, dict[str, dict]]:
    """The out_spec resolved against an input's decoders: a pure function.

    Parameters
    ----------
    out_spec
        the out_spec (a mapping or a JSON / YAML file); not modified.
    decoders
        decoder name -> every key its rows can have, for the decoders of the input, in the
        streamer's order.
    kw_dict
        values for ``{variables}``.
    known
        every decoder name of every format. A named decoder outside `known` (and not among
        `decoders`) is a typo: OutSpecError with the closest names. One that another format
        has, but this input lacks, is left out silently (one out_spec serves several formats).
    splits
        decoder -> (name suffix, keys) of each table its default buffers write (the
        streamer's ``build_default_rb_lib``: suffixes such as ``_0`` or ``_fcid_1/config``
        where the reference gives them). The ``"*"`` entry then gives a decoder its buffers
        once per table, with the table's suffix and keys (buffers split per key keep their
        names). Without it: one table of every key, no suffix.

    Returns
    -------
    dict
        decoder -> buffer name -> ``{"key_list", "out_stream", "out_name"[, "proc_spec"]}``
        with concrete keys only: named decoders in out_spec order, then those the ``"*"``
        entry covers in `decoders` order; buffers that take no key are left out.
    """
    kw_dict = dict(kw_dict or {})
    expanded = expand_out_spec(out_spec, kw_dict)
    star = expanded.pop("*", None)
    if known is not None:
        allowed = set(known) | set(decoders)
        for name in expanded:
            if name not in allowed:
                close = difflib.get_close_matches(name, sorted(allowed), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise OutSpecError(f"out_spec names decoder {name!r}, which no format has{hint}")
    resolved: dict[str, dict[str, dict]] = {}
    for name, buffers in expanded.items():
        if name in decoders:
            resolved[name] = resolve_wildcards(buffers, list(decoders[name]), kw_dict)
    for name, keys in decoders.items():
        if star is None or name in expanded:
            continue
        parts = list((splits or {}).get(name) or [("", keys)])
        if len(parts) == 1:
            parts = [(parts[0][0], keys)]
        resolved[name] = {}
        for suffix, part_keys in parts:
            spec = _star_buffers(star, decoder_short_name(name), suffix,
                                 part_keys if len(parts) > 1 else None)  # fmt: skip
            buffers: dict = {}
            for bname, settings in spec.items():
                buffers.update(_expand_buffer(bname, settings, kw_dict, "out_spec['*']"))
            resolved[name].update(resolve_wildcards(buffers, list(part_keys), kw_dict))
    for name in list(resolved):
        resolved[name] = {b: s for b, s in resolved[name].items() if s["key_list"]}
    return resolved


def _star_buffers(star: Mapping, short: str, suffix: str, part: Iterable[Any] | None) -> dict:
    """The ``"*"`` entry's buffers for one decoder (`short`: its name without "Decoder") and
    one of its tables: ``{name}`` replaced, `suffix` appended to the names of buffers not
    split per key, and concrete keys outside the table's keys `part` dropped."""
    mine = None if part is None else {_hashable(k) for k in part}
    spec: dict[str, Any] = {}
    for bname, settings in copy_spec(star).items():
        for field in ("out_name", "out_stream"):
            if isinstance(settings.get(field), str):
                settings[field] = settings[field].replace("{name}", short)
        bname = bname.replace("{name}", short)
        per_key = _has_key_field(bname, str(settings.get("out_name") or ""),
                                 str(settings.get("out_stream") or ""))  # fmt: skip
        if suffix and not per_key:
            if settings.get("out_name"):
                settings["out_name"] = f"{settings['out_name']}{suffix}"
            bname = f"{bname}{suffix}"
        if mine is not None and isinstance(settings.get("key_list"), (list, tuple, range)):
            settings["key_list"] = [k for k in expand_key_list(settings["key_list"])
                                    if is_wildcard(k) or _hashable(k) in mine]  # fmt: skip
        spec[bname] = settings
    return spec


def unmatched_keys(out_spec: Mapping, decoders: Mapping[str, Iterable[Any]]) -> list[str]:
    """For each decoder of the input that `out_spec` names, the keys it asks for against the
    decoder's own, when none of them match (a typo, or ``"52800"`` for the key ``52800``):
    lines for an error that says why a run would write nothing."""
    notes = []
    for name, buffers in out_spec.items():
        if name not in decoders or not isinstance(buffers, Mapping):
            continue
        have = list(decoders[name])
        asked = [k for b in buffers.values() if isinstance(b, Mapping)
                 for k in expand_key_list(b.get("key_list") or [])]  # fmt: skip
        if asked and not any(_match(k, pat) for k in have for pat in asked):
            notes.append(f"{name} has keys {_few(have)}; the out_spec asks for {_few(asked)}")
    return notes


def _few(keys: list[Any], n: int = 3) -> str:
    shown = ", ".join(repr(k) for k in keys[:n])
    return f"{shown}, ... ({len(keys)} in all)" if len(keys) > n else shown or "none"


def _match(key: Any, pattern: Any) -> bool:
    if is_wildcard(pattern):
        return pattern == "*" or fnmatch.fnmatchcase(str(key), pattern)
    return key == pattern


def resolve_wildcards(
    buffers: dict[str, dict], keys: list[Any], kw_dict: Mapping | None = None
) -> dict[str, dict]:
    """Resolve wildcard key lists of one decoder's expanded buffers against its `keys`.

    Concrete keys and fnmatch patterns are matched first, in buffer order; a lone ``"*"``
    (at most one per decoder) takes the keys left over. Buffers split per key where
    ``{key`` appears; their out_stream and out_name are then formatted with `kw_dict`.
    Concrete keys that are not among `keys` are dropped: no row can carry them (a key range
    over channels the input lacks plans no output, no buffer and no lock for them).
    Returns a new dict.
    """
    kw_dict = dict(kw_dict or {})
    have = {_hashable(k) for k in keys}
    stars = [n for n, s in buffers.items() if "*" in s["key_list"]]
    if len(stars) > 1:
        raise OutSpecError(f"more than one buffer takes key '*': {stars}")
    taken = set()
    for spec in buffers.values():
        for k in spec["key_list"]:
            if not is_wildcard(k):
                taken.add(_hashable(k))
    order = [n for n in buffers if n not in stars] + stars
    results: dict[str, dict] = {}
    for name in order:
        spec = buffers[name]
        patterns = spec["key_list"]
        if not any(is_wildcard(k) for k in patterns):
            kept = [k for k in patterns if _hashable(k) in have]
            results[name] = {name: dict(spec, key_list=kept) if len(kept) < len(patterns) else spec}
            continue
        matched = []
        for key in keys:
            hk = _hashable(key)
            for pat in patterns:
                if pat == "*":
                    if hk not in taken:
                        matched.append(key)
                    break
                if _match(key, pat):
                    matched.append(key)
                    break
        for key in matched:
            taken.add(_hashable(key))
        sub = dict(spec, key_list=matched)
        results[name] = _expand_buffer(name, sub, kw_dict, "out_spec") if matched else {}
    resolved: dict[str, dict] = {}
    for name in buffers:
        resolved.update(results[name])
    return resolved


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def copy_spec(spec: Mapping) -> dict:
    """Deep copy of an out_spec so that expansion never mutates the caller's dict."""
    return copy.deepcopy(dict(spec))
