"""Writer-made llamaDAQ files for the tests, and a slow pure-Python oracle of the values
rawconv should decode from them (written from formats.md section 4, not from rawconv)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rawconv.formats.llamadaq.writer import ChannelSpec, Event, LlamaWriter

ABSENT = 0xFFFFFFFF

# the ordering of SIS3316 accumulator fields, by format bit
BIT_FIELDS = {
    0: ["wf_max_sample_value", "wf_max_sample_idx", "info_bits"]
    + [f"cumsum_{g}" for g in range(1, 7)],
    1: ["cumsum_7", "cumsum_8"],
    2: ["maw_max", "maw_before", "maw_after"],
    3: ["start_energy", "max_energy"],
}


def random_event(rng: np.random.Generator, spec: ChannelSpec, ticks: int) -> Event:
    """An event of `spec`'s channel with random content."""
    u32 = lambda: int(rng.integers(0, 1 << 32))  # noqa: E731
    return Event(
        fch=spec.fch, ticks=ticks,
        peak_value=int(rng.integers(0, 1 << 16)), peak_index=int(rng.integers(0, 1 << 16)),
        info=int(rng.integers(0, 256)),
        gates=(int(rng.integers(0, 1 << 24)), *(u32() for _ in range(7))),
        maw=(u32(), u32(), u32()), energy=(u32(), u32()),
        status=int(rng.integers(0, 2)), avg_count=int(rng.integers(0, 256)),
        raw=rng.integers(0, 1 << 16, spec.sample_length).astype(np.uint16),
        avg=rng.integers(0, 1 << 16, spec.avg_sample_length if spec.presummed else 0).astype(
            np.uint16),
        maw_test=rng.integers(0, 1 << 32, spec.maw_buffer_length, dtype=np.uint64).astype(
            np.uint32),
    )  # fmt: skip


def write_run(path: Path, channels: list[ChannelSpec], n_events: int, seed: int = 0,
              start_ticks: int = 1000, max_step: int = 5000) -> list[Event]:  # fmt: skip
    """A file of `n_events` random events over `channels`, in readout blocks of 1-4 events
    per channel (as llamaDAQ writes them), ticks increasing per channel. Returns the events
    in file order."""
    rng = np.random.default_rng(seed)
    ticks = {c.fch: start_ticks for c in channels}
    events: list[Event] = []
    with LlamaWriter(path, channels) as w:
        while len(events) < n_events:
            spec = channels[int(rng.integers(0, len(channels)))]
            for _ in range(int(rng.integers(1, 5))):
                if len(events) == n_events:
                    break
                ticks[spec.fch] += int(rng.integers(1, max_step))
                ev = random_event(rng, spec, ticks[spec.fch])
                w.write(ev)
                events.append(ev)
    return events


def expected_row(spec: ChannelSpec, ev: Event, pid: int, initial: float) -> dict:
    """The row rawconv should write for event `ev` (packet id `pid`), field by field;
    fields of format bits off in this channel's config are ABSENT."""
    dt = 1 / spec.sample_freq * 1000
    t = float(ev.ticks) * dt * 1e-9
    values = {
        "packet_id": pid, "fadc_channel_id": spec.fch, "time_since_run_start": t,
        "unixtime": t + initial, "unixtime_accuracy": 1.0,
        "fadc_status_bits": ev.status | (int(spec.maw_buffer_length > 0) << 1),
        "wf_max_sample_value": ev.peak_value, "wf_max_sample_idx": ev.peak_index,
        "info_bits": ev.info, **{f"cumsum_{g + 1}": ev.gates[g] for g in range(8)},
        "maw_max": ev.maw[0], "maw_before": ev.maw[1], "maw_after": ev.maw[2],
        "start_energy": ev.energy[0], "max_energy": ev.energy[1],
    }  # fmt: skip
    for bit, names in BIT_FIELDS.items():
        if not (spec.format_bits >> bit) & 1:
            for name in names:
                values[name] = ABSENT
    if spec.sample_length:
        values["waveform_windowed/values"] = ev.raw
        values["waveform_windowed/dt"] = dt
        values["waveform_windowed/t0"] = np.float32(
            (spec.sample_start_index - spec.sample_pretrigger) * dt
        )
    if spec.presummed:
        dt_avg = dt * 2 ** (spec.avg_mode + 1)
        values["waveform_presummed/values"] = ev.avg
        values["waveform_presummed/dt"] = dt_avg
        values["waveform_presummed/t0"] = np.float32(
            -spec.sample_pretrigger * dt - spec.avg_sample_pretrigger * dt_avg
            + ev.avg_count * dt)  # fmt: skip
    values["waveform_maw/values"] = ev.maw_test
    return values


def table_names(channels: list[ChannelSpec]) -> dict[int, str]:
    """fch -> default table name: channels grouped as the reference groups them."""
    groups: list[list[ChannelSpec]] = []
    for c in channels:
        for g in groups:
            a = g[0]
            if (a.sample_length, a.avg_sample_length, a.avg_mode) == (
                    c.sample_length, c.avg_sample_length, c.avg_mode):  # fmt: skip
                g.append(c)
                break
        else:
            groups.append([c])
    singles = {f"LLAMAEvent_{g[0].fch}" for g in groups if len(g) == 1}
    out = {}
    for i, g in enumerate(groups):
        name = "LLAMAEvent"
        if len(groups) > 1:
            name = f"LLAMAEvent_{g[0].fch}" if len(g) == 1 else f"LLAMAEvent_{i}"
            if len(g) > 1 and name in singles:
                name = f"LLAMAEvent_grp{i}"
        out.update({c.fch: name for c in g})
    return out
