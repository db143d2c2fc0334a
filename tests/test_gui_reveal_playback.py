"""The reveal worker during playback: frames asked for one after another come from the
core's range reveal (decoded ahead, U_d batched) and are the frames a single reveal makes;
a jump, a save and a revocation in between behave as without it."""

from __future__ import annotations

from pathlib import Path

import gui_support as support
import numpy as np
import pytest

from forensics_app.core.custody.cases import list_evidence
from forensics_app.core.custody.reveal import RevealSession
from forensics_app.core.custody.unlock import approve, create_request, revoke
from forensics_app.core.custody.users import login
from forensics_app.core.custody.workspace import Workspace
from forensics_app.gui.reveal_worker import RevealWorker
from forensics_app.uunet.inference import FaceDecoder


@pytest.fixture
def granted(gui_template: Path, tmp_path: Path) -> tuple[Path, object, str]:
    root = support.copy_workspace(gui_template, tmp_path / "ws")
    with Workspace.open(root) as ws:
        alice = login(ws, "alice", support.PASSPHRASES["alice"])
        bob = login(ws, "bob", support.PASSPHRASES["bob"])
        sha = list_evidence(ws, support.CASE)[0].sha256
        request = create_request(ws, alice, support.CASE, sha, (0, 29), "playback", "n/a")
        grant = approve(ws, bob, request.id)
    return root, alice, grant.id


def _worker(qtbot, root: Path, alice, grant_id: str):  # noqa: ANN001, ANN202
    worker = RevealWorker(root, alice, grant_id)
    shown: list = []
    refused: list = []
    worker.revealed.connect(lambda frame, ms: shown.append(frame))
    worker.refused.connect(lambda index, text: refused.append((index, text)))
    opened: list = []
    worker.opened.connect(opened.append)
    qtbot.waitUntil(lambda: bool(opened), timeout=60000)
    return worker, shown, refused


def _play(qtbot, worker, shown: list, frames) -> None:  # noqa: ANN001
    for index in frames:
        before = len(shown)
        worker.request(index)
        qtbot.waitUntil(lambda b=before: len(shown) > b, timeout=30000)
        assert shown[-1].index == index


def test_playback_reveals_the_same_frames_as_one_at_a_time(qtbot, granted, tmp_path) -> None:
    root, alice, grant_id = granted
    with (
        Workspace.open(root) as ws,
        RevealSession(ws, alice, grant_id, FaceDecoder.from_bytes) as session,
    ):
        single = {i: session.reveal_frame(i) for i in (3, 4, 5, 6, 12, 20, 21, 29)}
    worker, shown, refused = _worker(qtbot, root, alice, grant_id)
    try:
        _play(qtbot, worker, shown, [3, 4, 5, 6])  # playback: a range from frame 4 on
        assert worker._ahead is not None
        _play(qtbot, worker, shown, [20, 21])  # a jump ends it; the next frame starts one
        _play(qtbot, worker, shown, [12, 29])
        got = {f.index: f for f in shown}
        for index, want in single.items():
            assert np.array_equal(got[index].reconstructed_bgr, want.reconstructed_bgr), index
            assert [f.box for f in got[index].faces] == [f.box for f in want.faces]
        saved: list = []
        worker.written.connect(saved.append)
        _play(qtbot, worker, shown, [13, 14])  # a range open when the save starts
        worker.write(tmp_path / "saved")
        qtbot.waitUntil(lambda: bool(saved), timeout=60000)
        assert worker._ahead is None
        _play(qtbot, worker, shown, [15, 16, 17])
        assert refused == []
    finally:
        worker.close()


def test_a_grant_revoked_during_playback_stops_it(qtbot, granted) -> None:
    root, alice, grant_id = granted
    worker, shown, refused = _worker(qtbot, root, alice, grant_id)
    try:
        _play(qtbot, worker, shown, [0, 1, 2])
        with Workspace.open(root) as ws:
            revoke(ws, login(ws, "bob", support.PASSPHRASES["bob"]), grant_id, "case closed")
        for index in range(3, 20):  # within one batch of frames at most, it is refused
            worker.request(index)
            qtbot.waitUntil(
                lambda i=index: (shown and shown[-1].index == i) or bool(refused), timeout=30000
            )
            if refused:
                break
        assert refused and "revoked" in refused[0][1]
        assert refused[0][0] <= 3 + 8
        assert worker._ahead is None
    finally:
        worker.close()
