"""dspeed processing chains kept with a buffer and run on its filled rows at each write.

Building a chain (parsing the recipe, linking buffers, checking units) costs more than
running it on the few dozen rows a buffer of a many-channel layout holds per write. A
chain whose inputs are columns of the buffer's own table (as ``t_sat_lo`` / ``t_sat_hi``
of the l200 layout read the raw ``waveform``) is therefore built once on the whole table
and run on its first rows (``chain.execute(0, n)``) each time; dspeed reads its inputs
from the table's arrays when it runs, so the results are those of a chain built on the
first rows alone. A chain that needs a column made by an earlier step of the proc_spec
(``window``, ``presum``) cannot be built on the table: the caller then builds one per
write, as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .lh5.columns import ArrayCol, TableCol, VectorCol
from .lh5.convert import from_lgdo, to_lgdo

__all__ = ["run_cached_chain"]


def _arrays(col: Any) -> list[np.ndarray]:
    """The numpy arrays inside a container, in a fixed order."""
    if isinstance(col, ArrayCol):
        return [col.nda]
    if isinstance(col, VectorCol):
        return _arrays(col.flattened_data) + _arrays(col.cumulative_length)
    if isinstance(col, TableCol):
        return [a for c in col.values() for a in _arrays(c)]
    return []


def _owned(col: Any, n: int) -> Any:
    """The first `n` rows of an output column of fixed-size rows, as new arrays (the
    chain's buffers are overwritten at the next write)."""
    if isinstance(col, ArrayCol):
        return ArrayCol(col.nda[:n].copy(), dict(col.attrs))
    if isinstance(col, TableCol) and col.kind == "table":
        cols = {k: _owned(c, n) for k, c in col.items()}
        return TableCol(cols, size=n, attrs=dict(col.attrs))
    return None


def run_cached_chain(
    cache: dict, table: Any, config: Any, db: Any, n_rows: int
) -> dict[str, Any] | None:
    """The outputs (name -> column of `n_rows` rows) of the dspeed chain of `config` run on
    the first `n_rows` rows of `table` (a TableCol), with the chain kept in `cache`; None
    when the chain cannot be built on `table` alone or has an output it cannot copy."""
    from dspeed import build_processing_chain

    if not isinstance(table, TableCol) or table.kind != "table" or n_rows > table.size:
        return None
    key = (id(config), id(db))
    ids = [id(a) for a in _arrays(table)]
    entry = cache.get(key)
    if entry is None or entry[0] is not config or entry[1] is not db or entry[2] != ids:
        cache.pop(key, None)
        try:
            chain, _, tb_out = build_processing_chain(config, tb_in=to_lgdo(table), db_dict=db)
        except Exception:  # an input made by an earlier step, a bad recipe: the caller's way
            return None
        entry = cache[key] = (config, db, ids, chain, tb_out, _arrays(table))
    chain, tb_out = entry[3], entry[4]
    chain.execute(0, n_rows)
    outputs = {}
    for name, col in tb_out.items():
        owned = _owned(from_lgdo(col), n_rows)
        if owned is None:
            return None
        outputs[str(name)] = owned
    return outputs
