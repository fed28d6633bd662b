"""The l200 layout (dspeed's saturation, codecs, extra/, zstd:3) in parallel equals serial."""

from __future__ import annotations

import h5py
from rawconv.parallel import convert

from rawconv import build_raw
from rawconv.formats.fcio.synthetic import write_synthetic_run
from rawconv.layouts import get_layout
from tests.parallel.conftest import assert_same_lh5


def test_l200_layout_parallel_equals_serial(client, tmp_path):
    src = tmp_path / "run.fcio"
    write_synthetic_run(src, n_events=90, adcs=3, eventsamples=4200, status_every=30, seed=4)
    serial = tmp_path / "serial.lh5"
    build_raw(str(src), layout="l200", out_spec=str(serial))
    par = tmp_path / "par"
    par.mkdir()
    preset = get_layout("l200")
    report = convert([str(src)], out_spec=preset.out_spec_for(str(par / "{orig_basename}.lh5")),
                     hdf5_settings=preset.hdf5_settings, client=client, chunk_size=400_000,
                     scratch=tmp_path / "scratch", cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert all(f.status == "done" for f in report.files), report.summary()
    assert report.files[0].chunks >= 4
    assert assert_same_lh5(serial, par / "run.lh5") > 100
    with h5py.File(serial, "r") as fs, h5py.File(par / "run.lh5", "r") as fp:
        filters: list[tuple[str, dict, dict]] = []
        fs.visititems(lambda n, o: filters.append((n, o._filters, fp[n]._filters))
                      if isinstance(o, h5py.Dataset) else None)  # fmt: skip
        assert len(filters) > 100
        for name, want, got in filters:
            assert got == want, name  # the merge keeps every dataset's filters
    with h5py.File(par / "run.lh5", "r") as f:
        assert sorted(f["extra"]) == ["FCConfig", "FCStatus"]
        table = f["ch0000000/raw"] if "ch0000000" in f else f[sorted(f)[0] + "/raw"]
        assert len(table["t_sat_lo"]) == 90
        assert set(table["t_sat_lo"]._filters) == {"shuffle", "32015"}
        flat = table["waveform_windowed/values/encoded_data/flattened_data"]
        assert set(flat._filters) == {"shuffle"}
