"""``daq2lh5.cli``: the ``legend-daq2lh5`` command, served by ``rawconv``'s."""

from __future__ import annotations

import sys

from ...cli import main

__all__ = ["daq2lh5_cli"]


def daq2lh5_cli() -> None:
    """Run ``rawconv`` with the command-line arguments (its flags are legend-daq2lh5's)."""
    sys.exit(main())
