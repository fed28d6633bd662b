"""proc_spec: processing of a buffer's filled rows before they are written.

A buffer's ``proc_spec`` (a mapping in its out_spec entry) runs on the first ``rb.loc`` rows
of its table, in this fixed order (that of legend-daq2lh5's ``buffer_processor``, with
``presum`` added after ``window``):

``window: [in, start, stop, out]``
    ``out`` = columns ``start:stop`` (numpy slice bounds; negative counts from the end, a
    null stop means the end) of ``in``, a waveform table or an array of equal-sized
    arrays. For a waveform table ``out.t0 = in.t0 + start·in.dt`` (start as a non-negative
    index) and ``out.dt = in.dt``; the samples keep their dtype.
``presum: [in, factor, out]`` or ``[in, factor, out, rate]``
    ``out`` = sums of ``factor`` consecutive samples of ``in`` (trailing samples that do
    not fill a group are dropped), as dspeed's ``presum`` with ``do_norm=0``. Integer
    samples are summed in a wider type (uint16 -> uint32, int16 -> int32, 32-bit -> 64-bit);
    ``out.dt = in.dt·factor``, ``out.t0 = in.t0``. ``rate`` names a uint16 column holding
    ``factor`` (production's ``presum_rate``, with production's ``units`` ``ADC``).
``dsp_config: {...}``
    a dspeed processing chain (dspeed is an optional dependency); every output becomes a
    column. Parameters come from the per-buffer ``db_dict`` (see :func:`select_db`). A
    chain of processors rawconv runs itself (:mod:`rawconv.dsp_native`: ``saturation``)
    runs on all rows at once, without dspeed, with dspeed's results.
``dtype_conv: {"path": dtype}``
    cast columns (``"waveform/values"`` reaches into a waveform table).
``drop: [path, ...]``
    remove columns.
``compression: {"path": spec}``
    a waveform codec (``"RadwareSigcompress(codec_shift=-32768)"``, ``"ULEB128ZigZagDiff()"``,
    ``"radware_sigcompress"``, a codec object) writes the column as encoded arrays (see
    :mod:`rawconv.lh5.encoded`); an HDF5 filter name (``"lzf"``, ``"gzip:6"``, ``"zstd"``...)
    or h5py settings dict sets its filter. A waveform table path means its ``values``.
``hdf5_settings: {"path": settings}``
    h5py settings (a dict or a filter name) for the column (for a table: all its columns).

A path that names no column raises :class:`~rawconv.errors.ProcSpecError` naming it, unless
the proc_spec sets ``skip_missing: true`` (then that item is skipped, and so is a
``dsp_config`` whose chain cannot be built from the table's columns, as the reference does;
a proc_spec of the ``"*"`` decoder, shared by several decoders, has it by default). The
buffer's own arrays are never modified: new columns are new arrays or views, and changed
columns are copies.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Mapping
from typing import Any

import numpy as np

from .codecs import CodecError, as_codec
from .dsp_chains import run_cached_chain
from .dsp_native import native_outputs
from .errors import ProcSpecError
from .lh5.columns import ArrayCol, ScalarCol, TableCol, VectorCol
from .lh5.compression import resolve_settings
from .lh5.convert import from_lgdo, to_lgdo

log = logging.getLogger(__name__)

__all__ = ["PROC_SPEC_KEYS", "process_buffer", "process_table", "select_db"]

PROC_SPEC_KEYS = ("window", "presum", "dsp_config", "dtype_conv", "drop", "compression",
                  "hdf5_settings", "skip_missing")  # fmt: skip
"""The keys of a proc_spec; its steps run in this order."""


def select_db(db_dict: Mapping | None, rb: Any) -> Any:
    """The part of `db_dict` for buffer `rb`: the entry named by its out_name, else by its
    group (with or without the leading ``/``), else by the first part of its out_name
    (``ch1104000`` for ``ch1104000/raw``), else by its key when it has one; else None."""
    if not db_dict:
        return None
    out_name = getattr(rb, "out_name", "") or ""
    group = getattr(rb, "out_group", "/") if getattr(rb, "out_stream", "") else "/"
    names = [out_name, group, group.strip("/"), out_name.strip("/").split("/")[0]]
    keys = [k for k in getattr(rb, "key_list", []) if k is not None]
    if len(keys) == 1:
        names += [keys[0], str(keys[0])]
    for name in names:
        if name not in ("", "/") and name in db_dict:
            return db_dict[name]
    return None


def process_buffer(rb: Any, db_dict: Mapping | None = None) -> Any:
    """The table to write for buffer `rb`: its first ``rb.loc`` rows processed by
    ``rb.proc_spec``. `db_dict` is the whole db_dict (see :func:`select_db`). A dspeed
    chain is built once per buffer table and kept on the buffer (``rb.proc_cache``)."""
    cache = getattr(rb, "proc_cache", None)
    if cache is None:
        cache = rb.proc_cache = {}
    return process_table(
        rb.table, rb.proc_spec or {}, rb.loc, select_db(db_dict, rb), name=rb.out_name,
        chain_cache=cache,
    )  # fmt: skip


def process_table(
    table: Any, proc_spec: Mapping[str, Any], n_rows: int, db: Any = None, name: str = "",
    chain_cache: dict | None = None,
) -> Any:  # fmt: skip
    """Apply `proc_spec` to the first `n_rows` rows of `table` (a TableCol or an LGDO
    table); returns a TableCol sharing the unchanged columns. `name` is for messages.

    With `chain_cache` (a dict kept with the table between calls) a ``dsp_config`` chain
    whose inputs are columns of `table` itself is built once on the whole table and run
    on the first `n_rows` rows at each call (see :mod:`rawconv.dsp_chains`)."""
    if not isinstance(proc_spec, Mapping):
        raise ProcSpecError(f"proc_spec of {name} must be a mapping, not {proc_spec!r}")
    unknown = set(proc_spec) - set(PROC_SPEC_KEYS)
    if unknown:
        raise ProcSpecError(
            f"proc_spec of {name}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(PROC_SPEC_KEYS)}"
        )
    obj = from_lgdo(table)
    if not proc_spec:
        return obj
    if not isinstance(obj, TableCol):
        raise ProcSpecError(f"proc_spec of {name}: the buffer holds a {type(obj).__name__}, "
                            "not a table")  # fmt: skip
    proc = _Processor(obj, n_rows, name, bool(proc_spec.get("skip_missing", False)), db)
    proc.chain_cache = chain_cache
    for key in PROC_SPEC_KEYS[:-1]:
        if key in proc_spec:
            getattr(proc, key)(proc_spec[key])
    return proc.table


def _is_waveform(col: Any) -> bool:
    return isinstance(col, TableCol) and {"t0", "dt", "values"} <= set(col)


def _copy(col: Any, **changes: Any) -> Any:
    """A shallow copy of a container (own attrs dict), with attributes replaced."""
    if isinstance(col, TableCol):
        new = TableCol(dict(col), size=col.size, attrs=col.attrs, kind=col.kind)
    elif isinstance(col, ArrayCol):
        new = ArrayCol(col.nda, col.attrs)
    elif isinstance(col, VectorCol):
        new = VectorCol(col.flattened_data, col.cumulative_length, col.attrs)
    elif isinstance(col, ScalarCol):
        new = ScalarCol(col.value, col.attrs)
    else:
        raise ProcSpecError(f"cannot process a {type(col).__name__}")
    for key, value in changes.items():
        setattr(new, key, value)
    return new


def _head(col: Any, n: int) -> Any:
    """The first `n` rows of a column, as views."""
    if isinstance(col, ArrayCol):
        return ArrayCol(col.nda[:n], col.attrs)
    if isinstance(col, VectorCol):
        ends = col.cumulative_length.nda[:n]
        flat = _head(col.flattened_data, int(ends[-1]) if len(ends) else 0)
        return VectorCol(flat, ArrayCol(ends, col.cumulative_length.attrs), col.attrs)
    if isinstance(col, TableCol) and col.kind == "table":
        return TableCol({k: _head(c, n) for k, c in col.items()}, size=n, attrs=col.attrs)
    return col


def _index(value: Any) -> int | None:
    """A window bound: an integer (integral floats too) or None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool):
        raise TypeError(value)
    return operator.index(value)


def _presum_dtype(dtype: np.dtype) -> np.dtype:
    if dtype.kind == "u":
        return np.dtype(np.uint32 if dtype.itemsize <= 2 else np.uint64)
    if dtype.kind == "i":
        return np.dtype(np.int32 if dtype.itemsize <= 2 else np.int64)
    if dtype.kind == "f":
        return dtype
    raise ProcSpecError(f"presum sums numbers, not {dtype}")


class _Processor:
    """The steps of a proc_spec on a copy-on-write view of a buffer's table."""

    def __init__(
        self, table: TableCol, n_rows: int, name: str, skip_missing: bool, db: Any
    ) -> None:
        self.n = int(n_rows)
        self.db = db
        rows = self.n if table.kind == "table" else table.size
        self.table = TableCol(dict(table), size=rows, attrs=table.attrs, kind=table.kind)
        self.name = name
        self.skip_missing = skip_missing
        self.source = table
        self.chain_cache: dict | None = None

    def error(self, step: str, message: str) -> ProcSpecError:
        """A ProcSpecError naming the step and the buffer."""
        return ProcSpecError(f"proc_spec {step} of {self.name}: {message}")

    # paths -------------------------------------------------------------------------------

    def get(self, step: str, path: Any) -> Any:
        """The column at `path` (``a/b``); None (skip) or ProcSpecError when missing."""
        if not isinstance(path, str) or not path.strip("/"):
            raise self.error(step, f"bad column name {path!r}")
        col: Any = self.table
        for part in path.strip("/").split("/"):
            if not isinstance(col, TableCol) or part not in col:
                if self.skip_missing:
                    log.debug("proc_spec %s of %s: no column %r, skipped", step, self.name, path)
                    return None
                columns = ", ".join(sorted(self.table))
                raise self.error(step, f"no column {path!r} (columns: {columns})")
            col = col[part]
        return col

    def put(self, path: str, col: Any) -> None:
        """Set (or with None, remove) the column at `path`, copying the tables above it."""
        parts = path.strip("/").split("/")
        parent = self.table
        for part in parts[:-1]:
            child = parent.get(part)
            if not isinstance(child, TableCol):
                raise self.error("output", f"{part!r} in {path!r} is not a table")
            parent[part] = parent = _copy(child)
        if col is None:
            del parent[parts[-1]]
        else:
            parent[parts[-1]] = col

    # steps -------------------------------------------------------------------------------

    def _rows_2d(self, step: str, path: str, col: Any) -> tuple[np.ndarray, TableCol | None]:
        """(the first n rows of a 2-D array, its waveform table or None)."""
        wf = col if _is_waveform(col) else None
        values = col["values"] if wf is not None else col
        if not isinstance(values, ArrayCol) or values.nda.ndim != 2:
            raise self.error(step, f"{path!r} is not a waveform table or an array of "
                             "equal-sized arrays")  # fmt: skip
        return values.nda[: self.n], wf

    def _args(self, step: str, spec: Any, n_min: int, n_max: int) -> list:
        if not isinstance(spec, (list, tuple)) or not n_min <= len(spec) <= n_max:
            raise self.error(step, f"must be a list of {n_min}-{n_max} items, not {spec!r}")
        return list(spec)

    def window(self, spec: Any) -> None:
        in_name, start, stop, out_name = self._args("window", spec, 4, 4)
        col = self.get("window", in_name)
        if col is None:
            return
        values, wf = self._rows_2d("window", in_name, col)
        try:
            lo, hi, _ = slice(_index(start), _index(stop)).indices(values.shape[1])
        except (TypeError, ValueError):
            msg = f"start and stop must be integers or null, not {start!r}, {stop!r}"
            raise self.error("window", msg) from None
        if hi <= lo:
            msg = f"[{start}:{stop}] of {values.shape[1]} samples is empty"
            raise self.error("window", msg)
        windowed = values[:, lo:hi]
        if wf is None:
            self.put(out_name, ArrayCol(windowed, _settings_free(col.attrs)))
            return
        t0, dt = wf["t0"].nda[: self.n], wf["dt"].nda[: self.n]
        new_t0 = (t0 + lo * dt).astype(t0.dtype, copy=False)
        self.put(out_name, self._waveform(wf, new_t0, dt, windowed))

    def _waveform(self, wf: TableCol, t0: np.ndarray, dt: np.ndarray, values: np.ndarray):
        return TableCol(
            {
                "t0": ArrayCol(t0, wf["t0"].attrs),
                "dt": ArrayCol(dt, wf["dt"].attrs),
                "values": ArrayCol(values, _settings_free(wf["values"].attrs)),
            },
            size=self.n,
            attrs=wf.attrs,
        )

    def presum(self, spec: Any) -> None:
        args = self._args("presum", spec, 3, 4)
        in_name, factor, out_name = args[:3]
        col = self.get("presum", in_name)
        if col is None:
            return
        values, wf = self._rows_2d("presum", in_name, col)
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
            raise self.error("presum", f"the factor must be a positive integer, not {factor!r}")
        factor = int(factor)
        m = values.shape[1] // factor
        if m == 0:
            msg = f"{values.shape[1]} samples are fewer than the factor {factor}"
            raise self.error("presum", msg)
        summed = presum_rows(values, factor)
        if wf is None:
            self.put(out_name, ArrayCol(summed, _settings_free(col.attrs)))
        else:
            t0, dt = wf["t0"].nda[: self.n], wf["dt"].nda[: self.n]
            dt = (dt * factor).astype(dt.dtype, copy=False)
            self.put(out_name, self._waveform(wf, t0, dt, summed))
        if len(args) == 4:
            rate = np.full(self.n, factor, dtype=np.uint16)
            self.put(args[3], ArrayCol(rate, {"units": "ADC"}))  # as production writes it

    def dsp_config(self, config: Any) -> None:
        native = native_outputs(config, self.table, self.n)
        if native is not None:  # processors rawconv runs itself (dspeed's values)
            for out_name, col in native.items():
                self.put(out_name, col)
            return
        try:
            from dspeed import build_processing_chain
        except ImportError:
            msg = "needs dspeed, which is not installed: pip install dspeed"
            raise self.error("dsp_config", msg) from None
        if self.chain_cache is not None and self._columns_unchanged():
            try:
                outputs = run_cached_chain(self.chain_cache, self.source, config, self.db, self.n)
            except Exception as exc:  # dspeed raises many types
                raise self.error("dsp_config", str(exc)) from exc
            if outputs is not None:
                for out_name, col in outputs.items():
                    self.put(out_name, col)
                return
        from dspeed.errors import ProcessingChainError

        tb_in = to_lgdo(_head(self.table, self.n))
        try:
            chain, _, tb_out = build_processing_chain(config, tb_in=tb_in, db_dict=self.db)
        except ProcessingChainError as exc:  # e.g. an input column this table lacks
            if self.skip_missing:
                log.info("proc_spec dsp_config of %s skipped: %s", self.name, exc)
                return
            raise self.error("dsp_config", str(exc)) from exc
        except Exception as exc:  # dspeed raises many types
            raise self.error("dsp_config", str(exc)) from exc
        try:
            chain.execute()
        except Exception as exc:
            raise self.error("dsp_config", str(exc)) from exc
        for out_name, col in tb_out.items():
            self.put(str(out_name), _head(from_lgdo(col), self.n))

    def _columns_unchanged(self) -> bool:
        """Whether every column of the buffer's table is still its own (no earlier step
        wrote over one): a chain built on that table then reads what it would read here."""
        source = self.source
        return isinstance(source, TableCol) and all(
            self.table.get(name) is col for name, col in source.items()
        )

    def dtype_conv(self, spec: Any) -> None:
        for path, dtype_name in self._mapping("dtype_conv", spec).items():
            col = self.get("dtype_conv", path)
            if col is None:
                continue
            try:
                dtype = np.dtype(dtype_name)
            except TypeError:
                msg = f"unknown dtype {dtype_name!r} for {path!r}"
                raise self.error("dtype_conv", msg) from None
            self.put(path, self._cast(path, col, dtype))

    def _cast(self, path: str, col: Any, dtype: np.dtype) -> Any:
        rows = self.n if self.table.kind == "table" else None
        if isinstance(col, ArrayCol):
            return ArrayCol(col.nda[:rows].astype(dtype), col.attrs)
        if isinstance(col, VectorCol) and isinstance(col.flattened_data, ArrayCol):
            ends = col.cumulative_length.nda[:rows]
            n_flat = int(ends[-1]) if len(ends) else 0
            flat = col.flattened_data
            flat = ArrayCol(flat.nda[:n_flat].astype(dtype), flat.attrs)
            return VectorCol(flat, ArrayCol(ends, col.cumulative_length.attrs), col.attrs)
        if isinstance(col, ScalarCol):
            return ScalarCol(dtype.type(col.value), col.attrs)
        hint = f" (use '{path}/values')" if _is_waveform(col) else ""
        raise self.error("dtype_conv", f"cannot cast {path!r}, a {type(col).__name__}{hint}")

    def drop(self, spec: Any) -> None:
        if isinstance(spec, str) or not isinstance(spec, (list, tuple)):
            raise self.error("drop", f"must be a list of column names, not {spec!r}")
        for path in spec:
            if self.get("drop", path) is not None:
                self.put(path, None)

    def compression(self, spec: Any) -> None:
        for path, value in self._mapping("compression", spec).items():
            col = self.get("compression", path)
            if col is None:
                continue
            try:
                codec = as_codec(value)
            except CodecError as exc:
                raise self.error("compression", str(exc)) from None
            if codec is None:
                self._check_settings("compression", path, value)
                self.put(path, _with_attr(col, "compression", value))
                continue
            if _is_waveform(col):
                path, col = f"{path.rstrip('/')}/values", col["values"]
            ok_array = isinstance(col, ArrayCol) and col.nda.ndim == 2
            if not (ok_array or isinstance(col, VectorCol)):
                msg = f"{codec.name} encodes waveforms or arrays of arrays, not {path!r}"
                raise self.error("compression", f"{msg}, a {type(col).__name__}")
            self.put(path, _copy(col, attrs={**col.attrs, "compression": codec}))

    def hdf5_settings(self, spec: Any) -> None:
        for path, value in self._mapping("hdf5_settings", spec).items():
            col = self.get("hdf5_settings", path)
            if col is not None:
                self._check_settings("hdf5_settings", path, value)
                self.put(path, _with_attr(col, "hdf5_settings", value))

    # helpers -----------------------------------------------------------------------------

    def _mapping(self, step: str, spec: Any) -> Mapping:
        if not isinstance(spec, Mapping):
            raise self.error(step, f"must map column names to values, not {spec!r}")
        return spec

    def _check_settings(self, step: str, path: str, value: Any) -> None:
        try:
            resolve_settings({}, value)
        except (ValueError, TypeError, ImportError) as exc:
            raise self.error(step, f"{path!r}: {exc}") from None


def _with_attr(col: Any, key: str, value: Any) -> Any:
    """A copy of `col` with attribute `key` set on it and on every array inside it."""
    if isinstance(col, TableCol):
        items = {k: _with_attr(c, key, value) for k, c in col.items()}
        return TableCol(items, size=col.size, attrs=col.attrs, kind=col.kind)
    if isinstance(col, VectorCol):
        return VectorCol(
            _with_attr(col.flattened_data, key, value),
            _with_attr(col.cumulative_length, key, value),
            {**col.attrs, key: value},
        )
    return _copy(col, attrs={**col.attrs, key: value})


def _settings_free(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes of a derived column: the source's write settings do not carry over."""
    return {k: v for k, v in attrs.items() if k not in ("compression", "hdf5_settings")}


def presum_rows(values: np.ndarray, factor: int) -> np.ndarray:
    """Sums of `factor` consecutive samples of each row (see the module's ``presum``)."""
    m = values.shape[1] // factor
    dtype = _presum_dtype(values.dtype)
    if values.dtype.kind in "ui" and values.dtype.itemsize <= 2 and factor <= 1 << 16:
        from .dsp_kernels import presum_rows_small  # ADC samples: one pass in numba

        out = np.empty((values.shape[0], m), dtype=dtype)
        presum_rows_small(values, factor, out)
        return out
    out = values[:, 0 : m * factor : factor].astype(dtype)
    for k in range(1, factor):
        out += values[:, k : m * factor : factor]
    return out
