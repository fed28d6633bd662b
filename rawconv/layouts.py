"""Named output layouts: an out_spec and write settings chosen by name (``--layout l200``).

``l200`` is LEGEND-200's production raw tier (``examples/l200_raw_out_spec.json`` is its
out_spec, with ``{orig_basename}.lh5`` as the output):

* one ``ch{rawid:07d}/raw`` table per channel of the FlashCam event decoders (FCIO,
  ORCA-wrapped FCIO, legacy ORCA FlashCam), in which the raw ``waveform`` is replaced by

  - ``waveform_windowed``: samples 2625:4025 (1400 samples; t0 = 2625 dt, 42000 ns at
    16 ns), encoded with ``RadwareSigcompress(codec_shift=-32768)``;
  - ``waveform_presummed``: sums of 8 samples (dt 8 times the raw dt, t0 unchanged),
    encoded with ``ULEB128ZigZagDiff()``; ``presum_rate`` = 8 (uint16, units ADC);
  - ``t_sat_lo`` / ``t_sat_hi``: dspeed's ``saturation`` processor (bit depth 16) on the
    raw waveform (uint16, units ADC), which rawconv runs itself (:mod:`rawconv.dsp_native`:
    the layout needs no dspeed);

  the encoded bytes are stored with the shuffle filter alone;
* the other tables under ``extra/``: ``extra/OrcaHeader``, ``extra/RunControl`` (the ORCA
  run records), ``extra/fcid_<N>/config`` (one per FlashCam listener) and, for the other
  decoders, ``extra/<default table name>``;
* every other dataset with zstd level 3 (hdf5plugin's filter 32015) and shuffle.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LAYOUTS", "Layout", "apply_buffer_memory", "chunk_index_k", "get_layout"]

OUT_STREAM = "{orig_basename}.lh5"
"""The out_stream of every buffer of a layout's out_spec (replaced by the output asked for)."""

L200_EVENT_DECODERS = ("FCEventDecoder", "ORFCIOEventDecoder", "ORFlashCamADCWaveformDecoder")
"""The decoders whose rows become per-channel tables in the l200 layout."""


def l200_proc_spec() -> dict[str, Any]:
    """LEGEND-200's production proc_spec for a channel table of FlashCam events."""
    return {
        "window": ["waveform", 2625, 4025, "waveform_windowed"],
        "presum": ["waveform", 8, "waveform_presummed", "presum_rate"],
        "dsp_config": {
            "outputs": ["t_sat_lo", "t_sat_hi"],
            "processors": {
                "t_sat_lo, t_sat_hi": {
                    "function": "saturation",
                    "module": "dspeed.processors",
                    "args": ["waveform", 16, "t_sat_lo", "t_sat_hi"],
                    "unit": "ADC",
                }
            },
        },
        "dtype_conv": {"t_sat_lo": "uint16", "t_sat_hi": "uint16"},
        "drop": ["waveform"],
        "compression": {
            "waveform_windowed/values": "RadwareSigcompress(codec_shift=-32768)",
            "waveform_presummed/values": "ULEB128ZigZagDiff()",
        },
        "hdf5_settings": {
            "waveform_windowed/values": {"shuffle": True},
            "waveform_presummed/values": {"shuffle": True},
        },
    }


def _buffer(name: str, proc_spec: Mapping[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"key_list": ["*"], "out_stream": OUT_STREAM}
    if proc_spec is not None:
        spec["proc_spec"] = dict(proc_spec)
    return {name: spec}


def l200_out_spec() -> dict[str, Any]:
    """LEGEND-200's production out_spec (outputs ``{orig_basename}.lh5``)."""
    spec: dict[str, Any] = {
        name: _buffer("ch{key:07d}/raw", l200_proc_spec()) for name in L200_EVENT_DECODERS
    }
    spec["OrcaHeaderDecoder"] = _buffer("extra/OrcaHeader")
    spec["ORRunDecoderForRun"] = _buffer("extra/RunControl")
    spec["ORFCIOConfigDecoder"] = _buffer("extra/{key}")
    spec["*"] = _buffer("extra/{name}")
    return spec


@dataclass(frozen=True)
class Layout:
    """A named layout: an out_spec whose buffers write to ``OUT_STREAM``, and the h5py
    settings of every dataset that the out_spec does not set itself."""

    name: str
    description: str
    out_spec: Mapping[str, Any] = field(repr=False)
    hdf5_settings: str | Mapping[str, Any] | None = None
    buffer_memory: int | None = None
    """Bytes of the data buffers of all tables together (at least the streamer's own):
    a layout of many tables gets more rows per table, so fewer and larger writes."""
    chunk_index_k: int | None = None
    """HDF5's ``istore_k`` for its output files (None: HDF5's 32). HDF5 gives each chunked
    dataset a first index node of 2K + 1 chunk keys whatever its number of chunks: with 32
    about 2 KiB, 11 MB of a production file's 5,400 datasets of one or a few chunks each
    (6.5 % of the output of 1 GB of 120 x 8192); with 4 about 0.3 KiB. Not for layouts of large
    datasets: at 4 a dataset of a thousand chunks has a tree twice as deep, and reading the
    default layout's waveforms back took 45 % longer."""

    def out_spec_for(self, out_stream: str) -> dict[str, Any]:
        """A copy of the out_spec writing to `out_stream` (``file.lh5`` or
        ``file.lh5:/group``)."""
        spec = copy.deepcopy(dict(self.out_spec))
        for buffers in spec.values():
            for buffer in buffers.values():
                buffer["out_stream"] = out_stream
        return spec


LAYOUTS: dict[str, Layout] = {
    "l200": Layout(
        name="l200",
        description="LEGEND-200 production raw tier: ch<rawid>/raw tables with windowed and "
        "presummed encoded waveforms and t_sat_lo/hi, extra/ auxiliary tables, zstd:3",
        out_spec=l200_out_spec(),
        hdf5_settings="zstd:3",
        buffer_memory=512 << 20,  # 272 rows per table for 120 channels of 8192 samples
        chunk_index_k=4,
    ),
}
"""The layouts by name."""


def chunk_index_k(layout: str | None) -> int | None:
    """The ``istore_k`` of the named layout's output files (None: HDF5's default)."""
    return None if layout is None else get_layout(layout).chunk_index_k


def apply_buffer_memory(streamer: Any, layout: str | None) -> None:
    """Give `streamer` the named layout's buffer memory, where that is more than its own."""
    if layout is not None and get_layout(layout).buffer_memory:
        streamer.buffer_memory = max(streamer.buffer_memory, get_layout(layout).buffer_memory)


def get_layout(name: str) -> Layout:
    """The layout called `name`; ValueError naming the known ones otherwise."""
    if not isinstance(name, str) or name.lower() not in LAYOUTS:
        raise ValueError(f"layout: unknown layout {name!r}; known: {', '.join(sorted(LAYOUTS))}")
    return LAYOUTS[name.lower()]


def check_layout_out_spec(out_spec: Any) -> None:
    """A layout takes an output file name (or None) as out_spec, not an out_spec of its own:
    ValueError otherwise."""
    if out_spec is None:
        return
    if isinstance(out_spec, (str, os.PathLike)):
        text = os.fspath(out_spec)
        if not text.lower().endswith((".json", ".yaml", ".yml")):
            return
    raise ValueError(
        "layout: a layout brings its own out_spec; give out_spec as an output file name "
        f"(file.lh5 or file.lh5:/group), not {out_spec!r}"
    )
