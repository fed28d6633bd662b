"""Properties: writer-made ORCA files decode to the values written.

* FCIO-wrapped records of several listeners, interleaved, with FSP companions, extended
  records, short records and records without decoder in between: every listener's rows
  equal what rawconv's FCIO streamer decodes from that listener's FCIO stream alone (the
  payloads concatenated), packet ids mapped to ORCA record indices.
* SIS3302 (plain and wrap mode) and SIS3316 (several events per record, any format bits):
  every field equals the value written (pure-Python oracle).
"""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawconv import build_raw
from rawconv.formats.orca.header_builder import FlashCamSpec, StruckSpec, make_header
from rawconv.formats.orca.writer import FCIOListenerWriter, OrcaWriter
from rawconv.sources import MemorySource

FCIO_DECODERS = ["ORRunDecoderForRun", "ORFCIOConfigDecoder", "ORFCIOEventDecoder",
                 "ORFCIOEventHeaderDecoder", "ORFCIOStatusDecoder",
                 "ORScriptDecoderForRecord"]  # fmt: skip
SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])  # fmt: skip


@st.composite
def fcio_runs(draw):
    listeners = []
    for fcid in range(1, draw(st.integers(1, 3)) + 1):
        adcs = draw(st.integers(1, 4))
        listeners.append({
            "fcid": fcid, "adcs": adcs, "samples": draw(st.integers(1, 12)),
            "adcbits": draw(st.sampled_from([12, 16])), "gps": draw(st.sampled_from([0, 5000])),
            "fsp": draw(st.booleans()),
        })  # fmt: skip
    records = []
    for _ in range(draw(st.integers(1, 25))):
        lst = draw(st.sampled_from(listeners))
        kind = draw(st.sampled_from(["full", "sparse", "header", "status", "short", "other"]))
        records.append({"fcid": lst["fcid"], "kind": kind, "extended": draw(st.booleans()),
                        "seed": draw(st.integers(0, 2**31)),
                        "type": draw(st.sampled_from([1, 11]))})  # fmt: skip
    return listeners, records


def _write_fcio_run(listeners, records):
    specs = [FlashCamSpec(lst["fcid"], cards=[(0, lst["fcid"], 0x200 + lst["fcid"],
                                               [True] * lst["adcs"])],
                          event_samples=lst["samples"], fsp_enabled=lst["fsp"])
             for lst in listeners]  # fmt: skip
    out = io.BytesIO()
    w = OrcaWriter(out, make_header(FCIO_DECODERS, flashcam=specs, short=["ORShortDecoder"]))
    payloads = {lst["fcid"]: [] for lst in listeners}
    pids = {lst["fcid"]: [] for lst in listeners}
    writers = {}
    w.write_run(3, 1_700_000_000, start=True)
    for lst in listeners:
        tm = [((0x200 + lst["fcid"]) << 16) | i for i in range(lst["adcs"])]
        lw = writers[lst["fcid"]] = FCIOListenerWriter(
            (7 << 16) | lst["fcid"], adcs=lst["adcs"], eventsamples=lst["samples"],
            adcbits=lst["adcbits"], gps=lst["gps"], tracemap=tm)  # fmt: skip
        data = lw.config_payload({} if lst["fsp"] else None)
        payloads[lst["fcid"]].append(data)
        w.write_fcio("ORFCIOConfigDecoder", lw.streamid, data)
    by_id = {lst["fcid"]: lst for lst in listeners}
    for k, rec in enumerate(records):
        lst, lw = by_id[rec["fcid"]], writers[rec["fcid"]]
        rng = np.random.default_rng(rec["seed"])
        n, ns = lst["adcs"], lst["samples"]
        ts = [k, 1 + k // 5, int(rng.integers(0, 249_999_999)), 249_999_999]
        dr = [1 + k // 5, 10, 1 + k // 5, 10 + int(rng.integers(0, 1000)), 249_999_999, 0, n]
        kw = {"timestamp": ts, "deadregion": dr, "type": rec["type"],
              "timeoffset": [1_700_000_000, 7, 1_700_000_000, 1, 1, 1, 0]}  # fmt: skip
        fsp = {"obs_ct_trace_idx": [0], "obs_ct_max": [k]} if lst["fsp"] else None
        tl = sorted(rng.choice(n, int(rng.integers(1, n + 1)), replace=False).tolist())
        traces = rng.integers(0, 2**16, (n, ns))
        theader = rng.integers(0, 2**16, (n, 2))
        if rec["kind"] == "short":
            w.write_short("ORShortDecoder", k)
            continue
        if rec["kind"] == "other":
            w.write_record("ORScriptDecoderForRecord", [k, 1, 2])
            continue
        if rec["kind"] == "full":
            data, dec = lw.event(traces, theader, fsp=fsp, **kw), "ORFCIOEventDecoder"
        elif rec["kind"] == "sparse":
            data = lw.sparse_event(tl, traces[: len(tl)], theader[: len(tl)], fsp=fsp, **kw)
            dec = "ORFCIOEventDecoder"
        elif rec["kind"] == "header":
            data = lw.event_header(tl, theader[: len(tl)], fsp=fsp, **kw)
            dec = "ORFCIOEventHeaderDecoder"
        else:
            from rawconv.formats.fcio.writer import CARD_STATUS_DTYPE

            cards = np.zeros(2, CARD_STATUS_DTYPE)
            cards["reqid"] = [0, 0x2000]
            cards["eventno"] = k
            data, dec = lw.status(status=1, statustime=[k] * 10, cards=cards), "ORFCIOStatusDecoder"
        pids[rec["fcid"]].append(w.records)
        payloads[rec["fcid"]].append(data)
        w.write_fcio(dec, lw.streamid, data, extended=rec["extended"])
    w.write_run(3, 1_700_000_010)
    return out.getvalue(), payloads, pids


def _spec(fcids, path, fcio=False):
    if fcio:  # one FCIO stream, listener fcid: FCIOStreamer's decoders
        f = fcids[0]
        return {
            "FCEventDecoder": {"ev": {"key_list": ["*"], "out_stream": path}},
            "FCEventHeaderDecoder": {"hdr": {"key_list": ["*"], "out_stream": path}},
            "FCStatusDecoder": {"st": {"key_list": ["*"], "out_stream": path}},
            "FSPEventDecoder": {"fe": {"key_list": [f"swtid_{f}/event"], "out_stream": path},
                                "fh": {"key_list": [f"swtid_{f}/evt_hdr"], "out_stream": path}},
        }  # fmt: skip
    ev, hdr, st = {}, {}, {}
    for f in fcids:
        ev[f"ev{f}"] = {"key_list": [f"{f}??????"], "out_stream": path}
        ev[f"fe{f}"] = {"key_list": [f"swtid_{f}/event"], "out_stream": path}
        hdr[f"hdr{f}"] = {"key_list": [f"fcid_{f}/evt_hdr"], "out_stream": path}
        hdr[f"fh{f}"] = {"key_list": [f"swtid_{f}/evt_hdr"], "out_stream": path}
        st[f"st{f}"] = {"key_list": [f"fcid_{f}/*"], "out_stream": path}
    return {"ORFCIOEventDecoder": ev, "ORFCIOEventHeaderDecoder": hdr, "ORFCIOStatusDecoder": st}


def _columns(path, name):
    """Every dataset under `name` of an output (none if the file or table was not written:
    no rows)."""
    out = {}
    if not Path(path).exists():
        return out
    with h5py.File(path, "r") as f:
        if name in f:
            f[name].visititems(lambda n, o: out.__setitem__(n, o[()])
                               if isinstance(o, h5py.Dataset) else None)  # fmt: skip
    return out


@SETTINGS
@given(fcio_runs())
def test_fcio_listeners_decode_as_their_fcio_streams(tmp_path_factory, run):
    listeners, records = run
    data, payloads, pids = _write_fcio_run(listeners, records)
    tmp = tmp_path_factory.mktemp("fcio")
    out = tmp / "orca.lh5"
    fcids = [lst["fcid"] for lst in listeners]
    build_raw(MemorySource(data, "run.orca"), out_spec=_spec(fcids, str(out)), buffer_size=7)
    for f in fcids:
        ref = tmp / f"fcio{f}.lh5"
        build_raw(
            MemorySource(b"".join(payloads[f]), "l.fcio"), out_spec=_spec([f], str(ref), True)
        )
        orca_pid = np.array([0, *pids[f]])
        for ours, theirs in ((f"ev{f}", "ev"), (f"hdr{f}", "hdr"), (f"st{f}", "st"),
                             (f"fe{f}", "fe"), (f"fh{f}", "fh")):  # fmt: skip
            got, want = _columns(out, ours), _columns(ref, theirs)
            assert sorted(got) == sorted(want), (ours, sorted(got), sorted(want))
            for col, values in want.items():
                if col == "packet_id":
                    values = orca_pid[values]
                np.testing.assert_array_equal(got[col], values, err_msg=f"{ours}/{col}")


@st.composite
def sis3302_records(draw):
    records = []
    for _ in range(draw(st.integers(1, 10))):
        records.append({
            "crate": draw(st.integers(0, 2)), "card": draw(st.integers(0, 3)),
            "channel": draw(st.integers(0, 1)), "timestamp": draw(st.integers(0, 2**48 - 1)),
            "energy": draw(st.integers(0, 2**32 - 1)),
            "energy_first": draw(st.integers(0, 2**32 - 1)),
            "wrap_start": draw(st.one_of(st.none(), st.integers(0, 11))),
            "energy_wf": draw(st.lists(st.integers(0, 2**32 - 1), max_size=3)),
            "seed": draw(st.integers(0, 2**31)),
        })  # fmt: skip
    return records


def _struck_header(model, lengths):
    cards = [StruckSpec(model, crate, card, 0xFFFF if model == "ORSIS3316Model" else 0b11,
                        sample_lengths=[lengths] * 4, raw_length=lengths)
             for crate in range(3) for card in range(4)]  # fmt: skip
    name = "ORSIS3302DecoderForEnergy" if model == "ORSIS3302Model" else "ORSIS3316WaveformDecoder"
    return make_header([name], struck=cards)


@SETTINGS
@given(sis3302_records())
def test_sis3302_fields(tmp_path_factory, records):
    out = io.BytesIO()
    w = OrcaWriter(out, _struck_header("ORSIS3302Model", 12))
    expected = {}
    for k, rec in enumerate(records):
        samples = np.random.default_rng(rec["seed"]).integers(0, 2**16, 12)
        kw = {n: rec[n] for n in ("crate", "card", "channel", "timestamp", "energy",
                                   "energy_first", "wrap_start", "energy_wf")}  # fmt: skip
        w.write_sis3302(samples=samples, **kw)
        wf = samples if rec["wrap_start"] is None else np.roll(samples, -rec["wrap_start"])
        key = (rec["crate"] << 9) + (rec["card"] << 4) + rec["channel"]
        expected.setdefault(key, []).append((k + 1, rec, wf))
    path = tmp_path_factory.mktemp("sis") / "out.lh5"
    spec = {"ORSIS3302DecoderForEnergy": {"ch{key}": {"key_list": ["*"], "out_stream": str(path)}}}
    build_raw(MemorySource(out.getvalue(), "sis.orca"), out_spec=spec)
    with h5py.File(path, "r") as f:
        assert sorted(f) == sorted(f"ch{key}" for key in expected)
        for key, rows in expected.items():
            t = f[f"ch{key}"]
            assert t["packet_id"][()].tolist() == [pid for pid, _, _ in rows]
            for col in ("crate", "card", "channel", "timestamp", "energy", "energy_first"):
                assert t[col][()].tolist() == [rec[col] for _, rec, _ in rows], col
            np.testing.assert_array_equal(t["waveform/values"][()], [wf for _, _, wf in rows])
            assert set(t["waveform/dt"][()].tolist()) == {10.0}


FIELDS_3316 = ("peakHighValue", "peakHighIndex", "accSum1", "information", "accSum2", "accSum3",
               "accSum4", "accSum5", "accSum6", "accSum7", "accSum8", "mawMax", "mawBefore",
               "mawAfter", "startEnergy", "maxEnergy")  # fmt: skip
BITS_3316 = {"peakHighValue": 1, "peakHighIndex": 1, "accSum1": 1, "information": 1,
             **{f"accSum{g}": 1 for g in range(2, 7)}, "accSum7": 2, "accSum8": 2,
             "mawMax": 4, "mawBefore": 4, "mawAfter": 4, "startEnergy": 8,
             "maxEnergy": 8}  # fmt: skip
LIMITS_3316 = {
    "peakHighValue": 2**16,
    "peakHighIndex": 2**16,
    "accSum1": 2**24,
    "information": 2**8,
}


@st.composite
def sis3316_records(draw):
    records = []
    for _ in range(draw(st.integers(1, 6))):
        events = []
        for _ in range(draw(st.integers(0, 5))):
            ev = {
                name: draw(st.integers(0, LIMITS_3316.get(name, 2**32) - 1)) for name in FIELDS_3316
            }
            ev["timestamp"] = draw(st.integers(0, 2**48 - 1))
            events.append(ev)
        records.append({
            "crate": draw(st.integers(0, 2)), "card": draw(st.integers(0, 3)),
            "channel": draw(st.integers(0, 15)), "fmt": draw(st.integers(0, 15)),
            "events": events, "seed": draw(st.integers(0, 2**31)),
        })  # fmt: skip
    return records


@SETTINGS
@given(sis3316_records())
def test_sis3316_fields(tmp_path_factory, records):
    out = io.BytesIO()
    w = OrcaWriter(out, _struck_header("ORSIS3316Model", 8))
    expected: dict[int, list] = {}
    for k, rec in enumerate(records):
        rng = np.random.default_rng(rec["seed"])
        for ev in rec["events"]:
            ev["samples"] = rng.integers(0, 2**16, 8)
        w.write_sis3316(crate=rec["crate"], card=rec["card"], channel=rec["channel"],
                        events=rec["events"], fmt=rec["fmt"], raw_samples=8)  # fmt: skip
        key = (rec["crate"] << 9) + (rec["card"] << 4) + rec["channel"]
        for ev in rec["events"]:
            row = {name: (ev[name] if rec["fmt"] & BITS_3316[name] else 0xFFFFFFFF)
                   for name in FIELDS_3316}  # fmt: skip
            row["energy"], row["energy_first"] = row["maxEnergy"], row["startEnergy"]
            row.update(timestamp=ev["timestamp"], packet_id=k + 1, crate=rec["crate"],
                       card=rec["card"], channel=rec["channel"])  # fmt: skip
            expected.setdefault(key, []).append((row, ev["samples"]))
    path = tmp_path_factory.mktemp("sis") / "out.lh5"
    spec = {"ORSIS3316WaveformDecoder": {"ch{key}": {"key_list": ["*"], "out_stream": str(path)}}}
    build_raw(MemorySource(out.getvalue(), "sis.orca"), out_spec=spec, buffer_size=8)
    if not expected:  # records without events: no rows, no file
        assert not path.exists()
        return
    with h5py.File(path, "r") as f:
        assert sorted(f) == sorted(f"ch{key}" for key in expected)
        for key, rows in expected.items():
            t = f[f"ch{key}"]
            for col in rows[0][0]:
                assert t[col][()].tolist() == [row[col] for row, _ in rows], col
            np.testing.assert_array_equal(t["waveform/values"][()], [s for _, s in rows])
