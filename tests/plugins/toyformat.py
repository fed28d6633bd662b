"""A toy DAQ format defined outside rawconv, as a third party would write one.

File layout (little-endian): the magic ``b"TOYDAQ01"``, then records of
``uint32 n_samples, uint32 channel, uint64 timestamp, int16 samples[n_samples]``.

The streamer is written the way streamers for legend-daq2lh5 are: it opens its input itself,
calls ``super().open_stream(...)`` to set up the buffers, and decodes one record per
``read_packet`` with a ``DataDecoder.decode_packet`` that writes into ``rb.lgdo``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rawconv import DataDecoder, DataStreamer
from rawconv.formats.base import RECORD_DTYPE, Format, RecordIndex, ResumeState
from rawconv.sources import open_source

MAGIC = b"TOYDAQ01"
HEAD = struct.Struct("<IIQ")
N_SAMPLES = 16


def write_toy(path: str | Path, channels: list[int], timestamps: list[int], seed: int = 0) -> None:
    """A toy file with one record per (channel, timestamp) pair."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as fh:
        fh.write(MAGIC)
        for ch, ts in zip(channels, timestamps):
            fh.write(HEAD.pack(N_SAMPLES, ch, ts))
            fh.write(rng.integers(-1000, 1000, N_SAMPLES).astype("<i2").tobytes())


class ToyDecoder(DataDecoder):
    """One row per record: packet id, channel, timestamp and the samples."""

    decoded_values = {
        "packet_id": {"dtype": "uint32"},
        "channel": {"dtype": "uint32"},
        "timestamp": {"dtype": "uint64", "units": "ns"},
        "waveform": {"dtype": "int16", "datatype": "waveform", "wf_len": N_SAMPLES,
                     "dt": 4, "dt_units": "ns", "t0_units": "ns"},
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self.channels: list[int] = [0, 1, 2, 3]

    def get_key_lists(self) -> list[list[Any]]:
        return [list(self.channels)]

    def decode_packet(self, packet: bytes, packet_id: int, rbl: Any) -> bool:
        n, ch, ts = HEAD.unpack_from(packet)
        rb = rbl.get_keyed_dict().get(ch)
        if rb is None:
            return False
        tbl, i = rb.lgdo, rb.loc
        tbl["packet_id"].nda[i] = packet_id
        tbl["channel"].nda[i] = ch
        tbl["timestamp"].nda[i] = ts
        tbl["waveform"]["values"].nda[i] = np.frombuffer(packet, "<i2", n, HEAD.size)
        rb.loc += 1
        return True


class ToyStreamer(DataStreamer):
    """Reads toy files one record at a time (legend-daq2lh5's streamer style)."""

    def __init__(self) -> None:
        super().__init__()
        self.decoder = ToyDecoder()
        self.in_stream: Any = None

    def get_decoder_list(self) -> list[DataDecoder]:
        return [self.decoder]

    def open_stream(self, stream_name, rb_lib=None, buffer_size=8192, chunk_mode="any_full",
                    out_stream="", resume: ResumeState | None = None):  # fmt: skip
        self.in_stream = open_source(stream_name)
        if self.in_stream.read(0, len(MAGIC)) != MAGIC:
            raise ValueError(f"{self.in_stream.name} is not a toy file")
        resume = resume or ResumeState()
        self.offset = max(resume.start, len(MAGIC))
        self.stop = min(resume.stop, self.in_stream.size)
        self.packet_id = resume.first_record - 1
        self.n_bytes_read = self.offset if resume.at_beginning else 0
        return super().open_stream(stream_name, rb_lib, buffer_size, chunk_mode, out_stream)

    def read_packet(self) -> bool:
        if self.offset + HEAD.size > self.stop:
            return False
        n = HEAD.unpack(self.in_stream.read(self.offset, self.offset + HEAD.size))[0]
        size = HEAD.size + 2 * n
        packet = self.in_stream.read(self.offset, self.offset + size)
        self.offset += size
        self.n_bytes_read += size
        self.packet_id += 1
        rbl = self.rb_lib.get(self.decoder.name)
        if rbl:
            self.decoder.decode_packet(packet, self.packet_id, rbl)
        return True

    def close_stream(self) -> None:
        if self.in_stream is not None:
            self.in_stream.close()


@dataclass
class ToyIndex(RecordIndex):
    """Every record's byte range; a chunk needs nothing but where it starts."""

    records: np.ndarray
    size: int

    @classmethod
    def build(cls, source: Any) -> ToyIndex:
        source = open_source(source)
        rows, offset, pid = [], len(MAGIC), 0
        while offset + HEAD.size <= source.size:
            n = HEAD.unpack(source.read(offset, offset + HEAD.size))[0]
            rows.append((offset, offset + HEAD.size + 2 * n, 0, pid))
            offset, pid = offset + HEAD.size + 2 * n, pid + 1
        return cls(records=np.array(rows, dtype=RECORD_DTYPE), size=offset)


FORMAT = Format(
    name="ToyDaq",
    aliases=("toy",),
    sniff=lambda head: head.startswith(MAGIC),
    streamer=ToyStreamer,
    index=ToyIndex,
    decoders=("ToyDecoder",),
    specificity=90,
    description="a toy format defined in the tests",
)
