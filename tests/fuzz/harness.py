"""Runs one damaged input through rawconv and lists what went wrong.

What counts as wrong (issue 13): an exception that is not one of rawconv's own errors
(:class:`~rawconv.errors.RawconvError`), an error message that does not name the input
file or takes more than one line, a file left behind, and a record lying wholly before
the first damaged byte that is missing from the output or has other values than in the
conversion of the undamaged prefix. The command ``rawconv`` is also run in a subprocess
with a timeout: a hang, a signal, a traceback or an error that does not name the file.
"""

from __future__ import annotations

import subprocess
import sys
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .memory import Ragged, decode, first_difference

CLI_TIMEOUT_S = 120.0
_OURS = {f"{tag}.{ext}" for tag in ("damaged", "prefix") for ext in ("in", "lh5")}


@dataclass
class Result:
    """What one conversion gave: the error line (None when it converted), and the rows of
    each data table (table path -> column path -> rows)."""

    error: str | None = None
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return sum(_n(cols) for cols in self.tables.values())


def _n(cols: dict[str, Any]) -> int:
    return max((len(v) for v in cols.values()), default=0)


def _column_rows(obj: h5py.Dataset | h5py.Group) -> np.ndarray | Ragged:
    if isinstance(obj, h5py.Dataset):
        return obj[()]
    cl = obj["cumulative_length"][()].astype(np.int64)
    return Ragged(np.diff(cl, prepend=0), _column_rows(obj["flattened_data"]))


def _leaves(group: h5py.Group, prefix: str, out: dict[str, Any]) -> None:
    for name, obj in group.items():
        if isinstance(obj, h5py.Dataset) or "cumulative_length" in obj:
            out[prefix + name] = _column_rows(obj)
        else:
            _leaves(obj, prefix + name + "/", out)


def table_rows(path: Path) -> dict[str, dict[str, Any]]:
    """Every table of an LH5 file but the garbage table: path -> column -> rows (an array,
    or :class:`~tests.fuzz.memory.Ragged` for variable-length rows)."""
    tables: dict[str, dict[str, Any]] = {}

    def visit(name: str, obj) -> None:
        kind = str(obj.attrs.get("datatype", ""))
        inside = any(name.startswith(t + "/") for t in tables)
        is_table = isinstance(obj, h5py.Group) and kind.startswith("table")
        if is_table and not inside and name != "garbage":
            cols: dict[str, Any] = {}
            _leaves(obj, "", cols)
            tables[name] = cols

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return tables


def convert(fmt: str, data: bytes, workdir: Path, tag: str) -> Result:
    """Convert `data` (written to ``workdir/tag.in``) with build_raw, in this process."""
    from rawconv import build_raw
    from rawconv.errors import RawconvError

    src, out = workdir / f"{tag}.in", workdir / f"{tag}.lh5"
    src.write_bytes(data)
    if out.exists():
        out.unlink()
    res = Result()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            build_raw(str(src), in_stream_type=fmt, out_spec=str(out), overwrite=True,
                      hdf5_settings="none")  # fmt: skip
    except Exception as exc:
        _failed(res, exc, src, tag, RawconvError)
    else:
        if out.exists():
            res.tables = table_rows(out)
        else:
            res.problems.append(f"{tag}: converted, but no output file")
    left = sorted({p.name for p in workdir.iterdir()} - _OURS)
    if left:
        res.problems.append(f"{tag}: files left behind: {left}")
    for name in left:
        (workdir / name).unlink()
    if res.error is not None and out.exists():
        res.problems.append(f"{tag}: output left after an error")
    return res


def convert_in_memory(fmt: str, data: bytes, workdir: Path, tag: str) -> Result:
    """Decode `data` (written to ``workdir/tag.in``) with the streamer, in this process,
    into memory (:mod:`tests.fuzz.memory`): no LH5 file; the same checks as
    :func:`convert` but those of the output file."""
    from rawconv.errors import RawconvError

    src = workdir / f"{tag}.in"
    src.write_bytes(data)
    res = Result()
    try:
        tables, nothing = decode(fmt, src)
    except Exception as exc:
        _failed(res, exc, src, tag, RawconvError)
    else:
        res.tables, res.error = tables, nothing  # build_raw: "nothing could be decoded"
    left = sorted({p.name for p in workdir.iterdir()} - _OURS)
    if left:
        res.problems.append(f"{tag}: files left behind: {left}")
    for name in left:
        (workdir / name).unlink()
    return res


def compare_prefix(prefix: Result, damaged: Result) -> list[str]:
    """Problems: rows of `prefix` (the undamaged prefix's conversion) that `damaged` lacks
    or holds with other values (row i of each table compared with row i)."""
    if prefix.error is not None or prefix.n_rows == 0:
        return []
    if damaged.error is not None:
        return [f"{prefix.n_rows} rows before the first damage lost: {damaged.error[:300]}"]
    problems = []
    for table, cols in prefix.tables.items():
        n = _n(cols)
        if n == 0:
            continue
        got = damaged.tables.get(table)
        if got is None:
            problems.append(f"table {table} ({n} rows before the damage) missing")
            continue
        for col, rows in cols.items():
            other = got.get(col)
            if other is None or len(other) < n:
                problems.append(f"{table}/{col}: {n} rows before the damage, "
                                f"{0 if other is None else len(other)} kept")  # fmt: skip
                break  # one line per table
            bad = first_difference(rows, other, n)
            if bad < n:
                problems.append(f"{table}/{col}: rows [{bad}] differ from the prefix's")
                break
    return problems


_PREFIXES: dict[tuple, Result] = {}
PREFIX_CACHE_BYTES = 512 << 20
"""What the kept prefix conversions may hold together (their column bytes)."""
_cached_bytes = 0


def _nbytes(col: Any) -> int:
    return col.lengths.nbytes + _nbytes(col.flat) if isinstance(col, Ragged) else col.nbytes


def _keep(key: tuple, prefix: Result) -> None:
    global _cached_bytes
    size = sum(_nbytes(c) for cols in prefix.tables.values() for c in cols.values())
    if _cached_bytes + size <= PREFIX_CACHE_BYTES:
        _PREFIXES[key] = prefix
        _cached_bytes += size


def check(fmt: str, damaged: bytes, cut: int | None, workdir: Path, key: tuple = (),
          in_memory: bool = False) -> tuple[list[str], str | None]:  # fmt: skip
    """(every problem of converting `damaged`; rawconv's error line, None when it converted).

    `cut`: the end of the last whole record before the first damaged byte (None: no such
    record); the conversion of ``damaged[:cut]`` gives the rows that must be kept. It is
    kept under `key` (when given) for the next input with the same undamaged prefix.
    `in_memory`: decode into memory (:func:`convert_in_memory`) instead of converting to
    LH5 files with ``build_raw`` (:func:`convert`).
    """
    conv = convert_in_memory if in_memory else convert
    res = conv(fmt, damaged, workdir, "damaged")
    problems = list(res.problems)
    if cut:
        prefix = _PREFIXES.get((*key, cut, in_memory)) if key else None
        if prefix is None:
            prefix = conv(fmt, damaged[:cut], workdir, "prefix")
            if key:
                _keep((*key, cut, in_memory), prefix)
        problems += prefix.problems
        if not res.problems:
            problems += compare_prefix(prefix, res)
    return problems, res.error


def check_cli(data: bytes, workdir: Path, timeout: float = CLI_TIMEOUT_S) -> list[str]:
    """Problems of ``rawconv IN -o OUT -w`` on `data` (format detected) in a subprocess."""
    src, out = workdir / "cli.in", workdir / "cli.lh5"
    src.write_bytes(data)
    cmd = [sys.executable, "-m", "rawconv.cli", str(src), "-o", str(out), "-w", "-q"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return [f"rawconv hangs: no exit within {timeout:.0f} s"]
    finally:
        src.unlink()
    problems = []
    if p.returncode not in (0, 1):
        problems.append(f"rawconv exit status {p.returncode}: {p.stderr[-300:]!r}")
    if "Traceback" in p.stderr:
        problems.append(f"rawconv prints a traceback: {p.stderr[-300:]!r}")
    errors = [line for line in p.stderr.splitlines() if line.startswith("rawconv: error:")]
    if p.returncode == 1 and (len(errors) != 1 or str(src) not in errors[0]):
        problems.append(f"rawconv exit 1 without one error line naming the input: {p.stderr!r}")
    if p.returncode == 0 and errors:
        problems.append(f"rawconv exit 0 with an error line: {errors}")
    left = sorted({p.name for p in workdir.iterdir()} - _OURS - {"cli.lh5"})
    if left:
        problems.append(f"rawconv left files behind: {left}")
    if out.exists():
        out.unlink()
    return problems


def _failed(res: Result, exc: Exception, src: Path, tag: str, ours: type) -> None:
    """Record a conversion that raised: rawconv's error must name the input in one line;
    any other exception is what the fuzzer looks for."""
    if isinstance(exc, ours):
        res.error = str(exc)
        if str(src) not in res.error:
            res.problems.append(f"{tag}: error does not name the input: {res.error}")
        if "\n" in res.error:
            res.problems.append(f"{tag}: error takes several lines: {res.error!r}")
        return
    where = traceback.extract_tb(exc.__traceback__)[-1]
    res.error = f"{type(exc).__name__}: {exc}"
    res.problems.append(
        f"{tag}: {type(exc).__name__} at {Path(where.filename).name}:{where.lineno}: "
        f"{str(exc)[:300]}"
    )
