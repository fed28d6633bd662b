"""FSPConfig tables of ORCA files: every label of every config, the reference's attributes.

The reference converter cannot convert a listener whose config is updated mid-file, so these
values are checked against what the writer put in (its labels and maps).
"""

from __future__ import annotations

import h5py
import numpy as np

from rawconv import build_raw
from rawconv.formats.fcio.layout import MAX_CHANNELS
from tests.formats.orca.files import fcio_file

CONFIGS = (
    {"wps_map": [0, 1], "wps_labels": ["a", "b"], "hwm_map": [0]},
    {"wps_map": [0, 1, 2, 3], "wps_labels": ["w", "x", "y", "seven77"], "hwm_map": [0, 1, 2]},
)


def _labels(*names: bytes) -> list[bytes]:
    return list(names) + [b""] * (MAX_CHANNELS - len(names))


def test_a_later_config_with_more_traces_keeps_every_label(tmp_path):
    src = tmp_path / "two-configs.orca"
    src.write_bytes(fcio_file(fsp=True, fsp_ct=False, fsp_configs=CONFIGS))
    out = tmp_path / "out.lh5"
    build_raw(str(src), out_spec=str(out))
    with h5py.File(out, "r") as f:
        cfg = f["ORFCIOConfig_swtid_1/config"]
        wps = cfg["dsp_wps_tracemap_label"]
        assert wps.shape == (2, MAX_CHANNELS) and wps.dtype == np.dtype("S7")
        assert wps[0].tolist() == _labels(b"a", b"b")
        assert wps[1].tolist() == _labels(b"w", b"x", b"y", b"seven77")
        assert cfg["dsp_hwm_tracemap_label"][1].tolist() == _labels(b"hwm0", b"hwm1", b"hwm2")
        assert cfg["dsp_wps_tracemap_indices/cumulative_length"][()].tolist() == [2, 6]
        assert cfg["dsp_wps_gains/cumulative_length"][()].tolist() == [2, 6]
        assert dict(wps.attrs) == {"datatype": "array_of_equalsized_arrays<1,1>{string}",
                                   "description": "Labels of the WPS traces."}  # fmt: skip
        for name in ("buffer_window_nsec", "trg_pre_trigger_window_nsec",
                     "trg_post_trigger_window_nsec", "trg_wps_prescale_rate"):  # fmt: skip
            assert "units" not in cfg[name].attrs, name
        assert len(cfg["packet_id"]) == 2
        tracemap = f["ORFCIOConfig_0/tracemap"]
        assert tracemap.attrs["length"] == MAX_CHANNELS
        assert tracemap.attrs["length"].dtype == np.int64
