"""Setting up an ORCA stream after its header: listener configurations, table shapes and
the validation of every block's records.

Table shapes (waveform lengths, trace counts) come from the configuration records at the
start of the file (FCIOConfig per listener, legacy listener config), found in the first
block: the header's ``eventSamples`` can be wrong (formats.md 2.6).
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np

from ...buffers import RawBuffer, RawBufferLibrary, RawBufferList
from ...errors import CorruptDataError, OutSpecError
from ...outspec import decoder_short_name
from .fcio_kernels import check_fcio_records
from .flashcam import ORFlashCamListenerConfigDecoder
from .flashcam_kernels import CNT_ADDRESS, CNT_SAMPLES, CNT_TRACEMAP, validate_flashcam
from .header import FC_ALL_CARD_CLASSES
from .layout import (
    FCIO_KINDS,
    KIND_FC_CONFIG,
    KIND_FC_WAVEFORM,
    KIND_FC_WAVEFORM_V2,
    KIND_FCIO_CONFIG,
    KIND_SIS3316,
)
from .listeners import Listener
from .recovery import MAX_PROBLEM_LINES
from .struck_kernels import validate_struck

_TAG_CONFIG, _TAG_FSPCONFIG = 1, 8
PRESCAN_BYTES = 64 << 20
"""How far into the file the configuration records of the listeners are looked for."""

log = logging.getLogger(__name__)


class PrepareMixin:
    """Stream set-up and block validation of :class:`~.streamer.OrcaStreamer`."""

    def build_default_rb_lib(self, out_stream: str = "") -> RawBufferLibrary:
        """One buffer per key list, named as the reference names them: with several key
        lists (empty ones count), ``<name>_<key>`` for one-key lists, else ``<name>_<i>``."""
        lib = RawBufferLibrary()
        for decoder in self.get_decoder_list():
            short = decoder_short_name(decoder.name)
            key_lists = decoder.get_key_lists()
            rbl = lib[decoder.name] = RawBufferList()
            for i, key_list in enumerate(key_lists):
                if not key_list:
                    continue
                name = short
                if len(key_lists) > 1:
                    name = f"{short}_{key_list[0]}" if len(key_list) == 1 else f"{short}_{i}"
                rbl.append(RawBuffer(key_list=list(key_list), out_stream=out_stream,
                                     out_name=name))  # fmt: skip
        return lib

    def _check_layouts(self) -> None:
        """Every buffer must take keys of one table layout (one listener's waveform length,
        FCIO or FSP columns, ...)."""
        for name, rbl in self.rb_lib.items():
            decoder = self.decoders.get(name)
            if decoder is None:
                continue
            for rb in rbl:
                layouts = {}
                for key in rb.key_list:
                    spec = decoder.get_decoded_values(key)
                    sig = tuple((f, v.get("dtype"), v.get("wf_len"), v.get("length"))
                                for f, v in spec.items())  # fmt: skip
                    layouts.setdefault(sig, key)
                if len(layouts) > 1:
                    raise OutSpecError(
                        f"{name} buffer {rb.out_name!r} takes keys with different table "
                        f"layouts (e.g. {list(layouts.values())[:2]}); give them separate "
                        "buffers (for example with {key} in the buffer name)"
                    )

    def _prescan(self) -> None:
        """Extend the first block (up to PRESCAN_BYTES) until it holds the configuration
        records of every listener the header names, so that table shapes are known."""
        reader = self._reader
        while (
            not self._configs_found()
            and self._pending is None
            and not reader.eof
            and len(reader.buf) < PRESCAN_BYTES
        ):
            reader.grow()
            self._read_more()
            self._index()

    def _configs_found(self) -> bool:
        blk = self._block
        kinds = blk.kind[: blk.n]
        if any(d.kind in FCIO_KINDS for d in self.decoders.values()):
            found = set(blk.f_fcid[blk.fcio[np.flatnonzero(kinds == KIND_FCIO_CONFIG)]].tolist())
            if not set(self.header.flashcam_listeners(FC_ALL_CARD_CLASSES)) <= found:
                return False
        legacy = self.legacy.listeners if self.legacy.slot_fcid is not None else {}
        if legacy and any(d.kind in (KIND_FC_WAVEFORM, KIND_FC_WAVEFORM_V2)
                          for d in self.decoders.values()):  # fmt: skip
            found = set()
            for i in np.flatnonzero(np.isin(kinds, (KIND_FC_CONFIG, KIND_FC_WAVEFORM,
                                                    KIND_FC_WAVEFORM_V2))).tolist():  # fmt: skip
                w = blk.words_of(i, 3)
                if len(w) < 3:
                    continue
                if int(blk.kind[i]) == KIND_FC_CONFIG:
                    found.add(int(w[1] & 0xFFFF))
                else:
                    found.add(int(self.legacy.slot_fcid[(w[2] >> 27) * 32 + ((w[2] >> 22) & 0x1F)]))
            return set(legacy) <= found
        return True

    def _prepare_listeners(self) -> None:
        """Listeners from the header, configured by the config records of the first block."""
        blk = self._block
        self.listeners.clear()
        if any(d.kind in FCIO_KINDS for d in self.decoders.values()):
            for fcid, info in self.header.flashcam_listeners(FC_ALL_CARD_CLASSES).items():
                self.listeners[fcid] = Listener(fcid, info)
        for i in np.flatnonzero(blk.kind[: blk.n] == KIND_FCIO_CONFIG).tolist():
            if blk.bad[i]:
                continue
            fi, fj = int(blk.fcio[i]), int(blk.fcio[i + 1])
            fcid = int(blk.f_fcid[fi])
            lst = self.listeners.setdefault(fcid, Listener(fcid))
            for k in range(fi, fj):
                sub = blk.fcio_subset(np.array([k]))
                tag = int(blk.f_tag[k])
                if tag == _TAG_CONFIG and lst.config is None:
                    with contextlib.suppress(CorruptDataError):  # reported when decoded
                        lst.apply(lst.config_dec.parse(sub, 0))
                elif tag == _TAG_FSPCONFIG:
                    lst.fsp = True
        for fcid, lst in self.listeners.items():
            if lst.config is not None and fcid < len(self.ntr_lut):
                self.ntr_lut[fcid] = lst.config.ntraces
                self.samples_lut[fcid] = lst.config.eventsamples
        self._prepare_legacy()

    def _prepare_legacy(self) -> None:
        """Waveform lengths of legacy listeners: their config record, else the first
        waveform record of the listener in the first block (else the header's); the most
        events in a SIS3316 record of the first block."""
        blk = self._block
        config = next((d for d in self.decoders.values()
                       if isinstance(d, ORFlashCamListenerConfigDecoder)), None)  # fmt: skip
        for i in range(blk.n):
            kind = int(blk.kind[i])
            if kind == KIND_FC_CONFIG and config is not None and not blk.bad[i]:
                with contextlib.suppress(ValueError, IndexError):  # reported when decoded
                    config.apply(blk, i)
            elif kind == KIND_SIS3316 and not blk.bad[i]:
                dec = self._by_ident[int(blk.ident[i])]
                dec.max_events = max(dec.max_events, int(blk.words_of(i, 3)[2]))
            elif kind in (KIND_FC_WAVEFORM, KIND_FC_WAVEFORM_V2) and blk.words[i] >= 3:
                w = blk.words_of(i, 3)
                fcid = int(self.legacy.slot_fcid[(w[2] >> 27) * 32 + ((w[2] >> 22) & 0x1F)])
                if fcid >= 0 and fcid not in self.legacy.nsamples:
                    self.legacy.nsamples[fcid] = int((w[1] >> 6) & 0xFFFF)

    def _validate_plain(self) -> None:
        """Mark run, legacy FlashCam and Struck records whose payload does not parse."""
        blk = self._block
        validate_flashcam(blk.buf, blk.start, blk.words, blk.kind, blk.n, self.legacy.slot_fcid,
                          blk.bad)  # fmt: skip
        validate_struck(blk.buf, blk.start, blk.words, blk.kind, blk.n, blk.bad)

    def _validate(self) -> None:
        """Mark the records of the current block whose payload does not parse."""
        blk = self._block
        self._validate_plain()
        if blk.nf:
            check_fcio_records(
                blk.buf, blk.f_tag, blk.f_frame0, blk.f_nframes, blk.f_fcid, blk.f_orec,
                blk.frame_off, blk.frame_len, blk.nf, self.ntr_lut, self.samples_lut, blk.bad,
            )  # fmt: skip
        good = blk.bad[blk.f_orec[: blk.nf]] == 0
        for lst in self.listeners.values():
            lst.set_records(blk, np.flatnonzero((blk.f_fcid[: blk.nf] == lst.fcid) & good))

    def _summarise(self) -> None:
        """Problems lines for what was skipped or looked odd, at the end of the input."""
        if self.skipped_records:
            names = ", ".join(f"{n} x{c}" for n, c in sorted(self.skipped_records.items()))
            log.info("%s: records not decoded (no decoder or no buffer): %s", self.name, names)
        for dec in self.decoders.values():
            counters = getattr(dec, "counters", None)
            if counters is None or not counters.any():
                continue
            if len(counters) == 3:
                what = {
                    CNT_ADDRESS: "card address bits differ from the header's",
                    CNT_TRACEMAP: "card address differs from the listener tracemap",
                    CNT_SAMPLES: "nsamples differs from the table's waveform length",
                }
                for k, text in what.items():  # fmt: skip
                    if counters[k]:
                        self.problems.append(f"{dec.name}: {int(counters[k])} records: {text}")
            elif counters[0]:
                self.problems.append(
                    f"{dec.name}: {int(counters[0])} waveforms cut or padded to the header's "
                    "trace length"
                )
        if self.n_problems > MAX_PROBLEM_LINES:
            self.problems.append(f"... {self.n_problems - MAX_PROBLEM_LINES} more problems")
        if self.bytes_skipped:
            self.problems.append(
                f"{self.bytes_skipped} damaged bytes skipped in {self.n_resyncs} place(s); "
                f"{self.n_garbage_records} undecodable record(s) kept in the garbage table"
            )
