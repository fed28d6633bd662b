"""The DAQ formats rawconv reads: streamer registry and detection from the input's bytes.

Stream type names are the reference converter's (``FlashCam``, ``ORCA``, ``Compass``,
``LlamaDaq``, ``MGDO``), matched case-insensitively; ``FCIO`` is an alias of ``FlashCam``.
"""

from __future__ import annotations

import importlib
import struct

from ..errors import UnknownFormatError
from ..sources import Source

__all__ = ["STREAMERS", "detect_format", "get_streamer", "normalize_stream_type"]

STREAMERS: dict[str, str] = {
    "FlashCam": "rawconv.formats.fcio.streamer:FCIOStreamer",
    "ORCA": "rawconv.formats.orca.streamer:OrcaStreamer",
}
"""Stream type -> "module:class" of its streamer (imported on use)."""

_ALIASES = {"fcio": "FlashCam", "flashcam": "FlashCam", "orca": "ORCA", "compass": "Compass",
            "llamadaq": "LlamaDaq", "llama": "LlamaDaq", "mgdo": "MGDO"}  # fmt: skip

_FCIO_PROTOCOL = -1000000001


def normalize_stream_type(name: str) -> str:
    """Canonical stream type name; raises ValueError for unknown ones."""
    canonical = _ALIASES.get(name.lower())
    if canonical is None:
        raise ValueError(
            f"unknown stream type {name!r}; known: FlashCam (FCIO), ORCA, Compass, LlamaDaq, MGDO"
        )
    if canonical not in STREAMERS:
        raise ValueError(f"stream type {canonical} is not supported by this version of rawconv")
    return canonical


def get_streamer(stream_type: str) -> object:
    """A new streamer instance for `stream_type`."""
    module, _, cls = STREAMERS[normalize_stream_type(stream_type)].partition(":")
    return getattr(importlib.import_module(module), cls)()


def _looks_like_fcio(head: bytes) -> bool:
    if len(head) < 8:
        return False
    (h0,) = struct.unpack_from("<i", head, 0)
    if h0 == _FCIO_PROTOCOL:
        return head[4:14] == b"FlashCamV1" or head[4:8].isascii()
    # a stream without protocol header starts with a config record: tag 1, then 4-byte frames
    if h0 == -1:
        (f0,) = struct.unpack_from("<i", head, 4)
        return f0 == 4
    return False


def _looks_like_orca(head: bytes) -> bool:
    if len(head) < 12 or head[8:12] != b"<?xm":
        return False
    for order in ("<II", ">II"):  # big-endian: files from PowerPC Macs
        w0, w1 = struct.unpack_from(order, head, 0)
        if (w0 >> 18) == 0 and 0 <= 4 * w0 - 8 - w1 <= 3:
            return True
    return False


def detect_format(source: Source) -> str:
    """The stream type of `source`, from its first bytes (not its name).

    Raises UnknownFormatError naming the input when no format matches.
    """
    head = source.read(0, 64)
    if _looks_like_fcio(head):
        return "FlashCam"
    if _looks_like_orca(head):
        return "ORCA"
    if len(head) >= 4 and struct.unpack_from("<I", head, 0)[0] == 0x4972414C:
        return "LlamaDaq"
    if len(head) >= 2 and (struct.unpack_from("<H", head, 0)[0] >> 4) == 0xCAE:
        return "Compass"
    if head.startswith(b"root"):
        return "MGDO"
    shown = head[:16].hex(" ")
    raise UnknownFormatError(
        f"unknown format: the first bytes ({shown}) match none of FCIO, ORCA, CoMPASS, "
        "LlamaDAQ or MGDO; give the stream type explicitly if you know it",
        path=source.name,
        offset=0,
    )
