"""Property: random FCIO streams from rawconv's writer decode to exactly the values written.

The expected rows come from a slow pure-Python model of formats.md 1.4-1.7 (including the
run / dead-time bookkeeping), written independently of the numba kernels.
"""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawconv import RawBufferLibrary
from rawconv.formats.fcio.streamer import FCIOStreamer
from rawconv.formats.fcio.writer import FCIOWriter
from rawconv.sources import MemorySource

I32 = st.integers(-(2**31), 2**31 - 1)


@st.composite
def streams(draw):
    adcs = draw(st.integers(1, 6))
    triggers = draw(st.integers(0, 2))
    ntr = adcs + triggers
    cfg = {
        "adcs": adcs,
        "triggers": triggers,
        "eventsamples": draw(st.integers(1, 40)),
        "adcbits": draw(st.sampled_from([12, 16])),
        "blprecision": draw(st.integers(1, 4)),
        "sumlength": draw(st.integers(1, 8)),
        "gps": draw(st.sampled_from([0, 50000])),
        "streamid": draw(st.integers(0, 2**20)),
        "tracemap": draw(st.lists(st.integers(0, 2**32 - 1), min_size=ntr, max_size=ntr)),
    }
    events = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["full", "sparse", "header"]))
        if kind == "full":
            tl = list(range(ntr))
        else:
            tl = draw(st.permutations(range(ntr)))[: draw(st.integers(0, ntr))]
        pps = draw(st.integers(0, 100))
        dr_start = draw(st.sampled_from([(0, 0), (pps, draw(st.integers(0, 2**27)))]))
        dr_stop = (
            (dr_start[0], dr_start[1] + draw(st.integers(0, 2**20)))
            if dr_start[0]
            else (draw(st.sampled_from([(0, 0), (pps, 5)])))
        )
        first = draw(st.integers(0, ntr - 1))
        events.append({
            "kind": kind,
            "trace_list": tl,
            "type": draw(st.sampled_from([1, 11])),
            "timeoffset": draw(st.lists(I32, min_size=7, max_size=10)),
            "timestamp": [draw(I32), pps, draw(st.integers(0, 249999999)), 249999999],
            "deadregion": [*dr_start, *dr_stop, 249999999, first,
                           draw(st.integers(0, ntr - first))],
            "seed": draw(st.integers(0, 2**32 - 1)),
        })  # fmt: skip
    return cfg, events


def write(cfg, events) -> bytes:
    out = io.BytesIO()
    w = FCIOWriter(out)
    w.write_config(**cfg)
    for ev in events:
        rng = np.random.default_rng(ev["seed"])
        n = len(ev["trace_list"])
        traces = rng.integers(0, 2**16, (n, cfg["eventsamples"]), dtype=np.uint16)
        theader = rng.integers(0, 2**16, (n, 2), dtype=np.uint16)
        ev["traces"], ev["theader"] = traces, theader
        kw = {k: ev[k] for k in ("type", "timeoffset", "timestamp", "deadregion")}
        if ev["kind"] == "full":
            w.write_event(traces, theader, **kw)
        elif ev["kind"] == "sparse":
            w.write_sparse_event(ev["trace_list"], traces, theader, **kw)
        else:
            w.write_event_header(ev["trace_list"], theader, **kw)
    w.flush()
    return out.getvalue()


class Model:
    """formats.md 1.7, one event at a time, in plain Python."""

    def __init__(self, ntr: int, adcs: int) -> None:
        self.adcs = adcs
        self.enable = [None] * ntr
        self.total = [0] * ntr
        self.cur = [0] * ntr
        self.queue: list[list[tuple[int, int]]] = [[] for _ in range(ntr)]
        self.last_end = [0] * ntr

    @staticmethod
    def enable_value(dr, to):
        start = dr[0] * 10**9 + dr[1] * 4
        stop = dr[2] * 10**9 + dr[3] * 4
        return stop if start == 0 and stop > 0 else to[5] * 10**9 + to[6] * 1000

    def update(self, fpga, ev_type, dr, idx, length, to):
        lo, hi = (idx, idx + length) if ev_type == 11 else (0, self.adcs)
        start = dr[0] * 10**9 + dr[1] * 4
        stop = dr[2] * 10**9 + dr[3] * 4
        if any(self.enable[t] is None for t in range(lo, hi)):
            for t in range(lo, hi):
                self.enable[t] = self.enable_value(dr, to)
        if start > 0:
            for t in range(idx, idx + length):
                if stop > self.last_end[t]:
                    self.queue[t].append((start, stop))
                    self.last_end[t] = stop
        for t in range(lo, hi):
            self.cur[t] = 0
        while length > 0:
            # the first trace with a queued interval decides; an empty queue stops the scan
            due = False
            for t in range(idx, idx + length):
                if not self.queue[t]:
                    break
                if fpga - self.queue[t][0][1] > -4:
                    due = True
                    break
            if not due:
                break
            for t in range(idx, idx + length):
                if self.queue[t]:
                    begin, end = self.queue[t].pop(0)
                    self.cur[t] = end - begin
                    self.total[t] += end - begin


def expected_rows(cfg, events):
    ntr = cfg["adcs"] + cfg["triggers"]
    model = Model(ntr, cfg["adcs"])
    fcid = cfg["streamid"] & 0xFFFF
    blp = cfg["blprecision"]
    rows, headers = [], []
    for pid, ev in enumerate(events, start=1):
        to, ts, dr = ev["timeoffset"], ev["timestamp"], list(ev["deadregion"])
        if ev["kind"] == "full":
            dr[5], dr[6] = 0, ntr
        fpga = ts[1] * 10**9 + ts[2] * 4
        model.update(fpga, ev["type"], dr, dr[5], dr[6], to)
        if cfg["gps"]:
            stamp = (fpga + to[2] * 10**9) / 1e9
        else:
            stamp = (fpga + to[0] * 10**9 + to[1] * 1000) / 1e9
        per_trace = []
        for j, t in enumerate(ev["trace_list"]):
            h0, h1 = (int(v) for v in ev["theader"][j])
            if cfg["adcbits"] == 12:
                energy = int(cfg["sumlength"] / blp * ((h1 - h0) & 0xFFFF)) & 0xFFFF
            else:
                energy = h1
            if model.enable[t] is None:  # a trace first seen outside the enable range
                model.enable[t] = model.enable_value(dr, to)
            runtime = (fpga - model.enable[t]) / 1e9
            dead = model.total[t] / 1e9
            per_trace.append({
                "channel": t, "board_id": cfg["tracemap"][t] >> 16,
                "fc_input": cfg["tracemap"][t] & 0xFFFF, "baseline": int(h0 / blp) & 0xFFFF,
                "daqenergy": energy, "runtime": runtime, "deadtime": dead,
                "lifetime": (fpga - model.enable[t] - model.total[t]) / 1e9,
                "deadinterval_nsec": model.cur[t],
                "waveform": ev.get("traces")[j] if ev["kind"] != "header" else None,
            })  # fmt: skip
        common = {
            "packet_id": pid, "fcid": fcid, "event_type": ev["type"],
            "numtraces": len(ev["trace_list"]), "eventnumber": ts[0], "ts_pps": ts[1],
            "ts_ticks": ts[2], "ts_maxticks": ts[3], "mu_offset_sec": to[0],
            "mu_offset_usec": to[1], "to_master_sec": to[2], "delta_mu_usec": to[3],
            "abs_delta_mu_usec": to[4], "to_start_sec": to[5], "to_start_usec": to[6],
            "dr_start_pps": dr[0], "dr_start_ticks": dr[1], "dr_stop_pps": dr[2],
            "dr_stop_ticks": dr[3], "dr_maxticks": dr[4], "dr_ch_idx": dr[5],
            "dr_ch_len": dr[6], "timestamp": stamp,
        }  # fmt: skip
        if ev["kind"] == "header":
            headers.append((common, per_trace))
        else:
            rows += [{**common, **p} for p in per_trace]
    return rows, headers


def decode(data: bytes):
    lib = RawBufferLibrary(
        {
            "FCEventDecoder": {"ev": {"key_list": ["*"], "out_stream": ""}},
            "FCEventHeaderDecoder": {"hdr": {"key_list": ["*"], "out_stream": ""}},
        }
    )
    streamer = FCIOStreamer()
    streamer.open_stream(MemorySource(data), rb_lib=lib, buffer_size=64)
    ev, hdr = [], []
    for chunk in streamer:
        for rb in chunk:
            (ev if rb.name == "ev" else hdr).append(_rows(rb.table, rb.loc))
    return ev, hdr


def _rows(tbl, n):
    out = {}
    for name, col in tbl.items():
        if name == "waveform":
            out[name] = col["values"].nda[:n].copy()
        elif hasattr(col, "cumulative_length"):
            cl = col.cumulative_length.nda[:n]
            flat = col.flattened_data.nda[: cl[-1] if n else 0]
            out[name] = np.split(flat.copy(), cl[:-1])
        else:
            out[name] = col.nda[:n].copy()
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_random_streams_decode_to_written_values(stream):
    cfg, events = stream
    data = write(cfg, events)
    rows, headers = expected_rows(cfg, events)
    ev_chunks, hdr_chunks = decode(data)
    got = {k: np.concatenate([c[k] for c in ev_chunks]) for k in ev_chunks[0]} if ev_chunks else {}
    assert len(got.get("packet_id", [])) == len(rows)
    for i, row in enumerate(rows):
        for name, value in row.items():
            if name == "waveform":
                np.testing.assert_array_equal(got[name][i], value)
            else:
                assert got[name][i] == value, (i, name, got[name][i], value)
    hdr = {k: [x for c in hdr_chunks for x in c[k]] for k in hdr_chunks[0]} if hdr_chunks else {}
    assert len(hdr.get("packet_id", [])) == len(headers)
    for i, (common, per_trace) in enumerate(headers):
        for name, value in common.items():
            assert hdr[name][i] == value, (i, name)
        assert list(hdr["tracelist"][i]) == [p["channel"] for p in per_trace]
        for name in ("board_id", "fc_input", "baseline", "daqenergy", "runtime", "deadtime",
                     "lifetime", "deadinterval_nsec"):  # fmt: skip
            assert list(hdr[name][i]) == [p[name] for p in per_trace], (i, name)
