"""Issue #14 item 8: the workspace (wrapped private keys, the log) is owner-only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from custody_support import World, make_world

from forensics_app.core import custody as cu


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    w = make_world(tmp_path, monkeypatch)
    yield w
    w.ws.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_workspace_is_owner_only(world: World) -> None:
    root = world.root
    assert _mode(root) == 0o700 and _mode(root / "keys") == 0o700
    assert _mode(root / "workspace.sqlite") == 0o600
    assert _mode(root / "workspace.sqlite-wal") == 0o600  # SQLite copies the database's mode
    assert _mode(root / "keys" / "audit-log.ed25519") == 0o600


def test_an_older_world_readable_workspace_is_tightened_on_open(world: World) -> None:
    world.ws.close()
    os.chmod(world.root, 0o755)
    os.chmod(world.root / "workspace.sqlite", 0o644)
    with cu.Workspace.open(world.root) as ws:
        assert ws.audit.size() > 0
    assert _mode(world.root) == 0o700 and _mode(world.root / "workspace.sqlite") == 0o600
