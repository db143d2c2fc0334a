"""Issue #14: each attack performed for real, and the one-line error it must now get.

The two-process approval races live in ``test_custody_race.py``; the command-line cases
(damaged database, truncated database, ``reveal --out FILE``) in ``test_custody_cli_attacks.py``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from custody_support import (
    EVIDENCE_FRAMES,
    PASS,
    World,
    copy_lab,
    fake_evidence,
    make_world,
    request,
)
from pg_support import RawSQL

from forensics_app.core import custody as cu
from forensics_app.errors import (
    AuthError,
    InputError,
    PermissionDenied,
    StoreError,
    VerificationError,
)
from forensics_app.uunet.inference import FaceDecoder


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, custody_db: str | None) -> World:
    w = make_world(tmp_path, monkeypatch, db=custody_db)
    yield w
    w.ws.close()


def _last(ws: cu.Workspace) -> dict:
    return list(ws.audit.entries())[-1]


def _assert_refusal_row(ws: cu.Workspace, actor: str, action: str, error: Exception) -> None:
    row = _last(ws)
    assert (row["actor"], row["action"], row["outcome"]) == (actor, action, "denied")
    assert json.loads(row["details"])["reason"] == str(error)
    ws.audit.verify()


# --- item 2: an import never overrides a local decision ------------------------------------


def _approved_elsewhere(world: World, tmp_path: Path, req: cu.UnlockRequest) -> Path:
    """Carry ``req`` to a second lab, approve it there (bob), and return its grant file."""
    cu.export_request(world.ws, world.alice, req.id, tmp_path / "req.json")
    lab2 = copy_lab(world, tmp_path / "lab2")
    bob2 = cu.login(lab2, "bob", PASS["bob"])
    if cu.get_request(lab2, req.id).status != "pending":  # the copy already decided it
        RawSQL(lab2).execute(
            "UPDATE requests SET status='pending', decision_doc=NULL WHERE id=?", (req.id,)
        )
    grant = cu.approve(lab2, bob2, req.id)
    cu.export_grant(lab2, bob2, grant.id, tmp_path / "grant.json")
    lab2.close()
    return tmp_path / "grant.json"


def test_grant_import_cannot_override_a_local_denial(world: World, tmp_path: Path) -> None:
    req = request(world)
    cu.deny(world.ws, world.dave, req.id, "not proportionate")
    grant_file = _approved_elsewhere(world, tmp_path, req)
    with pytest.raises(PermissionDenied) as caught:
        cu.import_grant(world.ws, world.alice, grant_file)
    assert str(caught.value).startswith(f"request {req.id} was already denied here; grant GRT-")
    assert str(caught.value).endswith("(an import never overrides a local decision)")
    info = cu.get_request(world.ws, req.id)
    assert info.status == "denied" and info.decision["reason"] == "not proportionate"
    assert cu.list_grants(world.ws) == []
    _assert_refusal_row(world.ws, "alice", "import", caught.value)


def test_grant_import_cannot_replace_a_local_approval(world: World, tmp_path: Path) -> None:
    req = request(world)
    local = cu.approve(world.ws, world.dave, req.id)
    grant_file = _approved_elsewhere(world, tmp_path, req)
    with pytest.raises(PermissionDenied, match="was already approved here") as caught:
        cu.import_grant(world.ws, world.alice, grant_file)
    assert [g.id for g in cu.list_grants(world.ws)] == [local.id]
    assert cu.get_request(world.ws, req.id).decision == {"grant": local.id}
    _assert_refusal_row(world.ws, "alice", "import", caught.value)


def test_revoked_grant_stays_revoked_when_imported_again(world: World, tmp_path: Path) -> None:
    grant = cu.approve(world.ws, world.bob, request(world).id)
    cu.export_grant(world.ws, world.bob, grant.id, tmp_path / "g.json")
    cu.revoke(world.ws, world.dave, grant.id, "case closed")
    with pytest.raises(PermissionDenied, match="has been revoked") as caught:
        cu.import_grant(world.ws, world.alice, tmp_path / "g.json")
    assert cu.revocation(world.ws, grant.id) is not None
    _assert_refusal_row(world.ws, "alice", "import", caught.value)


def test_pending_request_still_takes_an_imported_grant(world: World, tmp_path: Path) -> None:
    """The twin: the air-gapped workflow itself still works."""
    req = request(world)
    imported = cu.import_grant(world.ws, world.alice, _approved_elsewhere(world, tmp_path, req))
    assert cu.get_request(world.ws, req.id).decision == {"grant": imported.id}


# --- item 4: frame ranges against the evidence -----------------------------------------------


def test_request_beyond_the_video_is_refused(world: World) -> None:
    with pytest.raises(InputError) as caught:
        request(world, frames=(0, 99_999_999))
    assert str(caught.value) == (
        f"frames 0-99999999 are outside the video ev.mkv ({EVIDENCE_FRAMES} frames, "
        f"0-{EVIDENCE_FRAMES - 1})"
    )
    assert cu.list_requests(world.ws) == []
    request(world, frames=(0, EVIDENCE_FRAMES - 1))  # the twin: the whole video is fine


def test_request_on_evidence_that_is_not_a_video_is_refused(world: World, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    record = cu.add_evidence(world.ws, world.alice, world.case_id, text, any_file=True)
    with pytest.raises(InputError, match="notes.txt is not a video with frames; nothing to"):
        cu.create_request(
            world.ws, world.alice, world.case_id, record.sha256, (0, 0), "r", "court order 1"
        )


def test_imported_request_beyond_the_video_is_refused(world: World, tmp_path: Path) -> None:
    req = request(world, frames=(0, 5))
    doc = {k: v for k, v in req.doc.items() if k != "signature"}
    doc["frames"], doc["id"] = [0, 500], "REQ-" + "e" * 16
    forged = {**doc, "signature": world.alice.sign(cu.crypto.canonical_json(doc))}
    (tmp_path / "r.json").write_bytes(cu.crypto.canonical_json(forged))
    with pytest.raises(InputError, match="outside the video") as caught:
        cu.import_request(world.ws, world.bob, tmp_path / "r.json")
    _assert_refusal_row(world.ws, "bob", "import", caught.value)


def test_reveal_past_the_decodable_end_is_an_error_not_zero_frames(world: World) -> None:
    """The container claimed more frames than decode (a truncated file's header)."""
    con = RawSQL(world.ws)
    details = json.loads(con.execute("SELECT details FROM evidence").fetchone()[0])
    details["media"]["frame_count"] = 500
    con.execute("UPDATE evidence SET details=?", (json.dumps(details),))
    con.close()
    grant = cu.approve(world.ws, world.bob, request(world, frames=(200, 210)).id)
    size = world.ws.audit.size()
    with pytest.raises(InputError) as caught:
        cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes)
    assert str(caught.value) == (
        f"frames 200-210 are past the end of the video ({EVIDENCE_FRAMES} frames); "
        "nothing to reveal"
    )
    new = [r["action"] for r in world.ws.audit.entries(size + 1)]
    assert "consultation" not in new  # refused before the decoder was consulted


# --- item 5: evidence that is not a video ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [("empty.mkv", b""), ("random.mp4", bytes(range(256)) * 64), ("notes.txt", b"text\n")],
)
def test_evidence_that_is_not_a_video_is_refused_by_default(
    world: World, tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    before = world.ws.audit.size()
    with pytest.raises(InputError) as caught:
        cu.add_evidence(world.ws, world.alice, world.case_id, path)
    assert str(caught.value).startswith(f"{name} is not a readable video (")
    assert str(caught.value).endswith(
        "); add it with --any-file to keep it as another kind of exhibit"
    )
    assert len(cu.list_evidence(world.ws, world.case_id)) == 1 and world.ws.audit.size() == before
    kept = cu.add_evidence(world.ws, world.alice, world.case_id, path, any_file=True)
    assert kept.details["media"] is None  # the twin: kept on purpose, as another exhibit
    assert json.loads(_last(world.ws)["details"])["video"] is False


def test_truncated_matroska_is_added_with_a_warning(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from forensics_app.cli import main

    whole = fake_evidence(tmp_path / "whole.mkv", frames=100)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 3 // 10])
    monkeypatch.setenv("FORENSICS_KDF_PROFILE", "fast")
    monkeypatch.setenv("FORENSICS_PASSPHRASE", PASS["alice"])
    argv = ["--workspace", str(world.root), "evidence", "add", world.case_id, str(cut)]
    assert main([*argv, "--as", "alice"]) == 0
    err = capsys.readouterr().err.strip()
    assert re.fullmatch(
        r"forensics: warning: cut\.mkv: the container declares about 100 frames \(10\.0 s\) "
        r"but the file holds \d+: truncated\?",
        err,
    ), err
    record = cu.list_evidence(world.ws, world.case_id)[-1]
    assert record.details["warnings"] == [err.removeprefix("forensics: warning: ")]
    assert json.loads(_last(world.ws)["details"])["warnings"] == record.details["warnings"]
    whole_record = cu.add_evidence(world.ws, world.alice, world.case_id, whole)
    assert whole_record.details["warnings"] == []  # the twin: a whole file says nothing


# --- item 6: every refusal is an outcome=denied row ------------------------------------------


@pytest.mark.parametrize("who", ["analyst", "admin"])
def test_approval_by_a_non_supervisor_is_logged(world: World, who: str) -> None:
    cu.add_user(world.ws, "sam", who, "sam-passphrase", by=world.carol)
    sam = cu.login(world.ws, "sam", "sam-passphrase")
    req = request(world)
    with pytest.raises(PermissionDenied, match="only supervisors decide") as caught:
        cu.approve(world.ws, sam, req.id)
    _assert_refusal_row(world.ws, "sam", "approval", caught.value)
    assert _last(world.ws)["object"] == f"request:{req.id}"
    with pytest.raises(PermissionDenied, match="only supervisors decide") as caught:
        cu.deny(world.ws, sam, req.id, "no")
    _assert_refusal_row(world.ws, "sam", "denial", caught.value)


def test_reveal_of_an_expired_grant_is_logged(world: World) -> None:
    grant = cu.approve(world.ws, world.bob, request(world).id, expires_s=1)
    time.sleep(1.1)
    with pytest.raises(PermissionDenied, match="expired at") as caught:
        cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes)
    _assert_refusal_row(world.ws, "alice", "consultation", caught.value)


def test_reveal_of_a_revoked_grant_is_logged(world: World) -> None:
    grant = cu.approve(world.ws, world.bob, request(world).id)
    cu.revoke(world.ws, world.dave, grant.id, "withdrawn")
    with pytest.raises(PermissionDenied, match="has been revoked") as caught:
        cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes)
    _assert_refusal_row(world.ws, "alice", "consultation", caught.value)
    with pytest.raises(PermissionDenied, match="already revoked") as caught:
        cu.revoke(world.ws, world.bob, grant.id, "again")
    _assert_refusal_row(world.ws, "bob", "revocation", caught.value)


def test_reveal_of_someone_elses_grant_is_logged(world: World) -> None:
    grant = cu.approve(world.ws, world.bob, request(world).id)
    with pytest.raises(PermissionDenied, match="issued to alice, not dave") as caught:
        cu.RevealSession(world.ws, world.dave, grant.id, FaceDecoder.from_bytes)
    _assert_refusal_row(world.ws, "dave", "consultation", caught.value)


def test_out_of_scope_reveal_is_refused_and_not_logged_as_a_consultation(world: World) -> None:
    grant = cu.approve(world.ws, world.bob, request(world, frames=(0, 9)).id)
    size = world.ws.audit.size()
    with pytest.raises(PermissionDenied, match=r"frames 5-20 are outside grant") as caught:
        cu.RevealSession(world.ws, world.alice, grant.id, FaceDecoder.from_bytes, frames=(5, 20))
    _assert_refusal_row(world.ws, "alice", "consultation", caught.value)
    new = list(world.ws.audit.entries(size + 1))
    assert [(r["action"], r["outcome"]) for r in new] == [("consultation", "denied")]


def test_failed_import_is_logged(world: World, tmp_path: Path) -> None:
    grant = cu.approve(world.ws, world.bob, request(world).id)
    cu.export_grant(world.ws, world.bob, grant.id, tmp_path / "g.json")
    data = (tmp_path / "g.json").read_bytes().replace(b'"frames":[0,9]', b'"frames":[0,19]')
    (tmp_path / "bad.json").write_bytes(data)
    with pytest.raises(VerificationError, match="bad grant signature|grant") as caught:
        cu.import_grant(world.ws, world.alice, tmp_path / "bad.json")
    _assert_refusal_row(world.ws, "alice", "import", caught.value)
    assert _last(world.ws)["object"] == f"file:{tmp_path / 'bad.json'}"


# --- item 7: user names are case-insensitive identities --------------------------------------


def test_user_names_ignore_case(world: World) -> None:
    with pytest.raises(InputError) as caught:
        cu.add_user(world.ws, "Alice", "supervisor", "mallory-pass", by=world.carol)
    assert str(caught.value) == "user 'Alice' already exists as 'alice' (names ignore case)"
    assert [u.name for u in cu.list_users(world.ws)].count("alice") == 1
    assert cu.login(world.ws, "ALICE", PASS["alice"]).name == "alice"  # one identity
    # and the database itself refuses a second spelling if a caller skips the check
    row = world.ws.store.get_user("alice")
    with pytest.raises(StoreError, match="(?i)unique"), world.ws.store.transaction():
        world.ws.store.insert_user({**row, "name": "ALICE"})


# --- resource limits: repeated wrong passphrases --------------------------------------------

FAST = cu.LoginPolicy(free_attempts=2, base_delay_s=0.5, max_delay_s=1.0, lock_after=4)


def _login_error(ws: cu.Workspace, name: str, passphrase: str) -> str:
    with pytest.raises(AuthError) as caught:
        cu.login(ws, name, passphrase, FAST)
    return str(caught.value)


def test_wrong_passphrases_meet_a_growing_wait_then_a_lock(world: World) -> None:
    ws, wrong = world.ws, "guess-guess"
    assert _login_error(ws, "alice", wrong) == "wrong passphrase for alice (failed attempt 1)"
    assert _login_error(ws, "alice", wrong) == "wrong passphrase for alice (failed attempt 2)"
    # too soon: refused before the passphrase is even tried (the right one fails too)
    error = _login_error(ws, "alice", PASS["alice"])
    assert re.fullmatch(r"2 failed logins for alice; try again in 1 s", error), error
    _assert_refusal_row(ws, "alice", "login", AuthError(error))
    time.sleep(0.55)
    assert _login_error(ws, "alice", wrong) == "wrong passphrase for alice (failed attempt 3)"
    time.sleep(1.05)  # the wait doubled
    assert _login_error(ws, "alice", wrong) == (
        "wrong passphrase for alice (failed attempt 4); the account is now locked until an "
        "admin unlocks it"
    )
    assert json.loads(_last(ws)["details"])["locked"] is True
    time.sleep(1.05)
    error = _login_error(ws, "alice", PASS["alice"])  # locked, whatever the wait
    assert error == (
        "alice is locked after 4 failed logins; an admin must unlock it "
        "(forensics user unlock alice)"
    )
    _assert_refusal_row(ws, "alice", "login", AuthError(error))
    with pytest.raises(PermissionDenied, match="only an admin may unlock") as caught:
        cu.unlock_user(ws, "alice", world.bob)
    _assert_refusal_row(ws, "bob", "user_unlocked", caught.value)
    cu.unlock_user(ws, "alice", world.carol)
    assert cu.login(ws, "alice", PASS["alice"], FAST).name == "alice"
    assert _login_error(ws, "alice", wrong) == "wrong passphrase for alice (failed attempt 1)"
    ws.audit.verify()


def test_an_admin_is_slowed_but_never_locked(world: World) -> None:
    for attempt in range(1, 6):
        error = _login_error(world.ws, "carol", "guess-guess")
        assert error == f"wrong passphrase for carol (failed attempt {attempt})"
        time.sleep(FAST.delay_after(attempt) + 0.05)
    assert cu.login(world.ws, "carol", PASS["carol"], FAST).role == "admin"


def test_user_unlock_on_the_command_line(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from forensics_app.cli import main

    for _ in range(cu.users.DEFAULT_LOGIN_POLICY.lock_after):
        with pytest.raises(AuthError):
            cu.login(world.ws, "alice", "guess-guess", cu.LoginPolicy(base_delay_s=0.0))
    with pytest.raises(AuthError, match="alice is locked after 10 failed logins"):
        cu.login(world.ws, "alice", PASS["alice"])
    monkeypatch.setenv("FORENSICS_PASSPHRASE", PASS["carol"])
    root = str(world.root)
    assert main(["--workspace", root, "user", "unlock", "ALICE", "--as", "carol"]) == 0
    assert capsys.readouterr().out.strip() == "unlocked alice"
    assert cu.login(world.ws, "alice", PASS["alice"]).name == "alice"
