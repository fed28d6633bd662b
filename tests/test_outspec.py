"""The out_spec shorthand: expansion rules and the worked examples of the reference docs."""

from __future__ import annotations

import copy
import json

import h5py
import pytest

from rawconv import OutSpecError, RawBufferLibrary, build_raw, expand_rblist_json_dict
from rawconv.formats.registry import known_decoder_names
from rawconv.outspec import (
    expand_key_list,
    format_template,
    resolve_out_spec,
    resolve_wildcards,
)
from tests.conftest import assert_identical_lh5, data_file


def _buffers(lib: RawBufferLibrary, decoder: str) -> dict[str, tuple]:
    return {rb.name: (rb.key_list, rb.out_stream, rb.out_name) for rb in lib[decoder]}


def test_key_ranges_are_inclusive():
    assert expand_key_list([[24, 26], 30]) == [24, 25, 26, 30]
    assert expand_key_list([[1, 2, 3]]) == [1, 2, 3]
    assert expand_key_list(["a", [7, 7]]) == ["a", 7]
    with pytest.raises(OutSpecError, match="first > last"):
        expand_key_list([[5, 4]])


def test_example_a_key_split_kwargs_and_environment(monkeypatch):
    monkeypatch.setenv("DATADIR", "/data")
    spec = {
        "FCEventDecoder": {
            "g{key:0>3d}": {
                "key_list": [[24, 26], 30],
                "out_stream": "$DATADIR/{file_key}_geds.lh5:/{name}/raw",
            }
        }
    }
    lib = RawBufferLibrary(spec, kw_dict={"file_key": "run0"})
    assert _buffers(lib, "FCEventDecoder") == {
        f"g0{k}": ([k], f"/data/run0_geds.lh5:/g0{k}/raw", f"g0{k}") for k in (24, 25, 26, 30)
    }


def test_out_name_gets_keywords_and_name():
    spec = {"D": {"geds": {"key_list": [1, 2], "out_stream": "f.lh5", "out_name": "{name}_{run}"}}}
    lib = RawBufferLibrary(spec, kw_dict={"run": "r004"})
    assert _buffers(lib, "D") == {"geds": ([1, 2], "f.lh5", "geds_r004")}


def test_no_key_leaks_between_buffers():
    spec = {
        "D": {
            "one": {"key_list": [5], "out_stream": "f_{key}.lh5"},
            "two": {"key_list": [6, 7], "out_stream": "g_{key}.lh5"},
            "three": {"key_list": [8, 9], "out_stream": "h.lh5"},
        }
    }
    lib = RawBufferLibrary(spec)
    got = _buffers(lib, "D")
    assert got["one"] == ([5], "f_5.lh5", "one")
    assert got["two_6"] == ([6], "g_6.lh5", "two_6")
    assert got["two_7"] == ([7], "g_7.lh5", "two_7")
    assert got["three"] == ([8, 9], "h.lh5", "three")


def test_shorthand_errors():
    with pytest.raises(OutSpecError, match="empty buffer name"):
        RawBufferLibrary({"D": {"": {"key_list": [1]}}})
    with pytest.raises(OutSpecError, match="missing 'key_list'"):
        RawBufferLibrary({"D": {"b": {"out_stream": "x.lh5"}}})
    with pytest.raises(OutSpecError, match=r"undefined variable \{run\}"):
        RawBufferLibrary({"D": {"b": {"key_list": [1], "out_stream": "{run}.lh5"}}})
    with pytest.raises(OutSpecError, match="unknown buffer settings"):
        RawBufferLibrary({"D": {"b": {"key_list": [1], "outstream": "x.lh5"}}})
    with pytest.raises(OutSpecError, match="must map buffer names"):
        RawBufferLibrary({"D": ["b"]})
    with pytest.raises(OutSpecError, match="a buffer must be a mapping"):
        RawBufferLibrary({"D": {"b": 3}})


def test_wildcards_resolve_against_decoder_keys():
    spec = {
        "b": {"key_list": ["5280[0-1]"], "out_stream": "a.lh5"},
        "rest": {"key_list": ["*"], "out_stream": "r_{key}.lh5"},
        "fixed": {"key_list": [52805], "out_stream": "f.lh5", "out_name": "fixed"},
    }
    got = resolve_wildcards(spec, [52800, 52801, 52802, 52803, 52805])
    assert got["b"]["key_list"] == [52800, 52801]
    assert [got[f"rest_{k}"]["out_stream"] for k in (52802, 52803)] == [
        "r_52802.lh5",
        "r_52803.lh5",
    ]
    assert got["fixed"]["key_list"] == [52805]
    assert "rest_52805" not in got
    with pytest.raises(OutSpecError, match="more than one buffer"):
        resolve_wildcards(
            {
                "x": {"key_list": ["*"]},
                "y": {"key_list": ["*"]},
            },
            [1],
        )


def test_resolve_out_spec_is_pure_and_complete():
    spec = {
        "FCEventDecoder": {"ch{key}": {"key_list": ["*"], "out_stream": "{run}.lh5:/{name}",
                                       "out_name": "raw"}},
        "ORFCIOEventDecoder": {"x": {"key_list": ["*"], "out_stream": "o.lh5"}},  # other format
        "*": {"{name}": {"key_list": ["*"], "out_stream": "aux_{run}.lh5"}},
    }  # fmt: skip
    before = copy.deepcopy(spec)
    decoders = {"FCConfigDecoder": [None], "FCEventDecoder": [52800, 52801],
                "FCStatusDecoder": ["fcid_0/status/card0"]}  # fmt: skip
    got = resolve_out_spec(spec, decoders, {"run": "r1"}, known=known_decoder_names())
    assert spec == before  # nothing written into the caller's spec
    assert list(got) == ["FCEventDecoder", "FCConfigDecoder", "FCStatusDecoder"]
    assert got["FCEventDecoder"] == {
        "ch52800": {"key_list": [52800], "out_stream": "r1.lh5:/ch52800", "out_name": "raw"},
        "ch52801": {"key_list": [52801], "out_stream": "r1.lh5:/ch52801", "out_name": "raw"},
    }
    assert got["FCConfigDecoder"] == {
        "FCConfig": {"key_list": [None], "out_stream": "aux_r1.lh5", "out_name": "FCConfig"}
    }
    assert got["FCStatusDecoder"]["FCStatus"]["key_list"] == ["fcid_0/status/card0"]
    # a decoder that no format has is a typo, with the closest names
    with pytest.raises(OutSpecError, match=r"'FCEventDecodr', which no format.*FCEventDecoder"):
        resolve_out_spec({"FCEventDecodr": {"x": {"key_list": ["*"]}}}, decoders, {},
                         known=known_decoder_names())  # fmt: skip
    # buffers whose keys match nothing are left out
    assert resolve_out_spec({"FCEventDecoder": {"x": {"key_list": ["99*"]}}}, decoders) == {
        "FCEventDecoder": {}
    }


def test_star_entry_takes_the_default_tables_of_each_decoder():
    """As in legend-daq2lh5, a "*" buffer serves each table of a decoder's default buffers,
    with that table's suffix (a decoder whose keys fall into several layouts, or one the
    reference names with a suffix); buffers split per key keep their names; concrete keys
    of the entry go to the table holding them."""
    decoders = {"ORFCIOConfigDecoder": ["fcid_1/config", "fcid_2/config"],
                "LLAMAEventDecoder": [0, 4], "OrcaHeaderDecoder": [None]}  # fmt: skip
    splits = {"ORFCIOConfigDecoder": [("_0", ["fcid_1/config", "fcid_2/config"])],
              "LLAMAEventDecoder": [("_0", [0]), ("_4", [4])],
              "OrcaHeaderDecoder": [("", [None])]}  # fmt: skip
    spec = {"*": {"{name}": {"key_list": ["*"], "out_stream": "aux.lh5"}}}
    got = resolve_out_spec(spec, decoders, splits=splits)
    assert {d: {b: s["key_list"] for b, s in bufs.items()} for d, bufs in got.items()} == {
        "ORFCIOConfigDecoder": {"ORFCIOConfig_0": ["fcid_1/config", "fcid_2/config"]},
        "LLAMAEventDecoder": {"LLAMAEvent_0": [0], "LLAMAEvent_4": [4]},
        "OrcaHeaderDecoder": {"OrcaHeader": [None]},
    }
    assert got["LLAMAEventDecoder"]["LLAMAEvent_4"]["out_name"] == "LLAMAEvent_4"
    per_key = {"*": {"ch{key}": {"key_list": ["*"], "out_stream": "aux_{name}.lh5"}}}
    got = resolve_out_spec(per_key, {"LLAMAEventDecoder": [0, 4]}, splits=splits)
    assert {b: (s["key_list"], s["out_stream"]) for b, s in got["LLAMAEventDecoder"].items()} \
        == {"ch0": ([0], "aux_LLAMAEvent.lh5"), "ch4": ([4], "aux_LLAMAEvent.lh5")}
    named = {"*": {"{name}": {"key_list": [4, 7], "out_stream": "o.lh5", "out_name": "t"}}}
    got = resolve_out_spec(named, {"LLAMAEventDecoder": [0, 4]}, splits=splits)
    assert {b: (s["key_list"], s["out_name"]) for b, s in got["LLAMAEventDecoder"].items()} \
        == {"LLAMAEvent_4": ([4], "t_4")}
    # without splits: one table of every key, as before
    got = resolve_out_spec(spec, {"LLAMAEventDecoder": [0, 4]})
    assert got["LLAMAEventDecoder"]["LLAMAEvent"]["key_list"] == [0, 4]


def test_keys_the_input_lacks_are_dropped():
    """A key range over channels the input lacks keeps only the input's: no buffer, output
    or lock is planned for the others (10,000 per-key files took 16 s to lock and set up)."""
    decoders = {"FCEventDecoder": [52800, 52801]}
    spec = {"FCEventDecoder": {"ch{key}": {"key_list": [[52000, 61999]],
                                           "out_stream": "{name}.lh5"}},
            "FCStatusDecoder": {"st": {"key_list": ["fcid_0/status/card0"]}}}  # fmt: skip
    got = resolve_out_spec(spec, decoders)
    assert {b: s["key_list"] for b, s in got["FCEventDecoder"].items()} == {
        "ch52800": [52800], "ch52801": [52801]}  # fmt: skip
    assert "FCStatusDecoder" not in got  # not a decoder of this input
    mixed = {"FCEventDecoder": {"two": {"key_list": [52801, 99, 52800], "out_stream": "o"}}}
    assert resolve_out_spec(mixed, decoders)["FCEventDecoder"]["two"]["key_list"] == [
        52801, 52800]  # fmt: skip


P14 = "orca/fcio/l200-p14-r004-cal-20250606T010224Z.orca"
PULSER = "llamadaq/20241218-150158-pulser.bin"


@pytest.mark.parametrize("relative", [P14, PULSER])
def test_star_entry_alone_writes_the_default_tables(relative, tmp_path):
    """``{"*": {"{name}": ...}}`` (every decoder into one file) gives exactly the default
    output on inputs whose decoders have several tables: ORFCIOConfig_0 for the two
    listeners of the p14 file, LLAMAEvent_0 and LLAMAEvent_4 for the two channel formats
    of the pulser file (both used to be refused as mixing table layouts)."""
    src = str(data_file(relative))
    build_raw(src, out_spec=str(tmp_path / "default.lh5"))
    spec = {"*": {"{name}": {"key_list": ["*"], "out_stream": str(tmp_path / "star.lh5")}}}
    build_raw(src, out_spec=spec)
    assert assert_identical_lh5(tmp_path / "default.lh5", tmp_path / "star.lh5") > 30
    with h5py.File(tmp_path / "star.lh5", "r") as f:
        tables = sorted(f)
    assert tables == (["ORFCIOConfig_0", "ORFCIOEvent_0", "ORRunDecoderForRun", "OrcaHeader"]
                      if relative == P14 else ["LLAMAEvent_0", "LLAMAEvent_4", "LLAMAHeader"])


def test_key_range_with_per_key_files_writes_and_locks_only_the_inputs_keys(tmp_path):
    """10,000 keys in a range, one file each: the p14 file's 6 channels with rows are
    written, and no lock or temporary file is left."""
    out = tmp_path / "out"
    spec = {"ORFCIOEventDecoder": {"ch{key}": {"key_list": [[1100000, 1109999]],
                                               "out_stream": f"{out}/{{name}}.lh5"}}}  # fmt: skip
    build_raw(str(data_file(P14)), out_spec=spec)
    assert sorted(p.name for p in out.iterdir()) == [
        "ch1105600.lh5", "ch1105604.lh5", "ch1107202.lh5"]  # fmt: skip
    with h5py.File(out / "ch1107202.lh5", "r") as f:
        assert f["ch1107202/packet_id"][()].tolist() == [8, 9]  # the reference's rows


def test_format_template_keeps_later_fields():
    assert format_template("{a}/ch{key:07d}", {"a": "x"}, keep=("key",)) == "x/ch{key:07d}"
    assert format_template("{a}", {"a": 3}) == "3"


def test_expand_rblist_json_dict_in_place():
    d = {"g{key}": {"key_list": [[1, 2]], "out_stream": "f.lh5"}}
    out = expand_rblist_json_dict(d, {})
    assert out is d
    assert sorted(d) == ["g1", "g2"]
    assert d["g1"]["key_list"] == [1]


# --- end to end on the spms file (keys 52800..52805) -----------------------------------------


def test_example_b_per_channel_groups(spms, tmp_path):
    f = tmp_path / "b.lh5"
    spec = {
        "FCEventDecoder": {
            "ch{key}": {
                "key_list": [[52800, 52806]],
                "out_stream": f"{f}:{{name}}",
                "out_name": "raw",
            }
        }
    }
    build_raw(str(spms), out_spec=spec)
    with h5py.File(f, "r") as h:
        assert sorted(h) == [f"ch{k}" for k in range(52800, 52806)]
        for k in range(52800, 52806):
            assert list(h[f"ch{k}"]) == ["raw"]
            assert h[f"ch{k}/raw/channel"][()].tolist() == [k - 52800] * 50


def test_example_d_star_decoder(spms, tmp_path):
    f = tmp_path / "d.lh5"
    spec = {
        "FCEventDecoder": {"two": {"key_list": [52801, 52802], "out_stream": str(f)}},
        "*": {"{name}": {"key_list": ["*"], "out_stream": str(tmp_path / "wc_{name}.lh5")}},
    }
    build_raw(str(spms), out_spec=spec)
    with h5py.File(f, "r") as h:
        assert list(h) == ["two"]
        assert h["two/channel"][()].tolist() == [1, 2] * 50
    with h5py.File(tmp_path / "wc_FCConfig.lh5", "r") as h:
        assert list(h) == ["FCConfig"]
    with h5py.File(tmp_path / "wc_FCStatus.lh5", "r") as h:
        assert h["FCStatus/id"][()].tolist() == [0, 8192]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "d.lh5",
        "wc_FCConfig.lh5",
        "wc_FCStatus.lh5",
    ]


def test_wildcard_key_in_out_stream_and_fnmatch(spms, tmp_path):
    spec = {
        "FCEventDecoder": {
            "ev": {"key_list": ["5280[0-1]"], "out_stream": str(tmp_path / "ch{key}.lh5")}
        }
    }
    build_raw(str(spms), out_spec=spec)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ch52800.lh5", "ch52801.lh5"]
    with h5py.File(tmp_path / "ch52801.lh5", "r") as h:
        assert list(h) == ["ev_52801"]
        assert h["ev_52801/fc_input"][()].tolist() == [1] * 50


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_spec_files(spms, tmp_path, fmt):
    spec = {"FCEventDecoder": {"geds": {"key_list": [52803], "out_stream": "{dir}/{run}.lh5"}}}
    path = tmp_path / f"spec.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps(spec))
    else:
        import yaml

        path.write_text(yaml.safe_dump(spec))
    build_raw(str(spms), out_spec=str(path), dir=str(tmp_path), run="r1")
    with h5py.File(tmp_path / "r1.lh5", "r") as h:
        assert list(h) == ["geds"]
        assert h["geds/channel"][()].tolist() == [3] * 50
