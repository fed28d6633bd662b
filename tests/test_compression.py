"""HDF5 filters by name, the precedence of write settings, and the fast gzip path: files
that plain h5py reads (no plugin) bit-identical to the source columns."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import zlib

import h5py
import hdf5plugin  # noqa: F401  (reads the plugin-filtered outputs in this process)
import lh5
import numpy as np
import pytest

from rawconv import build_raw
from rawconv.cli import main as cli_main
from rawconv.codecs import parse_codec
from rawconv.formats.fcio import decoders as fc_decoders
from rawconv.formats.fcio import fields as fc_fields
from rawconv.lh5 import chunks
from rawconv.lh5 import datasets as lh5_datasets
from rawconv.lh5.columns import ArrayCol, TableCol, VectorCol, waveform_table
from rawconv.lh5.writer import LH5Writer

from .conftest import datasets

DEFLATE, SHUFFLE, LZF = 1, 2, 32000
ZSTD, BLOSC, LZ4, BITSHUFFLE, BZIP2 = 32015, 32001, 32004, 32008, 307


def filters(ds: h5py.Dataset) -> list[int]:
    """The filter ids a dataset declares, in pipeline order."""
    plist = ds.id.get_create_plist()
    return [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]


def all_values(path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        out: dict[str, np.ndarray] = {}
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset)
                     else None)  # fmt: skip
    return out


def assert_same_values(a, b) -> None:
    va, vb = all_values(a), all_values(b)
    assert va.keys() == vb.keys()
    for name, value in va.items():
        assert value.dtype == vb[name].dtype, name
        np.testing.assert_array_equal(value, vb[name], err_msg=name)


# filters by name --------------------------------------------------------------------------

NAMED = [
    ("gzip", [SHUFFLE, DEFLATE], 4),
    ("gzip:1", [SHUFFLE, DEFLATE], 1),
    ("gzip:9", [SHUFFLE, DEFLATE], 9),
    ("lzf", [SHUFFLE, LZF], None),
    ("none", [], None),
    ("zstd", [SHUFFLE, ZSTD], None),
    ("zstd:9", [SHUFFLE, ZSTD], None),
    ("blosc", [BLOSC], None),
    ("lz4", [SHUFFLE, LZ4], None),
    ("bitshuffle", [BITSHUFFLE], None),
    ("bzip2", [SHUFFLE, BZIP2], None),
]


@pytest.fixture(scope="module")
def default_output(tmp_path_factory):
    from .conftest import data_file

    out = tmp_path_factory.mktemp("default") / "default.lh5"
    build_raw(str(data_file("fcio/L200-comm-20211130-phy-spms.fcio")), out_spec=str(out))
    return out


@pytest.mark.parametrize(("name", "ids", "level"), NAMED)
def test_filters_by_name(spms, tmp_path, default_output, name, ids, level):
    out = tmp_path / "f.lh5"
    build_raw(str(spms), out_spec=str(out), hdf5_settings=name)
    with h5py.File(out, "r") as f:
        for ds_name in ("FCEvent/packet_id", "FCEvent/waveform/values", "FCStatus/mb_temps",
                        "FCConfig/tracemap/flattened_data"):  # fmt: skip
            ds = f[ds_name]
            assert filters(ds) == ids, ds_name
            if level is not None:
                assert ds.compression_opts == level
    assert_same_values(out, default_output)


def test_cli_compression_option(spms, tmp_path):
    out = tmp_path / "c.lh5"
    assert cli_main([str(spms), "-o", str(out), "-c", "zstd:5", "-q"]) == 0
    with h5py.File(out, "r") as f:
        assert filters(f["FCEvent/baseline"]) == [SHUFFLE, ZSTD]
        assert f["FCEvent/baseline"].id.get_create_plist().get_filter(1)[2] == (5,)


def test_unknown_filter_name(spms, tmp_path):
    with pytest.raises(ValueError, match="unknown compression 'gzp'"):
        build_raw(str(spms), out_spec=str(tmp_path / "x.lh5"), hdf5_settings="gzp")


# precedence -------------------------------------------------------------------------------


def settings_of(path, name: str) -> tuple:
    with h5py.File(path, "r") as f:
        ds = f[name]
        return filters(ds), ds.compression_opts if ds.compression == "gzip" else None


def test_precedence_default_argument_decoded_values_attr(spms, tmp_path, monkeypatch):
    out = tmp_path / "a.lh5"
    build_raw(str(spms), out_spec=str(out))
    assert settings_of(out, "FCEvent/packet_id") == ([SHUFFLE, DEFLATE], 4)  # defaults

    build_raw(str(spms), out_spec=str(out), hdf5_settings="lzf", overwrite=True)
    assert settings_of(out, "FCEvent/packet_id") == ([SHUFFLE, LZF], None)  # argument

    packet_id = fc_fields.FC_EVENT_DECODED_VALUES["packet_id"]  # FCEvent's decoded_values
    monkeypatch.setitem(packet_id, "compression", "gzip:9")
    build_raw(str(spms), out_spec=str(out), hdf5_settings="lzf", overwrite=True)
    assert settings_of(out, "FCEvent/packet_id") == ([SHUFFLE, DEFLATE], 9)
    assert settings_of(out, "FCEvent/baseline") == ([SHUFFLE, LZF], None)

    monkeypatch.setitem(packet_id, "hdf5_settings", {"compression": "zstd"})
    build_raw(str(spms), out_spec=str(out), hdf5_settings="lzf", overwrite=True)
    assert settings_of(out, "FCEvent/packet_id") == ([SHUFFLE, ZSTD], None)  # hdf5_settings

    # a proc_spec sets the same attributes, on top of decoded_values
    spec = {"FCEventDecoder": {"ev": {"key_list": ["*"], "out_stream": str(out), "proc_spec": {
        "compression": {"baseline": "gzip:2", "daqenergy": "gzip:3"},
        "hdf5_settings": {"baseline": {"compression": "lzf", "shuffle": False},
                          "packet_id": "gzip:1"},
    }}}}  # fmt: skip
    build_raw(str(spms), out_spec=spec, hdf5_settings="lzf", overwrite=True)
    assert settings_of(out, "ev/baseline") == ([LZF], None)
    assert settings_of(out, "ev/daqenergy") == ([SHUFFLE, DEFLATE], 3)
    assert settings_of(out, "ev/packet_id") == ([SHUFFLE, DEFLATE], 1)
    assert settings_of(out, "ev/channel") == ([SHUFFLE, LZF], None)


def test_waveform_codec_in_decoded_values(spms, tmp_path, monkeypatch, default_output):
    def with_codec(*args):
        fields = fc_fields.event_fields(*args)
        fields["waveform"] = {**fields["waveform"],
                              "compression": {"values": "RadwareSigcompress(codec_shift=-32768)"},
                              "hdf5_settings": {"t0": "lzf"}}  # fmt: skip
        return fields

    monkeypatch.setattr(fc_decoders, "event_fields", with_codec)
    out = tmp_path / "w.lh5"
    build_raw(str(spms), out_spec=str(out), buffer_size=50)
    with h5py.File(out, "r") as f:
        assert f["FCEvent/waveform/values"].attrs["codec"] == "radware_sigcompress"
        assert filters(f["FCEvent/waveform/t0"]) == [SHUFFLE, LZF]
    got = lh5.read("FCEvent/waveform/values", str(out))
    np.testing.assert_array_equal(got.nda, all_values(default_output)["FCEvent/waveform/values"])


# the fast gzip path -----------------------------------------------------------------------

N = 3000
CODEC = "RadwareSigcompress(codec_shift=-32768)"


def source_table(seed: int) -> TableCol:
    """Every column type: Arrays (ints, floats, bools), a waveform table (AoESA), a 2-D
    array, a VectorOfVectors and encoded waveforms."""
    rng = np.random.default_rng(seed)
    wf = waveform_table(N, 700, "uint16", 16.0, "ns", "ns")
    wf["values"].nda[:] = rng.normal(14000, 30, (N, 700)).astype(np.uint16)
    wf["t0"].nda[:] = rng.normal(0, 100, N)
    enc = waveform_table(N, 300, "uint16", 64.0, "ns", "ns")
    enc["values"].nda[:] = rng.normal(30000, 50, (N, 300)).astype(np.uint16)
    enc["values"].attrs["compression"] = CODEC
    lengths = rng.integers(0, 9, N)
    vov = VectorCol(ArrayCol(rng.integers(0, 2**32, lengths.sum(), dtype=np.uint32)),
                    ArrayCol(np.cumsum(lengths)))  # fmt: skip
    cols = {
        "packet_id": ArrayCol(np.arange(N, dtype=np.uint32)),
        "timestamp": ArrayCol(1.6e9 + np.cumsum(rng.exponential(1e-3, N))),
        "energy": ArrayCol(rng.integers(-(2**40), 2**40, N)),
        "flag": ArrayCol(rng.random(N) < 0.3),
        "mb_temps": ArrayCol(rng.integers(-100, 100, (N, 5), dtype=np.int32)),
        "waveform": wf,
        "tracelist": vov,
        "waveform_encoded": enc,
    }
    return TableCol(cols, size=N)


PIECES = (1, 1999, 1000)  # rows of each append: chunks filled across appends


def write_pieces(path, tables, hdf5_settings=None) -> None:
    with LH5Writer(hdf5_settings=hdf5_settings, atomic=False) as w:
        for tbl, n in zip(tables, PIECES):
            w.write(tbl, "tbl", path, group="/raw", n_rows=n)


def expected(tables) -> dict[str, np.ndarray]:
    """Dataset name -> the array the written file must hold, from the source columns."""
    heads = list(zip(tables, PIECES))
    out = {}
    for name in ("packet_id", "timestamp", "energy", "flag", "mb_temps"):
        out[name] = np.concatenate([t[name].nda[:n] for t, n in heads])
    out["flag"] = out["flag"].view(np.uint8)
    for sub in ("t0", "dt", "values"):
        out[f"waveform/{sub}"] = np.concatenate([t["waveform"][sub].nda[:n] for t, n in heads])
    for sub in ("t0", "dt"):
        out[f"waveform_encoded/{sub}"] = np.concatenate(
            [t["waveform_encoded"][sub].nda[:n] for t, n in heads]
        )
    cls, flats, offset = [], [], 0
    for t, n in heads:
        cl = t["tracelist"].cumulative_length.nda[:n]
        flats.append(t["tracelist"].flattened_data.nda[: cl[-1] if n else 0])
        cls.append(cl + offset)
        offset += int(cl[-1]) if n else 0
    out["tracelist/flattened_data"] = np.concatenate(flats)
    out["tracelist/cumulative_length"] = np.concatenate(cls)
    from rawconv.codecs import encode_rows

    values = np.concatenate([t["waveform_encoded"]["values"].nda[:n] for t, n in heads])
    data, cl = encode_rows(values, parse_codec(CODEC))
    out["waveform_encoded/values/encoded_data/flattened_data"] = data
    out["waveform_encoded/values/encoded_data/cumulative_length"] = cl
    out["waveform_encoded/values/decoded_size"] = np.int64(300)
    return {f"raw/tbl/{k}": v for k, v in out.items()}


READER = textwrap.dedent(
    """
    import hashlib, json, sys
    import h5py
    assert "hdf5plugin" not in sys.modules
    out = {}
    for path in sys.argv[1:]:
        with h5py.File(path, "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    data = obj[()]
                    out[path + ":" + name] = [str(data.dtype), list(data.shape),
                                              hashlib.sha256(data.tobytes()).hexdigest()]
            f.visititems(visit)
    assert "hdf5plugin" not in sys.modules
    print(json.dumps(out))
    """
)


def plain_h5py_read(paths, tmp_path) -> dict[str, list]:
    """Hashes of every dataset, read by h5py in a process that never loads hdf5plugin and
    whose HDF5 plugin path is empty."""
    env = {"HDF5_PLUGIN_PATH": str(tmp_path / "no-plugins"), "PATH": "/usr/bin:/bin"}
    (tmp_path / "no-plugins").mkdir(exist_ok=True)
    proc = subprocess.run([sys.executable, "-c", READER, *map(str, paths)], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def digest(data: np.ndarray) -> list:
    data = np.asarray(data)
    return [str(data.dtype), list(data.shape), hashlib.sha256(data.tobytes()).hexdigest()]


def test_fast_gzip_path_is_plain_deflate_and_bit_identical(tmp_path, spms, monkeypatch):
    tables = [source_table(seed) for seed in range(len(PIECES))]
    fast, slow = tmp_path / "fast.lh5", tmp_path / "slow.lh5"
    write_pieces(fast, tables)
    # the h5py filter path: HDF5 compresses every chunk. The writer sends appends to existing
    # gzip datasets to its own chunk writer even with direct_chunks False, hence the patch;
    # the spy checks that no chunk went that way.
    direct: list[str] = []
    real_append = chunks.DirectChunkAppender.append

    def spy(self, nda):
        direct.append(self.ds.name)
        return real_append(self, nda)

    monkeypatch.setattr(chunks.DirectChunkAppender, "append", spy)
    monkeypatch.setattr(lh5_datasets, "_chunk_layout", lambda ds: None)
    write_pieces(slow, tables, {"compression": "gzip", "direct_chunks": False})
    assert direct == []
    monkeypatch.undo()
    fc = tmp_path / "fc.lh5"
    build_raw(str(spms), out_spec=str(fc))

    want = expected(tables)
    for path in (fast, slow):
        sets = datasets(path)
        assert sets.keys() == want.keys()
        for name, ds in sets.items():
            assert ds.dtype == want[name].dtype, name
            np.testing.assert_array_equal(ds[()], want[name], err_msg=name)
            if name.endswith("encoded_data/flattened_data"):
                assert filters(ds) == [], name  # encoded bytes: compressed already
            elif ds.shape:
                assert ds.compression == "gzip" and ds.shuffle, name
                assert filters(ds) == [SHUFFLE, DEFLATE], name
        ds.file.close()
    for name, ds in datasets(fc).items():
        if ds.shape:
            assert filters(ds) == [SHUFFLE, DEFLATE], name
    ds.file.close()

    # plain h5py, without any plugin, reads the same bytes
    plain = plain_h5py_read([fast, fc], tmp_path)
    assert {k.split(":", 1)[1]: v for k, v in plain.items() if k.startswith(str(fast))} == {
        name: digest(value) for name, value in want.items()
    }
    fc_values = all_values(fc)
    assert {k.split(":", 1)[1]: v for k, v in plain.items() if k.startswith(str(fc))} == {
        name: digest(value) for name, value in fc_values.items()
    }

    # and lh5.read gives back the source columns, decoding the encoded waveforms
    got = lh5.read("raw/tbl", str(fast))
    heads = list(zip(tables, PIECES))
    np.testing.assert_array_equal(
        got["waveform_encoded"].values.nda,
        np.concatenate([t["waveform_encoded"]["values"].nda[:n] for t, n in heads]),
    )
    np.testing.assert_array_equal(got["waveform"].values.nda, want["raw/tbl/waveform/values"])
    np.testing.assert_array_equal(got["flag"].nda, want["raw/tbl/flag"].astype(bool))
    vov = got["tracelist"]
    np.testing.assert_array_equal(vov.flattened_data.nda, want["raw/tbl/tracelist/flattened_data"])
    np.testing.assert_array_equal(
        vov.cumulative_length.nda, want["raw/tbl/tracelist/cumulative_length"]
    )
    assert_same_values(fast, slow)


def test_writers_in_threads_write_their_own_files(tmp_path):
    """Dask workers with several threads run several writers in one process: each open
    file caches its own groups and datasets, and the caches go with the closed file."""
    import gc
    import weakref
    from concurrent.futures import ThreadPoolExecutor

    def write(k: int) -> tuple[str, list[weakref.ref]]:
        path = str(tmp_path / f"w{k}.lh5")
        with LH5Writer() as writer:
            for rep in range(20):
                for ch in range(8):
                    rows = np.full((5, 3), 100 * k + ch, dtype=np.uint16)
                    table = TableCol({"v": ArrayCol(rows), "n": ArrayCol(np.arange(5) + rep)})
                    writer.write(table, "raw", path, group=f"ch{ch}")
            (out,) = writer._files.values()
            subs = ("", "/raw", "/raw/v", "/raw/n")
            assert sorted(out.objects) == sorted(f"/ch{ch}{s}" for ch in range(8) for s in subs)
            cached = [out, out.h5, *out.objects.values()]
            refs = [weakref.ref(obj) for obj in cached]
        return path, refs

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(write, range(8)))
    for k, (path, _) in enumerate(results):
        with h5py.File(path, "r") as f:
            assert sorted(f) == [f"ch{ch}" for ch in range(8)]
            for ch in range(8):
                v = f[f"ch{ch}/raw/v"][()]
                assert v.shape == (100, 3) and np.all(v == 100 * k + ch)
                n = [rep + i for rep in range(20) for i in range(5)]
                assert f[f"ch{ch}/raw/n"][()].tolist() == n
    gc.collect()
    alive = [ref() for _, refs in results for ref in refs if ref() is not None]
    assert alive == []  # closed files and their cached objects are forgotten


def test_noisy_byte_planes_are_stored_and_read_back_by_hdf5(tmp_path):
    """Low bytes of noisy waveforms do not deflate: the codec stores that plane (deflate's
    stored blocks) and deflates the high bytes; HDF5's own filter reads the chunk back."""
    rng = np.random.default_rng(5)
    rows, wf_len = 40, 10_000
    values = (0x7900 + rng.integers(0, 256, (rows, wf_len))).astype(np.uint16)
    codec = chunks.ChunkCodec(2, True, 4, wf_len)
    encoded = codec.encode(values)
    plane = rows * wf_len
    shuffled = np.ascontiguousarray(values.view(np.uint8).reshape(-1, 2).T).reshape(-1)
    assert zlib.decompress(encoded) == shuffled.tobytes()
    # the random low plane stored (5 header bytes per 64 KiB block), the constant high one
    # deflated to almost nothing
    stored_overhead = 5 * -(-plane // 0xFFFF)
    assert shuffled[:0xFFFF].tobytes() in encoded  # verbatim: a stored block
    assert plane + stored_overhead <= len(encoded) < plane + stored_overhead + 2_000
    # a compressible plane alone is deflated as before
    smooth = np.tile(np.arange(wf_len, dtype=np.uint16) // 64, (rows, 1))
    assert len(codec.encode(smooth)) < plane // 20

    path = tmp_path / "planes.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("v", shape=(rows, wf_len), dtype=np.uint16,
                              chunks=(rows, wf_len), compression="gzip", shuffle=True)  # fmt: skip
        ds.id.write_direct_chunk((0, 0), encoded)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["v"][()], values)
