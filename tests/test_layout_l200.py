"""``--layout l200`` / ``build_raw(layout="l200")``: LEGEND-200's production raw tier.

The real ORCA test file (two FlashCam listeners, 6250-sample 16-bit traces) converted with
the preset is checked against its default conversion, table by table: the channel tables'
fields, dtypes, units, filters, window / presum values and t0 / dt, dspeed's saturation
counts, and the auxiliary tables under ``extra/``. A writer-made FCIO file with saturated
samples checks t_sat_lo / t_sat_hi where they are not zero.
"""

from __future__ import annotations

import h5py
import lh5
import numpy as np
import pytest
from dspeed.processors import saturation

from rawconv import build_raw
from rawconv.cli import main
from rawconv.formats.fcio.synthetic import write_synthetic_run
from rawconv.formats.fcio.writer import FCIOWriter
from tests.conftest import data_file

P14 = "orca/fcio/l200-p14-r004-cal-20250606T010224Z.orca"
CHANNELS = ["ch1105600", "ch1105604", "ch1107202", "ch1113600", "ch1115200", "ch1115205"]
NEW_FIELDS = {"waveform_windowed", "waveform_presummed", "presum_rate", "t_sat_lo", "t_sat_hi"}
ZSTD3 = {"shuffle", "32015"}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """(preset output, default output) of the p14 file."""
    tmp = tmp_path_factory.mktemp("l200")
    src = data_file(P14)
    preset, plain = tmp / "preset.lh5", tmp / "plain.lh5"
    report = build_raw(str(src), layout="l200", out_spec=str(preset))
    assert report.outputs == [str(preset)]
    build_raw(str(src), out_spec=str(plain))
    return preset, plain


def _channel_rows(plain: h5py.File) -> dict[str, np.ndarray]:
    ev = plain["ORFCIOEvent_0"]
    fcid, board, inp = (ev[n][()].astype(np.int64) for n in ("fcid", "board_id", "fc_input"))
    keys = fcid * 1_000_000 + board * 100 + inp
    return {f"ch{k:07d}": np.flatnonzero(keys == k) for k in np.unique(keys).tolist()}


def test_channel_tables_fields_dtypes_units(converted):
    preset, plain = converted
    with h5py.File(preset, "r") as fp, h5py.File(plain, "r") as fd:
        assert sorted(fp) == [*CHANNELS, "extra"]
        default = fd["ORFCIOEvent_0"]
        for ch in CHANNELS:
            table = fp[f"{ch}/raw"]
            assert set(table) == (set(default) - {"waveform"}) | NEW_FIELDS, ch
            for name in set(default) - {"waveform"}:
                if isinstance(default[name], h5py.Dataset):
                    assert table[name].dtype == default[name].dtype, name
                    assert table[name].attrs.get("units") == default[name].attrs.get("units")
            for name in ("t_sat_lo", "t_sat_hi", "presum_rate"):
                assert table[name].dtype == np.uint16, name
                assert table[name].attrs["units"] == "ADC", name
            for wf in ("waveform_windowed", "waveform_presummed"):
                assert table[f"{wf}/t0"].attrs["units"] == table[f"{wf}/dt"].attrs["units"] == "ns"
                values = table[f"{wf}/values"]
                assert values.attrs["datatype"] == "array_of_encoded_equalsized_arrays<1,1>{real}"
            win = table["waveform_windowed/values"]
            assert win.attrs["codec"] == "radware_sigcompress"
            assert win.attrs["codec_shift"] == -32768
            assert win["decoded_size"][()] == 1400
            pre = table["waveform_presummed/values"]
            assert pre.attrs["codec"] == "uleb128_zigzag_diff"
            assert pre["decoded_size"][()] == 781


def test_filters_zstd3_and_shuffle_only_on_encoded_bytes(converted):
    preset, _ = converted
    seen = {"encoded": 0, "zstd": 0}
    with h5py.File(preset, "r") as f:

        def check(name: str, obj: object) -> None:
            if not isinstance(obj, h5py.Dataset) or obj.shape == ():
                return  # scalars (OrcaHeader, decoded_size) are not chunked
            filters = obj._filters
            if name.endswith("encoded_data/flattened_data"):
                assert set(filters) == {"shuffle"}, name
                seen["encoded"] += 1
            else:
                assert set(filters) == ZSTD3, (name, filters)
                assert filters["32015"] == (3,), name
                seen["zstd"] += 1

        f.visititems(check)
    assert seen["encoded"] == 2 * len(CHANNELS)
    assert seen["zstd"] > 200


def test_waveforms_window_presum_and_saturation(converted):
    preset, plain = converted
    with h5py.File(plain, "r") as fd:
        rows = _channel_rows(fd)
        raw = fd["ORFCIOEvent_0/waveform/values"][()]
        assert set(fd["ORFCIOEvent_0/waveform/dt"][()].tolist()) == {16.0}
    assert sorted(rows) == CHANNELS
    for ch, idx in rows.items():
        got = lh5.read(f"{ch}/raw", str(preset))
        trace = raw[idx]
        win, pre = got["waveform_windowed"], got["waveform_presummed"]
        np.testing.assert_array_equal(win.values.nda, trace[:, 2625:4025])
        np.testing.assert_array_equal(win.t0.nda, np.full(len(idx), 42000.0))
        np.testing.assert_array_equal(win.dt.nda, np.full(len(idx), 16.0))
        sums = trace[:, : 781 * 8].reshape(len(idx), 781, 8).sum(axis=2, dtype=np.int64)
        np.testing.assert_array_equal(pre.values.nda, sums)
        np.testing.assert_array_equal(pre.t0.nda, np.zeros(len(idx)))
        np.testing.assert_array_equal(pre.dt.nda, np.full(len(idx), 128.0))
        np.testing.assert_array_equal(got["presum_rate"].nda, np.full(len(idx), 8))
        lo, hi = saturation(trace.astype(np.float32), 16)
        np.testing.assert_array_equal(got["t_sat_lo"].nda, lo.astype(np.uint16))
        np.testing.assert_array_equal(got["t_sat_hi"].nda, hi.astype(np.uint16))


def test_extra_tables_equal_the_default_tables(converted):
    preset, plain = converted
    extra = lh5.read("extra", str(preset))
    assert sorted(extra) == ["OrcaHeader", "RunControl", "fcid_1", "fcid_2"]
    with h5py.File(preset, "r") as fp, h5py.File(plain, "r") as fd:
        assert fp["extra"].attrs["datatype"] == "struct{OrcaHeader,RunControl,fcid_1,fcid_2}"
        assert fp["extra/OrcaHeader"][()] == fd["OrcaHeader"][()]
        assert extra["OrcaHeader"].value == fd["OrcaHeader"][()]
        run = fd["ORRunDecoderForRun"]
        assert sorted(fp["extra/RunControl"]) == sorted(run)
        for name in run:
            np.testing.assert_array_equal(extra["RunControl"][name].nda, run[name][()], name)
        config = fd["ORFCIOConfig_0"]
        fcids = config["streamid"][()] & 0xFFFF
        tm_ends = config["tracemap/cumulative_length"][()]
        tm_starts = np.concatenate([[0], tm_ends[:-1]])
        for fcid in (1, 2):
            (row,) = np.flatnonzero(fcids == fcid)
            table = extra[f"fcid_{fcid}"]["config"]
            for name in config:
                if name == "tracemap":
                    flat = config["tracemap/flattened_data"][tm_starts[row] : tm_ends[row]]
                    np.testing.assert_array_equal(table["tracemap"][0], flat)
                    assert fp[f"extra/fcid_{fcid}/config/tracemap"].attrs["length"] == 2400
                else:
                    np.testing.assert_array_equal(table[name].nda, config[name][()][[row]], name)
        assert int(extra["fcid_1"]["config"]["nsamples"].nda[0]) == 6250
    root = lh5.read("/", str(preset))
    assert sorted(root) == [*CHANNELS, "extra"]


def test_saturated_samples_are_counted(tmp_path):
    """A writer-made FCIO file: t_sat_lo counts the 0 samples of the raw trace and
    t_sat_hi those at dspeed's upper limit for 16 bits (2**16 - 16), outside the window
    too."""
    src = tmp_path / "sat.fcio"
    rng = np.random.default_rng(3)
    traces = rng.integers(1000, 2000, (2, 3, 4800)).astype(np.uint16)
    traces[0, 0, [10, 11, 3000]] = 0
    traces[0, 1, [5, 4500]] = 65520
    traces[1, 2, :7] = 0
    traces[1, 2, 4000:4009] = 65520
    with FCIOWriter(src) as w:
        w.write_config(adcs=3, eventsamples=4800, tracemap=[0x10000, 0x10001, 0x10002])
        for ev in traces:
            w.write_event(ev, np.zeros((3, 2), np.uint16))
    out = tmp_path / "sat.lh5"
    build_raw(str(src), layout="l200", out_spec=str(out))
    with h5py.File(out, "r") as f:
        tables = sorted(k for k in f if k != "extra")
        assert len(tables) == 3
        lo = np.array([f[f"{t}/raw/t_sat_lo"][()] for t in tables])
        hi = np.array([f[f"{t}/raw/t_sat_hi"][()] for t in tables])
        assert sorted(f["extra"]) == ["FCConfig"]
    assert lo.tolist() == [[3, 0], [0, 0], [0, 7]]
    assert hi.tolist() == [[0, 0], [2, 0], [0, 9]]
    for ch in range(3):
        want_lo, want_hi = saturation(traces[:, ch].astype(np.float32), 16)
        assert lo[ch].tolist() == want_lo.tolist() and hi[ch].tolist() == want_hi.tolist()


def test_cli_layout(tmp_path, capsys):
    src = data_file(P14)
    out = tmp_path / "cli.lh5"
    assert main([str(src), "--layout", "l200", "-o", str(out), "-q"]) == 0
    with h5py.File(out, "r") as f:
        assert sorted(f) == [*CHANNELS, "extra"]
        assert set(f["ch1107202/raw/t_sat_lo"]._filters) == ZSTD3
    assert main([str(src), "--layout", "l200", "-o", str(tmp_path / "o.lh5"), "-c", "gzip:1",
                 "-q"]) == 0  # fmt: skip
    with h5py.File(tmp_path / "o.lh5", "r") as f:
        assert f["ch1107202/raw/t_sat_lo"].compression == "gzip"
        assert f["ch1107202/raw/t_sat_lo"].compression_opts == 1
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([str(src), "--layout", "l300"])
    assert exc.value.code == 2
    assert "argument --layout: unknown layout 'l300'; known: l200" in capsys.readouterr().err
    assert main([str(src), "--layout", "l200", "-o", str(tmp_path / "spec.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rawconv: error: --layout brings its own out_spec; -o names")
    assert not (tmp_path / "spec.json").exists()


def test_build_raw_layout_refuses_an_out_spec(tmp_path):
    src = data_file(P14)
    spec = {"ORFCIOEventDecoder": {"ev": {"key_list": ["*"], "out_stream": str(tmp_path / "x")}}}
    with pytest.raises(ValueError, match=r"^layout: a layout brings its own out_spec"):
        build_raw(str(src), layout="l200", out_spec=spec)
    with pytest.raises(ValueError, match=r"^layout: unknown layout 'nope'; known: l200"):
        build_raw(str(src), layout="nope")
    assert list(tmp_path.iterdir()) == []


def test_the_layout_gives_its_tables_more_rows(tmp_path, monkeypatch):
    from rawconv.streamer import DEFAULT_BUFFER_MEMORY, DataStreamer

    src = tmp_path / "run.fcio"
    write_synthetic_run(src, n_events=6, adcs=3, eventsamples=4200, status_every=3, seed=2)
    seen: list[int] = []
    allocate = DataStreamer._allocate

    def spy(self, *args, **kwargs):
        seen.append(self.buffer_memory)
        return allocate(self, *args, **kwargs)

    monkeypatch.setattr(DataStreamer, "_allocate", spy)
    build_raw(str(src), layout="l200", out_spec=str(tmp_path / "l200.lh5"))
    build_raw(str(src), out_spec=str(tmp_path / "default.lh5"))
    assert seen == [512 << 20, DEFAULT_BUFFER_MEMORY] and DEFAULT_BUFFER_MEMORY == 128 << 20


def test_open_datasets_get_small_chunk_caches(tmp_path):
    """A layout keeps thousands of datasets open: HDF5's default 521 cache slots cost about
    80 kB each (450 MB for production's 5,400); 11 slots hold the chunk or two an append
    needs."""
    from rawconv.lh5.columns import ArrayCol
    from rawconv.lh5.writer import LH5Writer

    writer = LH5Writer()
    writer.write(ArrayCol(np.arange(10)), "x", tmp_path / "c.lh5")
    (out,) = writer._files.values()
    _, slots, nbytes, _ = out.h5.id.get_access_plist().get_cache()
    assert (slots, nbytes) == (11, 8 << 20)
    writer.close()
