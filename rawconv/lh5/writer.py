"""The LH5 writer: LGDO objects (or rawconv's containers) appended to HDF5 files with h5py.

The layout is legend-lh5io's, so that ``lh5.read`` returns the LGDOs that were written:
structs and tables are groups with a ``datatype`` attribute (``table{a,b}``); arrays are
datasets resizable along the first axis; vectors of vectors are groups holding
``flattened_data`` and ``cumulative_length``; scalars are scalar datasets. Every other LGDO
attribute (``units``, ...) is copied, except ``compression`` and ``hdf5_settings`` which
choose how the dataset is stored.

Write settings, lowest precedence first: :data:`DEFAULT_HDF5_SETTINGS` < the writer's
``hdf5_settings`` < the ``write()`` keywords < the LGDO attribute ``compression`` < the LGDO
attribute ``hdf5_settings``.

With ``atomic=True`` (what ``build_raw`` uses), each output is written under a temporary name
in its folder and moved to its final name by :meth:`LH5Writer.commit`; :meth:`LH5Writer.abort`
deletes it. A final-named output therefore always is a complete file. An output named by
an fsspec URL (``s3://``, ``memory://``...) is written to a local temporary file and put at
its URL by :meth:`LH5Writer.commit` (:mod:`rawconv.remote`).

The writer keeps its files open (:class:`~rawconv.lh5.outfile.OpenFile`, which caches the
groups and datasets it wrote) until committed; :mod:`rawconv.lh5.objects` lays the objects
out as groups and datasets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import RawconvError
from ..remote import discard_staging, is_url, staging_path, upload
from .columns import ArrayCol, ScalarCol, TableCol
from .compression import resolve_settings
from .convert import from_lgdo
from .encode_ahead import discard
from .encoded import encode_table_ahead
from .objects import write_object
from .outfile import OpenFile, failure, temp_name
from .templates import TableTemplates

__all__ = ["DEFAULT_HDF5_SETTINGS", "LH5Writer"]

DEFAULT_HDF5_SETTINGS: dict[str, Any] = {
    "compression": "gzip",
    "compression_opts": 4,
    "shuffle": True,
}
"""gzip level 4 with byte shuffling, as legend-lh5io writes by default."""


class LH5Writer:
    """Appends LGDO objects to LH5 files, keeping the files open until closed.

    Parameters
    ----------
    hdf5_settings
        h5py dataset settings (``compression``, ``compression_opts``, ``shuffle``,
        ``chunks``...) or a compression name (``"gzip:6"``, ``"lzf"``, ``"zstd"``, ``"none"``).
    atomic
        write to temporary names and move them into place on :meth:`commit`.
    locking
        HDF5 file locking (None: HDF5's default; False is needed on some network file systems).
    storage_options
        fsspec options for outputs named by a URL.
    chunk_index_k
        HDF5's ``istore_k`` for the files created (None: HDF5's default, 32). A small value
        suits files of many datasets of few chunks each (:mod:`rawconv.layouts`).
    """

    def __init__(
        self,
        hdf5_settings: Mapping[str, Any] | str | None = None,
        atomic: bool = True,
        locking: bool | None = None,
        defer_compression: bool = False,
        storage_options: Mapping[str, Any] | None = None,
        chunk_index_k: int | None = None,
    ) -> None:
        self.settings = resolve_settings(DEFAULT_HDF5_SETTINGS, hdf5_settings)
        self.chunk_index_k = chunk_index_k
        self.atomic = atomic
        self.locking = locking
        self.defer_compression = defer_compression
        self.storage_options = dict(storage_options or {})
        self._files: dict[str, OpenFile] = {}
        self._opening: str | None = None
        """The temporary file being created, until it is in `_files` (a signal can come
        in between: :meth:`abort` deletes it)."""

    @property
    def paths(self) -> list[str]:
        """Final paths of the files written so far."""
        return list(self._files)

    def _file(self, path: str) -> OpenFile:
        if is_url(path):  # staged in a private local folder, uploaded by commit()
            if path not in self._files:
                staged = staging_path(path)
                try:
                    out = OpenFile(staged, False, self.locking, self.defer_compression,
                                   chunk_index_k=self.chunk_index_k)  # fmt: skip
                except BaseException:
                    discard_staging(staged)
                    raise
                out.path = path  # named in errors and returned by commit()
                self._files[path] = out
            return self._files[path]
        key = os.path.abspath(path)
        if key not in self._files:
            self._opening = temp_name(key) if self.atomic else None
            self._files[key] = OpenFile(key, self.atomic, self.locking, self.defer_compression,
                                        write_path=self._opening,
                                        chunk_index_k=self.chunk_index_k)  # fmt: skip
            self._opening = None
        return self._files[key]

    def write(
        self,
        obj: Any,
        name: str,
        lh5_file: str | os.PathLike,
        group: str = "/",
        n_rows: int | None = None,
        **h5py_kwargs: Any,
    ) -> None:
        """Append the first `n_rows` rows of `obj` (an LGDO or a rawconv container) to
        ``lh5_file:group/name``."""
        obj = from_lgdo(obj)
        out = self._file(os.fspath(lh5_file))
        settings = resolve_settings(self.settings, h5py_kwargs) if h5py_kwargs else self.settings
        parts = [p for p in name.split("/") if p]
        if not parts:
            raise RawconvError(f"empty object name for group {group!r}", path=out.path)
        try:
            groups = group.strip("/").split("/") if group.strip("/") else []
            parent = out.require_groups(out.require_groups(out.h5, groups), parts[:-1])
            if isinstance(obj, TableCol) and out.lookup(parent, parts[-1]) is None:
                if out.templates is None:
                    out.templates = TableTemplates(out.defer)
                out.templates.copy_into(out, parent, parts[-1], obj, n_rows, settings)
            write_object(out, parent, parts[-1], obj, n_rows, settings)
            if isinstance(obj, (ArrayCol, ScalarCol)) and out.is_struct(parent):
                out.add_struct_field(parent, parts[-1])  # a struct lists its members
            out.wait()  # chunks are encoded from the caller's arrays: done before returning
        except RawconvError:
            raise
        except (OSError, RuntimeError) as exc:  # disk full, file too large, I/O error
            out.detach()  # the file is given up: HDF5's retries must not write, nor crash
            raise failure(exc, out.path, f"cannot write {group.rstrip('/')}/{name}") from None
        except (ValueError, TypeError) as exc:
            raise RawconvError(
                f"cannot write {group.rstrip('/')}/{name}: {exc}", path=out.path
            ) from exc

    def encode_ahead(self, obj: Any, lh5_file: str | os.PathLike, n_rows: int) -> int:
        """Start encoding the waveform-codec columns of table `obj` (its first `n_rows`
        rows) on the encoding thread (:mod:`rawconv.lh5.encode_ahead`); its next
        :meth:`write` to `lh5_file` takes the result. Its rows must stay as they are until
        then, or until :meth:`discard_ahead`. Returns the columns queued."""
        return encode_table_ahead(self._file(os.fspath(lh5_file)).ahead, obj, n_rows)

    def discard_ahead(self) -> None:
        """Drop the encodings started by :meth:`encode_ahead` that no write took."""
        for out in self._files.values():
            discard(out.ahead)

    def supply_chunks(self, lh5_file: str | os.PathLike, supplies: Mapping[str, Any]) -> None:
        """Take whole chunks of datasets of `lh5_file` (dataset path -> a
        :data:`~rawconv.lh5.chunks.ChunkSupply`) already encoded, instead of encoding them;
        set before the datasets are written."""
        self._file(os.fspath(lh5_file)).chunk_supplies.update(supplies)

    def rows_of(self, lh5_file: str | os.PathLike, path: str) -> int:
        """Rows of the dataset at `path` of `lh5_file` written so far (0: none yet)."""
        out = self._file(os.fspath(lh5_file))
        appender = out.appenders.get(path)
        if appender is not None:
            return appender.n
        ds = out.objects.get(path)
        return int(ds.shape[0]) if ds is not None and ds.shape else 0

    def flush(self) -> None:
        """Write pending chunks and flush every open file."""
        for out in self._files.values():
            out.flush()

    def commit(self) -> list[str]:
        """Close every file and move it to its final name (upload it to its URL); returns
        the final paths.

        A file that cannot be closed, moved or uploaded (disk full...) raises RawconvError
        naming its final path and the cause; it and the files not yet committed are removed."""
        done = []
        while self._files:
            key, out = next(iter(self._files.items()))
            try:
                out.close()
                if is_url(out.path):
                    upload(out.write_path, out.path, self.storage_options)
                elif out.write_path != out.path:
                    os.replace(out.write_path, out.path)
            except RawconvError:  # names the output and the cause already (an upload)
                self.abort()
                raise
            except (OSError, RuntimeError) as exc:
                self.abort()
                raise failure(exc, out.path) from None
            except BaseException:
                self.abort()
                raise
            del self._files[key]
            done.append(out.path)
        return done

    def abort(self) -> None:
        """Close every file, ignoring errors, and delete the temporary ones (final names
        never appear). Safe to call twice, and after a failed :meth:`commit`."""
        if self._opening is not None:
            Path(self._opening).unlink(missing_ok=True)
            self._opening = None
        while self._files:
            _, out = self._files.popitem()
            out.discard()
            if is_url(out.path):
                discard_staging(out.write_path)

    def close(self) -> None:
        """Commit (atomic writers) or just close the files."""
        self.commit()

    def __enter__(self) -> LH5Writer:
        return self

    def __exit__(self, exc_type: Any, *exc: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
