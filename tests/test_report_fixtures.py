"""A real custody case with a real reveal, for the report and export tests (and the benchmark).

``build_case`` runs the whole chain with real parts: a workspace (SQLite, Argon2id "fast"
test profile), users, a public video whose frames carry ROI messages embedded by the real
stego code (FFV1, lossless), a real U_d network (small, seeded random weights, exported as
safetensors with its model card) sealed for the supervisor, a signed request and grant, and
``RevealSession.write`` producing the PNGs and ``reveal.json``. Only the decoder's training is
skipped: the reports do not depend on how good the reconstruction is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from forensics_app.core.custody import (
    Workspace,
    add_evidence,
    add_user,
    approve,
    create_case,
    create_request,
    login,
    seal_model,
)
from forensics_app.core.custody.reveal import RevealSession
from forensics_app.core.stego import RoiMessage, embed
from forensics_app.core.video import VideoWriter
from forensics_app.uunet.export import export_model
from forensics_app.uunet.inference import FaceDecoder
from forensics_app.uunet.networks import build_network

PASS = {"carol": "demo-carol", "alice": "demo-alice", "bob": "demo-bob"}
SAMPLE = Path(__file__).resolve().parents[1] / "resources" / "samples" / "vtest_cut.avi"
#: Head-sized boxes (x, y, w, h) near pedestrians of vtest; they drift 2 px per frame.
BOXES = ((388, 205, 16, 20), (533, 166, 14, 18), (95, 300, 22, 26))


@dataclass
class Case:
    root: Path
    case_id: str
    empty_case_id: str
    evidence_sha256: str
    grant_id: str
    request_id: str
    model_sha256: str
    reveal_dir: Path
    frames: int

    def open(self) -> Workspace:
        return Workspace.open(self.root / "ws")


def make_public_video(path: Path, frames: int, start: int = 40) -> None:
    """FFV1 video of ``frames`` sample frames, each carrying its ROI message."""
    cap = cv2.VideoCapture(str(SAMPLE))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    writer = None
    for i in range(frames):
        ok, bgr = cap.read()
        assert ok, "sample clip too short"
        if writer is None:
            writer = VideoWriter(path, bgr.shape[1], bgr.shape[0], 10, codec="ffv1")
        boxes = tuple((x + 2 * i, y, w, h) for x, y, w, h in BOXES)
        writer.write(embed(bgr, RoiMessage(stream_id=7, frame_index=i, boxes=boxes)))
    cap.release()
    assert writer is not None
    writer.close()


def make_decoder(folder: Path) -> tuple[Path, dict]:
    """A small real U_d with seeded weights, as safetensors + model card."""
    torch.manual_seed(0)
    config = {"base": 8, "depth": 2}
    net = build_network("unet_decoder", **config).eval()
    metrics = {"psnr_db_box24": 21.5, "ssim_box24": 0.61, "identity_error_rate": 0.18}
    card = export_model(
        net, "unet_decoder", config, folder / "ud.safetensors", role="decoder",
        data={"name": "test faces"}, metrics=metrics,
    )  # fmt: skip
    return folder / "ud.safetensors", card


def build_case(root: Path, frames: int = 6, reveal: bool = True) -> Case:
    """Build the workspace and case under ``root`` (see the module docstring)."""
    root.mkdir(parents=True, exist_ok=True)
    ws = Workspace.open(root / "ws", create=True)
    try:
        add_user(ws, "carol", "admin", PASS["carol"], kdf_profile="fast")
        carol = login(ws, "carol", PASS["carol"])
        add_user(ws, "alice", "analyst", PASS["alice"], by=carol, kdf_profile="fast")
        add_user(ws, "bob", "supervisor", PASS["bob"], by=carol, kdf_profile="fast")
        alice, bob = login(ws, "alice", PASS["alice"]), login(ws, "bob", PASS["bob"])
        weights, card = make_decoder(root)
        model = seal_model(ws, weights, card, ["bob"], carol)
        video = root / "public.mkv"
        make_public_video(video, frames)
        create_case(ws, alice, "CASE-7", "Robbery at the bus stop")
        create_case(ws, alice, "CASE-8", "No reveal yet")
        sha = add_evidence(ws, alice, "CASE-7", video).sha256
        add_evidence(ws, alice, "CASE-8", video)
        request = create_request(
            ws, alice, "CASE-7", sha, (0, frames - 1),
            "identify the suspect of the robbery", "warrant 2026/117 of the district court",
        )  # fmt: skip
        grant = approve(ws, bob, request.id)
        out = root / "reveal"
        if reveal:
            with RevealSession(ws, alice, grant, FaceDecoder.from_bytes) as session:
                session.write(out)
        return Case(root, "CASE-7", "CASE-8", sha, grant.id, request.id, model.model_sha256,
                    out, frames)  # fmt: skip
    finally:
        ws.close()


_SHARED: dict[Path, Case] = {}


def shared_case(factory) -> Case:
    """One 4-frame case per test session, shared by the report and export test modules.

    (A session fixture imported into two modules would be built once per module.) Tests
    may add log rows and write files under ``case.root`` but must leave the reveal as it is.
    """
    base = factory.getbasetemp()
    if base not in _SHARED:
        _SHARED[base] = build_case(base / "report_case", frames=4)
    return _SHARED[base]


def test_built_case_reveals_every_face(tmp_path_factory) -> None:
    """The builder's reveal is real: every frame's message reads and every box is revealed."""
    case = shared_case(tmp_path_factory)
    manifest = json.loads((case.reveal_dir / "reveal.json").read_text())
    assert [s["status"] for s in manifest["frame_status"]] == ["ok"] * 4
    assert [s["faces"] for s in manifest["frame_status"]] == [3] * 4
    public = cv2.imread(str(case.reveal_dir / "frame_000001_public.png"))
    recon = cv2.imread(str(case.reveal_dir / "unmarked" / "frame_000001_reconstructed.png"))
    assert public.shape == recon.shape == (576, 768, 3)
    x, y, w, h = BOXES[0][0] + 2, BOXES[0][1], BOXES[0][2], BOXES[0][3]
    assert not np.array_equal(public[y : y + h, x : x + w], recon[y : y + h, x : x + w])
    assert np.array_equal(public[:100], recon[:100])  # outside the faces nothing changes
