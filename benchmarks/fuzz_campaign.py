"""The fuzzing campaign: N mutated real files per format through rawconv (issue 13).

Each input is a real test file (``tests/fuzz/seeds.py``) with one mutation (bit flip,
byte overwrite, truncation, corrupted length word, inserted or deleted bytes, splice of two
files). A worker subprocess decodes it with the format's streamer into memory (and the
undamaged prefix, to check that every record before the first damaged byte is kept; the
prefix's rows are kept for the next input with the same prefix); every ``--lh5-every``
inputs it also converts both with ``build_raw`` to LH5 files, and every ``--cli-every``
inputs runs the ``rawconv`` command on the input. A worker that does not answer
within ``--timeout`` seconds is killed (a hang); one that dies is a crash. Every input that
shows a problem is saved as JSON in ``tests/fuzz/corpus/<format>/`` (replayed by
``tests/fuzz/test_corpus.py``). Inputs are drawn from ``--seed``: a run is repeatable.

    nice -n 10 python benchmarks/fuzz_campaign.py --per-format 10000
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from tests.fuzz.cases import CORPUS, Case, random_case, save  # noqa: E402
from tests.fuzz.seeds import FORMATS, available  # noqa: E402

FIRST_TIMEOUT_S = 300.0  # a fresh worker may compile the numba kernels first


def worker(workdir: Path) -> None:
    """Read cases (JSON lines) on stdin, answer one JSON line each on stdout; files go to
    `workdir` (made here, removed by the campaign even when it kills this worker)."""
    import logging

    from tests.fuzz.harness import check, check_cli

    logging.getLogger("rawconv").setLevel(logging.CRITICAL)  # damage is reported as it should be

    workdir.mkdir(parents=True)
    for line in sys.stdin:
        job = json.loads(line)
        case = Case.from_dict(job["case"])
        t0 = time.perf_counter()
        data, cut = case.build()
        problems, error = check(case.fmt, data, cut, workdir, case.key, in_memory=True)
        if job["lh5"]:
            lh5_problems, lh5_error = check(case.fmt, data, cut, workdir, case.key)
            problems += [f"build_raw: {p}" for p in lh5_problems]
            if (lh5_error is None) != (error is None):
                problems.append(f"build_raw and the in-memory decoding disagree: "
                                f"{lh5_error!r} / {error!r}")  # fmt: skip
        if job["cli"]:
            problems += check_cli(data, workdir)
        reply = {"problems": problems, "error": error, "s": time.perf_counter() - t0}
        print(json.dumps(reply), flush=True)


class Worker:
    """The worker subprocess, restarted after a hang or a crash."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.fresh = True
        self.tmp = Path(tempfile.mkdtemp(prefix="rawconv-fuzz-"))
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        cmd = [sys.executable, __file__, "--worker", str(self.tmp / str(self.starts))]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=ROOT)  # fmt: skip
        self.fresh = True

    def run(self, job: dict, timeout: float) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        wait = max(timeout, FIRST_TIMEOUT_S) if self.fresh else timeout
        ready, _, _ = select.select([self.proc.stdout], [], [], wait)
        self.fresh = False
        if not ready:
            self.stop()
            return {"problems": [f"hang: no answer within {wait:.0f} s"], "error": None}
        line = self.proc.stdout.readline()
        if not line:
            rc = self.proc.wait()
            self.proc = None
            return {"problems": [f"crash: the worker died with status {rc}"], "error": None}
        return json.loads(line)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def close(self) -> None:
        """Stop the worker and remove every file the workers wrote."""
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def campaign(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Run the campaign; returns counts per format."""
    fmts = [f for f in args.formats if available(f)]
    stats = {f: {"inputs": 0, "converted": 0, "refused": 0, "problems": 0, "s": 0.0}
             for f in fmts}  # fmt: skip
    rngs = {f: np.random.default_rng([args.seed, FORMATS.index(f)]) for f in fmts}
    w = Worker()
    deadline = time.monotonic() + args.hours * 3600
    try:
        _rounds(args, fmts, stats, rngs, w, deadline)
    except KeyboardInterrupt:  # Ctrl-C ends a long run with its counts so far
        print("interrupted", flush=True)
    finally:
        w.close()
    return stats


def _rounds(args, fmts, stats, rngs, w: Worker, deadline: float) -> None:
    """Round-robin over the formats until `per_format` inputs each or the deadline."""
    for i in range(args.per_format):
        for fmt in fmts:
            if time.monotonic() > deadline:
                return
            case = random_case(fmt, rngs[fmt])
            t0 = time.perf_counter()
            job = {"case": case.as_dict(), "lh5": _every(i, args.lh5_every),
                   "cli": _every(i, args.cli_every)}  # fmt: skip
            reply = w.run(job, args.timeout)
            st = stats[fmt]
            st["inputs"] += 1
            st["s"] += time.perf_counter() - t0
            if reply["problems"]:
                st["problems"] += 1
                path = save(case, reply["problems"], f"{args.seed}-{i}", args.corpus)
                print(f"{fmt} input {i}: {reply['problems'][0][:200]} -> {path}", flush=True)
            elif reply["error"] is None:
                st["converted"] += 1
            else:
                st["refused"] += 1
        if (i + 1) % args.report_every == 0:
            print_stats(stats)


def _every(i: int, n: int) -> bool:
    return n > 0 and i % n == 0


def print_stats(stats: dict[str, dict[str, float]]) -> None:
    print(f"{'format':9} {'inputs':>7} {'converted':>9} {'refused':>8} {'problems':>8} "
          f"{'seconds':>8} {'s/input':>7}")  # fmt: skip
    for fmt, st in stats.items():
        per = st["s"] / st["inputs"] if st["inputs"] else 0.0
        print(f"{fmt:9} {st['inputs']:7d} {st['converted']:9d} {st['refused']:8d} "
              f"{st['problems']:8d} {st['s']:8.0f} {per:7.3f}", flush=True)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-format", type=int, default=10_000, help="inputs per format")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random mutations")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per input")
    parser.add_argument(
        "--lh5-every",
        type=int,
        default=100,
        help="also convert every Nth input with build_raw to LH5 files (0: never)",
    )
    parser.add_argument(
        "--cli-every",
        type=int,
        default=500,
        help="run the rawconv command on every Nth input (0: never)",
    )
    parser.add_argument("--hours", type=float, default=24.0, help="stop after this long")
    parser.add_argument("--report-every", type=int, default=200)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return 0
    missing = [f for f in args.formats if not available(f)]
    if missing:
        print(f"seed files of {', '.join(missing)} not found (set RAWCONV_TESTDATA)")
    t0 = time.perf_counter()
    stats = campaign(args)
    print_stats(stats)
    print(f"total {sum(s['inputs'] for s in stats.values())} inputs in "
          f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
    return 1 if any(s["problems"] for s in stats.values()) else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "default")
    sys.exit(main())
