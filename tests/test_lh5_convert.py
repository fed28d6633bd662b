"""rawconv.lh5.columns and rawconv.lh5.convert: containers and LGDOs share their arrays."""

from __future__ import annotations

import lgdo
import numpy as np

from rawconv.lh5.columns import ArrayCol, ScalarCol, TableCol, VectorCol
from rawconv.lh5.convert import from_lgdo, lgdo_layout, same_layout, to_lgdo


def _filled(rows: list[list[int]], size: int) -> VectorCol:
    vov = VectorCol.empty(size, 2, np.uint16)
    for i, row in enumerate(rows):
        vov.set_row(i, np.array(row, np.uint16))
    return vov


def test_vector_offsets_share_the_cumulative_lengths():
    vov = _filled([[1, 2, 3], [], [4]], size=5)
    offsets = vov.offsets()
    assert offsets is not None and offsets.tolist() == [0, 3, 3, 4, 0, 0]
    assert np.shares_memory(offsets, vov.cumulative_length.nda)
    vov.resize(7)  # keeps the leading 0 and the rows
    assert vov.offsets().tolist() == [0, 3, 3, 4, 0, 0, 0, 0]
    vov.resize(2)
    assert vov.offsets().tolist() == [0, 3, 3]
    # lengths not stored behind a 0: no offsets (conversion copies them instead)
    plain = VectorCol(ArrayCol(np.arange(4)), ArrayCol(np.array([3, 3, 4])))
    assert plain.offsets() is None
    tail = VectorCol(vov.flattened_data, ArrayCol(vov.cumulative_length.nda[1:]))
    assert tail.offsets() is None  # the value before it is 3, not 0
    head = VectorCol(vov.flattened_data, ArrayCol(vov.cumulative_length.nda[:1]))
    assert head.offsets().tolist() == [0, 3]


def test_to_lgdo_shares_and_reads_back():
    vov = _filled([[1, 2, 3], [], [4]], size=3)
    table = TableCol(
        {
            "a": ArrayCol(np.arange(3, dtype=np.int32), {"units": "ns"}),
            "w": ArrayCol(np.ones((3, 4), dtype=np.int16)),
            "v": vov,
        },
        size=3,
    )
    obj = to_lgdo(table)
    assert isinstance(obj, lgdo.Table) and obj.attrs["datatype"] == "table{a,v,w}"
    assert isinstance(obj["w"], lgdo.ArrayOfEqualSizedArrays)
    assert obj["a"].attrs["units"] == "ns"
    struct = to_lgdo(TableCol({"x": ScalarCol(5)}, size=0, kind="struct"))
    assert isinstance(struct, lgdo.Struct) and struct["x"].value == 5
    assert obj["v"].view_as("ak").to_list() == [[1, 2, 3], [], [4]]
    for mine, theirs in [
        (table["a"].nda, obj["a"].nda),
        (table["w"].nda, obj["w"].nda),
        (vov.flattened_data.nda, obj["v"].flattened_data.nda),
        (vov.cumulative_length.nda, obj["v"].cumulative_length.nda),
    ]:
        assert np.shares_memory(mine, theirs)
    # and back: the same arrays again
    back = from_lgdo(obj)
    assert back["a"].nda is not None and np.shares_memory(back["a"].nda, table["a"].nda)
    assert back.form_datatype() == table.form_datatype()
    plain = VectorCol(ArrayCol(np.arange(4)), ArrayCol(np.array([3, 3, 4])))
    assert to_lgdo(plain).view_as("ak").to_list() == [[0, 1, 2], [], [3]]


def test_layout_changes_when_the_table_is_reallocated():
    vov = _filled([[1, 2]], size=4)
    table = TableCol({"a": ArrayCol(np.zeros(4)), "v": vov}, size=4)
    first = lgdo_layout(table)
    table["a"].nda[2] = 1.0  # values: same layout
    vov.set_row(1, np.array([3], np.uint16))  # fits in the flattened data: same layout
    assert same_layout(first, lgdo_layout(table))
    vov.set_row(2, np.arange(20, dtype=np.uint16))  # the flattened data grows
    second = lgdo_layout(table)
    assert not same_layout(first, second)
    table["b"] = ArrayCol(np.zeros(4))
    third = lgdo_layout(table)
    assert not same_layout(second, third)
    table.resize(8)
    assert not same_layout(third, lgdo_layout(table))
    scalar = ScalarCol(1)
    before = lgdo_layout(scalar)
    scalar.value = 2
    assert not same_layout(before, lgdo_layout(scalar))
