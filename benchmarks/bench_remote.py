"""Remote inputs against local ones: an FCIO file served over loopback HTTP (Range requests)
and over S3, both on 127.0.0.1, converted by `rawconv` (serial) and by `rawconv-parallel`
with --workers (default 2), each in a fresh process.

S3 (`--s3`): by default the test file server answers S3's HeadObject and ranged GetObject
(path-style, signatures not checked: the client signs each request as for AWS), so the S3
client's path is timed against a server that reads only the bytes asked for. `--s3 moto`
uses moto's S3 server instead, which reads the whole object for every ranged GET: its speed
is moto's, not the client's.

Prints wall seconds, MB/s (input bytes), CPU seconds of the conversion process and its
children (user + sys; the servers run in this process and are not counted), the bytes the
file server sent (HTTP, and S3 but with moto) against the input size, and each remote run's
MB/s as a fraction of the same run on the local file. Outputs are checked equal to the
local serial one.

    python benchmarks/bench_remote.py --size-mb 1000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _timing import timed  # noqa: E402

from benchmarks.bench_fcio import SHAPES  # noqa: E402
from tests.parallel.conftest import assert_same_lh5  # noqa: E402
from tests.remote.servers import http_files  # noqa: E402

BIN = Path(sys.executable).parent


def s3_server() -> tuple[object, dict] | None:
    """moto's S3 server on 127.0.0.1 and storage options naming its endpoint (None without
    moto and s3fs: pip install 'rawconv[test]')."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        return None
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    options = {"key": "bench", "secret": "bench",
               "client_kwargs": {"endpoint_url": f"http://{host}:{port}",
                                 "region_name": "eu-central-1"}}  # fmt: skip
    return server, options


def _s3_runs(server: str, src: Path, work: Path, run: Any, serial: list[str],
             parallel: list[str]) -> None:  # fmt: skip
    """The serial and parallel runs from s3:// (the server stops when they end)."""
    bucket = f"rawconv-bench-{uuid.uuid4().hex[:8]}"
    files = None  # the file server (its bytes sent are counted), not moto
    with contextlib.ExitStack() as stack:
        if server == "moto":
            if (started := s3_server()) is None:
                print("moto or s3fs not installed: no S3 runs (pip install 'rawconv[test]')")
                return
            moto, options = started
            stack.callback(moto.stop)
            import s3fs

            fs = s3fs.S3FileSystem(**options, skip_instance_cache=True)
            fs.mkdir(bucket)
            fs.put(str(src), f"{bucket}/{src.name}")
        else:  # the file server: a bucket is a folder of its root
            files = stack.enter_context(http_files(work))
            (work / bucket).mkdir()
            os.link(src, work / bucket / src.name)
            files.digest(work / bucket / src.name, src.stat())  # the ETag, not timed
            options = {"key": "bench", "secret": "bench",
                       "client_kwargs": {"endpoint_url": files.url,
                                         "region_name": "eu-central-1"}}  # fmt: skip
        opts = work / "s3.json"
        opts.write_text(json.dumps(options))
        url = f"s3://{bucket}/{src.name}"
        for label, cmd in (("serial", serial), ("parallel", parallel)):
            out = work / f"s3-{label}.lh5"
            extra = ["--cache", str(work / f"cache-{uuid.uuid4().hex[:6]}")]
            if files is not None:
                files.reset()
            run(label, "s3", [*cmd, url, "-o", str(out), "--storage-option", str(opts),
                              *(extra if label == "parallel" else [])], out, files)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1000.0, help="input size (MB)")
    parser.add_argument("--shape", default="120x8192-full", choices=sorted(SHAPES))
    parser.add_argument("--workers", type=int, default=2, help="rawconv-parallel workers")
    parser.add_argument("--chunk-size", default="64M", help="rawconv-parallel --chunk-size")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 runs")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat every run this often and print the medians too")
    parser.add_argument("--s3", choices=("files", "moto"), default="files",
                        help="the S3 server: the test file server (default) or moto's")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="rawconv-bench-remote-"))
    try:
        src = work / "input.fcio"
        SHAPES[args.shape].write(src, args.size_mb)
        size = src.stat().st_size
        serial = [str(BIN / "rawconv"), "-q", "-w"]
        parallel = [str(BIN / "rawconv-parallel"), "-q", "-w", "--workers", str(args.workers),
                    "--chunk-size", args.chunk_size, "--scratch", str(work / "s")]  # fmt: skip
        timed([*serial, str(src), "-o", str(work / "warm.lh5"), "-n", "10"])  # caches warm
        rounds = [_round(args, src, work, serial, parallel) for _ in range(args.rounds)]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    mb = size / 1e6
    print(f"{args.shape}, {mb:.0f} MB, {os.cpu_count()} cores, rawconv-parallel --workers "
          f"{args.workers} --chunk-size {args.chunk_size}")  # fmt: skip
    header = f"{'run':18} {'wall s':>7} {'MB/s':>7} {'CPU s':>7} {'bytes sent':>10} {'of local':>9}"
    for k, rows in enumerate(rounds):
        if len(rounds) > 1:
            print(f"round {k + 1}")
        print(header)
        for label, (wall, cpu, sent, fraction) in rows.items():
            shown = "-" if fraction is None else f"{fraction:.0%}"
            print(f"{label:18} {wall:7.2f} {mb / wall:7.1f} {cpu:7.2f} {sent:>10} {shown:>9}")
    if len(rounds) > 1:  # each remote run against the local run of the same round
        print(f"median of {len(rounds)} rounds", header, sep="\n")
        for label in rounds[0]:
            wall, cpu = (statistics.median(r[label][i] for r in rounds) for i in (0, 1))
            fractions = [r[label][3] for r in rounds]
            shown = "-" if None in fractions else f"{statistics.median(fractions):.0%}"
            spread = "" if None in fractions else f"  ({min(fractions):.0%}-{max(fractions):.0%})"
            print(f"{label:18} {wall:7.2f} {mb / wall:7.1f} {cpu:7.2f} {'':>10} {shown:>9}{spread}")


def _round(args: Any, src: Path, work: Path, serial: list[str],
           parallel: list[str]) -> dict[str, tuple[float, float, str, float | None]]:  # fmt: skip
    """One round of every run, each remote one right after the local one of its kind:
    label -> (wall s, CPU s, bytes sent, fraction of the local MB/s or None)."""
    size = src.stat().st_size
    rows: dict[str, tuple[float, float, str, float | None]] = {}
    local: dict[str, float] = {}
    ref = work / "local-serial.lh5"

    def run(label: str, kind: str, cmd: list[str], out: Path, http=None) -> None:
        wall, cpu = timed(cmd)
        sent = f"{http.bytes_sent / size:.3f}x" if http is not None else "-"
        if kind == "local":
            local[label] = wall
        else:  # names, attributes, dtypes, shapes and values equal
            assert_same_lh5(ref, out)
        fraction = None if kind == "local" else local[label] / wall
        rows[f"{label} {kind}"] = (wall, cpu, sent, fraction)
        out.unlink(missing_ok=True)

    run("serial", "local", [*serial, str(src), "-o", str(ref)], work / "unused.lh5")
    with http_files(work) as http:
        url = f"{http.url}/{src.name}"
        http.digest(src, src.stat())  # the test server's ETag (an MD5) is not timed
        for label, cmd, out in (
            ("serial", serial, work / "http-serial.lh5"),
            ("parallel", parallel, work / "http-parallel.lh5"),
        ):
            if label == "parallel":
                run("parallel", "local", [*cmd, str(src), "-o", str(work / "pl.lh5")],
                    work / "pl.lh5")  # fmt: skip
            http.reset()
            run(label, "http", [*cmd, url, "-o", str(out), "--cache",
                                str(work / f"cache-{uuid.uuid4().hex[:6]}")]
                if label == "parallel" else [*cmd, url, "-o", str(out)], out, http)  # fmt: skip
    if not args.no_s3:
        _s3_runs(args.s3, src, work, run, serial, parallel)
    return rows


if __name__ == "__main__":
    main()
