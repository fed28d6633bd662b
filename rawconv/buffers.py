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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .lh5.convert import is_container, lgdo_layout, same_layout, to_lgdo
from .outspec import (
    as_out_spec,
    copy_spec,
    expand_out_spec,
    expand_rblist_json_dict,
    is_wildcard,
    resolve_out_spec,
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
        if key_list is None:
            key_list = []
        self.key_list = key_list if isinstance(key_list, range) else list(key_list)
        self.out_stream = out_stream
        self.out_name = out_name
        self.proc_spec = proc_spec
        self.loc = 0
        self.fill_safety = 1
        self.name = out_name  # the buffer's name in the out_spec
        self.max_rows: int | None = None
        """The rows the table may grow to (the streamer's ``buffer_size``): a table of
        processed rows, smaller than raw ones, gets more rows in the same memory."""
        self.early_processed = False
        """Whether the rows in :attr:`table` are already processed by :attr:`proc_spec`
        (the router processes blocks of a channel per table at once, see
        :mod:`rawconv.arena`): written as they are."""

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


_FILE_SUFFIXES = (".lh5", ".h5", ".hdf5")


def split_out_stream(out_stream: str) -> tuple[str, str]:
    """``"f.lh5:/grp"`` -> ``("f.lh5", "/grp")``; the group defaults to ``/``.

    A colon that belongs to a URL scheme (``s3://...``) is not a separator, nor is one in a
    file name: what follows the last colon of ``run_12:30.lh5`` names a file, not a group
    (legend-daq2lh5 writes file ``run_12`` with a group ``30.lh5`` in it, and so would an
    input named ``run:1.fcio`` converted to ``run:1.lh5``).
    """
    if not out_stream:
        return "", "/"
    head, sep, tail = out_stream.rpartition(":")
    if (
        not sep
        or tail.startswith("//")
        or tail.lower().endswith(_FILE_SUFFIXES)
        or (len(head) == 1 and head.isalpha() and os.name == "nt")
    ):
        return out_stream, "/"
    return head, tail or "/"


class RawBufferList(list):
    """The buffers of one decoder."""

    def __init__(self, iterable: Iterable[RawBuffer] = ()) -> None:
        super().__init__(iterable)
        self._keyed: dict | None = None
        self._keyed_len = -1
        self.process_early = False
        """Whether routes may hand these buffers processed rows (the streamer's
        ``process_early``)."""

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
        """Append buffers described by one decoder's out_spec entry (shorthand expanded;
        wildcard keys stay until the stream is opened)."""
        self.extend(buffers_from_spec(expand_rblist_json_dict(copy_spec(json_dict), kw_dict)))
        self.invalidate()

    set_from_dict = set_from_json_dict

    def as_out_spec(self) -> dict[str, dict]:
        """These buffers as one decoder's out_spec entry."""
        spec: dict[str, dict] = {}
        for i, rb in enumerate(self):
            entry: dict[str, Any] = {"key_list": list(rb.key_list), "out_stream": rb.out_stream}
            if rb.out_name and rb.out_name != rb.name:  # else: the default, the buffer name
                entry["out_name"] = rb.out_name
            if rb.proc_spec is not None:
                entry["proc_spec"] = rb.proc_spec
            spec[rb.name or rb.out_name or f"buffer{i}"] = entry
        return spec

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

    Until a stream is opened the library holds the buffers its out_spec names, with wildcard
    keys as written; :meth:`resolve` (called by ``open_stream``) rebuilds it from the
    out_spec for the input's decoders and keys (:func:`~rawconv.outspec.resolve_out_spec`).

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
        self.out_spec: dict = {}
        """The out_spec this library was built from (as given, merged over calls)."""
        self.kw_dict: dict = dict(kw_dict or {})
        config = json_dict if config is None else config
        if config is not None:
            self.set_from_json_dict(config, kw_dict)

    def set_from_json_dict(
        self, config: Mapping | str | os.PathLike, kw_dict: Mapping | None = None
    ) -> None:
        """Add the buffers of an out_spec (dict or file path)."""
        spec = as_out_spec(config)
        self.kw_dict.update(kw_dict or {})
        for decoder_name, buffers in expand_out_spec(spec, self.kw_dict).items():
            if decoder_name != "*":
                rbl = self.setdefault(decoder_name, RawBufferList())
                rbl.extend(buffers_from_spec(buffers))
                rbl.invalidate()
        self.out_spec.update(spec)

    set_from_dict = set_from_json_dict

    def as_out_spec(self) -> dict[str, dict]:
        """The out_spec this library stands for: its out_spec, plus the lists added by hand."""
        spec = copy_spec(self.out_spec)
        for name, rbl in self.items():
            if name not in spec:
                spec[name] = rbl.as_out_spec()
        return spec

    def resolve(
        self,
        decoders: Mapping[str, Iterable[Any]],
        known: Iterable[str] | None = None,
        splits: Mapping[str, Sequence[tuple[str, Sequence[Any]]]] | None = None,
    ) -> None:
        """Rebuild the buffers for an input's decoders (name -> keys, in order); see
        :func:`~rawconv.outspec.resolve_out_spec` for `known` and `splits`."""
        resolved = resolve_out_spec(self.as_out_spec(), decoders, self.kw_dict, known, splits)
        mine = {(name, rb.name or rb.out_name): rb for name, rbl in self.items() for rb in rbl}
        self.clear()
        for name, buffers in resolved.items():
            rbl = RawBufferList()
            for rb in buffers_from_spec(buffers):
                rbl.append(_kept(mine.get((name, rb.name)), rb))
            self[name] = rbl

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


def buffers_from_spec(buffers: Mapping[str, Mapping]) -> list[RawBuffer]:
    """RawBuffers for one decoder's expanded out_spec entry."""
    out = []
    for name, spec in buffers.items():
        rb = RawBuffer(
            key_list=spec["key_list"],
            out_stream=spec.get("out_stream", ""),
            out_name=spec.get("out_name") or name,
            proc_spec=spec.get("proc_spec"),
        )
        rb.name = name
        out.append(rb)
    return out


def _kept(original: RawBuffer | None, resolved: RawBuffer) -> RawBuffer:
    """The caller's own buffer object when resolution kept it as it was (the same concrete
    keys: a caller holding it sees its rows, and its key_list stays the object it gave, a
    ``range`` say), updated with the resolved destination; else the resolved buffer."""
    if original is None or list(original.key_list) != list(resolved.key_list):
        return resolved
    original.out_stream, original.out_name = resolved.out_stream, resolved.out_name
    original.proc_spec, original.name = resolved.proc_spec, resolved.name
    return original


def _unique(values: list) -> list:
    seen: list = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def has_wildcards(key_list: Iterable[Any]) -> bool:
    """True if any key of the list is a wildcard pattern."""
    return any(is_wildcard(k) for k in key_list)


ENCODE_AHEAD_TABLES = 8
"""Buffers whose waveform columns are being encoded ahead of the one being written (their
encoded bytes wait in memory: a few tables' worth, not the whole fill's)."""


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
    raw_buffers = list(raw_buffers)
    queued = 0
    try:
        for i, rb in enumerate(raw_buffers):
            queued = _encode_ahead(raw_buffers, writer, queued, i + ENCODE_AHEAD_TABLES)
            if rb.table is None or rb.loc == 0:
                continue
            filename, group = split_out_stream(rb.out_stream)
            if filename:
                obj, n_rows = rb.table, rb.loc
                if rb.proc_spec is not None and not rb.early_processed:
                    from .processing import process_buffer

                    obj, n_rows = process_buffer(rb, db_dict), rb.loc
                writer.write(obj, rb.out_name, filename, group=group, n_rows=n_rows, **h5py_kwargs)
            rb.loc = 0
    finally:
        if hasattr(writer, "discard_ahead"):
            writer.discard_ahead()
        if lh5_store is None:
            writer.close()


def _encode_ahead(raw_buffers: list[RawBuffer], writer: Any, queued: int, until: int) -> int:
    """Have `writer` encode the waveform columns of buffers ``[queued, until)`` that hold
    processed rows while the buffers before them are written (several buffers: a table
    per channel); returns the buffers queued so far."""
    if len(raw_buffers) < 2 or not hasattr(writer, "encode_ahead"):
        return len(raw_buffers)
    for rb in raw_buffers[queued:until]:
        if rb.table is not None and rb.loc and rb.early_processed:
            filename, _ = split_out_stream(rb.out_stream)
            if filename:
                writer.encode_ahead(rb.table, filename, rb.loc)
    return max(queued, min(until, len(raw_buffers)))
