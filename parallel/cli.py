"""The ``rawconv-parallel`` command: convert many DAQ files on a Dask cluster."""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import logging
import sys
from pathlib import Path
from typing import Any

from rawconv._version import __version__
from rawconv.cli import (
    LAYOUT_HELP,
    compression_name,
    formats_help,
    layout_name,
    positive_float,
    positive_int,
)
from rawconv.storage_options import STORAGE_OPTION_HELP, parse_storage_options

EPILOG = """\
inputs are paths, fsspec URLs, glob patterns ('run*/*.dat', 's3://bucket/run*.dat') or
@listfile (one per line).
Formats with a record index are split into chunks; the others are converted whole by one
task each.

examples:
  rawconv-parallel 'data/*.dat' -o 'out/{orig_basename}.lh5'
  rawconv-parallel @files.txt -o spec.json --workers 8 --chunk-size 256M
  rawconv-parallel 'data/*.dat' -o 'out/{orig_basename}.lh5' --scheduler tcp://head:8786
  rawconv-parallel 'data/*.dat' -o 'out/{orig_basename}.lh5' --cluster slurm --jobs 8 \
      --cluster-config slurm.yaml
  rawconv-parallel 'data/*.dat' -o 'out/{orig_basename}.lh5' --resume --summary run.json
  rawconv-parallel 'data/*.dat' -o examples/l200_raw_out_spec.json --dry-run
  rawconv-parallel 'data/*.fcio' --layout l200 -o 'raw/{orig_basename}.lh5'
  rawconv-parallel s3://bucket/run1.dat -o 's3://bucket/raw/{orig_basename}.lh5' \
      --storage-option s3.yaml
"""


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rawconv-parallel``."""
    p = argparse.ArgumentParser(
        prog="rawconv-parallel",
        description="Convert many DAQ files to LH5 in parallel (Dask), identical to rawconv.",
        epilog=f"{formats_help()}\n{EPILOG}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="*", help="files, URLs, globs or @listfile")
    p.add_argument("--version", action="version", version=f"rawconv {__version__}")
    p.add_argument(
        "-o", "--out-spec",
        help="output name with {orig_basename} (file.lh5[:/group]) or out_spec .json/.yaml",
    )  # fmt: skip
    p.add_argument(
        "--layout", default=None, type=layout_name,
        help=f"{LAYOUT_HELP}; -o then names the output files (default: <input>.lh5 beside "
        "each input)",
    )  # fmt: skip
    p.add_argument("-t", "--stream-type", help="the input format, see below (default: detected)")
    p.add_argument("-k", "--kwargs", default="{}", help="JSON dict of out_spec keywords")
    p.add_argument("-c", "--compression", default=None, type=compression_name,
                   help="gzip[:level], lzf, none, zstd, blosc, lz4, bitshuffle, bzip2")  # fmt: skip
    p.add_argument("-b", "--buffer-size", type=positive_int, default=8192, help="rows per buffer")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler (tcp://host:port)")
    p.add_argument("--connect-timeout", type=float, default=10.0,
                   help="seconds to wait for --scheduler to answer (default 10)")  # fmt: skip
    p.add_argument("--cluster", metavar="KIND",
                   help="submit batch jobs with dask-jobqueue: slurm, pbs, htcondor, sge "
                   "(local: jobs as local processes)")  # fmt: skip
    p.add_argument("--jobs", type=positive_int, default=None,
                   help="jobs to submit with --cluster (default 1)")  # fmt: skip
    p.add_argument("--worker-timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="wait for the first worker of --cluster (default 1800)")  # fmt: skip
    p.add_argument(
        "--cluster-config",
        metavar="FILE",
        help="dask-jobqueue YAML (jobqueue: KIND: cores, memory...) for --cluster",
    )
    p.add_argument("--workers", type=positive_int, default=None,
                   help="workers of the embedded cluster (default: one per core)")  # fmt: skip
    p.add_argument("--threads", type=positive_int, default=1,
                   help="threads per worker (default 1)")  # fmt: skip
    p.add_argument("--chunk-size", default=512 << 20, type=chunk_size,
                   help="input bytes per task: each input is cut into equal chunks of about "
                        "this size at most (e.g. 256M, 2G, 1GiB; default 512M)")  # fmt: skip
    p.add_argument("--scratch", default=None, help="folder for part files (shared by workers)")
    p.add_argument("--cache", default=None, help="index cache folder (default ~/.cache/rawconv)")
    p.add_argument("-w", "--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--resume", action="store_true",
                   help="skip inputs whose outputs all exist; redo the others")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="index and print the plan only")
    p.add_argument("--summary", help="write a JSON summary to this file")
    p.add_argument("--storage-option", action="append", default=[], metavar="KEY=VALUE",
                   help=STORAGE_OPTION_HELP)  # fmt: skip
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    return p


def parse_size(text: str) -> int:
    """'512M', '512MB', '512MiB' -> 536870912; plain numbers are bytes. ValueError for text
    that is not a size."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    clean = text.strip().upper().removesuffix("B").removesuffix("I")
    factor = 1
    if clean and clean[-1] in units:
        clean, factor = clean[:-1], units[clean[-1]]
    try:
        value = float(clean)
    except ValueError:
        raise ValueError(f"not a size: {text!r} (use e.g. 256M, 2G or 1GiB)") from None
    if not value == value or value in (float("inf"), float("-inf")):
        raise ValueError(f"not a size: {text!r}")
    return int(value * factor)


def chunk_size(text: str) -> int:
    """An argparse type: a chunk size of at least 1 byte."""
    try:
        size = parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if size < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 byte, not {text!r}")
    return size


def expand_inputs(items: list[str], storage_options: dict[str, Any] | None = None) -> list[str]:
    """Globs (also of URLs, listed with `storage_options`; not of http(s)://) and @listfiles
    to a list of inputs; other URLs pass unchanged."""
    from rawconv.remote import is_url, scheme_of

    out: list[str] = []
    for item in items:
        if item.startswith("@"):
            lines = Path(item[1:]).read_text().splitlines()
            listed = [s.strip() for s in lines if s.strip() and not s.startswith("#")]
            out += expand_inputs(listed, storage_options)
        elif is_url(item) and scheme_of(item) not in ("http", "https") and _has_glob(item):
            out += _expand_url(item, storage_options or {})
        elif "://" not in item and _has_glob(item):
            matches = sorted(glob.glob(item))  # noqa: PTH207 (patterns may be absolute)
            if not matches:
                raise FileNotFoundError(f"no input matches {item!r}")
            out += matches
        else:
            out.append(item)
    return out


def _has_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def _expand_url(pattern: str, storage_options: dict[str, Any]) -> list[str]:
    """The files a URL glob matches, as URLs, sorted; FileNotFoundError when none."""
    from rawconv.remote import attempt, filesystem

    fs, path = filesystem(pattern, storage_options)
    found = attempt(lambda: fs.glob(path, detail=True), pattern, "cannot list the inputs")
    files = sorted(name for name, info in found.items() if info.get("type") != "directory")
    if not files:
        raise FileNotFoundError(f"no input matches {pattern!r}")
    return [fs.unstrip_protocol(name) for name in files]


def _log_levels(verbose: bool, quiet: bool) -> tuple[int, int]:
    """rawconv's own messages at WARNING (INFO with -v, ERROR with -q); Dask's logs only with
    -v (its INFO lines are not rawconv's to print)."""
    ours = logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING
    return ours, logging.INFO if verbose else logging.CRITICAL


def _connect(address: str, timeout: float) -> Any:
    """A client of the scheduler at `address`; OSError in one line if it cannot be reached."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise OSError(
            f"--scheduler {address}: no Dask scheduler answered within {timeout:g} s ({exc})"
        ) from None


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rawconv-parallel``; returns the exit status."""
    from rawconv.command_logging import command_logging
    from rawconv.malloc import tune_malloc
    from rawconv.numba_startup import one_blas_thread

    one_blas_thread()  # before the parser imports numpy (with the formats)
    tune_malloc(keep_user_settings=True)
    args = make_parser().parse_args(argv)
    with command_logging("rawconv-parallel", *_log_levels(args.verbose, args.quiet)):
        return _run(args, argv)


def _run(args: argparse.Namespace, argv: list[str] | None) -> int:
    from rawconv.errors import RawconvError

    try:
        storage_options = parse_storage_options(args.storage_option)
    except ValueError as exc:
        print(f"rawconv-parallel: error: --storage-option {exc}", file=sys.stderr)
        return 2
    try:
        inputs = expand_inputs(args.inputs, storage_options)
    except RawconvError as exc:  # a listing that failed on the way (not a bad argument)
        print(f"rawconv-parallel: error: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"rawconv-parallel: error: {exc}", file=sys.stderr)
        return 2
    try:
        kwargs: dict[str, Any] = json.loads(args.kwargs)
    except ValueError as exc:
        print(f"rawconv-parallel: error: -k/--kwargs is not valid JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(kwargs, dict):
        print("rawconv-parallel: error: -k/--kwargs must be a JSON object", file=sys.stderr)
        return 2
    spec_file = args.out_spec and args.out_spec.lower().endswith((".json", ".yaml", ".yml"))
    if args.layout is not None and spec_file:
        print("rawconv-parallel: error: --layout brings its own out_spec; -o names the output "
              f"files (out/{{orig_basename}}.lh5[:/group]), not {args.out_spec}",
              file=sys.stderr)  # fmt: skip
        return 2
    if spec_file:
        from rawconv.outspec import load_out_spec

        try:
            load_out_spec(args.out_spec)
        except (OSError, RawconvError) as exc:
            print(f"rawconv-parallel: error: -o/--out-spec: {exc}", file=sys.stderr)
            return 2
    chunk = args.chunk_size
    try:
        problem = _cluster_flags(args)
    except RawconvError as exc:  # dask-jobqueue is not installed
        print(f"rawconv-parallel: error: {exc}", file=sys.stderr)
        return 1
    if problem is not None:
        print(f"rawconv-parallel: error: {problem}", file=sys.stderr)
        return 2
    if not inputs:
        print("rawconv-parallel: error: no input given", file=sys.stderr)
        return 2
    from .inline import runs_inline

    embedded = not (args.scheduler or args.cluster)
    inline = embedded and runs_inline(inputs, None, chunk)  # decoded in this process
    if embedded and not inline:  # the workers' server imports while this process does
        from .forkserver import start_worker_server

        start_worker_server()
    from rawconv.interrupts import checkpoint, handlers, received

    from .convert import convert

    client = report = None
    jobs = contextlib.ExitStack()  # a dask-jobqueue cluster, stopped when the run ends
    try:
        with handlers(restore=argv is not None):  # the command: ignored once the work is done
            if args.scheduler:
                client = _connect(args.scheduler, args.connect_timeout)
            elif args.cluster:
                from .jobqueue import job_cluster

                cluster = job_cluster(args.cluster, args.jobs or 1, args.cluster_config,
                                      args.worker_timeout or 1800.0, _dashboard(args))  # fmt: skip
                client = jobs.enter_context(cluster)
            report = _convert(convert, inputs, chunk, client, args, inline,
                              {**kwargs, "storage_options": storage_options})  # fmt: skip
            checkpoint("parallel:done")
    except (RawconvError, OSError, ValueError, TypeError) as exc:
        if (interrupted := received()) is not None:  # the signal came out as h5py's error
            return _interrupted(interrupted)
        text = str(exc)
        if isinstance(exc, TypeError) and "unknown keyword argument" in text:
            text = f"-k/--kwargs: {text}"
        print(f"rawconv-parallel: error: {text}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        report = report or getattr(exc, "report", None)  # the outputs are complete
        if report is None:
            return _interrupted(exc)
    finally:
        if client is not None:
            client.close()
        jobs.close()
        _stop_workers()
    return _finish(args, report)


def _stop_workers() -> None:
    """End the server the embedded cluster's workers were forked from, if it was started
    (the command's own process: nothing else uses it)."""
    if "rawconv.parallel.forkserver" in sys.modules:
        from .forkserver import stop_worker_server

        stop_worker_server()


def _cluster_flags(args: argparse.Namespace) -> str | None:
    """What is wrong with --cluster, --jobs, --cluster-config, --scheduler and --workers
    together (None: nothing); the configuration is checked here, before any work. A
    missing dask-jobqueue raises RawconvError."""
    if not args.cluster:
        given = {"--jobs": args.jobs is not None, "--cluster-config": bool(args.cluster_config),
                 "--worker-timeout": args.worker_timeout is not None}  # fmt: skip
        for flag, present in given.items():
            if present:
                return f"{flag} needs --cluster"
        return None
    from .jobqueue import ClusterConfigError, check_kind, cluster_settings

    for flag in ("scheduler", "workers"):
        if getattr(args, flag) is not None:
            return f"--cluster and --{flag} exclude each other"
    try:
        check_kind(args.cluster)
        cluster_settings(args.cluster, args.cluster_config)
    except ClusterConfigError as exc:
        return f"--cluster-config {exc}" if exc.path else str(exc)
    except ValueError as exc:
        return str(exc)
    return None


def _interrupted(exc: BaseException) -> int:
    """Print the interruption line; 130 or 143."""
    from rawconv.cli import exit_status, interrupted_line

    done = "outputs that were not complete were removed (--resume keeps the others)"
    print(f"rawconv-parallel: {interrupted_line(exc, done)}", file=sys.stderr)
    return exit_status(exc)


def _convert(convert: Any, inputs: list[str], chunk: int, client: Any,
             args: argparse.Namespace, inline: bool, kwargs: dict[str, Any]) -> Any:  # fmt: skip
    if inline:  # decoded in this process, the command's own
        from rawconv.numba_startup import skip_unused_setup

        skip_unused_setup()
    return convert(
        inputs, out_spec=args.out_spec, client=client, chunk_size=chunk,
        n_workers=args.workers, threads_per_worker=args.threads, scratch=args.scratch,
        overwrite=args.overwrite, resume=args.resume, dry_run=args.dry_run,
        stream_type=args.stream_type, buffer_size=args.buffer_size,
        hdf5_settings=args.compression, cache_dir=args.cache,
        progress=not args.quiet and sys.stderr.isatty(), layout=args.layout,
        on_client=None if args.cluster else _dashboard(args), dashboard=not args.quiet,
        **kwargs,
    )  # fmt: skip


def _dashboard(args: argparse.Namespace) -> Any:
    """What prints the dashboard link once the client exists (None with -q); with
    --cluster it is printed before the first job has started a worker."""
    return None if args.quiet else show_dashboard


def show_dashboard(client: Any) -> None:
    """Print the link to the cluster's dashboard on stderr (one line, before any work)."""
    try:
        link = client.dashboard_link
    except Exception:  # a scheduler without a dashboard service
        link = None
    if link:
        print(f"rawconv-parallel: dashboard: {link}", file=sys.stderr, flush=True)
    else:
        print("rawconv-parallel: no dashboard: the scheduler serves none (it needs bokeh: "
              "pip install 'rawconv[dashboard]')", file=sys.stderr, flush=True)  # fmt: skip


def _finish(args: argparse.Namespace, report: Any) -> int:
    """Print the plan, the summary or the failures; write --summary; the exit status."""
    if args.dry_run:
        for f in report.files:
            print(f"{f.input}: {f.status}, {f.chunks} chunk(s) -> {', '.join(f.outputs) or '-'}"
                  + "".join(f" ({t})" for t in (f.note, f.reason) if t))  # fmt: skip
    elif not args.quiet:
        print(report.summary())
    else:  # quiet: the failures alone, one line each (an input given twice: once)
        printed = set()
        for f in report.files:
            if f.status == "failed":
                named = f.reason.startswith((f"{f.input}:", f"{f.input},"))  # names the input
                text = f.reason if named else f"{f.input}: {f.reason}"
                if text not in printed:
                    print(f"rawconv-parallel: error: {text}", file=sys.stderr)
                    printed.add(text)
    if args.summary:
        Path(args.summary).write_text(report.to_json())
    return 1 if report.failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
