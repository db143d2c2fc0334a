"""One person, one track number (issue #15 item 8, found on Xvfb: "T3" on the lanes, "track
5" in the request, grant, reveal and report).

On the demo clip (``forensics_app.demo.build_demo``) the person on lane 3 (linked from
frame 0, as the GUI's lanes are) was numbered 5 by a linking from frame 20, where a request
for frames 20-40 used to start its ids. A request is now signed under
``uunet-roi-link/2``: its ids are linked from frame 0, the custody core links from frame 0
to enforce them, and the report names that number. Enforcement is unchanged: asking for
another track's face under the grant is still a logged refusal. A version-2 document
signed under ``uunet-roi-link/1`` (ids from its first frame) keeps its meaning.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator

import pytest

from forensics_app.core import custody as cu
from forensics_app.core.custody import unlock
from forensics_app.core.roi_tracks import (
    LINKER,
    LINKER_FROM_RANGE,
    Track,
    link_tracks,
    track_words,
    tracks_of,
)
from forensics_app.core.stego.scan import scan_video
from forensics_app.demo import DEMO_CASE, DemoWorkspace, demo_passphrase
from forensics_app.errors import PermissionDenied, VerificationError
from forensics_app.uunet.inference import FaceDecoder

#: The request's range on the demo clip, and a frame inside it.
FRAMES = (20, 40)
FRAME = 30


@pytest.fixture(scope="module")
def boxes(demo: DemoWorkspace) -> dict[int, list[tuple[int, int, int, int]]]:
    """The public stream's boxes, read as the GUI's scan reads them (no key)."""
    out = {}
    for row in scan_video(demo.public_video):
        if row.result.status == "ok" and row.result.message and row.result.message.boxes:
            out[row.frame] = [tuple(int(v) for v in b) for b in row.result.message.boxes]
    return out


def renumbered_lane(boxes: dict) -> tuple[Track, int]:
    """A lane (linked from frame 0) in view at FRAME that a linking from FRAMES[0] numbers
    differently, and that other number: the case the fix is about."""
    lanes = link_tracks(boxes, start=0)
    from_range = link_tracks(boxes, start=FRAMES[0], stop=FRAMES[1])
    for lane, other in zip(lanes[FRAME], from_range[FRAME], strict=True):
        if lane != other:
            track = next(t for t in tracks_of(lanes) if t.track_id == lane)
            return track, other
    raise AssertionError("the demo clip no longer renumbers a lane from frame 20")


@pytest.fixture
def ws(demo: DemoWorkspace) -> Iterator[cu.Workspace]:
    with cu.Workspace.open(demo.root) as workspace:
        yield workspace


def _session(ws: cu.Workspace, name: str) -> cu.UserSession:
    return cu.login(ws, name, demo_passphrase(name))


def _grant(ws: cu.Workspace, demo: DemoWorkspace, tracks: tuple[int, ...]) -> cu.UnlockGrant:
    request = cu.create_request(
        ws, _session(ws, "alice"), DEMO_CASE, demo.evidence_sha256, FRAMES,
        "identify the person on the lane", "warrant 2026/117", 3600, tracks=tracks,
    )  # fmt: skip
    return cu.approve(ws, _session(ws, "bob"), request.id, reason="warrant seen")


def _face_of(boxes: dict, track: Track, frame: int) -> tuple[int, int, int, int]:
    [k] = [k for f, k in track.faces if f == frame]
    return boxes[frame][k - 1]


def test_the_lane_number_is_the_number_requested_granted_enforced_and_reported(
    demo: DemoWorkspace, boxes: dict, ws: cu.Workspace
) -> None:
    lane, range_number = renumbered_lane(boxes)  # lane 3, once "track 5" from frame 20
    grant = _grant(ws, demo, (lane.track_id,))
    request = cu.get_request(ws, grant.request_id).request
    for document in (request, grant):
        assert document.doc["track_linker"] == LINKER and document.doc["version"] == 2
        assert document.tracks == (lane.track_id,) and document.track_origin == 0
        assert track_words(document.tracks, document.track_origin) == f"track {lane.track_id}"
    alice = _session(ws, "alice")
    with cu.RevealSession(ws, alice, grant.id, FaceDecoder.from_bytes) as session:
        frame = session.reveal_frame(FRAME)  # links frames 0-29 on the way
        assert session.track_ids(FRAME) == link_tracks(boxes, start=0)[FRAME]
        # the reconstructed face is the lane's box, under the lane's number
        assert [(f.track, f.box) for f in frame.faces] == [
            (lane.track_id, _face_of(boxes, lane, FRAME))
        ]
        assert frame.withheld == len(boxes[FRAME]) - 1
        # enforcement unchanged: another person's face (the lane's old number) is refused
        with pytest.raises(PermissionDenied, match=f"track {range_number} is outside grant"):
            session.reveal_frame(FRAME, tracks=[range_number])
        with pytest.raises(PermissionDenied, match="outside grant"):
            session.track_ids(FRAMES[0] - 1)  # frames before the range are linked, not given
    refused = [r for r in ws.audit.entries() if r["outcome"] != "success"]
    assert f"track {range_number} is outside grant" in json.loads(refused[-1]["details"])["reason"]
    rows = [r for r in ws.audit.entries() if r["object"] == f"grant:{grant.id}"]
    assert json.loads(rows[0]["details"])["track_linker"] == LINKER  # the approval row
    ws.audit.verify()

    from forensics_app.core.report.build import build_report_data

    data = build_report_data(ws, DEMO_CASE, alice)
    [record] = [u for u in data.unlocks if u.grant_id == grant.id]
    assert f"only the faces of track {lane.track_id} (boxes linked" in record.frames_granted
    assert "from frame 0" in record.frames_granted and "from frame 0" in record.frames


def test_documents_linked_from_the_range_start_keep_their_meaning(
    demo: DemoWorkspace, boxes: dict, ws: cu.Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version-2 request and grant signed under uunet-roi-link/1 (before this change) still
    verify, and their ids are still linked from their first frame: "track 5" of frames 20-40
    is the person on lane 3, and nobody else."""
    lane, range_number = renumbered_lane(boxes)
    old_rule = functools.partial(unlock._track_fields, linker=LINKER_FROM_RANGE)
    with monkeypatch.context() as m:  # how the previous version signed a track request
        m.setattr(unlock, "_track_fields", old_rule)
        request = cu.create_request(
            ws, _session(ws, "alice"), DEMO_CASE, demo.evidence_sha256, FRAMES,
            "identify the person", "warrant 2026/118", 3600, tracks=(range_number,),
        )  # fmt: skip
    assert request.doc["track_linker"] == LINKER_FROM_RANGE
    grant = cu.approve(ws, _session(ws, "bob"), request.id, reason="ok")
    assert grant.doc["track_linker"] == LINKER_FROM_RANGE  # a grant copies its request's rule
    assert grant.track_origin == FRAMES[0]
    assert cu.UnlockGrant.from_json(grant.to_json()).tracks == (range_number,)
    shown = track_words(grant.tracks, grant.track_origin)
    assert shown == f"track {range_number} (numbered from frame {FRAMES[0]})"
    with cu.RevealSession(ws, _session(ws, "alice"), grant.id, FaceDecoder.from_bytes) as s:
        frame = s.reveal_frame(FRAME)
        assert [(f.track, f.box) for f in frame.faces] == [
            (range_number, _face_of(boxes, lane, FRAME))
        ]
        with pytest.raises(PermissionDenied, match="outside grant"):
            s.reveal_frame(FRAME, tracks=[lane.track_id])
    # a grant cannot re-read its request's ids under another rule
    body = {k: v for k, v in grant.doc.items() if k != "signature"}
    other = cu.UnlockGrant(unlock._signed({**body, "track_linker": LINKER}, _session(ws, "bob")))
    with pytest.raises(VerificationError, match="exceeds the tracks of its request"):
        cu.check_grant(ws, other, _session(ws, "alice"))
