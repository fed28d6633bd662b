"""rawconv's reader of entry points lists what importlib.metadata lists, without importing it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import metadata

import pytest

from rawconv.formats.entry_points import EntryPoint, entry_points


def _listed(group: str) -> list[tuple[str, str]]:
    return [(ep.name, ep.value) for ep in metadata.entry_points(group=group)]


def _dist(site, stem: str, text: str) -> None:
    info = site / f"{stem}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {stem.split('-')[0]}\n")
    (info / "entry_points.txt").write_text(text)


@pytest.mark.parametrize(
    "group", ["console_scripts", "numba_extensions", "pytest11", "rawconv.formats", "none.such"]
)
def test_the_installed_entry_points_are_importlib_s(group):
    found = [(ep.name, ep.value) for ep in entry_points(group)]
    assert found == _listed(group)
    if group == "console_scripts":  # rawconv's own commands are among them
        assert ("rawconv", "rawconv.cli:main") in found


def test_file_syntax_first_distribution_wins_and_egg_info(tmp_path, monkeypatch):
    _dist(tmp_path / "a", "Demo_Pkg-1.0",
          "# a comment\n[demo.group]\none = pkg.mod:attr\n  # another\n\n"
          "[other]\nx = y\n[demo.group]\n two=pkg.mod : obj.sub [extra]\n")  # fmt: skip
    _dist(tmp_path / "b", "demo.pkg-2.0", "[demo.group]\nshadowed = pkg:gone\n")
    egg = tmp_path / "b" / "eggy.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: eggy\n")
    (egg / "entry_points.txt").write_text("[demo.group]\nthree = eggy\n")
    monkeypatch.syspath_prepend(str(tmp_path / "b"))
    monkeypatch.syspath_prepend(str(tmp_path / "a"))
    expected = [("one", "pkg.mod:attr"), ("two", "pkg.mod : obj.sub [extra]"), ("three", "eggy")]
    assert sorted(_listed("demo.group")) == sorted(expected)
    assert sorted((ep.name, ep.value) for ep in entry_points("demo.group")) == sorted(expected)


def test_a_zip_on_the_path_is_read_by_importlib(tmp_path, monkeypatch):
    archive = tmp_path / "dists.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped\n")
        zf.writestr("zipped-1.0.dist-info/entry_points.txt", "[demo.zip]\nz = json:dumps\n")
    monkeypatch.syspath_prepend(str(archive))
    assert [(ep.name, ep.value) for ep in entry_points("demo.zip")] == [("z", "json:dumps")]


def test_load_imports_the_module_and_follows_attributes():
    import json.decoder

    assert EntryPoint("d", "json.decoder:JSONDecoder.decode", "g").load() is (
        json.decoder.JSONDecoder.decode
    )
    assert EntryPoint("m", "json [extra]", "g").load() is sys.modules["json"]
    with pytest.raises(ValueError, match="malformed entry point value 'not a value'"):
        EntryPoint("x", "not a value", "g").load()


def test_the_registry_does_not_import_importlib_metadata():
    code = ("import sys; from rawconv.formats import registry; registry.formats(); "
            "print('importlib.metadata' in sys.modules)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
