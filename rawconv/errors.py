"""Exceptions raised by rawconv.

Every error that concerns input bytes names the file, the byte offset, the record
(packet id) and the decoder where they are known, and survives pickling (so that it
can travel back from a Dask worker unchanged).
"""

from __future__ import annotations


class RawconvError(Exception):
    """Base class of rawconv's errors.

    Parameters
    ----------
    reason
        what went wrong, in words.
    path
        the input (or output) file concerned.
    offset
        absolute byte offset in `path` where the problem was found.
    record
        packet id (record number) of the record concerned.
    decoder
        name of the decoder concerned.
    """

    def __init__(
        self,
        reason: str,
        path: str | None = None,
        offset: int | None = None,
        record: int | None = None,
        decoder: str | None = None,
    ) -> None:
        self.reason = reason
        self.path = None if path is None else str(path)
        self.offset = offset
        self.record = record
        self.decoder = decoder
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        if self.record is not None:
            where.append(f"record {self.record}")
        if self.decoder is not None:
            where.append(self.decoder)
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def __reduce__(self):
        return (
            self.__class__,
            (self.reason, self.path, self.offset, self.record, self.decoder),
        )


class UnknownFormatError(RawconvError, ValueError):
    """The input's bytes match none of the supported DAQ formats."""


class CorruptDataError(RawconvError):
    """A record's framing or content is impossible: the input is damaged."""


class OutSpecError(RawconvError, ValueError):
    """An out_spec (buffer library description) is malformed."""


class ProcSpecError(RawconvError, ValueError):
    """A proc_spec names a column that does not exist or is malformed."""


class RemoteError(RawconvError):
    """An fsspec URL cannot be reached, listed, read or written (its message names the URL
    and the cause: connection refused, HTTP 403, a missing backend...)."""


class RemoteNotFoundError(RemoteError, FileNotFoundError):
    """An fsspec URL names no object."""


class OutputError(RawconvError, OSError):
    """An output cannot be written where it was asked for (not a regular file, a parent
    that is not a folder, an output that exists without overwrite)."""


class OutputExistsError(OutputError, FileExistsError):
    """An output exists and overwriting was not asked for."""
