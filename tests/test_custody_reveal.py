"""Reveal end to end: a real public stream with hidden ROIs, a real (small, untrained) U_d
sealed for the supervisors, a grant, and the reconstructed frames on disk."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from custody_support import PASS, World, make_world, request
from pg_support import RawSQL

from forensics_app.core import custody as cu
from forensics_app.core.stego import RoiMessage, embed
from forensics_app.core.video import VideoReader, VideoWriter
from forensics_app.errors import EvidenceError, PermissionDenied, VerificationError
from forensics_app.uunet.export import export_model
from forensics_app.uunet.inference import FaceDecoder
from forensics_app.uunet.networks import build_network

BOXES = ((120, 80, 24, 32), (400, 300, 18, 22))
N_FRAMES = 6
NO_MESSAGE = 3  # this frame carries no hidden message


@pytest.fixture(scope="module")
def public_stream(tmp_path_factory: pytest.TempPathFactory, sample_video: Path) -> Path:
    out = tmp_path_factory.mktemp("public") / "public.mkv"
    with VideoReader(sample_video) as reader:
        info = reader.info
        writer = VideoWriter(out, info.width, info.height, 10, codec="ffv1")
        for frame in reader.frames(0, N_FRAMES):
            image = frame.image
            if frame.index != NO_MESSAGE:
                image = embed(image, RoiMessage(7, frame.index, BOXES))
            writer.write(image)
        writer.close()
    return out


@pytest.fixture(scope="module")
def decoder_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict]:
    torch.manual_seed(0)
    module = build_network("unet_decoder", base=8, depth=2)
    path = tmp_path_factory.mktemp("ud") / "ud.safetensors"
    card = export_model(module, "unet_decoder", {"base": 8, "depth": 2}, path, role="decoder")
    return path.read_bytes(), card


@pytest.fixture
def world(
    tmp_path: Path, monkeypatch, public_stream: Path, decoder_files, custody_db: str | None
) -> World:
    weights, card = decoder_files
    w = make_world(
        tmp_path, monkeypatch, evidence=public_stream, weights=weights, card=card, db=custody_db
    )
    yield w
    w.ws.close()


def _grant(world: World, frames=(0, N_FRAMES - 1), **kw) -> cu.UnlockGrant:
    return cu.approve(world.ws, world.bob, request(world, frames=frames).id, **kw)


def test_reveal_writes_the_fixed_names_and_a_true_manifest(world: World, tmp_path: Path) -> None:
    grant = _grant(world, frames=(1, 4))
    out = tmp_path / "reveal"
    with cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes) as session:
        manifest_path = session.write(out)
    manifest = json.loads(manifest_path.read_text())
    assert manifest["grant_id"] == grant.id and manifest["frames"] == [1, 4]
    assert manifest["model_sha256"] == world.model.model_sha256
    status = {s["frame"]: (s["status"], s["faces"]) for s in manifest["frame_status"]}
    assert status == {1: ("ok", 2), 2: ("ok", 2), 3: ("none", 0), 4: ("ok", 2)}
    names = {f["file"] for f in manifest["files"]}
    assert "frame_000001_public.png" in names and "frame_000003_reconstructed.png" in names
    assert "frame_000002_face_2_reconstructed.png" in names  # faces numbered from 1
    assert not any("_face_0_" in n for n in names)
    assert "frame_000003_face_1_public.png" not in names
    assert "frame_000000_public.png" not in names  # outside the requested range
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert names | {"reveal.json"} == on_disk
    for entry in manifest["files"]:
        data = (out / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
        if entry["kind"].startswith("face"):
            assert tuple(entry["box"]) in BOXES
    last = list(world.ws.audit.entries())[-1]
    assert last["action"] == "reveal" and last["actor"] == "alice"
    assert last["object_sha256"] == hashlib.sha256(manifest_path.read_bytes()).hexdigest()
    assert "consultation" in [r["action"] for r in world.ws.audit.entries()]
    world.ws.audit.verify()


def test_reconstruction_is_the_decoder_output_pasted_in_the_boxes(
    world: World, decoder_files
) -> None:
    grant = _grant(world)
    weights, card = decoder_files
    reference = FaceDecoder.from_bytes(weights, card)
    with cu.RevealSession(world.ws, world.alice, grant, FaceDecoder.from_bytes) as session:
        frame = session.reveal_frame(2)
    assert frame.status == "ok" and [f.box for f in frame.faces] == list(BOXES)
    mask = np.zeros(frame.public_bgr.shape[:2], bool)
    batch = np.stack(
        [cv2.resize(f.public_crop, (64, 64), interpolation=cv2.INTER_LINEAR) for f in frame.faces]
    )
    expected = reference.decode(batch)  # the same batch the session decoded
    for face, out64 in zip(frame.faces, expected, strict=True):
        x, y, w, h = face.box
        mask[y : y + h, x : x + w] = True
        assert np.array_equal(frame.public_bgr[y : y + h, x : x + w], face.public_crop)
        assert np.array_equal(
            frame.reconstructed_bgr[y : y + h, x : x + w], face.reconstructed_crop
        )
        interp = cv2.INTER_AREA if w < 64 else cv2.INTER_LINEAR
        assert np.array_equal(
            cv2.resize(out64, (w, h), interpolation=interp), face.reconstructed_crop
        )
        assert not np.array_equal(face.reconstructed_crop, face.public_crop)
    assert np.array_equal(frame.reconstructed_bgr[~mask], frame.public_bgr[~mask])


def test_frames_outside_the_grant_are_refused(world: World, tmp_path: Path) -> None:
    grant = _grant(world, frames=(1, 2))
    with cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes) as session:
        session.reveal_frame(2)
        with pytest.raises(PermissionDenied, match="outside"):
            session.reveal_frame(3)
        with pytest.raises(PermissionDenied):
            session.write(tmp_path / "x", frames=(0, 2))


def test_only_the_requester_can_reveal(world: World) -> None:
    grant = _grant(world)
    with pytest.raises(PermissionDenied, match="issued to alice"):
        cu.RevealSession(world.ws, world.bob, grant.id, FaceDecoder.from_bytes)


def test_revocation_stops_an_open_session(world: World) -> None:
    grant = _grant(world)
    session = cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes)
    session.reveal_frame(0)
    cu.revoke(world.ws, world.dave, grant.id, "withdrawn")
    with pytest.raises(PermissionDenied, match="revoked"):
        session.reveal_frame(1)
    with pytest.raises(PermissionDenied):
        cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes)


def test_a_range_reveal_equals_frame_by_frame(world: World) -> None:
    grant = _grant(world)
    with cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes) as session:
        one_by_one = [session.reveal_frame(i) for i in range(N_FRAMES)]
        # batches of 4 frames: 8 faces per U_d call, split across a batch boundary too
        ranged = list(session.reveal_range(0, N_FRAMES - 1, batch_frames=4))
        assert len(session.reveal_frame(5).faces) == 2  # the reader still serves frames
    assert [f.index for f in ranged] == list(range(N_FRAMES))
    for a, b in zip(one_by_one, ranged, strict=True):
        assert (a.status, a.timestamp_s, len(a.faces)) == (b.status, b.timestamp_s, len(b.faces))
        assert np.array_equal(a.public_bgr, b.public_bgr)
        # U_d on a batch of 8 or of 2 faces: the same faces to within one grey level
        diff = np.abs(a.reconstructed_bgr.astype(int) - b.reconstructed_bgr.astype(int))
        assert diff.max() <= 1
        assert [f.box for f in a.faces] == [f.box for f in b.faces]


def test_a_range_reveal_stops_at_the_next_batch_after_revocation(world: World) -> None:
    grant = _grant(world)
    session = cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes)
    frames = session.reveal_range(0, N_FRAMES - 1, batch_frames=2)
    assert [next(frames).index, next(frames).index] == [0, 1]
    cu.revoke(world.ws, world.dave, grant.id, "withdrawn")
    with pytest.raises(PermissionDenied, match="revoked"):
        next(frames)
    row = list(world.ws.audit.entries())[-1]
    assert (row["action"], row["outcome"]) == ("consultation", "denied")
    with pytest.raises(PermissionDenied, match="closed"):
        session.reveal_frame(0)  # the decoder went with the grant


def test_a_range_reveal_left_early_stops_its_decoding_thread(world: World) -> None:
    import threading

    grant = _grant(world)
    with cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes) as session:
        frames = session.reveal_range(0, N_FRAMES - 1, batch_frames=1)
        assert next(frames).index == 0
        frames.close()  # the analyst stops after one frame
        assert not [t for t in threading.enumerate() if t.name == "reveal-decode"]
        with pytest.raises(PermissionDenied, match="outside"):
            next(session.reveal_range(0, N_FRAMES))  # past the grant: refused up front


def test_changed_evidence_is_refused_before_any_key_is_used(
    world: World, tmp_path: Path, public_stream: Path
) -> None:
    grant = _grant(world)
    copy = tmp_path / "copy.mkv"
    copy.write_bytes(public_stream.read_bytes()[:-1] + b"\x00")
    RawSQL(world.ws).execute("UPDATE evidence SET path=?", (str(copy),))
    with pytest.raises(EvidenceError, match="changed"):
        cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes)
    assert list(world.ws.audit.entries())[-1]["outcome"] == "failure"


def test_reveal_cli(world: World, tmp_path: Path, monkeypatch, capsys) -> None:
    from forensics_app.cli import main

    grant = _grant(world, frames=(0, 1))
    monkeypatch.setenv("FORENSICS_PASSPHRASE", PASS["alice"])
    out = tmp_path / "cli-reveal"
    argv = ["--workspace", str(world.root), "reveal", grant.id, "--as", "alice", "--out", str(out)]
    assert main(argv) == 0
    assert "2 frames, 4 faces" in capsys.readouterr().out
    assert (out / "frame_000001_face_1_reconstructed.png").is_file()
    assert main(argv) == 1  # the folder is no longer empty


def test_reveal_fails_closed_when_the_log_cannot_be_written(world: World, tmp_path: Path) -> None:
    from forensics_app.errors import StoreError

    grant = _grant(world, frames=(0, 1))
    session = cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes)
    RawSQL(world.ws).jam_audit("jam")
    out = tmp_path / "never"
    with pytest.raises(StoreError, match="jam"):
        session.write(out)
    assert list(out.iterdir()) == []  # no frame left behind without its log row
    with pytest.raises(StoreError):  # and no new session (no decryption without a row)
        cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes)
    session.close()


# --- issue #14 item 8: owner-only output that appears in one step -------------------------


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_reveal_is_built_aside_owner_only_and_moved_into_place(
    world: World, tmp_path: Path
) -> None:
    import os
    import stat

    grant = _grant(world, frames=(0, 2))
    out = tmp_path / "reveal"
    stale = tmp_path / f".partial-reveal-{_dead_pid()}-x1"  # left by a killed reveal
    stale.mkdir()
    (stale / "frame_000000_face_0_reconstructed.png").write_bytes(b"a face")
    running = tmp_path / f".partial-reveal-{os.getpid()}-x2"  # another reveal, still running
    running.mkdir()
    seen: list[tuple[list[str], list[str]]] = []

    def watch(done: int, total: int) -> None:
        partials = [p for p in tmp_path.glob(f".partial-reveal-{os.getpid()}-*") if p != running]
        seen.append(([p.name for p in out.iterdir()], [p.name for p in partials[0].iterdir()]))

    with cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes) as session:
        session.write(out, progress=watch)
    assert not stale.exists() and running.exists()
    assert all(in_out == [] for in_out, _ in seen)  # nothing visible until it is logged
    assert "frame_000001_face_1_reconstructed.png" in seen[1][1]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    modes = {stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}
    assert modes == {0o600}, modes
    assert stat.S_IMODE((out / "unmarked").stat().st_mode) == 0o700
    assert not [p for p in tmp_path.glob(".partial-reveal-*") if p != running]


# --- issue #14 item 9: every hidden message checked against the camera key -----------------

CAMERA_KEY = b"camera-7 roi mac key"
FORGED = 2  # this frame's message was re-embedded by someone without the camera key


@pytest.fixture(scope="module")
def keyed_stream(tmp_path_factory: pytest.TempPathFactory, sample_video: Path) -> Path:
    out = tmp_path_factory.mktemp("keyed") / "keyed.mkv"
    with VideoReader(sample_video) as reader:
        info = reader.info
        writer = VideoWriter(out, info.width, info.height, 10, codec="ffv1")
        for frame in reader.frames(0, N_FRAMES):
            forged = frame.index == FORGED
            boxes = ((300, 200, 24, 32),) if forged else BOXES  # the boxes moved elsewhere
            key = b"not the camera key" if forged else CAMERA_KEY
            writer.write(embed(frame.image, RoiMessage(7, frame.index, boxes), key=key))
        writer.close()
    return out


@pytest.fixture
def keyed_world(
    tmp_path: Path, monkeypatch, keyed_stream: Path, decoder_files, custody_db: str | None
) -> World:
    weights, card = decoder_files
    w = make_world(tmp_path, monkeypatch, weights=weights, card=card, db=custody_db)
    record = cu.add_evidence(w.ws, w.alice, w.case_id, keyed_stream, camera_key=CAMERA_KEY)
    w.evidence_sha256 = record.sha256
    yield w
    w.ws.close()


def test_a_forged_roi_message_is_refused_named_and_logged(keyed_world: World, tmp_path) -> None:
    world = keyed_world
    grant = _grant(world)
    with cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes) as session:
        assert len(session.reveal_frame(1).faces) == 2  # authentic: MAC verified
        with pytest.raises(VerificationError) as caught:
            session.reveal_frame(FORGED)
        assert str(caught.value) == (
            f"frame {FORGED} of keyed.mkv: its ROI message fails the camera key (MAC mismatch: "
            "wrong key or forged message); not revealed"
        )
        row = list(world.ws.audit.entries())[-1]
        assert (row["action"], row["outcome"]) == ("consultation", "denied")
        assert json.loads(row["details"])["reason"] == str(caught.value)
        with pytest.raises(VerificationError, match=f"frame {FORGED} of keyed.mkv"):
            list(session.reveal_range(0, FORGED))  # the range reveal stops at it too
        with pytest.raises(VerificationError, match=f"frame {FORGED} of keyed.mkv"):
            session.write(tmp_path / "all")  # a range holding the forged frame: nothing kept
        manifest = json.loads(session.write(tmp_path / "good", frames=(0, 1)).read_text())
    assert manifest["roi_mac"] == "verified with the camera key kept with the evidence"
    assert not (tmp_path / "all").exists() or not any((tmp_path / "all").iterdir())


def test_a_camera_key_swapped_in_the_database_is_refused(keyed_world: World) -> None:
    world = keyed_world
    grant = _grant(world)
    con = RawSQL(world.ws)
    row = con.execute("SELECT details FROM evidence WHERE sha256=?", (world.evidence_sha256,))
    details = json.loads(row.fetchone()[0])
    details["camera_key"] = base64.b64encode(b"not the camera key").decode()  # forger's key
    con.execute(
        "UPDATE evidence SET details=? WHERE sha256=?", (json.dumps(details), world.evidence_sha256)
    )
    con.close()
    with pytest.raises(VerificationError, match="camera key kept with evidence keyed.mkv is not"):
        cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes)


def test_evidence_add_takes_the_camera_key_file(
    world: World, keyed_stream: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    from forensics_app.cli import main

    key_file = tmp_path / "camera.key"
    key_file.write_bytes(CAMERA_KEY)
    monkeypatch.setenv("FORENSICS_PASSPHRASE", PASS["alice"])
    argv = ["--workspace", str(world.root), "evidence", "add", world.case_id, str(keyed_stream)]
    assert main([*argv, "--camera-key", str(key_file), "--as", "alice"]) == 0
    sha = capsys.readouterr().out.strip()
    record = cu.get_evidence(world.ws, world.case_id, sha)
    assert cu.cases.camera_key(world.ws, record) == CAMERA_KEY
