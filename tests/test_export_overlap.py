"""Two reveals of the same frames (two grants over overlapping ranges) in one report and export.

Found on the demo (docs/RESULTS.md, issue #15 screenshots): grants 36–43 and 20–40 both
revealed frames 36–40; the export wrote 35 zip entries twice, `unzip` asked which copy to
keep and `verify-export` refused the bundle; the report showed frames 36–40 twice. Each
reveal now has a folder of its own in the bundle and each frame is an exhibit once.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from test_report_fixtures import PASS, Case, build_case

from forensics_app.core.custody import approve, create_request, login
from forensics_app.core.custody.reveal import RevealSession
from forensics_app.core.report.build import build_report_data
from forensics_app.core.report.export import MANIFEST, export_case
from forensics_app.core.report.verify_export import verify_export
from forensics_app.errors import VerificationError
from forensics_app.uunet.inference import FaceDecoder


@pytest.fixture(scope="module")
def overlap(tmp_path_factory: pytest.TempPathFactory) -> tuple[Case, str, Path]:
    """Frames 0–4 revealed under the builder's grant, then 2–4 again under a second one."""
    case = build_case(tmp_path_factory.mktemp("overlap") / "case", frames=5)
    with case.open() as ws:
        alice, bob = login(ws, "alice", PASS["alice"]), login(ws, "bob", PASS["bob"])
        request = create_request(
            ws, alice, case.case_id, case.evidence_sha256, (2, 4),
            "second look at the suspect", "warrant 2026/117 of the district court",
        )  # fmt: skip
        grant = approve(ws, bob, request.id)
        second = case.root / "reveal2"
        with RevealSession(ws, alice, grant, FaceDecoder.from_bytes) as session:
            session.write(second)
    return case, grant.id, second


def _export(case, out: Path):  # noqa: ANN001, ANN202
    """alice exports the case to ``out`` for the court."""
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        return export_case(ws, alice, case.case_id, out, "Court")


def test_export_of_overlapping_reveals_is_one_valid_bundle(overlap, tmp_path: Path) -> None:
    case, second_grant, _ = overlap
    result = _export(case, tmp_path / "b.zip")
    with zipfile.ZipFile(result.path) as z:
        names = z.namelist()
        manifest = json.loads(z.read(MANIFEST))
        readme = z.read("README.txt").decode()
    assert len(names) == len(set(names)), "duplicate zip entries"
    first = f"reveals/1_{case.grant_id}/"
    again = f"reveals/2_{second_grant}/"
    for top in (first, again):  # frame 3 from each reveal, each in its own folder
        assert f"{top}frames/frame_000003_public.png" in names
        assert f"{top}frames/frame_000003_side_by_side.png" in names
        assert f"{top}faces/frame_000003_face_1_reconstructed.png" in names
        assert f"{top}unmarked/frame_000003_reconstructed.png" in names
    assert not any(n.startswith(("frames/", "faces/", "unmarked/")) for n in names)
    assert [(r["reveal"], r["folder"], r["grant_id"], r["frames"], r["manifest"])
            for r in manifest["reveals"]] == [
        (1, first, case.grant_id, [0, 4], "custody/reveal_1.json"),
        (2, again, second_grant, [2, 4], "custody/reveal_2.json"),
    ]  # fmt: skip
    assert f"{again}  frames 2–4 under grant {second_grant}, every face" in readme
    summary = verify_export(result.path)
    assert summary.reveals == 2 and summary.frames == 5 + 3
    assert sorted(summary.grants) == sorted([case.grant_id, second_grant])


def test_verify_export_still_refuses_a_real_duplicate(overlap, tmp_path: Path) -> None:
    case, _, _ = overlap
    result = _export(case, tmp_path / "b.zip")
    with zipfile.ZipFile(result.path) as z:
        files = [(n, z.read(n)) for n in z.namelist()]
    name, blob = next((n, b) for n, b in files if n.endswith("frame_000003_public.png"))
    bad = tmp_path / "dup.zip"
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(bad, "w") as z:
        for n, b in [*files, (name, blob)]:
            z.writestr(n, b)
    with pytest.raises(VerificationError, match="duplicate entry in bundle"):
        verify_export(bad)
    # a reveal's images moved into another reveal's folder are named, not accepted
    moved = tmp_path / "moved.zip"
    with zipfile.ZipFile(moved, "w") as z:
        for n, b in files:
            z.writestr(n.replace("reveals/2_", "reveals/9_"), b)
    with pytest.raises(VerificationError, match="reveals/2_.* is not the image its reveal"):
        verify_export(moved)


def test_report_shows_each_frame_once_and_says_from_which_reveal(overlap) -> None:
    case, second_grant, _ = overlap
    with case.open() as ws:
        alice = login(ws, "alice", PASS["alice"])
        data = build_report_data(ws, case.case_id, alice)
    frames = [e.frame_index for e in data.exhibits]
    assert frames == [0, 1, 2, 3, 4]  # frames 2–4 once, not twice
    assert {e.grant_id for e in data.exhibits} == {case.grant_id}
    assert (
        f"Frames 2–4 were reconstructed under grant {case.grant_id} and again under grant "
        f"{second_grant}; each is shown once, as reconstructed under grant {case.grant_id}"
    ) in data.exhibits_note
