"""The gzip chunk codec alone, on the waveforms of files grown from the real test files.

For every shape of bench_real.py, a file of `--size-mb` is grown (or written) and converted
without compression; the chunks of its waveform datasets (the chunk shape rawconv gives
them with gzip) are then encoded in one thread, one after the other, by:

- ``rawconv``: today's codec (``ChunkCodec.encode``: each shuffled byte plane stored,
  coded as blocks of literals, or deflated by ISA-L in one block or a block per row, as a
  sample of it says; ``rawconv/lh5/deflate.py``);
- ``isal-rows``: every plane that deflates deflated by ISA-L with a block per row (the
  codec before the literal blocks);
- ``zlib-4``: numpy's shuffle and zlib level 4 on the whole chunk (HDF5's own shuffle +
  deflate filters at the level h5py's ``compression="gzip"`` uses).

Printed per shape and codec: CPU s per GB of samples (``time.process_time``, best of
`--repeat`), the compressed fraction, and how the planes were coded. Every encoded chunk
is inflated and compared with the shuffled chunk.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_real import SHAPES, TESTDATA  # noqa: E402

from rawconv import build_raw  # noqa: E402
from rawconv.lh5 import deflate  # noqa: E402
from rawconv.lh5.chunks import ChunkCodec  # noqa: E402

CHUNK_BYTES = 1 << 20
"""About the bytes of one chunk (rawconv's chunk rows for gzip waveform datasets)."""


def waveform_chunks(lh5: Path, chunk_bytes: int) -> list[np.ndarray]:
    """The 2-d integer datasets of `lh5` (waveform values) cut into chunks of whole rows."""
    arrays: list[np.ndarray] = []

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset) and obj.ndim == 2 and obj.dtype.kind in "iu":
            values = obj[...]
            if values.nbytes >= chunk_bytes:
                arrays.append(values)

    with h5py.File(lh5, "r") as f:
        f.visititems(visit)
    chunks = []
    for values in arrays:
        rows = max(1, chunk_bytes // (values.shape[1] * values.itemsize))
        chunks += [values[i : i + rows] for i in range(0, len(values) - rows + 1, rows)]
    return chunks


def isal_rows(plane: memoryview, level: int, step: int) -> str:
    """The codec before literal blocks: a plane is stored or deflated a block per row."""
    coding = _PLANE_CODING(plane, level, step)
    return coding if coding == deflate.STORED else deflate.DEFLATE


_PLANE_CODING = deflate.plane_coding


def encode_all(chunks: list[np.ndarray], encode: Callable[[int, np.ndarray], bytes],
               repeat: int) -> tuple[float, int, list[bytes]]:  # fmt: skip
    """(best CPU s, compressed bytes, the outputs of the last round); `encode` is called
    with each chunk's number and the chunk."""
    best, outs = float("inf"), []
    for _ in range(repeat):
        start = time.process_time()
        outs = [encode(i, c) for i, c in enumerate(chunks)]
        best = min(best, time.process_time() - start)
    return best, sum(len(o) for o in outs), outs


def _zlib4(_: int, c: np.ndarray) -> bytes:
    planes = np.ascontiguousarray(c.view(np.uint8).reshape(-1, c.itemsize).T)
    return zlib.compress(planes.tobytes(), 4)


def bench_shape(name: str, work: Path, size_mb: float, repeat: int) -> list[dict]:
    shape = SHAPES[name]
    src = work / f"{name}.{shape.suffix}"
    shape.make(src, size_mb * shape.scale)
    out = work / f"{name}.lh5"
    build_raw(str(src), out_spec=str(out), overwrite=True, hdf5_settings={"compression": None})
    chunks = waveform_chunks(out, CHUNK_BYTES)
    src.unlink()
    out.unlink()
    if not chunks:
        return []
    nbytes = sum(c.nbytes for c in chunks)
    codecs = [ChunkCodec(c.itemsize, True, 4, c.shape[1]) for c in chunks]
    shuffled = [k.shuffled(c) for k, c in zip(codecs, chunks)]
    codings: Counter[str] = Counter()

    def counted(choose: Callable[[memoryview, int, int], str]) -> Callable[..., str]:
        def coding(plane: memoryview, level: int, step: int) -> str:
            chosen = choose(plane, level, step)
            codings[chosen] += 1
            return chosen

        return coding

    codecs[0].encode(chunks[0])  # numba's kernels loaded before any timing

    rows = []
    for label in ("rawconv", "isal-rows", "zlib-4"):
        codings.clear()
        if label == "zlib-4":
            encode = _zlib4
        else:
            deflate.plane_coding = counted(_PLANE_CODING if label == "rawconv" else isal_rows)

            def encode(i: int, c: np.ndarray) -> bytes:
                return codecs[i].encode(c)

        try:
            cpu, size, outs = encode_all(chunks, encode, repeat)
        finally:
            deflate.plane_coding = _PLANE_CODING
        for o, s in zip(outs, shuffled):
            if zlib.decompress(o) != s.tobytes():
                raise AssertionError(f"{name} {label}: a chunk does not inflate to its bytes")
        planes = ", ".join(f"{k} {v // repeat}" for k, v in sorted(codings.items()))
        rows.append({"shape": name, "codec": label, "s_per_gb": cpu / nbytes * 1e9,
                     "ratio": size / nbytes, "mb": nbytes / 1e6, "planes": planes or "-"})
        print(f"  {name:10s} {label:10s} {cpu / nbytes * 1e9:6.2f} s/GB  "
              f"{size / nbytes:.4f}  {planes}", flush=True)  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=100, help="file size per shape (100)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best counts (3)")
    parser.add_argument("--shapes", default="th228,spms,fcio-8192,geds,p14",
                        help=f"from {', '.join(SHAPES)}")  # fmt: skip
    args = parser.parse_args()
    unknown = set(args.shapes.split(",")) - set(SHAPES)
    if unknown:
        parser.error(f"--shapes: unknown {', '.join(sorted(unknown))}; from {', '.join(SHAPES)}")
    if args.size_mb <= 0 or args.repeat < 1:
        parser.error("--size-mb must be above 0 and --repeat at least 1")
    if not TESTDATA.is_dir():
        parser.error(f"the real test files are not at {TESTDATA}")
    work = Path(tempfile.mkdtemp(prefix="rawconv-bench-codec-"))
    try:
        rows = [r for name in args.shapes.split(",") for r in
                bench_shape(name, work, args.size_mb, args.repeat)]  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nThe gzip chunk codec, one thread, waveform chunks of about {CHUNK_BYTES >> 20} MiB")
    print("| shape | samples MB | codec | CPU s/GB | compressed | planes coded |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {SHAPES[r['shape']].what} | {r['mb']:.0f} | {r['codec']} | "
              f"{r['s_per_gb']:.2f} | {r['ratio']:.4f} | {r['planes']} |")  # fmt: skip


if __name__ == "__main__":
    main()
