"""The format contract: what a DAQ format folder gives the rest of rawconv.

Every ``rawconv/formats/<fmt>/__init__.py`` exports ``FORMAT``, a :class:`Format`: its
stream type name and aliases, a sniffer of the input's first bytes, its streamer (a
:class:`~rawconv.streamer.DataStreamer`) and, optionally, its record index (a
:class:`RecordIndex`) for the parallel layer. Third-party packages add formats through the
``rawconv.formats`` entry-point group (see :mod:`.registry`).

A streamer opened with ``resume=`` (a :class:`ResumeState`) decodes only the records of
that state's byte range, starting from the decoder state it carries; decoding every range
that the format's index hands out, in order, gives exactly the rows of a full decode. That
is the one guarantee the parallel layer rests on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from ..sources import Source
    from ..streamer import DataStreamer

__all__ = [
    "RECORD_DTYPE",
    "SNIFF_BYTES",
    "Format",
    "RecordIndex",
    "RecordRange",
    "ResumeState",
    "load_object",
]

RECORD_DTYPE = np.dtype([("start", "<i8"), ("stop", "<i8"), ("tag", "<i4"), ("pid", "<i8")])
"""One row per record of an input: byte range ``[start, stop)``, the format's record type
(``tag``) and packet id (``pid``; -1 for records that have none)."""

SNIFF_BYTES = 512
"""Bytes from the start of an input that sniffers see (fewer for shorter inputs)."""


def load_object(spec: str | Any) -> Any:
    """``"package.module:Name"`` -> the object (imported on use); other values as they are."""
    if not isinstance(spec, str):
        return spec
    module, _, name = spec.partition(":")
    obj = importlib.import_module(module)
    for part in name.split(".") if name else ():
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Format:
    """A DAQ format, as its folder exports it.

    Parameters
    ----------
    name
        the stream type (``build_raw(in_stream_type=...)``, ``rawconv -t``), e.g. ``"ORCA"``.
    aliases
        other names accepted for it (matched case-insensitively, like `name`).
    sniff
        ``sniff(head: bytes) -> bool``: whether an input starting with `head` (its first
        :data:`SNIFF_BYTES` bytes, or all of a shorter input) is of this format.
    streamer
        the streamer class, or ``"module:Class"`` imported on first use (keeps start-up
        light).
    index
        the :class:`RecordIndex` subclass (or ``"module:Class"``) that splits inputs for the
        parallel layer; ``None``: inputs of this format are converted whole by one task.
    decoders
        the names of every decoder the streamer can have (out_specs are checked against the
        decoders of every format, so that a typo is an error).
    specificity
        detection tries formats from the highest specificity down: a magic word beats a
        pattern that random bytes could match.
    description
        one line for ``--help``.
    demo
        ``demo(out_dir, events) -> Path``, or ``"module:function"``: writes a small synthetic
        run of this format (``python -m rawconv.demo --format NAME``); optional.
    options
        names of the build_raw keywords this format's streamer takes as constructor
        keyword arguments (e.g. ``compass_config_file``): build_raw and the parallel layer
        pass them on when given (they stay available as out_spec variables too), and
        without an explicit stream type such a keyword selects this format.
    """

    name: str
    sniff: Callable[[bytes], bool]
    streamer: type | str
    aliases: tuple[str, ...] = ()
    index: type | str | None = None
    decoders: tuple[str, ...] = ()
    specificity: int = 0
    description: str = ""
    demo: Callable[[Path, int], Path] | str | None = None
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not self.name.isidentifier():
            raise ValueError(f"a format name must be an identifier, not {self.name!r}")
        if not callable(self.sniff):
            raise TypeError(f"format {self.name}: sniff must be callable")
        object.__setattr__(self, "aliases", tuple(a.lower() for a in self.aliases))

    @property
    def names(self) -> tuple[str, ...]:
        """Every name this format answers to, in lower case."""
        return (self.name.lower(), *self.aliases)

    def streamer_class(self) -> type[DataStreamer]:
        """The streamer class (imported on first use)."""
        return load_object(self.streamer)

    def make_streamer(self, **options: Any) -> DataStreamer:
        """A new streamer for this format; `options`: values of its :attr:`options`."""
        return self.streamer_class()(**options)

    def pick_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The entries of `kwargs` (build_raw keywords) that are options of this format."""
        return {k: kwargs[k] for k in self.options if kwargs.get(k) is not None}

    def index_class(self) -> type[RecordIndex] | None:
        """The record index class, or None for a format converted whole."""
        return None if self.index is None else load_object(self.index)


@dataclass(frozen=True)
class ResumeState:
    """Where a streamer starts and stops decoding an input, and what it needs there.

    The base class alone is "from the beginning of the input up to `stop`" (the header is
    read as usual). A format's index returns subclasses for later starts, which add the
    decoder state the format needs (configuration records, event state, packet counter):
    :meth:`DataStreamer.open_stream` takes either.

    Parameters
    ----------
    start
        byte offset of the first record to decode (0: the beginning of the input).
    stop
        byte offset where decoding ends (a record boundary or the input's size).
    first_record
        row of `start`'s record in the index's record table.
    """

    start: int = 0
    stop: int = 2**62
    first_record: int = 0

    def __post_init__(self) -> None:
        for name in ("start", "stop", "first_record"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"ResumeState.{name} must be an integer, not {value!r}")
            object.__setattr__(self, name, int(value))
        if self.start < 0 or self.first_record < 0:
            raise ValueError(f"ResumeState starts before the input: {self}")
        if self.stop < self.start:
            raise ValueError(f"ResumeState stops at {self.stop}, before its start {self.start}")

    @property
    def at_beginning(self) -> bool:
        """True when decoding starts at the beginning of the input (header read as usual)."""
        return type(self) is ResumeState and self.start == 0

    def with_stop(self, stop: int) -> ResumeState:
        """The same state ending at byte `stop`."""
        return dataclasses.replace(self, stop=stop)


@dataclass(frozen=True)
class RecordRange:
    """Records ``[first, last)`` of an index, bytes ``[start, stop)`` of its input."""

    first: int
    last: int
    start: int
    stop: int

    def __post_init__(self) -> None:
        if not (0 <= self.first <= self.last and 0 <= self.start <= self.stop):
            raise ValueError(f"invalid record range {self}")


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of `arrays`."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


class RecordIndex:
    """The records of one input and what it takes to start decoding at any of them.

    Subclasses are dataclasses whose fields are numpy arrays and integers; they implement
    :meth:`build`, :meth:`boundaries` and :meth:`resume_states`. :meth:`save` and
    :meth:`load` store those fields in an ``.npz`` file, with the input's identity and a
    checksum of the content (an altered entry is refused, and rebuilt by the cache).

    Attributes every index has: ``records`` (:data:`RECORD_DTYPE` rows in file order) and
    ``size`` (bytes that complete records and damaged regions cover).
    """

    records: np.ndarray
    size: int
    version: ClassVar[int] = 1
    """Raised by a format when its stored layout changes: older cache entries are rebuilt."""

    @classmethod
    def build(cls, source: Source) -> RecordIndex:
        """Walk `source` into an index (large sequential reads, no payload decoding)."""
        raise NotImplementedError(f"{cls.__name__} does not implement build()")

    def boundaries(self) -> np.ndarray:
        """Record rows where a chunk may start, ascending (0, the first chunk's start,
        excluded). By default every record but the first."""
        return np.arange(1, len(self.records), dtype=np.int64)

    def resume_states(self, source: Source, ranges: list[RecordRange]) -> list[ResumeState]:
        """One state per range of `ranges` (ascending, covering the input); the first range
        starts at record 0 and gets a plain :class:`ResumeState`. Formats whose records
        need no state from before them can keep this default."""
        return [
            ResumeState(r.start, r.stop, r.first) if i else ResumeState(0, r.stop)
            for i, r in enumerate(ranges)
        ]

    # --- storage ---------------------------------------------------------------------------

    def save(self, path: str | Path, identity: tuple = ()) -> None:
        """Store the index and the identity of its input as an ``.npz`` file."""
        arrays: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            arrays[f.name] = np.asarray(getattr(self, f.name))
        arrays["_identity"] = np.asarray(repr(tuple(identity)))
        arrays["_class"] = np.asarray(f"{type(self).__module__}:{type(self).__qualname__}")
        arrays["_version"] = np.asarray(self.version)
        arrays["_checksum"] = np.asarray(_checksum(arrays))
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: str | Path, identity: tuple | None = None) -> RecordIndex:
        """Read an index stored by :meth:`save`; ValueError if it is another class's, of
        another version, or (given `identity`) of another input."""
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if k != "_checksum"}
            if "_checksum" not in data.files or str(data["_checksum"]) != _checksum(arrays):
                raise ValueError("index content does not match its checksum")
            stored = str(data["_class"])
            if stored != f"{cls.__module__}:{cls.__qualname__}":
                raise ValueError(f"index of class {stored}, not {cls.__qualname__}")
            if int(data["_version"]) != cls.version:
                raise ValueError(f"index version {int(data['_version'])}, not {cls.version}")
            if identity is not None and str(data["_identity"]) != repr(tuple(identity)):
                raise ValueError("index of another input (identity differs)")
            values = {}
            for f in dataclasses.fields(cls):  # type: ignore[arg-type]
                value = data[f.name]
                values[f.name] = value.item() if value.ndim == 0 else value
        index = cls(**values)
        if index.records.dtype != RECORD_DTYPE:
            raise ValueError(f"record table of dtype {index.records.dtype}")
        return index
