"""Raw buffers: the tables that decoded rows land in, and where they are written.

- :class:`RawBuffer`: one table with a fill position ``loc``, the keys it accepts and
  its destination (``out_stream`` = ``file.lh5:/group``, ``out_name`` = table name). The
  table (``rb.table``) is made of rawconv's light containers (:mod:`rawconv.lh5.columns`);
  ``rb.lgdo`` shows it as legend-pydataobj objects, sharing its arrays.
- :class:`RawBufferList`: the buffers of one decoder.
- :class:`RawBufferLibrary`: decoder name -> RawBufferList, built from the out_spec shorthand
  (see :mod:`rawconv.outspec`).
- :func:`write_to_lh5_and_clear`: write the filled rows of buffers and reset them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import OutSpecError
from .lh5.convert import is_container, lgdo_layout, same_layout, to_lgdo
from .outspec import (
    copy_spec,
    decoder_short_name,
    expand_rblist_json_dict,
    is_wildcard,
    load_out_spec,
    resolve_wildcards,
)

log = logging.getLogger(__name__)

__all__ = ["RawBuffer", "RawBufferLibrary", "RawBufferList", "write_to_lh5_and_clear"]


class RawBuffer:
    """A buffer of decoded rows for a set of keys.

    Decoders fill :attr:`table`; :attr:`lgdo` is the same table as legend-pydataobj
    objects, for scripts written against legend-daq2lh5.

    Parameters
    ----------
    lgdo
        the table holding the rows: an LGDO (usually a Table) or rawconv containers (a
        TableCol); allocated by the streamer when None.
    key_list
        the keys whose rows go here (ints, strings, or wildcard patterns before the stream
        is opened).
    out_stream
        ``"file.lh5"`` or ``"file.lh5:/group"``; empty means decode without writing.
    out_name
        name of the table inside the group (``/`` makes subgroups).
    proc_spec
        buffer processing applied before writing (see :mod:`rawconv.processing`).
    """

    def __init__(
        self,
        lgdo: Any = None,
        key_list: list[Any] | None = None,
        out_stream: str = "",
        out_name: str = "",
        proc_spec: dict | None = None,
    ) -> None:
        self.table: Any = lgdo
        """The rows: rawconv containers (as the streamer allocates them), or an LGDO given
        by the user or made by a decoder's own ``make_lgdo``."""
        self._lgdo_view: tuple[Any, Any] | None = None  # (lgdo_layout, LGDO) of table
        self.key_list = [] if key_list is None else list(key_list)
        self.out_stream = out_stream
        self.out_name = out_name
        self.proc_spec = proc_spec
        self.loc = 0
        self.fill_safety = 1
        self.name = out_name  # the buffer's name in the out_spec
        self.kw_dict: dict | None = None  # set while wildcard keys await resolution

    @property
    def lgdo(self) -> Any:
        """The table as legend-pydataobj objects (``lgdo.Table``...), sharing its arrays.

        Made on first use (importing legend-pydataobj) and kept until the table is
        reallocated (resized, replaced, a column added) or a vector column's fill changes,
        so that ``rb.lgdo["field"].nda`` is the buffer's own array: writes to it are
        written out. Resizing the LGDO itself does not resize the buffer; assign a new
        table to ``rb.lgdo`` (or ``rb.table``) instead. rawconv's decoders never use this.
        """
        table = self.table
        if table is None or not is_container(table):
            return table
        layout = lgdo_layout(table)
        if self._lgdo_view is None or not same_layout(self._lgdo_view[0], layout):
            self._lgdo_view = (layout, to_lgdo(table))
        return self._lgdo_view[1]

    @lgdo.setter
    def lgdo(self, value: Any) -> None:
        self.table = value

    def __len__(self) -> int:
        return 0 if self.table is None else len(self.table)

    def is_full(self) -> bool:
        """True when fewer than `fill_safety` rows are free."""
        return len(self) - self.loc < self.fill_safety

    @property
    def out_file(self) -> str:
        """The file part of out_stream."""
        return split_out_stream(self.out_stream)[0]

    @property
    def out_group(self) -> str:
        """The group part of out_stream (``/`` by default)."""
        return split_out_stream(self.out_stream)[1]

    def __repr__(self) -> str:
        return (
            f"RawBuffer(out_name={self.out_name!r}, out_stream={self.out_stream!r}, "
            f"key_list={self.key_list!r}, loc={self.loc}, size={len(self)})"
        )


def split_out_stream(out_stream: str) -> tuple[str, str]:
    """``"f.lh5:/grp"`` -> ``("f.lh5", "/grp")``; the group defaults to ``/``.

    A colon that belongs to a URL scheme (``s3://...``) is not a separator.
    """
    if not out_stream:
        return "", "/"
    head, sep, tail = out_stream.rpartition(":")
    if not sep or tail.startswith("//") or (len(head) == 1 and head.isalpha() and os.name == "nt"):
        return out_stream, "/"
    return head, tail or "/"


class RawBufferList(list):
    """The buffers of one decoder."""

    def __init__(self, iterable: Iterable[RawBuffer] = ()) -> None:
        super().__init__(iterable)
        self._keyed: dict | None = None
        self._keyed_len = -1

    def get_keyed_dict(self) -> dict[Any, RawBuffer]:
        """key -> buffer; a key listed by several buffers warns and the last one wins."""
        if self._keyed is None or self._keyed_len != len(self):
            keyed: dict[Any, RawBuffer] = {}
            for rb in self:
                for key in rb.key_list:
                    if key in keyed and keyed[key] is not rb:
                        log.warning("key %r is in several buffers; the last one wins", key)
                    keyed[key] = rb
            self._keyed, self._keyed_len = keyed, len(self)
        return self._keyed

    def invalidate(self) -> None:
        """Forget the cached keyed dict (after editing key lists)."""
        self._keyed = None

    def set_from_json_dict(self, json_dict: Mapping, kw_dict: Mapping | None = None) -> None:
        """Append buffers described by one decoder's out_spec entry (shorthand expanded)."""
        expanded = expand_rblist_json_dict(copy_spec(json_dict), kw_dict)
        for name, spec in expanded.items():
            rb = RawBuffer(
                key_list=spec["key_list"],
                out_stream=spec.get("out_stream", ""),
                out_name=spec.get("out_name", name),
                proc_spec=spec.get("proc_spec"),
            )
            rb.name = name
            rb.kw_dict = spec.get("_kw_dict")
            self.append(rb)
        self.invalidate()

    set_from_dict = set_from_json_dict

    def resolve_wildcards(self, keys: list[Any]) -> None:
        """Replace wildcard buffers by concrete ones for the decoder's `keys` (at stream open)."""
        if not any(rb.kw_dict is not None for rb in self):
            return
        specs: dict[str, dict] = {}
        for i, rb in enumerate(self):
            spec: dict[str, Any] = {"key_list": rb.key_list, "out_stream": rb.out_stream}
            if rb.out_name and rb.out_name != rb.name:  # else: the default, the buffer name
                spec["out_name"] = rb.out_name
            if rb.proc_spec is not None:
                spec["proc_spec"] = rb.proc_spec
            if rb.kw_dict is not None:
                spec["_kw_dict"] = rb.kw_dict
            specs[rb.name or rb.out_name or f"buffer{i}"] = spec
        resolved = resolve_wildcards(specs, keys)
        self.clear()
        for name, spec in resolved.items():
            rb = RawBuffer(
                key_list=spec["key_list"],
                out_stream=spec.get("out_stream", ""),
                out_name=spec.get("out_name") or name,
                proc_spec=spec.get("proc_spec"),
            )
            rb.name = name
            self.append(rb)
        self.invalidate()

    def get_list_of(self, attribute: str, unique: bool = True) -> list:
        """Values of `attribute` over the buffers, in order (duplicates dropped if `unique`)."""
        values = [getattr(rb, attribute) for rb in self]
        return _unique(values) if unique else values

    def clear_full(self) -> None:
        """Reset the fill position of full buffers."""
        for rb in self:
            if rb.is_full():
                rb.loc = 0


class RawBufferLibrary(dict):
    """Decoder name -> :class:`RawBufferList`, built from an out_spec.

    Parameters
    ----------
    config
        an out_spec dict, or the path of a JSON / YAML file holding one.
    kw_dict
        values for ``{variables}`` in out_stream and out_name.
    """

    def __init__(
        self,
        config: Mapping | str | os.PathLike | None = None,
        kw_dict: Mapping | None = None,
        json_dict: Mapping | None = None,
    ) -> None:
        super().__init__()
        config = json_dict if config is None else config
        if config is not None:
            self.set_from_json_dict(config, kw_dict)

    def set_from_json_dict(
        self, config: Mapping | str | os.PathLike, kw_dict: Mapping | None = None
    ) -> None:
        """Add the buffers of an out_spec (dict or file path)."""
        if isinstance(config, (str, os.PathLike)):
            config = load_out_spec(config)
        if not isinstance(config, Mapping):
            raise OutSpecError(f"an out_spec must be a mapping, got {type(config).__name__}")
        for decoder_name, buffers in config.items():
            if not isinstance(buffers, Mapping):
                raise OutSpecError(
                    f"out_spec[{decoder_name!r}] must map buffer names to buffer settings"
                )
            if decoder_name == "*":
                # applied to each decoder not named, once the decoders are known
                self.star_spec = (copy_spec(buffers), dict(kw_dict or {}))
                continue
            rbl = self.setdefault(decoder_name, RawBufferList())
            rbl.set_from_json_dict(buffers, kw_dict)

    set_from_dict = set_from_json_dict

    def expand_star_decoder(self, decoder_names: Iterable[str]) -> None:
        """Apply the buffers listed under ``"*"`` to every decoder not named explicitly.

        ``{name}`` in a ``"*"`` buffer's name, out_name and out_stream stands for the
        decoder's name without "Decoder".
        """
        star = getattr(self, "star_spec", None)
        if star is None:
            return
        buffers, kw_dict = star
        for decoder_name in decoder_names:
            if decoder_name in self:
                continue
            short = decoder_short_name(decoder_name)
            spec: dict[str, Any] = {}
            for name, settings in buffers.items():
                settings = dict(settings) if isinstance(settings, Mapping) else settings
                if isinstance(settings, dict):
                    for field in ("out_name", "out_stream"):
                        if isinstance(settings.get(field), str):
                            settings[field] = settings[field].replace("{name}", short)
                spec[name.replace("{name}", short)] = settings
            rbl = RawBufferList()
            rbl.set_from_json_dict(spec, kw_dict)
            self[decoder_name] = rbl
        self.star_spec = None

    def get_list_of(self, attribute: str, unique: bool = True) -> list:
        """Values of `attribute` over every buffer of every decoder, in order."""
        values = [getattr(rb, attribute) for rbl in self.values() for rb in rbl]
        return _unique(values) if unique else values

    def clear_full(self) -> None:
        """Reset the fill position of full buffers."""
        for rbl in self.values():
            rbl.clear_full()

    def all_buffers(self) -> list[RawBuffer]:
        """Every buffer, in library order."""
        return [rb for rbl in self.values() for rb in rbl]


def _unique(values: list) -> list:
    seen: list = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def has_wildcards(key_list: Iterable[Any]) -> bool:
    """True if any key of the list is a wildcard pattern."""
    return any(is_wildcard(k) for k in key_list)


def write_to_lh5_and_clear(
    raw_buffers: Iterable[RawBuffer],
    lh5_store: Any = None,
    db_dict: Mapping | None = None,
    **h5py_kwargs: Any,
) -> None:
    """Write the filled rows of each buffer to its out_stream, then reset the buffers.

    Buffers without a table or without rows are skipped; an empty out_stream file means
    decode without writing. `lh5_store` is a :class:`rawconv.lh5.LH5Writer` (one is
    opened and closed here when None). Buffers with a ``proc_spec`` are processed first.
    """
    from .lh5.writer import LH5Writer

    writer = lh5_store if lh5_store is not None else LH5Writer(atomic=False)
    try:
        for rb in raw_buffers:
            if rb.table is None or rb.loc == 0:
                continue
            filename, group = split_out_stream(rb.out_stream)
            if filename:
                obj, n_rows = rb.table, rb.loc
                if rb.proc_spec is not None:
                    from .processing import process_buffer

                    obj, n_rows = process_buffer(rb, db_dict), rb.loc
                writer.write(obj, rb.out_name, filename, group=group, n_rows=n_rows, **h5py_kwargs)
            rb.loc = 0
    finally:
        if lh5_store is None:
            writer.close()
