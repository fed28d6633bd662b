"""The l200 layout (dspeed's saturation, codecs, extra/, zstd:3) in parallel equals serial."""

from __future__ import annotations

import h5py
import pytest
from rawconv.parallel import convert
from rawconv.parallel.cli import main

from rawconv import build_raw
from rawconv.formats.fcio.synthetic import write_synthetic_run
from tests.conftest import istore_k
from tests.parallel.conftest import assert_same_lh5


def test_l200_layout_parallel_equals_serial(client, tmp_path):
    src = tmp_path / "run.fcio"
    write_synthetic_run(src, n_events=90, adcs=3, eventsamples=4200, status_every=30, seed=4)
    serial = tmp_path / "serial.lh5"
    build_raw(str(src), layout="l200", out_spec=str(serial))
    par = tmp_path / "par"
    par.mkdir()
    report = convert([str(src)], layout="l200", out_spec=str(par / "{orig_basename}.lh5"),
                     client=client, chunk_size=400_000, scratch=tmp_path / "scratch",
                     cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert all(f.status == "done" for f in report.files), report.summary()
    assert report.files[0].chunks >= 4
    assert assert_same_lh5(serial, par / "run.lh5") > 100
    assert istore_k(par / "run.lh5") == istore_k(serial) == 4  # the layout's chunk indexes
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


def test_cli_layout_equals_serial_cli(client, tmp_path, capsys):
    from rawconv.cli import main as rawconv_main

    src = tmp_path / "in" / "run.fcio"
    src.parent.mkdir()
    write_synthetic_run(src, n_events=40, adcs=2, eventsamples=4200, status_every=20, seed=5)
    assert rawconv_main([str(src), "--layout", "l200", "-o", str(tmp_path / "serial.lh5"),
                         "-q"]) == 0  # fmt: skip
    common = ["--scheduler", client.scheduler.address, "--cache", str(tmp_path / "cache"),
              "--scratch", str(tmp_path / "scratch"), "-q"]  # fmt: skip
    # no -o: beside the input, as rawconv writes it
    assert main([str(src), "--layout", "l200", "--chunk-size", "200000", *common]) == 0
    assert assert_same_lh5(tmp_path / "serial.lh5", tmp_path / "in" / "run.lh5") > 60
    out = tmp_path / "out"
    assert main([str(src), "--layout", "l200", "-o", f"{out}/{{orig_basename}}.lh5",
                 *common]) == 0  # fmt: skip
    assert assert_same_lh5(tmp_path / "serial.lh5", out / "run.lh5") > 60
    assert istore_k(out / "run.lh5") == 4  # one chunk: its task wrote the output itself
    with h5py.File(out / "run.lh5", "r") as f:
        assert sorted(f) == ["ch0052800", "ch0052801", "extra"]  # the writer's rawids
        assert f["ch0052801/raw/presum_rate"][0] == 8
    capsys.readouterr()
    spec = tmp_path / "spec.json"
    assert main([str(src), "--layout", "l200", "-o", str(spec), *common]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("rawconv-parallel: error: --layout brings its own out_spec; -o names the "
                   f"output files (out/{{orig_basename}}.lh5[:/group]), not {spec}")  # fmt: skip
    with pytest.raises(SystemExit):
        main([str(src), "--layout", "l300"])
    assert "argument --layout: unknown layout 'l300'; known: l200" in capsys.readouterr().err


def test_convert_layout_refused_up_front(tmp_path):
    with pytest.raises(ValueError, match=r"^layout: unknown layout 'l9'; known: l200"):
        convert([str(tmp_path / "none.fcio")], layout="l9")
    with pytest.raises(ValueError, match=r"^layout: a layout brings its own out_spec"):
        convert([str(tmp_path / "none.fcio")], layout="l200", out_spec={"*": {}})


def test_help_names_the_layout(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--layout LAYOUT a named output layout: l200 (LEGEND-200's production raw tier" in text
    assert "rawconv-parallel 'data/*.fcio' --layout l200 -o 'raw/{orig_basename}.lh5'" in text
