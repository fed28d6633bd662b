"""build_raw: convert one DAQ file to LH5 raw-tier tables."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from .buffers import RawBufferLibrary, split_out_stream, write_to_lh5_and_clear
from .diskspace import check_free_space, estimate_output_bytes
from .errors import CorruptDataError, OutSpecError
from .formats import (
    detect_format,
    format_options,
    get_streamer,
    implied_format,
    normalize_stream_type,
)
from .interrupts import checkpoint, deferred
from .layouts import apply_buffer_memory, check_layout_out_spec, chunk_index_k, get_layout
from .lh5.writer import LH5Writer
from .locks import OutputLocks, remove_stale_temps
from .outspec import expand_out_spec, format_template, load_out_spec, unmatched_keys
from .progress import Progress
from .remote import check_output_url, is_url
from .report import ConversionReport
from .sources import CompressedSource, FileSource, Source, open_source
from .url_source import FsspecSource
from .validate import (
    check_buffer_size,
    check_env_expanded,
    check_keywords,
    check_n_max,
    check_not_the_input,
    check_output_path,
    expand_env,
    template_names,
)

log = logging.getLogger(__name__)

__all__ = [
    "build_raw", "check_storage_options", "default_output_name", "nothing_to_write",
    "orig_basename", "out_spec_library", "spec_variables",
]  # fmt: skip


def default_output_name(source: Source) -> str:
    """``run.dat`` -> ``run.lh5`` beside the input (``.gz`` / ``.bz2`` removed first)."""
    inner = source.inner if isinstance(source, CompressedSource) else source
    if isinstance(inner, FileSource):
        path = Path(inner.path)
    elif isinstance(inner, FsspecSource):
        path = Path(inner.url.rsplit("/", 1)[-1])
    else:
        raise ValueError("an input held in memory needs an explicit out_spec")
    if isinstance(source, CompressedSource):
        path = path.with_suffix("")
    return str(path.with_suffix(".lh5"))


def orig_basename(in_stream: str) -> str:
    """The input's file name without directories, ``.gz`` / ``.bz2`` and its last extension
    (what ``{orig_basename}`` stands for): ``s3://b/run.dat.gz`` -> ``run``."""
    name = Path(str(in_stream).rsplit("/", 1)[-1]).name
    for suffix in (".gz", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.rsplit(".", 1)[0] if "." in name else name


def out_spec_library(
    out_spec: Any, source: Source, kw_dict: Mapping[str, Any]
) -> tuple[RawBufferLibrary | None, str]:
    """(library, default out_stream) for every out_spec form build_raw accepts; a library of
    None means one table per decoder, written to the default out_stream."""
    if out_spec is None:
        return None, default_output_name(source)
    if isinstance(out_spec, RawBufferLibrary):
        return out_spec, ""
    if isinstance(out_spec, Mapping):
        return RawBufferLibrary(out_spec, kw_dict=kw_dict), ""
    if isinstance(out_spec, (str, os.PathLike)):
        text = os.fspath(out_spec)
        if text.lower().endswith((".json", ".yaml", ".yml")):
            return RawBufferLibrary(text, kw_dict=kw_dict), ""
        if "{" in text:  # "out/{orig_basename}.lh5:/raw" and the like
            text = format_template(text, kw_dict)
        text = expand_env(text, "the output name")
        name, group = split_out_stream(text)
        if name.endswith(("/", os.sep)):  # "out/": inside that folder, named after the input
            base = Path(default_output_name(source)).name
            inside = name + base if is_url(name) else str(Path(name) / base)
            text = inside if group == "/" and ":" not in text else f"{inside}:{group}"
        return None, text
    raise TypeError(
        f"out_spec must be None, a file name, a .json/.yaml path, a dict or a RawBufferLibrary, "
        f"not {type(out_spec).__name__}"
    )


def layout_out_spec(
    layout: str, out_spec: Any, source: Source, kw_dict: Mapping[str, Any]
) -> dict[str, Any]:
    """The out_spec of the named `layout` writing where `out_spec` (None, or an output
    file name, as build_raw takes it with a layout) says, for `source`."""
    return get_layout(layout).out_spec_for(out_spec_library(out_spec, source, kw_dict)[1])


def build_raw(
    in_stream: Any,
    in_stream_type: str | None = None,
    out_spec: Any = None,
    buffer_size: int = 8192,
    n_max: float = math.inf,
    overwrite: bool = False,
    hdf5_settings: Mapping[str, Any] | str | None = None,
    db_dict: Mapping | None = None,
    progress: bool | None = None,
    layout: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> ConversionReport:
    """Convert one DAQ input to LH5 tables.

    Parameters
    ----------
    in_stream
        path (``$VARS`` expanded), fsspec URL, bytes-like object or
        :class:`~rawconv.sources.Source`; ``.gz`` / ``.bz2`` are decompressed on the fly.
    in_stream_type
        a format name or alias (``rawconv --help`` lists them); detected from the first bytes
        when None (not from its name).
    out_spec
        None: ``<input without extension>.lh5``; a file name, optionally ``file.lh5:/group``;
        a ``.json`` / ``.yaml`` out_spec file; an out_spec dict; or a RawBufferLibrary.
    buffer_size
        rows per buffer (fewer when the buffers would need more than 128 MiB together).
    n_max
        the number of data rows to convert: rows are counted over all data tables
        (header tables excluded) in the order their records appear in the input, and
        conversion stops at the record that reaches `n_max`, of whose rows only those up to
        `n_max` are kept. Rows of keys no buffer takes are not counted.
    overwrite
        replace existing outputs. Without it, an existing output raises FileExistsError
        before any file is touched.
    hdf5_settings
        h5py dataset settings or a compression name (``"gzip:6"``, ``"lzf"``, ``"none"``...)
        for every dataset; per-column settings in decoded_values / proc_spec take precedence.
    db_dict
        parameters for proc_spec processing, looked up by out_name then group.
    progress
        show a progress bar (None: when logging is at INFO or more verbose).
    layout
        a named layout (:mod:`rawconv.layouts`; ``"l200"``: LEGEND-200's production raw
        tier) that brings the out_spec and, unless `hdf5_settings` is given, the write
        settings; `out_spec` is then None (the default output) or an output file name.
    storage_options
        fsspec options for inputs and outputs named by URLs (``s3://``, ``https://``...),
        e.g. ``{"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}, "anon": True}``.
        An output URL is written to a local temporary file and put in place when complete.
    **kwargs
        values for ``{variables}`` in the out_spec; those a format names as options are
        also given to its streamer (``compass_config_file``: the CoMPASS settings XML,
        which also selects the Compass format when `in_stream_type` is None).

    An out_spec dict is expanded in place (its shorthand, as legend-daq2lh5 does), so that
    code can read the buffer names back. It may name decoders of other formats (one spec
    for several); a decoder no format has is an error, and so is a run that would write
    nothing.

    Returns
    -------
    ConversionReport
        what was read and written, with timings.

    Outputs are written under temporary names and appear under their final names only when
    complete; on any error they are removed.
    """
    t_start = time.perf_counter()
    buffer_size = check_buffer_size(buffer_size)
    n_max = check_n_max(n_max)
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, not {overwrite!r}")
    check_keywords(kwargs, spec_variables(out_spec), (*_BUILD_RAW_ARGS, *format_options()))
    storage_options = check_storage_options(storage_options)
    if isinstance(in_stream, str) and "://" not in in_stream:
        in_stream = expand_env(in_stream, "the input name")
    if layout is not None:
        preset = get_layout(layout)
        check_layout_out_spec(out_spec)
    if isinstance(out_spec, str) and is_url(out_spec) and not _is_spec_file(out_spec):
        # a scheme that cannot be written, or a missing backend: refused before any work
        check_output_url(split_out_stream(out_spec)[0], overwrite, storage_options, probe=False)
    source = open_source(in_stream, **storage_options)
    if layout is not None:
        out_spec = layout_out_spec(layout, out_spec, source, kwargs)
        hdf5_settings = preset.hdf5_settings if hdf5_settings is None else hdf5_settings
    if in_stream_type:
        stream_type = normalize_stream_type(in_stream_type)
    else:
        stream_type = implied_format(kwargs) or detect_format(source)
    streamer = get_streamer(stream_type, **kwargs)
    apply_buffer_memory(streamer, layout)
    streamer.process_early = True  # its buffers are only written
    log.info("converting %s (%s)", source.name, stream_type)
    rb_lib, default_out = out_spec_library(out_spec, source, kwargs)
    with contextlib.ExitStack() as stack:
        stack.callback(streamer.close_stream)
        header_rbs = streamer.open_stream(
            source,
            rb_lib=rb_lib,
            buffer_size=buffer_size,
            chunk_mode="only_full",
            out_stream=default_out,
        )
        streamer.n_max = n_max
        checkpoint("build_raw:opened")
        if isinstance(out_spec, MutableMapping) and not isinstance(out_spec, RawBufferLibrary):
            expanded = expand_out_spec(out_spec, kwargs)  # in place, as legend-daq2lh5 does
            out_spec.clear()
            out_spec.update(expanded)
        outputs = _output_files(streamer)
        if not outputs:
            raise nothing_to_write(streamer, source.name)
        _check_outputs(outputs, overwrite, storage_options, _local_path(source))
        local = [o for o in outputs if not is_url(o)]
        if source.size is not None and math.isinf(n_max) and local:  # a whole input
            share = estimate_output_bytes(source.size, hdf5_settings) // len(local)
            check_free_space([(o, share) for o in local])
        locks = OutputLocks(local)
        stack.enter_context(locks)
        remove_stale_temps(locks.outputs)
        checkpoint("build_raw:locked")
        log.info("outputs: %s; buffer size %d rows", ", ".join(outputs) or "none", buffer_size)
        report = ConversionReport(input=source.name, stream_type=stream_type)
        writer = LH5Writer(hdf5_settings=hdf5_settings, atomic=True,
                           storage_options=storage_options,
                           chunk_index_k=chunk_index_k(layout))  # fmt: skip
        show = progress if progress is not None else log.getEffectiveLevel() <= logging.INFO
        try:
            with Progress(total=source.size, enabled=show, desc=Path(source.name).name) as bar:
                _write(header_rbs, writer, db_dict, report)
                checkpoint("build_raw:header")
                n_chunks = 0
                while True:
                    chunk = streamer.read_chunk()
                    if not chunk:
                        break
                    _write(chunk, writer, db_dict, report)
                    bar.update_to(streamer.n_bytes_read)
                    n_chunks += 1
                    checkpoint(f"build_raw:chunk:{n_chunks}")
                bar.update_to(streamer.n_bytes_read)
            if streamer.garbage.n_garbage and outputs:
                report.garbage_rows = streamer.garbage.n_garbage  # before writing clears it
                streamer.garbage.write_out_garbage(outputs[0], "/", lh5_store=writer)
            checkpoint("build_raw:written")
            with deferred():  # a signal now is raised once the outputs are complete
                checkpoint("build_raw:commit")
                report.outputs = writer.commit()
                checkpoint("build_raw:committed")
            if not report.outputs and n_max > 0 and streamer.problems:
                # damage left not even a header table: say why, not exit 0
                last = streamer.problems[-1].removeprefix(f"{source.name}: ")
                raise CorruptDataError(f"nothing could be decoded, no output written ({last})",
                                       path=source.name)  # fmt: skip
            if not report.outputs and n_max > 0:  # an intact input without the asked rows
                log.warning("%s: no rows for the requested tables; nothing written", source.name)
        except BaseException:
            writer.abort()
            raise
    report.bytes_read = streamer.n_bytes_read
    report.problems = list(streamer.problems)
    report.seconds = time.perf_counter() - t_start
    log.info(report.summary())
    return report


def _write(rbs: list, writer: LH5Writer, db_dict: Mapping | None, report: ConversionReport) -> None:
    for rb in rbs:
        if rb.table is not None and rb.loc > 0:
            filename, group = split_out_stream(rb.out_stream)
            if filename:
                report.add_rows(filename, group, rb.out_name, rb.loc)
    write_to_lh5_and_clear(rbs, writer, db_dict)


def nothing_to_write(streamer: Any, path: str | None = None) -> OutSpecError:
    """The error of a run whose out_spec takes no row of its input (its stream open);
    `path`: the input, named in the message."""
    keys = streamer.decoder_keys()
    why = unmatched_keys(streamer.rb_lib.as_out_spec(), keys)
    return OutSpecError(
        "nothing to write: the out_spec takes no decoder or key of this input (its decoders: "
        + ", ".join(keys) + ")" + "".join(f"; {line}" for line in why),
        path=path,
    )


def _output_files(streamer: Any) -> list[str]:
    files = []
    for rb in streamer.rb_lib.all_buffers():
        filename = split_out_stream(rb.out_stream)[0]
        if filename and filename not in files:
            files.append(filename)
    return files


def _check_outputs(outputs: list[str], overwrite: bool, storage_options: Mapping,
                   input_path: str | None) -> None:  # fmt: skip
    """Each output can be written (`input_path`: the local file being converted, if any)."""
    for path in outputs:
        check_env_expanded(path)
        if is_url(path):
            check_output_url(path, overwrite, storage_options)
        else:
            check_not_the_input(path, input_path)
            check_output_path(path, overwrite)


def _local_path(source: Source) -> str | None:
    """The local file that `source` reads (through a decompressor too), or None."""
    while isinstance(source, CompressedSource):
        source = source.inner
    return source.path if isinstance(source, FileSource) else None


def _is_spec_file(name: str) -> bool:
    return name.lower().endswith((".json", ".yaml", ".yml"))


def check_storage_options(storage_options: Any) -> dict[str, Any]:
    """fsspec storage options as a dict (None: none); TypeError for anything else."""
    if storage_options is None:
        return {}
    if not isinstance(storage_options, Mapping):
        raise TypeError(
            f"storage_options must be a dict of fsspec options, not "
            f"{type(storage_options).__name__}"
        )
    return dict(storage_options)


def spec_variables(out_spec: Any) -> set[str]:
    """The ``{variables}`` an out_spec (in any form build_raw takes) uses."""
    if isinstance(out_spec, RawBufferLibrary):
        return template_names(out_spec.as_out_spec())
    if isinstance(out_spec, (str, os.PathLike)):
        text = os.fspath(out_spec)
        if text.lower().endswith((".json", ".yaml", ".yml")):
            try:
                return template_names(load_out_spec(text))
            except (OSError, OutSpecError):
                return set()  # reported when the library is built
        return template_names(text)
    return template_names(out_spec) if isinstance(out_spec, Mapping) else set()


_BUILD_RAW_ARGS = ("in_stream_type", "out_spec", "buffer_size", "n_max", "overwrite",
                   "hdf5_settings", "db_dict", "progress", "layout",
                   "storage_options")  # fmt: skip
