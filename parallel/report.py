"""The report of a parallel run: per input file what was done, and the totals."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class FileReport:
    """One input of a run."""

    input: str
    outputs: list[str] = field(default_factory=list)
    status: str = "pending"
    """``done``, ``skipped`` (outputs complete, ``resume``), ``failed`` or ``planned``."""
    reason: str = ""
    note: str = ""
    """What a dry run says of the plan beyond its chunks."""
    bytes: int = 0
    rows: int = 0
    chunks: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    task_seconds: float = 0.0
    """Seconds its decode tasks ran, summed."""
    merge_seconds: float = 0.0
    """Seconds its merge tasks ran, summed."""


@dataclass
class RunReport:
    """Returned by :func:`rawconv.parallel.convert`."""

    files: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 0
    """Dask workers of the run (0: its tasks run in this process, no cluster)."""
    chunk_bytes: int = 0
    index_seconds: float = 0.0
    """Seconds until every input was indexed and planned (decoding starts after)."""
    after_decode_seconds: float = 0.0
    """Wall seconds from the last decode result to the last merged output (what the
    merge phase adds to the run)."""

    @property
    def task_seconds(self) -> float:
        """Seconds the decode tasks ran, summed over inputs."""
        return sum(f.task_seconds for f in self.files)

    @property
    def merge_seconds(self) -> float:
        """Seconds the merge tasks ran, summed over inputs."""
        return sum(f.merge_seconds for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files if f.status == "done")

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files if f.status == "done")

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def tables(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            for key, rows in f.tables.items():
                out[key] = out.get(key, 0) + rows
        return out

    def summary(self) -> str:
        """One screen: files by status, totals, throughput, failures with reasons."""
        by_status: dict[str, int] = {}
        for f in self.files:
            by_status[f.status] = by_status.get(f.status, 0) + 1
        states = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
        lines = [
            f"{len(self.files)} input file(s): {states}; {self.bytes / 1e6:.1f} MB, "
            f"{self.rows:,d} rows in {self.seconds:.2f} s ({self.mb_per_s:.1f} MB/s, "
            + (f"{self.workers} worker(s))" if self.workers else "in this process)")
        ]
        for f in self.files:
            if f.status == "failed":
                lines.append(f"  FAILED {f.input}: {f.reason}")
            for p in f.problems:
                lines.append(f"  warning: {f.input}: {p}")
        return "\n".join(lines)

    def to_json(self) -> str:
        """The report as JSON (files, totals, seconds)."""
        data = {
            "seconds": self.seconds, "workers": self.workers, "chunk_bytes": self.chunk_bytes,
            "bytes": self.bytes, "rows": self.rows, "mb_per_s": self.mb_per_s,
            "index_seconds": self.index_seconds, "merge_seconds": self.merge_seconds,
            "after_decode_seconds": self.after_decode_seconds,
            "files": [asdict(f) for f in self.files],
        }  # fmt: skip
        return json.dumps(data, indent=2)
