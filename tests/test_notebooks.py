"""The notebooks run from top to bottom without errors, show their plots inline (and save
them), print the values they promise and leave nothing in the temp folder."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

WIDGET = "application/vnd.jupyter.widget-view+json"
FOLDER = Path(__file__).resolve().parents[1] / "notebooks"


def _execute(name: str, tmp_path: Path, monkeypatch) -> tuple[list, str]:
    """Run a notebook with its temp folder in `tmp_path`; its code cells and their text."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the kernel's temp folder: checked below
    nb = nbformat.read(FOLDER / name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    return code, "".join(o.get("text", "") for c in code for o in c.outputs)


def _check_plots_and_cleanup(code: list, outputs: str, tmp_path: Path, figures: list[str]) -> None:
    """Every cell that makes a figure shows one image inline, the figures were saved
    (named and non-empty), and the notebook's temp folder is gone."""
    plots = [c for c in code if "plt.subplots" in c.source]
    assert len(plots) == len(figures)
    for cell in plots:  # inline, not only saved to a file
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        assert len(images) == 1, cell.source
        assert "plt.show()" in cell.source and "savefig" in cell.source
    saved = dict(re.findall(r"saved (\S+\.png): (\d+) bytes", outputs))
    assert sorted(saved) == sorted(figures)
    assert all(int(n) > 5000 for n in saved.values()), saved
    removed = re.search(r"removed (\S+)", outputs)
    assert removed and not Path(removed.group(1)).exists()
    assert Path(removed.group(1)).parent == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_notebooks_are_these():
    """A notebook added without its test here fails."""
    assert sorted(p.name for p in FOLDER.glob("*.ipynb")) == [
        "parallel_demo.ipynb", "remote_demo.ipynb"
    ]  # fmt: skip


def test_parallel_demo(tmp_path, monkeypatch):
    code, outputs = _execute("parallel_demo.ipynb", tmp_path, monkeypatch)
    assert "parallel output == serial output for 4 files" in outputs
    assert "2 worker(s):" in outputs
    bars = [c for c in code if "progress=True" in c.source]
    assert len(bars) == 1
    widgets = [o for o in bars[0].outputs if WIDGET in o.get("data", {})]
    assert len(widgets) == 3  # index, decode, merge: tqdm.auto's widgets
    _check_plots_and_cleanup(code, outputs, tmp_path, ["throughput.png", "waveforms.png"])


def test_remote_demo(tmp_path, monkeypatch):
    code, outputs = _execute("remote_demo.ipynb", tmp_path, monkeypatch)
    assert re.search(r"serving http://127\.0\.0\.1:\d+/demo_run\.fcio\n", outputs)
    size = int(re.search(r"demo_run\.fcio: (\d+) bytes", outputs).group(1))
    assert size > 5_000_000
    assert "serial output equals local: True\n" in outputs
    assert "parallel output equals local: True\n" in outputs
    chunks = int(re.search(r"chunks: (\d+)", outputs).group(1))
    assert chunks >= 3  # 2 MiB chunks
    for mode in ("serial", "parallel"):  # the input crossed the network about once
        served, of = re.search(rf"{mode}: bytes served (\d+) for a file of (\d+) bytes", outputs
                               ).groups()  # fmt: skip
        assert int(of) == size
        assert size <= int(served) <= 1.05 * size, (mode, served, size)
    assert "cluster closed - server answers: False\n" in outputs
    _check_plots_and_cleanup(code, outputs, tmp_path, ["energy_baseline.png", "waveforms.png"])
