"""Shared builders for the custody tests: a workspace with the four demo roles, fast KDF."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pg_support
import pytest
from safetensors.numpy import save

from forensics_app.core import custody as cu

PASS = {n: f"demo-{n}" for n in ("alice", "bob", "carol", "dave", "erin")}


@dataclass
class World:
    ws: cu.Workspace
    root: Path
    carol: cu.UserSession  # admin
    alice: cu.UserSession  # analyst
    bob: cu.UserSession  # supervisor, slot holder
    dave: cu.UserSession  # supervisor, slot holder
    erin: cu.UserSession  # supervisor, NOT a holder
    weights: bytes
    model: cu.SealedModel
    case_id: str
    evidence_sha256: str


#: Frames in the small evidence video of :func:`fake_evidence`.
EVIDENCE_FRAMES = 40


def fake_evidence(path: Path, frames: int = EVIDENCE_FRAMES) -> Path:
    """A small real video (FFV1, 64×48, ``frames`` distinct frames) to take in as evidence.

    Requests are checked against the evidence's frame count, so it must be a real video.
    """
    from forensics_app.core.video import VideoWriter

    writer = VideoWriter(path, 64, 48, 10, codec="ffv1")
    for i in range(frames):
        writer.write(np.full((48, 64, 3), (i * 5) % 256, dtype=np.uint8))
    writer.close()
    return path


def new_workspace(root: Path, db: str | None = None, checkpoint_every: int = 8) -> cu.Workspace:
    """A new workspace at ``root``: SQLite, or on the PostgreSQL database ``db`` (an owner
    URL) reopened as the application role, as every later command opens it."""
    if db is None:
        return cu.Workspace.open(root, create=True, checkpoint_every=checkpoint_every)
    cu.Workspace.open(root, create=True, db=db, app_role=pg_support.APP).close()
    return cu.Workspace.open(root, checkpoint_every=checkpoint_every)


def copy_lab(world: World, target: Path) -> cu.Workspace:
    """A second lab made from this one: a copy of the folder (SQLite), or of the folder and
    its database into a fresh one on the same server (PostgreSQL); opened."""
    if world.ws.store.backend == "sqlite":
        shutil.copytree(world.root, target)
        return cu.Workspace.open(target)
    from forensics_app.core.custody.migrate import copy_workspace

    db = pg_support.sibling_database(world.ws.store.url)
    copy_workspace(world.ws, target, db, app_role=pg_support.APP)
    return cu.Workspace.open(target)


def make_world(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    evidence: Path | None = None,
    weights: bytes | None = None,
    card: dict | None = None,
    db: str | None = None,
) -> World:
    monkeypatch.setenv("FORENSICS_KDF_PROFILE", "fast")
    root = tmp_path / "ws"
    ws = new_workspace(root, db)
    cu.add_user(ws, "carol", "admin", PASS["carol"])
    carol = cu.login(ws, "carol", PASS["carol"])
    cu.add_user(ws, "alice", "analyst", PASS["alice"], by=carol)
    for name in ("bob", "dave", "erin"):
        cu.add_user(ws, name, "supervisor", PASS[name], by=carol)
    sessions = {n: cu.login(ws, n, PASS[n]) for n in ("alice", "bob", "dave", "erin")}
    if weights is None:
        weights = save({"w": np.arange(64, dtype=np.float32).reshape(8, 8)}, {"arch": "test"})
    wpath = tmp_path / "ud.safetensors"
    wpath.write_bytes(weights)
    model = cu.seal_model(ws, wpath, card or {"name": "test"}, ["bob", "dave"], carol)
    cu.create_case(ws, sessions["alice"], "CASE-1", "test case")
    ev = cu.add_evidence(
        ws, sessions["alice"], "CASE-1", evidence or fake_evidence(tmp_path / "ev.mkv")
    )
    assert ev.sha256 == hashlib.sha256(Path(ev.path).read_bytes()).hexdigest()
    return World(ws, root, carol, weights=weights, model=model, case_id="CASE-1",
                 evidence_sha256=ev.sha256, **sessions)  # fmt: skip


def request(
    world: World, frames: tuple[int, int] = (0, 9), duration_s: int = 3600
) -> cu.UnlockRequest:
    return cu.create_request(
        world.ws, world.alice, world.case_id, world.evidence_sha256, frames,
        "identify the suspect of an assault", "court order 2026/117", duration_s,
    )  # fmt: skip
