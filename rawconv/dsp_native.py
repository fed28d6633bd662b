"""dspeed processors that rawconv runs itself, on whole buffers and without dspeed.

A ``dsp_config`` made only of processors listed here, on inputs they take, is run by
rawconv's own kernels (:mod:`rawconv.dsp_kernels`): the same values, dtypes and units as
dspeed's chain gives (tests compare both), without importing dspeed (about 2 s: it
imports legend-pydataobj, pandas and pint) and without building a chain per table, which
a layout of a hundred channel tables would otherwise do a hundred times. Any other
``dsp_config`` (another processor, a parameter from the db_dict, an expression as input,
a float waveform) goes to dspeed unchanged.

Run natively:

``saturation`` (``dspeed.processors``), args ``[waveform, bit_depth, n_lo, n_hi]``
    with ``waveform`` a column of integer samples of at most 16 bits and ``bit_depth`` an
    integer from 1 to 24: the number of samples equal to 0 and to ``2**bit_depth -
    bit_depth`` (dspeed's high value) of each row, as float32 with the processor's
    ``unit`` as ``units``. LEGEND-200's ``t_sat_lo`` / ``t_sat_hi`` are these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .lh5.columns import ArrayCol, TableCol

__all__ = ["native_outputs"]

_PROCESSOR_KEYS = {"function", "module", "args", "unit"}


def _samples(table: TableCol, name: Any, n_rows: int) -> np.ndarray | None:
    """The first `n_rows` rows of column `name` (a waveform table's values or a 2-D array)
    when they are integers of at most 16 bits, else None."""
    if not isinstance(name, str) or not name.isidentifier() or name not in table:
        return None
    col = table[name]
    if isinstance(col, TableCol) and "values" in col:
        col = col["values"]
    if not isinstance(col, ArrayCol) or col.nda.ndim != 2 or len(col.nda) < n_rows:
        return None
    values = col.nda
    if values.dtype.kind not in "ui" or values.dtype.itemsize > 2:
        return None
    return values[:n_rows]


def _bit_depth(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer)):
        return None
    if float(value) != int(value) or not 1 <= int(value) <= 24:
        return None
    return int(value)


def _saturation(table: TableCol, args: list, n_rows: int) -> dict[str, np.ndarray] | None:
    from .dsp_kernels import saturation_rows

    if len(args) != 4 or not all(isinstance(a, str) for a in (args[2], args[3])):
        return None
    values, bits = _samples(table, args[0], n_rows), _bit_depth(args[1])
    if values is None or bits is None or not (args[2].isidentifier() and args[3].isidentifier()):
        return None
    n_lo, n_hi = np.empty(n_rows, np.int64), np.empty(n_rows, np.int64)
    saturation_rows(values, n_rows, 2**bits - bits, n_lo, n_hi)
    return {args[2]: n_lo.astype(np.float32), args[3]: n_hi.astype(np.float32)}


NATIVE: dict[tuple[str, str], Callable[[TableCol, list, int], dict[str, np.ndarray] | None]] = {
    ("dspeed.processors", "saturation"): _saturation,
}
"""(module, function) -> its native form: (table, args, rows) -> output arrays, or None
when it does not take these args (dspeed runs the chain then)."""


def native_outputs(config: Any, table: TableCol, n_rows: int) -> dict[str, ArrayCol] | None:
    """The outputs of dspeed chain `config` on the first `n_rows` rows of `table`, computed
    by rawconv (name -> column), or None when `config` is not one rawconv runs itself."""
    if not isinstance(config, Mapping) or set(config) != {"outputs", "processors"}:
        return None
    outputs, processors = config["outputs"], config["processors"]
    if not isinstance(outputs, list) or not isinstance(processors, Mapping) or not processors:
        return None
    produced = {n.strip() for names in processors for n in str(names).split(",")}
    made: dict[str, ArrayCol] = {}
    for names, proc in processors.items():
        if not isinstance(proc, Mapping) or not set(proc) <= _PROCESSOR_KEYS:
            return None
        native = NATIVE.get((proc.get("module"), proc.get("function")))
        unit = proc.get("unit")
        if native is None or not isinstance(proc.get("args"), list):
            return None
        if unit is not None and not isinstance(unit, str):
            return None
        if proc["args"] and proc["args"][0] in produced:  # reads another processor's output
            return None
        arrays = native(table, proc["args"], n_rows)
        if arrays is None or [n.strip() for n in str(names).split(",")] != list(arrays):
            return None
        attrs = {} if unit is None else {"units": unit}
        made.update({name: ArrayCol(nda, dict(attrs)) for name, nda in arrays.items()})
    if not all(isinstance(name, str) and name in made for name in outputs):
        return None
    return {name: made[name] for name in outputs}
