"""ORCA inputs: .orca.gz / .orca.bz2 copies, any Source, detection, the record index,
chunk modes and buffer sizes, and the memory a conversion needs."""

from __future__ import annotations

import bz2
import gzip
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rawconv import OutSpecError, RawBufferLibrary, build_raw, write_to_lh5_and_clear
from rawconv.formats import detect_format
from rawconv.formats.orca.streamer import OrcaStreamer
from rawconv.lh5.writer import LH5Writer
from rawconv.sources import MemorySource
from tests.conftest import data_file
from tests.formats.orca.files import fcio_file, mixed_file, record_offsets, tables

GEDS = "orca/fc/L200-comm-20220519-phy-geds.orca"
P14 = "orca/fcio/l200-p14-r004-cal-20250606T010224Z.orca"


def _same(a, b) -> None:
    ta, tb = tables(a), tables(b)
    assert sorted(ta) == sorted(tb)
    for name, values in ta.items():
        np.testing.assert_array_equal(tb[name], values, err_msg=name)


@pytest.mark.parametrize("relative", [GEDS, P14])
def test_gz_and_bz2_copies_give_identical_output(relative, tmp_path):
    src = data_file(relative)
    plain = tmp_path / "plain.lh5"
    build_raw(str(src), out_spec=str(plain))
    for ext, opener in (("gz", gzip.open), ("bz2", bz2.open)):
        copy = tmp_path / f"{src.name}.{ext}"
        with opener(copy, "wb") as fh:
            fh.write(src.read_bytes())
        out = tmp_path / f"{ext}.lh5"
        report = build_raw(str(copy), out_spec=str(out))  # detected from the bytes
        assert report.stream_type == "ORCA"
        _same(plain, out)


def test_small_blocks_and_any_source(tmp_path):
    """Blocks smaller than a record (the first block grows to reach the configs), an
    in-memory Source, three-row buffers: the same output."""
    data = mixed_file()
    ref = tmp_path / "ref.lh5"
    build_raw(MemorySource(data, "mixed.orca"), out_spec=str(ref))
    for block_bytes in (4096, 40_000):
        s = OrcaStreamer(block_bytes=block_bytes)
        out = tmp_path / f"b{block_bytes}.lh5"
        writer = LH5Writer(atomic=False)
        write_to_lh5_and_clear(s.open_stream(MemorySource(data, "m"), out_stream=str(out),
                                             buffer_size=3), writer)  # fmt: skip
        for chunk in s:
            write_to_lh5_and_clear(chunk, writer)
        writer.close()
        _same(ref, out)


def test_detection():
    for relative in (GEDS, P14):
        assert detect_format(MemorySource(data_file(relative).read_bytes()[:64])) == "ORCA"
    assert detect_format(MemorySource(mixed_file(order=">")[:64])) == "ORCA"


def test_big_endian_file_decodes_as_little_endian(tmp_path):
    le, be = tmp_path / "le.lh5", tmp_path / "be.lh5"
    build_raw(MemorySource(mixed_file("<"), "le.orca"), out_spec=str(le))
    build_raw(MemorySource(mixed_file(">"), "be.orca"), out_spec=str(be))
    _same(le, be)


@pytest.mark.parametrize("make", [mixed_file, fcio_file, lambda: mixed_file(">")])
def test_index_walks_record_headers(make):
    data = make()
    order = ">" if data[:2] == b"\0\0" else "<"
    index = OrcaStreamer(block_bytes=4096).index(MemorySource(data))
    walked = record_offsets(data, order)
    assert index["offset"].tolist() == [o for o, _ in walked]
    assert (4 * index["words"]).tolist() == [n for _, n in walked]
    assert index["packet_id"].tolist() == list(range(1, len(walked) + 1))


def test_index_of_test_files():
    for relative, n in ((GEDS, 70), (P14, 12)):
        index = OrcaStreamer().index(str(data_file(relative)))
        assert len(index) == n
        assert set(index["data_id"].tolist()) <= {3, 4, 6, 7, 8}


@pytest.mark.parametrize("mode", ["only_full", "any_full", "single_packet"])
def test_chunk_modes_keep_every_row(mode):
    """Every chunk mode and a tiny buffer give the rows of one big buffer, in order."""

    def rows(chunk_mode, buffer_size):
        s = OrcaStreamer()
        s.open_stream(MemorySource(fcio_file()), buffer_size=buffer_size, chunk_mode=chunk_mode)
        got: dict[str, list] = {}
        while chunk := s.read_chunk():
            for rb in chunk:
                col = "packet_id" if "packet_id" in rb.table else "time"
                got.setdefault(rb.out_name, []).extend(rb.table[col].nda[: rb.loc].tolist())
                rb.loc = 0  # written (as write_to_lh5_and_clear does)
        return got

    assert rows(mode, 8) == rows("only_full", 8192)


def test_n_max_counts_rows_in_input_order():
    s = OrcaStreamer()
    lib = RawBufferLibrary({"ORFCIOEventDecoder": {"ev": {"key_list": ["1*"], "out_stream": ""}}})
    s.open_stream(MemorySource(fcio_file(fsp=False)), rb_lib=lib)
    s.n_max = 10
    got = []
    while chunk := s.read_chunk():
        for rb in chunk:
            got += rb.table["packet_id"].nda[: rb.loc].tolist()
    assert len(got) == 10
    assert got == sorted(got)


def test_memory_of_the_geds_conversion(tmp_path):
    """The conversion's own memory: a peak of 160 MB (measured: about 110; the reference
    needs 4.2 GB, allocating every table at its largest shape).

    Measured in a fresh process (ru_maxrss would include the forked test process), after a
    first run has filled numba's on-disk cache (LLVM compiling the kernels once adds about
    70 MB), as peak RSS less the file-backed pages mapped at the end: those are the shared
    libraries' code (numba's LLVM alone is 40-110 MB), clean page cache whose resident
    share depends on how the kernel cached the freshly installed files, not on rawconv
    (the same run peaks at 230 MB RSS in one virtual environment and 306 MB in a fresh
    copy of it, with identical anonymous memory)."""
    src = data_file(GEDS)
    code = textwrap.dedent(f"""
        import json
        from rawconv import build_raw
        build_raw({str(src)!r}, out_spec={str(tmp_path / "geds.lh5")!r}, overwrite=True)
        status = {{l.split(":")[0]: int(l.split()[1]) for l in open("/proc/self/status")
                  if l.startswith(("VmHWM", "RssFile", "RssShmem"))}}
        print(json.dumps(status))
    """)
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc (Linux) to read the peak RSS of one process")
    subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)  # fmt: skip
    status = json.loads(proc.stdout.strip().splitlines()[-1])
    private_mb = (status["VmHWM"] - status["RssFile"] - status["RssShmem"]) / 1024
    assert 30 < private_mb < 160, f"peak private memory {private_mb:.0f} MB ({status} kB)"


def test_buffer_mixing_layouts_is_refused():
    """One buffer for FCIOConfig and FSPConfig rows: a clear error, not a broken table."""
    spec = {"ORFCIOConfigDecoder": {"cfg": {"key_list": ["*"], "out_stream": ""}}}
    with pytest.raises(OutSpecError, match=r"ORFCIOConfigDecoder buffer 'cfg'.*different"):
        OrcaStreamer().open_stream(MemorySource(fcio_file()), rb_lib=RawBufferLibrary(spec))


def test_star_entry_splits_layouts_as_the_default_tables():
    """The "*" entry gives a decoder its buffers once per default table, named as the
    reference names them: FCIOConfig and FSPConfig rows in two tables, as by default."""
    lib = RawBufferLibrary({"*": {"{name}": {"key_list": ["*"], "out_stream": ""}}})
    streamer = OrcaStreamer()
    streamer.open_stream(MemorySource(fcio_file()), rb_lib=lib)
    got = {rb.out_name: rb.key_list for rb in lib["ORFCIOConfigDecoder"]}
    default = OrcaStreamer()
    default.open_stream(MemorySource(fcio_file()))
    want = {rb.out_name: rb.key_list for rb in default.rb_lib["ORFCIOConfigDecoder"]}
    assert got == want == {"ORFCIOConfig_0": ["fcid_1/config", "fcid_2/config"],
                           "ORFCIOConfig_swtid_1/config": ["swtid_1/config"]}  # fmt: skip
