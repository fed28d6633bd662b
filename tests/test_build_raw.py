"""build_raw: out_spec forms, n_max, overwrite, atomic outputs, sources, settings."""

from __future__ import annotations

import shutil

import fsspec
import h5py
import lh5
import numpy as np
import pytest
from lgdo import Table, WaveformTable

from rawconv import RawBufferLibrary, RawconvError, UnknownFormatError, build_raw
from rawconv.buffers import split_out_stream
from tests.conftest import assert_identical_lh5


def test_default_output_beside_input_and_no_overwrite(spms, tmp_path):
    src = tmp_path / "run.fcio"
    shutil.copy(spms, src)
    report = build_raw(str(src))
    out = tmp_path / "run.lh5"
    assert report.outputs == [str(out)]
    assert report.tables == {
        f"{out}:/FCConfig": 1,
        f"{out}:/FCEvent": 300,
        f"{out}:/FCStatus": 2,
    }
    assert report.bytes_read == src.stat().st_size
    before = out.stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="overwrite"):
        build_raw(str(src))
    assert out.stat().st_mtime_ns == before
    build_raw(str(src), overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.fcio", "run.lh5"]


def test_filename_with_group(spms, tmp_path):
    out = tmp_path / "x.lh5"
    build_raw(str(spms), out_spec=f"{out}:/raw/fc")
    with h5py.File(out, "r") as f:
        assert sorted(f["raw/fc"]) == ["FCConfig", "FCEvent", "FCStatus"]
        assert f.attrs["datatype"] == "struct{raw}"
        assert f["raw"].attrs["datatype"] == "struct{fc}"
        assert f["raw/fc"].attrs["datatype"] == "struct{FCConfig,FCEvent,FCStatus}"


def test_a_colon_in_a_file_name_is_not_a_group(spms, tmp_path):
    """legend-daq2lh5 splits an output at its last ':' (file:group) even where what follows
    names a file: ``run:1.fcio`` became file ``run`` with a group ``1.lh5``. rawconv keeps
    a name ending in .lh5/.h5/.hdf5 whole, and still splits ``f.lh5:/grp``."""
    src = tmp_path / "run:1.fcio"
    shutil.copy(spms, src)
    report = build_raw(str(src))  # the default output beside the input
    assert report.outputs == [str(tmp_path / "run:1.lh5")]
    build_raw(str(spms), out_spec=str(tmp_path / "x_12:30.h5"))
    build_raw(str(spms), out_spec=str(tmp_path / "y:2.lh5:/raw"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "run:1.fcio", "run:1.lh5", "x_12:30.h5", "y:2.lh5",
    ]  # fmt: skip
    with h5py.File(tmp_path / "run:1.lh5", "r") as f:
        assert sorted(f) == ["FCConfig", "FCEvent", "FCStatus"]
        assert f["FCEvent/waveform/values"].shape == (300, 6000)
    with h5py.File(tmp_path / "y:2.lh5", "r") as f:
        assert sorted(f["raw"]) == ["FCConfig", "FCEvent", "FCStatus"]
    assert split_out_stream("s3://b/run:1.lh5") == ("s3://b/run:1.lh5", "/")
    assert split_out_stream("s3://b/run.lh5:/raw") == ("s3://b/run.lh5", "/raw")
    assert split_out_stream("f.lh5:raw") == ("f.lh5", "raw")
    assert split_out_stream("out:1") == ("out", "1")  # no file suffix: the reference's rule


def test_library_object_and_environment_input(spms, tmp_path, monkeypatch):
    monkeypatch.setenv("RAWDIR", str(spms.parent))
    lib = RawBufferLibrary(
        {"FCEventDecoder": {"ev": {"key_list": ["*"], "out_stream": str(tmp_path / "l.lh5")}}}
    )
    build_raw(f"$RAWDIR/{spms.name}", out_spec=lib)
    with h5py.File(tmp_path / "l.lh5", "r") as f:
        assert list(f) == ["ev"]
        assert len(f["ev/channel"]) == 300


def test_bad_out_spec_type(spms):
    with pytest.raises(TypeError, match="out_spec must be"):
        build_raw(str(spms), out_spec=42)


def test_missing_input_and_spec_file(tmp_path, spms):
    with pytest.raises(FileNotFoundError, match=r"nope\.fcio"):
        build_raw(str(tmp_path / "nope.fcio"))
    with pytest.raises(FileNotFoundError, match=r"spec\.json"):
        build_raw(str(spms), out_spec=str(tmp_path / "spec.json"))


def test_stream_type_detected_from_bytes_not_name(spms, tmp_path):
    src = tmp_path / "looks_like.orca"
    shutil.copy(spms, src)
    report = build_raw(str(src), out_spec=str(tmp_path / "o.lh5"))
    assert report.stream_type == "FlashCam"
    report = build_raw(str(src), in_stream_type="fcio", out_spec=str(tmp_path / "p.lh5"))
    assert report.stream_type == "FlashCam"
    with pytest.raises(ValueError, match="unknown stream type"):
        build_raw(str(src), in_stream_type="nonsense")
    junk = tmp_path / "junk.fcio"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UnknownFormatError, match=r"junk.fcio, offset 0: unknown format"):
        build_raw(str(junk))
    assert not (tmp_path / "junk.lh5").exists()


def test_n_max_counts_rows_in_input_order(spms, tmp_path):
    spec = {
        "FCEventDecoder": {
            "ev": {"key_list": [[52802, 52804]], "out_stream": str(tmp_path / "n.lh5")}
        }
    }
    report = build_raw(str(spms), out_spec=spec, n_max=30)
    assert report.rows == 30
    with h5py.File(tmp_path / "n.lh5", "r") as f:
        assert f["ev/channel"][()].tolist() == [2, 3, 4] * 10
    # the record that reaches n_max is cut: 8 rows = one event (6) + 2 rows of the next
    build_raw(str(spms), out_spec=str(tmp_path / "m.lh5"), n_max=8)
    with h5py.File(tmp_path / "m.lh5", "r") as f:
        assert f["FCEvent/channel"][()].tolist() == [0, 1, 2, 3, 4, 5, 0, 1]
        assert f["FCEvent/packet_id"][()].tolist() == [1] * 6 + [2] * 2
        assert len(f["FCConfig/packet_id"]) == 1  # header tables do not count


def test_n_max_spread_over_channel_tables(spms, tmp_path):
    f = tmp_path / "c.lh5"
    spec = {"FCEventDecoder": {"ch{key}": {"key_list": ["*"], "out_stream": str(f)}}}
    build_raw(str(spms), out_spec=spec, n_max=10)
    with h5py.File(f, "r") as h:
        rows = {k: len(h[k]["channel"]) for k in h}
    assert rows == {
        "ch52800": 2,
        "ch52801": 2,
        "ch52802": 2,
        "ch52803": 2,
        "ch52804": 1,
        "ch52805": 1,
    }


@pytest.mark.parametrize("buffer_size", [6, 7, 50, 8192])
def test_buffer_size_does_not_change_output(spms, tmp_path, buffer_size):
    ref = tmp_path / "ref.lh5"
    build_raw(str(spms), out_spec=str(ref))
    out = tmp_path / f"b{buffer_size}.lh5"
    build_raw(str(spms), out_spec=str(out), buffer_size=buffer_size)
    assert_identical_lh5(ref, out)


def test_buffer_smaller_than_a_record(spms, tmp_path):
    with pytest.raises(ValueError, match="smaller than the 6 rows one FCEventDecoder record"):
        build_raw(str(spms), out_spec=str(tmp_path / "x.lh5"), buffer_size=5)
    assert list(tmp_path.iterdir()) == []


def test_sources_file_url_memory_and_bytes(spms, tmp_path):
    ref = tmp_path / "ref.lh5"
    build_raw(str(spms), out_spec=str(ref))
    out = tmp_path / "url.lh5"
    build_raw(f"file://{spms}", out_spec=str(out))
    assert_identical_lh5(ref, out)
    data = spms.read_bytes()
    with fsspec.open("memory://rawconv-test/spms.fcio", "wb") as f:
        f.write(data)
    out = tmp_path / "mem.lh5"
    build_raw("memory://rawconv-test/spms.fcio", out_spec=str(out))
    assert_identical_lh5(ref, out)
    out = tmp_path / "bytes.lh5"
    build_raw(data, out_spec=str(out))
    assert_identical_lh5(ref, out)
    with pytest.raises(ValueError, match="needs an explicit out_spec"):
        build_raw(data)


@pytest.mark.parametrize("codec", ["gz", "bz2"])
def test_compressed_inputs(spms, tmp_path, codec):
    import bz2
    import gzip

    packed = tmp_path / f"spms.fcio.{codec}"
    opener = gzip.open if codec == "gz" else bz2.open
    with opener(packed, "wb") as f:
        f.write(spms.read_bytes())
    ref = tmp_path / "ref.lh5"
    build_raw(str(spms), out_spec=str(ref))
    report = build_raw(str(packed))
    assert report.outputs == [str(tmp_path / "spms.lh5")]
    assert_identical_lh5(ref, tmp_path / "spms.lh5")


def test_lh5_read_returns_the_lgdo_objects(spms, tmp_path):
    out = tmp_path / "r.lh5"
    build_raw(str(spms), out_spec=str(out))
    ev = lh5.read("FCEvent", str(out))
    assert isinstance(ev, Table)
    assert isinstance(ev["waveform"], WaveformTable)
    assert ev["waveform"]["values"].nda.shape == (300, 6000)
    assert ev["waveform"]["dt"].attrs["units"] == "ns"
    assert ev["timestamp"].attrs["units"] == "s"
    status = lh5.read("FCStatus", str(out))
    assert status["link_states"].cumulative_length.nda.tolist() == [12, 36]
    assert status["status"].nda.dtype == np.bool_
    assert status["mb_temps"].nda.shape == (2, 5)
    cfg = lh5.read("FCConfig", str(out))
    assert cfg["tracemap"].flattened_data.nda.tolist() == list(range(34603008, 34603014))
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(
            ev["waveform"]["values"].nda, f["FCEvent/waveform/values"][()]
        )
        np.testing.assert_array_equal(ev["runtime"].nda, f["FCEvent/runtime"][()])


@pytest.mark.parametrize(
    ("setting", "filters"),
    [
        (None, ("gzip", 4, True)),
        ("gzip:7", ("gzip", 7, True)),
        ("lzf", ("lzf", None, True)),
        ("none", (None, None, False)),
        ({"compression": "lzf", "shuffle": False}, ("lzf", None, False)),
    ],
)
def test_hdf5_settings(spms, tmp_path, setting, filters):
    out = tmp_path / "h.lh5"
    build_raw(str(spms), out_spec=str(out), hdf5_settings=setting)
    with h5py.File(out, "r") as f:
        for name in ("FCEvent/baseline", "FCEvent/waveform/values", "FCStatus/mb_temps"):
            ds = f[name]
            assert (ds.compression, ds.compression_opts, ds.shuffle) == filters, name


def test_failure_leaves_no_output(spms, th228, tmp_path):
    """An error after writing started removes the partial output (atomic outputs)."""
    # 40 sparse events (written in chunks of 6 rows), then a stream whose FCIOConfig
    # changes the event shape: the error comes mid-file
    from rawconv.formats import get_format
    from rawconv.sources import open_source

    records = get_format("FCIO").index_class().build(open_source(str(spms))).records
    src = tmp_path / "bad.fcio"
    src.write_bytes(spms.read_bytes()[: records["stop"][41]] + th228.read_bytes())
    with pytest.raises(RawconvError, match=r"bad\.fcio: an FCIOConfig changes the event shape"):
        build_raw(str(src), buffer_size=6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.fcio"]


def test_report_counts_garbage_rows(tmp_path):
    from tests.formats.orca.files import mixed_file, record_offsets

    data = mixed_file(n=8)
    off, _ = record_offsets(data)[20]
    (tmp_path / "bad.orca").write_bytes(data[:off] + bytes(range(1, 10)) + data[off:-5])
    report = build_raw(str(tmp_path / "bad.orca"), out_spec=str(tmp_path / "bad.lh5"))
    with h5py.File(tmp_path / "bad.lh5", "r") as f:
        offsets = f["garbage/offset"][()].tolist()
    assert offsets == [off, record_offsets(data)[-1][0] + 9]  # the junk, the truncated tail
    assert report.garbage_rows == 2
    assert "2 undecodable record(s) kept in /garbage" in report.summary()


def test_intact_input_without_the_asked_rows_writes_nothing_with_a_warning(tmp_path, caplog):
    """A run that recorded no events (config only) is not damage: nothing to write, said."""
    from rawconv.formats.fcio.synthetic import write_synthetic_run

    src = tmp_path / "empty.fcio"
    write_synthetic_run(src, n_events=0, adcs=2, eventsamples=16, seed=1)
    spec = {"FCEventDecoder": {"ev": {"key_list": ["*"], "out_stream": str(tmp_path / "o.lh5")}}}
    with caplog.at_level("WARNING", logger="rawconv"):
        report = build_raw(str(src), out_spec=spec)
    assert report.outputs == [] and not (tmp_path / "o.lh5").exists()
    assert f"{src}: no rows for the requested tables; nothing written" in caplog.text
