"""legend-daq2lh5's public interface over rawconv's objects.

A pipeline written for legend-daq2lh5 switches to rawconv by changing its imports from
``daq2lh5`` to ``rawconv.compat.daq2lh5``: the module paths (``build_raw``,
``raw_buffer``, ``data_decoder``, ``data_streamer``, ``buffer_processor``, ``fc``,
``orca``, ``compass``, ``llama``) and class names (``FCStreamer``, ``OrcaStreamer``, ...) are
legend-daq2lh5's; the objects are rawconv's own. The behaviours that differ on purpose are
listed in README.md ("Switching from legend-daq2lh5").
"""

from ..._version import __version__
from .build_raw import build_raw, get_streamer, open_stream

__all__ = ["__version__", "build_raw", "get_streamer", "open_stream"]
