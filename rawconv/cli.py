"""The ``rawconv`` command: convert DAQ files to LH5, one after the other."""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
from typing import Any

from ._version import __version__
from .storage_options import STORAGE_OPTION_HELP, parse_storage_options

log = logging.getLogger("rawconv")

EPILOG = """\
examples:
  rawconv run.dat                           # -> run.lh5 beside the input
  rawconv run.dat -o out/run.lh5:/raw       # tables under /raw in out/run.lh5
  rawconv *.dat -o spec.json -k '{"run": "r004"}'
  rawconv run.dat -o out.lh5 -c lzf -n 10000
  rawconv run.dat --layout l200             # LEGEND-200's production raw tier -> run.lh5
  rawconv run.dat --layout l200 -o out/run.lh5
  rawconv run.dat -o examples/l200_raw_out_spec.json   # the same layout as an out_spec file
  rawconv run.dat --compass-config run_settings.xml  # CoMPASS with its settings
  rawconv https://host/run.dat -o s3://bucket/run.lh5 \
      --storage-option client_kwargs.endpoint_url=http://127.0.0.1:9000

out_spec files map decoders to buffers, e.g.
  {"FCEventDecoder": {"ch{key}": {"key_list": ["*"], "out_stream": "{orig_basename}.lh5:/{name}",
                                   "out_name": "raw"}}}
The keyword orig_basename (input name without extension) is always available.
"""


LAYOUT_HELP = (
    "a named output layout: l200 (LEGEND-200's production raw tier: ch<rawid>/raw tables, "
    "windowed + presummed encoded waveforms, t_sat_lo/hi, extra/, zstd:3)"
)
"""--layout's help, shared by both commands."""


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rawconv``."""
    parser = argparse.ArgumentParser(
        prog="rawconv",
        description="Convert DAQ files to LEGEND LH5 raw-tier tables.",
        epilog=f"{formats_help()}\n{EPILOG}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("in_stream", nargs="*", help="input files or fsspec URLs")
    parser.add_argument("--version", action="version", version=f"rawconv {__version__}")
    parser.add_argument(
        "-t", "--stream-type",
        help="the input format, see below (default: detected from the first bytes)",
    )  # fmt: skip
    parser.add_argument(
        "-o", "--out-spec",
        help="output file (file.lh5 or file.lh5:/group) or out_spec .json/.yaml",
    )  # fmt: skip
    parser.add_argument("-b", "--buffer-size", "--buffer_size", type=positive_int, default=8192,
                        help="rows per buffer (default 8192)")  # fmt: skip
    parser.add_argument("-n", "--max-rows", type=non_negative_int, default=None,
                        help="stop after this many data rows (all tables together)")  # fmt: skip
    parser.add_argument("-w", "--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument(
        "-k", "--kwargs", default="{}",
        help="JSON dict of extra build_raw arguments and out_spec keywords",
    )  # fmt: skip
    parser.add_argument(
        "--layout", default=None, type=layout_name,
        help=f"{LAYOUT_HELP}; -o then names the output file",
    )  # fmt: skip
    parser.add_argument(
        "-c", "--compression", default=None, type=compression_name,
        help="gzip[:level], lzf, none, zstd, blosc, lz4, bitshuffle, bzip2",
    )  # fmt: skip
    for option, fmt_name in format_option_flags().items():
        parser.add_argument(
            option_flag(option), dest=option, metavar="FILE" if option.endswith("_file") else "X",
            help=f"{fmt_name} inputs: the build_raw keyword {option}",
        )  # fmt: skip
    parser.add_argument("--storage-option", action="append", default=[], metavar="KEY=VALUE",
                        help=STORAGE_OPTION_HELP)  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    parser.add_argument("-d", "--debug", action="store_true", help="log everything (DEBUG)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    return parser


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0 (seconds...)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {text}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def compression_name(text: str) -> str:
    """An argparse type: a compression name rawconv knows (checked before any work)."""
    from .lh5.compression import parse_compression

    try:
        parse_compression(text)
    except (ValueError, ImportError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def layout_name(text: str) -> str:
    """An argparse type: the name of a layout rawconv knows."""
    from .layouts import get_layout

    try:
        return get_layout(text).name
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("layout: ")) from None


def error_line(exc: BaseException, in_stream: str) -> str:
    """One line for a failed conversion: the input named once, the flag where one helps."""
    from .errors import OutputExistsError, RawconvError

    if isinstance(exc, OutputExistsError):
        return f"output {exc.path} exists; add -w/--overwrite to replace it"
    if isinstance(exc, RawconvError) and exc.path is not None:
        return str(exc)
    if isinstance(exc, TypeError) and "unknown keyword argument" in str(exc):
        return f"-k/--kwargs: {exc}"
    text = str(exc) or type(exc).__name__
    return text if in_stream in text else f"{in_stream}: {text}"


def format_option_flags() -> dict[str, str]:
    """build_raw keywords that formats take (their streamer options) -> the format's name:
    each gets a flag, e.g. ``compass_config_file`` -> ``--compass-config``."""
    from .formats import formats

    return {option: fmt.name for fmt in formats() for option in fmt.options}


def option_flag(option: str) -> str:
    """The command-line flag of a format option: ``compass_config_file`` -> ``--compass-config``."""
    return "--" + option.removesuffix("_file").replace("_", "-")


def formats_help() -> str:
    """The formats rawconv reads, one line each, for ``--help``."""
    from .formats import formats

    lines = ["formats (-t NAME or an alias; detected from the first bytes):"]
    for fmt in formats():
        aliases = [a for a in fmt.aliases if a != fmt.name.lower()]
        names = fmt.name + (f" ({', '.join(aliases)})" if aliases else "")
        lines.append(f"  {names:22} {fmt.description}")
    return "\n".join(lines) + "\n"


def _log_level(args: argparse.Namespace) -> int:
    return logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rawconv``; returns the exit status."""
    from .command_logging import command_logging
    from .malloc import tune_malloc
    from .numba_startup import one_blas_thread

    one_blas_thread()  # before the parser imports numpy (with the formats)
    tune_malloc(keep_user_settings=True)
    args = make_parser().parse_args(argv)
    with command_logging("rawconv", _log_level(args)):
        return _run(args, argv)


def _run(args: argparse.Namespace, argv: list[str] | None) -> int:
    if not args.in_stream:
        make_parser().print_usage(sys.stderr)
        print("rawconv: error: no input given", file=sys.stderr)
        return 2
    try:
        kwargs: dict[str, Any] = json.loads(args.kwargs)
    except json.JSONDecodeError as exc:
        print(f"rawconv: error: --kwargs is not valid JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(kwargs, dict):
        print("rawconv: error: --kwargs must be a JSON object", file=sys.stderr)
        return 2
    if args.compression is not None:
        kwargs["hdf5_settings"] = args.compression
    if args.layout is not None:
        if args.out_spec and _is_spec_file(args.out_spec):
            print(
                "rawconv: error: --layout brings its own out_spec; -o names the output file "
                f"(file.lh5 or file.lh5:/group), not {args.out_spec}",
                file=sys.stderr,
            )
            return 2
        kwargs["layout"] = args.layout
    try:
        storage_options = parse_storage_options(args.storage_option)
    except ValueError as exc:
        print(f"rawconv: error: --storage-option {exc}", file=sys.stderr)
        return 2
    if storage_options:
        kwargs["storage_options"] = storage_options
    for option in format_option_flags():
        if getattr(args, option) is not None:
            kwargs[option] = getattr(args, option)
    if args.out_spec and len(args.in_stream) > 1 and not _is_spec_file(args.out_spec):
        print(
            "rawconv: error: one output file for several inputs would mix them; use an "
            "out_spec with {orig_basename}, or convert the inputs one by one",
            file=sys.stderr,
        )
        return 2

    from .numba_startup import skip_unused_setup

    skip_unused_setup()  # this process is the command's own
    from .build_raw import build_raw, orig_basename
    from .interrupts import checkpoint, handlers

    failed = done = 0
    try:
        with handlers(restore=argv is not None):  # the command: ignored once the work is done
            for in_stream in args.in_stream:
                failed += _convert_one(args, in_stream, kwargs, build_raw, orig_basename)
                done += 1
            checkpoint("cli:done")
    except KeyboardInterrupt as exc:
        if getattr(exc, "after_commit", False):
            done += 1  # the signal came while the output was committed: it is complete
        if done < len(args.in_stream):
            converted = f"{done} of {len(args.in_stream)} input(s) converted"
            converted += ", no partial output left"
            print(f"rawconv: {interrupted_line(exc, converted)}", file=sys.stderr)
            return exit_status(exc)
    return 1 if failed else 0


def interrupted_line(exc: BaseException, left: str) -> str:
    """``interrupted (SIGINT); <left>``: the signal and what it left."""
    from .interrupts import Interrupted, signal_name

    signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
    what = "terminated" if signum == signal.SIGTERM else "interrupted"
    return f"{what} ({signal_name(signum)}); {left}"


def exit_status(exc: BaseException) -> int:
    """128 + the signal that ended the command (130: SIGINT, 143: SIGTERM)."""
    from .interrupts import exit_status as status

    return status(exc)


def _convert_one(args: argparse.Namespace, in_stream: str, kwargs: dict, build_raw: Any,
                 orig_basename: Any) -> int:  # fmt: skip
    """Convert one input; returns 1 if it failed (the error printed), else 0."""
    from .errors import RawconvError
    from .interrupts import received

    call = dict(kwargs)
    call.setdefault("orig_basename", orig_basename(in_stream))
    try:
        report = build_raw(
            in_stream,
            in_stream_type=args.stream_type,
            out_spec=args.out_spec,
            buffer_size=args.buffer_size,
            n_max=math.inf if args.max_rows is None else args.max_rows,
            overwrite=args.overwrite,
            progress=not args.quiet and sys.stderr.isatty(),
            **call,
        )
    except (RawconvError, OSError, ValueError, TypeError, KeyError) as exc:
        if (interrupted := received()) is not None:  # the signal came out as h5py's error
            raise interrupted from exc
        if args.debug:
            log.exception("conversion of %s failed", in_stream)
        print(f"rawconv: error: {error_line(exc, in_stream)}", file=sys.stderr)
        return 1
    if not args.quiet and not (args.verbose or args.debug):  # verbose: logged already
        print(report.summary())
    return 0


def _is_spec_file(out_spec: str) -> bool:
    return out_spec.lower().endswith((".json", ".yaml", ".yml"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
