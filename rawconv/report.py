"""What a conversion read and wrote: rows per table, bytes, time, problems met."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ConversionReport:
    """Returned by :func:`rawconv.build_raw`; ``summary()`` gives a one-screen text."""

    input: str
    stream_type: str
    bytes_read: int = 0
    seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)
    """``"file.lh5:/group/table"`` -> rows written."""
    outputs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    garbage_rows: int = 0

    def add_rows(self, filename: str, group: str, name: str, rows: int) -> None:
        """Count `rows` written to ``filename:group/name``."""
        path = "/" + "/".join(p for p in (*group.split("/"), *name.split("/")) if p)
        key = f"{filename}:{path}"
        self.tables[key] = self.tables.get(key, 0) + rows

    @property
    def rows(self) -> int:
        """Rows written, all tables together."""
        return sum(self.tables.values())

    @property
    def mb_per_s(self) -> float:
        """Input megabytes (1e6 bytes) per second of wall time."""
        return self.bytes_read / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """A short human-readable account of the conversion."""
        lines = [
            f"{self.input} ({self.stream_type}): {self.bytes_read / 1e6:.1f} MB read in "
            f"{self.seconds:.2f} s, {self.mb_per_s:.1f} MB/s",
        ]
        width = max((len(k) for k in self.tables), default=0)
        for key, rows in self.tables.items():
            lines.append(f"  {key:<{width}}  {rows:>10,d} rows")
        if self.garbage_rows:
            lines.append(f"  {self.garbage_rows} undecodable record(s) kept in /garbage")
        lines.extend(f"  warning: {p}" for p in self.problems)
        return "\n".join(lines)
