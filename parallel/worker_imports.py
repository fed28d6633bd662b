"""Imported by the server the embedded cluster's workers fork from (:mod:`.forkserver`):
what their tasks import, so that no worker imports it again. The task modules, and the
streamer and record index of each of rawconv's formats that splits its inputs into chunks
(plug-in formats are imported by the tasks that need them)."""

from __future__ import annotations

from rawconv.formats import formats

from . import merge, pack, tasks  # noqa: F401  # imported for the workers

for _format in formats():
    if isinstance(_format.index, str) and _format.index.startswith("rawconv."):
        try:
            _format.index_class()
            _format.streamer_class()
        except Exception:  # pragma: no cover - a broken install: the task reports it
            pass
