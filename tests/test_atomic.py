"""core.atomic: the one way files are replaced (whole new file or old file, never half)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from forensics_app.core.atomic import PUBLIC, atomic_open, atomic_write_bytes


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder of its own (tmp_path also holds the test's fake home)."""
    path = tmp_path / "out"
    path.mkdir()
    return path


def test_writes_new_file_private_by_default(folder: Path) -> None:
    target = folder / "out.bin"
    atomic_write_bytes(target, b"hello")
    assert target.read_bytes() == b"hello"
    if os.name == "posix":
        assert _mode(target) == 0o600
    assert [p.name for p in folder.iterdir()] == ["out.bin"]


def test_replaces_existing_file_with_requested_mode(folder: Path) -> None:
    target = folder / "card.json"
    target.write_bytes(b"old")
    atomic_write_bytes(target, b"new", PUBLIC)
    assert target.read_bytes() == b"new"
    if os.name == "posix":
        assert _mode(target) == 0o644


def test_failure_inside_block_keeps_old_file_and_removes_temp(folder: Path) -> None:
    target = folder / "model.safetensors"
    target.write_bytes(b"old contents")
    with pytest.raises(RuntimeError, match="disk full"), atomic_open(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in folder.iterdir()] == ["model.safetensors"]


def test_failed_replace_keeps_old_file_and_removes_temp(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = folder / "report.pdf"
    target.write_bytes(b"old")

    def refuse(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in folder.iterdir()] == ["report.pdf"]


def test_missing_folder_raises_oserror(folder: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(folder / "absent" / "x.bin", b"x")


def test_prefix_names_the_temporary_file(folder: Path) -> None:
    target = folder / "meta.jsonl"
    with atomic_open(target, prefix=".tmp-meta.jsonl.") as handle:
        handle.write(b"{}")
        (temp,) = [p for p in folder.iterdir() if p.name != "meta.jsonl"]
        assert temp.name.startswith(".tmp-meta.jsonl.")
    assert target.read_bytes() == b"{}"
