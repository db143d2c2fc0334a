"""One reader of camera key files: the short key refused where a key will mark messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics_app.commands.deidentify import _read_key
from forensics_app.core.stego.scan import MIN_CAMERA_KEY_BYTES, read_key_file
from forensics_app.errors import InputError


def _key(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "camera.key"
    path.write_bytes(data)
    return path


def test_short_key_refused_for_marking(tmp_path: Path) -> None:
    path = _key(tmp_path, b"k" * (MIN_CAMERA_KEY_BYTES - 1))
    with pytest.raises(InputError, match="holds 15 bytes; a camera key needs 16 or more"):
        read_key_file(path, MIN_CAMERA_KEY_BYTES)
    with pytest.raises(InputError, match="needs 16 or more"):
        _read_key(str(path))


def test_key_of_minimum_length_accepted(tmp_path: Path) -> None:
    key = bytes(range(MIN_CAMERA_KEY_BYTES))
    assert _read_key(str(_key(tmp_path, key))) == key
    assert _read_key(None) is None


def test_checking_accepts_any_non_empty_key(tmp_path: Path) -> None:
    assert read_key_file(_key(tmp_path, b"x")) == b"x"
    with pytest.raises(InputError, match="is empty"):
        read_key_file(_key(tmp_path, b""))


def test_missing_key_file_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read key file"):
        read_key_file(tmp_path / "absent.key", MIN_CAMERA_KEY_BYTES)
