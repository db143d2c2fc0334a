"""Track-scoped grants (issue #15 item 8): the analyst asks for one person's track, and the
custody core reconstructs that track's faces only.

A real public stream carries two people moving apart (two ROI boxes per frame, one frame
without a message); the request names track 2, a supervisor approves it, and the reveal
hands U_d the crops of track 2 alone. The attack: under that grant, asking for track 1's
face is refused and logged, and its pixels are never reconstructed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from custody_support import World, make_world

from forensics_app.core import custody as cu
from forensics_app.core.custody import unlock
from forensics_app.core.roi_tracks import (
    LINKER,
    MAX_GAP,
    link_tracks,
    parse_tracks,
    tracks_covering,
    tracks_of,
)
from forensics_app.core.stego import RoiMessage, embed
from forensics_app.core.video import VideoReader, VideoWriter
from forensics_app.errors import InputError, PermissionDenied, VerificationError
from forensics_app.uunet.export import export_model
from forensics_app.uunet.inference import FaceDecoder
from forensics_app.uunet.networks import build_network

N_FRAMES = 8
NO_MESSAGE = 4  # this frame carries no hidden message: the tracks bridge it


def boxes_at(i: int) -> tuple[tuple[int, int, int, int], ...]:
    """Person A walks right along the top, person B left along the bottom."""
    return ((100 + 6 * i, 80, 40, 48), (480 - 6 * i, 300, 36, 44))


# -- the linker ---------------------------------------------------------------------------


def test_linker_keeps_ids_over_short_gaps_and_starts_again_after_long_ones() -> None:
    frames = {i: boxes_at(i) for i in range(N_FRAMES) if i != NO_MESSAGE}
    ids = link_tracks(frames)
    assert all(ids[i] == [1, 2] for i in frames)  # stable across the missing frame
    assert [t.count for t in tracks_of(ids)] == [N_FRAMES - 1, N_FRAMES - 1]
    # a person unseen longer than MAX_GAP frames comes back as a new track
    late = {0: boxes_at(0)[:1], MAX_GAP + 2: boxes_at(0)[:1]}
    assert link_tracks(late) == {0: [1], MAX_GAP + 2: [2]}
    # ids are relative to the first frame linked; boxes carry a pick from one linking to another
    swapped = {i: boxes_at(i)[::-1] for i in range(3)}
    assert link_tracks(swapped, start=1) == {1: [1, 2], 2: [1, 2]}
    whole = link_tracks({0: boxes_at(0)[1:], **{i: boxes_at(i) for i in (1, 2)}})
    assert whole[2] == [2, 1]  # B was seen first, so B is track 1 from frame 0
    assert tracks_covering(link_tracks({i: boxes_at(i) for i in (1, 2)}), [(2, 2)]) == [2]
    # a small head moving more than its own width in a frame (the demo's walkers) stays one
    walker = [(261, 221, 13, 16), (267, 221, 13, 16), (274, 221, 13, 16), (288, 218, 13, 16)]
    assert link_tracks(dict(enumerate([[b] for b in walker]))) == {i: [1] for i in range(4)}
    # ... but not a box of another size, or one too far from where the walker was heading
    assert link_tracks({0: [walker[0]], 1: [(265, 221, 40, 48)]}) == {0: [1], 1: [2]}
    assert link_tracks({0: [walker[0]], 1: [walker[1]], 2: [(250, 221, 13, 16)]})[2] == [2]
    assert parse_tracks("3, 1,3") == (1, 3)
    with pytest.raises(InputError, match="bad track list"):
        parse_tracks("0")


# -- the custody core ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_people(tmp_path_factory: pytest.TempPathFactory, sample_video: Path) -> Path:
    out = tmp_path_factory.mktemp("public") / "two.mkv"
    with VideoReader(sample_video) as reader:
        info = reader.info
        writer = VideoWriter(out, info.width, info.height, 10, codec="ffv1")
        for frame in reader.frames(0, N_FRAMES):
            image = frame.image
            if frame.index != NO_MESSAGE:
                image = embed(image, RoiMessage(7, frame.index, boxes_at(frame.index)))
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
def world(tmp_path: Path, monkeypatch, two_people: Path, decoder_files) -> World:
    weights, card = decoder_files
    w = make_world(tmp_path, monkeypatch, evidence=two_people, weights=weights, card=card)
    yield w
    w.ws.close()


class CountingDecoder:
    """The real U_d, counting the crops it is handed (what the custody core let through)."""

    def __init__(self, weights: bytes, card: dict) -> None:
        self.inner = FaceDecoder.from_bytes(weights, card)
        self.crops = 0

    def decode(self, faces: np.ndarray) -> np.ndarray:
        self.crops += len(faces)
        return self.inner.decode(faces)


def _track_grant(world: World, tracks=(2,), frames=(0, N_FRAMES - 1)) -> cu.UnlockGrant:
    request = cu.create_request(
        world.ws, world.alice, world.case_id, world.evidence_sha256, frames,
        "identify the man walking left", "court order 2026/117", 3600, tracks=tracks,
    )  # fmt: skip
    assert request.doc["version"] == 2 and request.tracks == tuple(tracks)
    assert request.doc["track_linker"] == LINKER
    return cu.approve(world.ws, world.bob, request.id, reason="the order names him")


def test_a_track_scoped_grant_reconstructs_only_that_track(world: World) -> None:
    grant = _track_grant(world)
    assert grant.doc["version"] == 2 and grant.tracks == (2,)
    decoders: list[CountingDecoder] = []

    def factory(weights: bytes, card: dict) -> CountingDecoder:
        decoders.append(CountingDecoder(weights, card))
        return decoders[-1]

    with cu.RevealSession(world.ws, world.alice, grant.id, factory) as session:
        frame = session.reveal_frame(6)  # links frames 0-5 on the way
        assert session.track_ids(6) == [1, 2]
    assert [(f.index, f.track, f.box) for f in frame.faces] == [(2, 2, boxes_at(6)[1])]
    assert frame.withheld == 1 and decoders[0].crops == 1  # U_d never saw person A
    x, y, w, h = boxes_at(6)[0]
    untouched = frame.public_bgr[y : y + h, x : x + w]
    assert np.array_equal(frame.reconstructed_bgr[y : y + h, x : x + w], untouched)
    x, y, w, h = boxes_at(6)[1]
    assert not np.array_equal(frame.reconstructed_bgr[y : y + h, x : x + w],
                              frame.public_bgr[y : y + h, x : x + w])  # fmt: skip


def test_asking_for_another_track_is_refused_and_logged(world: World) -> None:
    """The attack: a grant for track 2 used to reconstruct track 1's face."""
    grant = _track_grant(world)
    with cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes) as session:
        with pytest.raises(PermissionDenied, match=r"track 1 is outside grant .*\(tracks 2\)"):
            session.reveal_frame(3, tracks=[1])
        with pytest.raises(PermissionDenied, match="track 1 is outside"):
            session.reveal_frame(3, tracks=[1, 2])
        assert [f.track for f in session.reveal_frame(3, tracks=[2]).faces] == [2]
    refused = [r for r in world.ws.audit.entries() if r["outcome"] != "success"]
    assert refused[-1]["action"] == "consultation"
    assert "track 1 is outside grant" in json.loads(refused[-1]["details"])["reason"]
    world.ws.audit.verify()


def test_the_log_and_the_reveal_record_the_track_scope(world: World, tmp_path: Path) -> None:
    grant = _track_grant(world)
    with cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes) as session:
        manifest = json.loads(session.write(tmp_path / "reveal").read_text())
    assert manifest["tracks"] == [2]
    status = {s["frame"]: (s["faces"], s["withheld"]) for s in manifest["frame_status"]}
    assert status[NO_MESSAGE] == (0, 0) and status[0] == (1, 1)
    faces = [f for f in manifest["files"] if f["kind"].startswith("face")]
    assert faces and {(f["face"], f["track"]) for f in faces} == {(2, 2)}
    from forensics_app.core.marking import png_texts

    marked = next(f for f in faces if f["kind"] == "face_reconstructed")
    texts = png_texts((tmp_path / "reveal" / marked["file"]).read_bytes())
    assert "face 2 · track 2" in texts["Description"]  # the burnt-in band names the track
    assert json.loads(texts["uunet-marking"])["track"] == 2
    rows = {r["action"]: json.loads(r["details"] or "{}") for r in world.ws.audit.entries()}
    for action in ("request", "approval", "consultation", "reveal"):
        assert rows[action]["tracks"] == [2], action
    assert rows["request"]["track_linker"] == LINKER


def test_every_face_grants_stay_version_1_and_say_so(world: World) -> None:
    request = cu.create_request(
        world.ws, world.alice, world.case_id, world.evidence_sha256, (0, 3),
        "identify both", "court order 2026/117", 3600,
    )  # fmt: skip
    grant = cu.approve(world.ws, world.bob, request.id)
    assert grant.doc["version"] == 1 and grant.tracks is None and "tracks" not in grant.doc
    with cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes) as session:
        frame = session.reveal_frame(1)
    assert len(frame.faces) == 2 and frame.withheld == 0
    assert all(f.track is None for f in frame.faces)


def test_forged_track_scopes_are_refused(world: World) -> None:
    grant = _track_grant(world)
    body = {k: v for k, v in grant.doc.items() if k != "signature"}
    # the approver widening the tracks in a grant of their own making
    wider = cu.UnlockGrant(unlock._signed({**body, "tracks": [1, 2]}, world.bob))
    with pytest.raises(VerificationError, match="exceeds the tracks"):
        cu.check_grant(world.ws, wider, world.alice)
    # a version-1 document cannot carry a track list a version-1 reader would ignore
    old = {**body, "version": 1}
    with pytest.raises(VerificationError, match="version 1 cannot name tracks"):
        cu.UnlockGrant.from_json(unlock.canonical_json(unlock._signed(old, world.bob)))
    other_rule = {**body, "track_linker": "someone-elses/9"}
    with pytest.raises(VerificationError, match="links tracks by"):
        cu.UnlockGrant.from_json(unlock.canonical_json(unlock._signed(other_rule, world.bob)))
    with pytest.raises(InputError, match="track ids from 1"):
        cu.create_request(
            world.ws, world.alice, world.case_id, world.evidence_sha256, (0, 3),
            "r", "a", 3600, tracks=[0],
        )  # fmt: skip


def test_the_cli_lists_tracks_and_files_a_track_request(
    world: World, two_people: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    from custody_support import PASS

    from forensics_app.cli import main

    assert main(["tracks", str(two_people), "--frames", "1-6"]) == 0
    out = capsys.readouterr().out
    assert "tracks in frames 1-6, linked from frame 0" in out  # the lanes' numbers
    assert "track   2  frames 1-6  5 boxes" in out
    assert main(["tracks", str(two_people), "--frames", "1-6", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["track"] for r in rows] == [1, 2] and rows[1]["faces"][0] == [1, 2]
    monkeypatch.setenv("FORENSICS_PASSPHRASE", PASS["alice"])
    base = ["--workspace", str(world.root), "request", world.case_id, "--as", "alice"]
    scope = ["--evidence", world.evidence_sha256, "--frames", "1-6", "--reason", "r"]
    assert main([*base, *scope, "--authority", "order 7", "--tracks", "2"]) == 0
    request_id = capsys.readouterr().out.strip()
    assert cu.get_request(world.ws, request_id).request.tracks == (2,)
    monkeypatch.setenv("FORENSICS_PASSPHRASE", PASS["bob"])
    grant = cu.approve(world.ws, world.bob, request_id)
    monkeypatch.setenv("FORENSICS_PASSPHRASE", PASS["alice"])
    argv = ["--workspace", str(world.root), "reveal", grant.id, "--as", "alice"]
    assert main([*argv, "--out", str(tmp_path / "r")]) == 0
    assert "5 faces of tracks 2 (5 faces of other tracks left as published)" in (
        capsys.readouterr().out
    )


def test_the_report_says_which_faces_a_track_grant_covers(world: World) -> None:
    from forensics_app.core.report.build import build_report_data

    grant = _track_grant(world)
    data = build_report_data(world.ws, world.case_id, world.alice)
    [unlock_record] = data.unlocks
    assert unlock_record.grant_id == grant.id
    assert "only the faces of track 2" in unlock_record.frames_granted
    assert "from frame 0" in unlock_record.frames


def test_a_court_export_checks_the_track_scope_of_its_grants(world: World, tmp_path: Path) -> None:
    """A bundle whose grant names more tracks than its request is refused by verify-export."""
    import zipfile

    from forensics_app.core.report.export import export_case
    from forensics_app.core.report.verify_export import verify_export

    grant = _track_grant(world)
    bundle = tmp_path / "e.zip"
    export_case(world.ws, world.alice, world.case_id, bundle, "District Court")
    verify_export(bundle)  # the honest bundle verifies
    body = {k: v for k, v in grant.doc.items() if k != "signature"}
    wider = unlock.canonical_json(unlock._signed({**body, "tracks": [1, 2]}, world.bob))
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(folder)
    (folder / f"custody/grant_{grant.id}.json").write_bytes(wider)
    with pytest.raises(VerificationError, match="exceeds the tracks of its request"):
        verify_export(folder)
