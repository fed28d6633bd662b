"""The notebooks run from top to bottom without errors, show their plots inline and leave
nothing in the temp folder."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

WIDGET = "application/vnd.jupyter.widget-view+json"
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the kernel's temp folder: checked below
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    outputs = "".join(o.get("text", "") for c in code for o in c.outputs)
    assert "parallel output == serial output for 4 files" in outputs
    assert "2 worker(s):" in outputs
    bars = [c for c in code if "progress=True" in c.source]
    assert len(bars) == 1
    widgets = [o for o in bars[0].outputs if WIDGET in o.get("data", {})]
    assert len(widgets) == 3  # index, decode, merge: tqdm.auto's widgets
    plots = [c for c in code if "plt.show()" in c.source]
    assert len(plots) == 2
    for cell in plots:  # inline, not only saved to a file
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        assert len(images) == 1, cell.source
    removed = re.search(r"removed (\S+)", outputs)
    assert removed and not Path(removed.group(1)).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
