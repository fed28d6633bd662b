"""glibc's thresholds for large allocations, set by the commands (``rawconv/malloc.py``)."""

from __future__ import annotations

import pytest
from rawconv.parallel import cli as parallel_cli

from rawconv import cli, malloc


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1


@pytest.fixture
def libc(monkeypatch):
    fake = FakeLibc()
    monkeypatch.setattr(malloc.ctypes, "CDLL", lambda name: fake)
    monkeypatch.setattr(malloc, "_tuned", False)
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    return fake


def test_thresholds_are_set_once(libc):
    malloc.tune_malloc()
    malloc.tune_malloc()
    assert libc.calls == [(-3, 32 << 20), (-1, 64 << 20)]  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD


@pytest.mark.parametrize("name", ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"])
def test_a_users_setting_is_kept_by_the_commands_only(libc, monkeypatch, name):
    monkeypatch.setenv(name, "131072")
    malloc.tune_malloc(keep_user_settings=True)
    assert libc.calls == []
    malloc.tune_malloc()  # the parallel tasks: Dask sets MALLOC_TRIM_THRESHOLD_ itself
    assert len(libc.calls) == 2


def test_a_c_library_without_mallopt_changes_nothing(monkeypatch):
    monkeypatch.setattr(malloc, "_tuned", False)
    monkeypatch.setattr(malloc.ctypes, "CDLL", lambda name: object())
    malloc.tune_malloc()  # no AttributeError
    assert malloc._tuned


@pytest.mark.parametrize("main", [cli.main, parallel_cli.main], ids=["rawconv", "parallel"])
def test_the_commands_set_them_first(libc, main, capsys):
    with pytest.raises(SystemExit):
        main(["--version"])  # argparse exits after its parser ran
    assert libc.calls == [(-3, 32 << 20), (-1, 64 << 20)]
