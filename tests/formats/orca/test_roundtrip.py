"""Round trip: the legacy FlashCam file decoded by rawconv and encoded again with rawconv's
ORCA writer gives the input bytes exactly (the reference's strongest ORCA test)."""

from __future__ import annotations

import io
import json

import h5py
import numpy as np

from rawconv import build_raw
from rawconv.formats.orca.header import OrcaHeader, header_words
from rawconv.formats.orca.writer import OrcaWriter
from tests.conftest import data_file

GEDS = "orca/fc/L200-comm-20220519-phy-geds.orca"
TIMEOFFSET = ("mu_offset_sec", "mu_offset_usec", "to_master_sec", "delta_mu_usec",
              "abs_delta_mu_usec", "to_start_sec", "to_start_usec")  # fmt: skip
DEADREGION = ("dr_start_pps", "dr_start_ticks", "dr_stop_pps", "dr_stop_ticks", "dr_maxticks")
TIMESTAMP = ("eventnumber", "ts_pps", "ts_ticks", "ts_maxticks")
CONFIG = ("streamid", "ntriggers", "nsamples", "adcbits", "sumlength", "blprecision",
          "mastercards", "triggercards", "adccards", "gps")  # fmt: skip


def _encode(lh5: str, xml: bytes) -> tuple[bytes, list[int]]:
    """The file rebuilt from the decoded tables, records in packet order; and the packet
    ids of the records written."""
    out = io.BytesIO()
    w = OrcaWriter(out, xml)
    records: list[tuple[int, object]] = []
    with h5py.File(lh5, "r") as f:
        run = {k: f["ORRunDecoderForRun"][k][()] for k in f["ORRunDecoderForRun"]}
        flags = {"start": "runstartorstop", "quick": "quickstartrun", "remote": "remotecontrolrun",
                 "heartbeat": "heartbeatrecord", "end_subrun": "endsubrunrecord",
                 "start_subrun": "startsubrunrecord"}  # fmt: skip
        for k in range(len(run["run_number"])):
            kw = {flag: bool(run[col][k]) for flag, col in flags.items()}
            records.append((k + 1, lambda k=k, kw=kw: w.write_run(
                int(run["run_number"][k]), int(run["time"][k]),
                subrun=int(run["subrun_number"][k]), **kw)))  # fmt: skip
        c = f["ORFlashCamListenerConfig"]
        tm = (c["ch_board_id/flattened_data"][()].astype(np.int64) << 16) | c[
            "ch_inputnum/flattened_data"][()]  # fmt: skip
        values = {name: int(c[name][0]) for name in CONFIG}
        records.append((int(c["packet_id"][0]), lambda: w.write_fc_config(
            int(c["fcid"][0]), tm, readout_id=int(c["readout_id"][0]),
            board_rev=c["board_rev/flattened_data"][()],
            board_uid=c["board_uid/flattened_data"][()], slots=int(c["packet_len"][0]) - 13,
            **values)))  # fmt: skip
        t = f["ORFlashCamADCWaveform"]
        cols = {name: t[name][()].astype(np.int64) for name in t if name != "waveform"}
        wf = t["waveform/values"][()]
        for r in range(len(wf)):
            row = {name: int(v[r]) for name, v in cols.items()}
            records.append((row["packet_id"], lambda row=row, r=r: w.write_fc_waveform(
                crate=row["crate"], slot=row["slot"], board_id=row["board_id"],
                fc_input=row["fc_input"], channel=row["channel"], samples=wf[r],
                timeoffset=[row[k] for k in TIMEOFFSET], deadregion=[row[k] for k in DEADREGION],
                timestamp=[row[k] for k in TIMESTAMP], baseline=row["baseline"],
                daqenergy=row["daqenergy"], event_type=row["event_type"])))  # fmt: skip
        records.sort(key=lambda rec: rec[0])
        for _, write in records:
            write()
    return out.getvalue(), [pid for pid, _ in records]


def test_legacy_flashcam_round_trip(tmp_path):
    src = data_file(GEDS)
    data = src.read_bytes()
    out = tmp_path / "geds.lh5"
    build_raw(str(src), out_spec=str(out))
    words, n_xml = header_words(data[:12], "<")
    rebuilt, pids = _encode(str(out), data[8 : 8 + n_xml])
    assert pids == list(range(1, 71))  # every record of the file, in order
    assert len(rebuilt) == len(data)
    assert rebuilt[4 * words :] == data[4 * words :]  # every data record, byte for byte
    assert rebuilt == data


def test_header_from_decoded_plist(tmp_path):
    """The OrcaHeader table holds the plist: a header written from it parses to the same."""
    src = data_file(GEDS)
    out = tmp_path / "geds.lh5"
    build_raw(str(src), out_spec=str(out))
    with h5py.File(out, "r") as f:
        plist = json.loads(f["OrcaHeader"][()])
    buf = io.BytesIO()
    OrcaWriter(buf, plist)
    again = OrcaHeader.from_record(buf.getvalue())
    assert again["Header Length"] == len(buf.getvalue())  # the writer fills in its length
    assert {k: v for k, v in again.items() if k != "Header Length"} == {
        k: v for k, v in plist.items() if k != "Header Length"}  # fmt: skip
