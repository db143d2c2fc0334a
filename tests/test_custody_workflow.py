"""Users, sealed decoder and the two-person unlock rules, each check with its tampered twin."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from custody_support import PASS, World, copy_lab, make_world, new_workspace, request
from pg_support import RawSQL

from forensics_app.core import custody as cu
from forensics_app.core.custody.sealed import SealedModel
from forensics_app.errors import (
    AuthError,
    InputError,
    ModelError,
    PermissionDenied,
    VerificationError,
)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, custody_db: str | None) -> World:
    w = make_world(tmp_path, monkeypatch, db=custody_db)
    yield w
    w.ws.close()


# --- users -----------------------------------------------------------------------------------


def test_bootstrap_first_user_must_be_admin(
    tmp_path: Path, monkeypatch, custody_db: str | None
) -> None:
    monkeypatch.setenv("FORENSICS_KDF_PROFILE", "fast")
    ws = new_workspace(tmp_path / "w", custody_db)
    with pytest.raises(PermissionDenied, match="first user"):
        cu.add_user(ws, "alice", "analyst", PASS["alice"])
    cu.add_user(ws, "carol", "admin", PASS["carol"])
    with pytest.raises(PermissionDenied, match="admin"):
        cu.add_user(ws, "mallory", "admin", "whatever-pass")  # no login once an admin exists
    ws.close()


def test_only_admin_adds_users(world: World) -> None:
    with pytest.raises(PermissionDenied):
        cu.add_user(world.ws, "zed", "analyst", "zed-passphrase", by=world.bob)
    cu.add_user(world.ws, "zed", "analyst", "zed-passphrase", by=world.carol)
    with pytest.raises(InputError):
        cu.add_user(world.ws, "zed", "analyst", "zed-passphrase", by=world.carol)


def test_wrong_passphrase_refused_and_counted_in_the_log(world: World) -> None:
    for attempt in (1, 2):
        with pytest.raises(AuthError, match=f"attempt {attempt}"):
            cu.login(world.ws, "alice", "not-her-passphrase")
    rows = [r for r in world.ws.audit.entries() if r["action"] == "login_failed"]
    assert [json.loads(r["details"])["failed_count"] for r in rows] == [1, 2]
    assert all(r["actor"] == "alice" and r["outcome"] == "failure" for r in rows)
    assert cu.login(world.ws, "alice", PASS["alice"]).role == "analyst"  # right one works
    world.ws.audit.verify()


def test_role_edited_in_the_database_breaks_login(world: World) -> None:
    RawSQL(world.ws).execute("UPDATE users SET role='supervisor' WHERE name='alice'")
    with pytest.raises(AuthError):
        cu.login(world.ws, "alice", PASS["alice"])


# --- sealed model ----------------------------------------------------------------------------


def test_sealed_model_opens_for_each_holder_only(world: World) -> None:
    model = cu.load_sealed(world.ws)
    assert model.holders == ["bob", "dave"] and model.signer == "carol"
    for holder in (world.bob, world.dave):
        assert model.decrypt(model.data_key_for(holder)) == world.weights
    with pytest.raises(PermissionDenied):
        model.data_key_for(world.erin)
    assert world.weights not in model.to_bytes()


@pytest.mark.parametrize("where", ["header", "ciphertext", "signature"])
def test_flipped_byte_in_sealed_model_is_refused(world: World, where: str) -> None:
    data = bytearray(world.model.to_bytes())
    header_start = 12
    if where == "header":
        pos = header_start + bytes(data[header_start:]).index(b'"plaintext_size"') + 20
    elif where == "signature":
        pos = header_start + bytes(data[header_start:]).index(b'"signature":"') + 15
    else:
        pos = len(data) - 40
    data[pos] ^= 0x01
    with pytest.raises(VerificationError):
        model = SealedModel.from_bytes(bytes(data))
        model.decrypt(model.data_key_for(world.bob))


def test_altered_sealed_file_in_workspace_is_refused(world: World) -> None:
    path = world.ws.sealed_dir / f"{world.model.model_sha256}.sealed"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(VerificationError, match="altered"):
        cu.load_sealed(world.ws)


def test_only_admin_seals_for_supervisors(world: World, tmp_path: Path) -> None:
    with pytest.raises(PermissionDenied):
        cu.seal_bytes(world.weights, {}, [world.bob.user], world.dave)
    with pytest.raises(PermissionDenied):
        cu.seal_bytes(world.weights, {}, [world.alice.user], world.carol)
    with pytest.raises(ModelError, match="safetensors"):
        cu.seal_bytes(b"\x80\x04pickle" * 4, {}, [world.bob.user], world.carol)
    with pytest.raises(ModelError, match="card pins"):
        cu.seal_bytes(world.weights, {"sha256": "0" * 64}, [world.bob.user], world.carol)


# --- requests and grants ---------------------------------------------------------------------


def test_request_approve_and_unwrap(world: World) -> None:
    req = request(world)
    grant = cu.approve(world.ws, world.bob, req.id)
    assert cu.get_request(world.ws, req.id).status == "approved"
    cu.check_grant(world.ws, grant, world.alice, world.evidence_sha256, (0, 9))
    key = world.alice.unwrap(grant.doc["wrapped_key"], grant.wrap_context())
    assert world.model.decrypt(key) == world.weights
    with pytest.raises(VerificationError):  # wrapped to alice, not to the approver
        world.bob.unwrap(grant.doc["wrapped_key"], grant.wrap_context())
    actions = [r["action"] for r in world.ws.audit.entries()]
    assert actions[-2:] == ["request", "approval"]


def test_self_approval_refused(world: World) -> None:
    cu.add_user(world.ws, "sam", "analyst", "sam-passphrase", by=world.carol)
    req = request(world)
    # alice cannot approve her own request (she is also not a supervisor)
    with pytest.raises(PermissionDenied):
        cu.approve(world.ws, world.alice, req.id)
    # a supervisor impersonating the requester by key is refused too
    forged = cu.UserSession(world.bob.user, world.bob._signing, world.bob._x25519)
    object.__setattr__(forged, "user", cu.User(**{**world.bob.user.__dict__, "name": "alice"}))
    with pytest.raises(PermissionDenied):
        cu.approve(world.ws, forged, req.id)


def test_analyst_approving_refused(world: World) -> None:
    cu.add_user(world.ws, "sam", "analyst", "sam-passphrase", by=world.carol)
    sam = cu.login(world.ws, "sam", "sam-passphrase")
    req = request(world)
    with pytest.raises(PermissionDenied, match="only supervisors"):
        cu.approve(world.ws, sam, req.id)
    assert cu.approve(world.ws, world.bob, req.id)  # the twin: a supervisor may


def test_supervisor_without_slot_cannot_approve(world: World) -> None:
    req = request(world)
    with pytest.raises(PermissionDenied, match="slot"):
        cu.approve(world.ws, world.erin, req.id)
    assert cu.get_request(world.ws, req.id).status == "pending"


def test_supervisors_cannot_request(world: World) -> None:
    with pytest.raises(PermissionDenied):
        cu.create_request(
            world.ws, world.bob, world.case_id, world.evidence_sha256, (0, 1), "r", "a"
        )


def test_deny_with_reason_and_no_second_decision(world: World) -> None:
    req = request(world)
    with pytest.raises(InputError):
        cu.deny(world.ws, world.bob, req.id, "  ")
    cu.deny(world.ws, world.bob, req.id, "not proportionate")
    info = cu.get_request(world.ws, req.id)
    assert info.status == "denied" and info.decision["reason"] == "not proportionate"
    with pytest.raises(PermissionDenied, match="already denied"):
        cu.approve(world.ws, world.dave, req.id)


def test_expired_grant_refused(world: World) -> None:
    grant = cu.approve(world.ws, world.bob, request(world).id, expires_s=60)
    cu.check_grant(world.ws, grant, world.alice)
    later = datetime.now(UTC) + timedelta(seconds=61)
    with pytest.raises(PermissionDenied, match="expired"):
        cu.check_grant(world.ws, grant, world.alice, now=later)


def test_revoked_grant_refused(world: World) -> None:
    grant = cu.approve(world.ws, world.bob, request(world).id)
    cu.check_grant(world.ws, grant, world.alice)
    with pytest.raises(PermissionDenied):
        cu.revoke(world.ws, world.alice, grant.id, "analyst cannot revoke")
    cu.revoke(world.ws, world.dave, grant.id, "case closed")
    with pytest.raises(PermissionDenied, match="revoked"):
        cu.check_grant(world.ws, grant, world.alice)


def test_grant_for_other_evidence_or_user_refused(world: World) -> None:
    grant = cu.approve(world.ws, world.bob, request(world).id)
    cu.check_grant(world.ws, grant, world.alice, evidence_sha256=world.evidence_sha256)
    with pytest.raises(PermissionDenied, match="other evidence"):
        cu.check_grant(world.ws, grant, world.alice, evidence_sha256="0" * 64)
    with pytest.raises(PermissionDenied, match="issued to alice"):
        cu.check_grant(world.ws, grant, world.dave)


def test_frames_outside_scope_refused(world: World) -> None:
    grant = cu.approve(world.ws, world.bob, request(world, frames=(10, 20)).id)
    cu.check_grant(world.ws, grant, world.alice, frames=(10, 20))
    for frames in ((9, 12), (15, 21), (30, 30)):
        with pytest.raises(PermissionDenied, match="outside"):
            cu.check_grant(world.ws, grant, world.alice, frames=frames)


def _flip_json(data: bytes, field: str) -> bytes:
    doc = json.loads(data)
    value = doc[field]
    if isinstance(value, list):
        doc[field] = [value[0], value[1] + 1]
    elif isinstance(value, str) and value.endswith("="):
        raw = bytearray(base64.b64decode(value))
        raw[3] ^= 1
        doc[field] = base64.b64encode(bytes(raw)).decode()
    else:
        doc[field] = value + "x"
    return json.dumps(doc).encode()


@pytest.mark.parametrize("field", ["frames", "evidence_sha256", "expires", "signature"])
def test_tampered_grant_file_refused(world: World, tmp_path: Path, field: str) -> None:
    grant = cu.approve(world.ws, world.bob, request(world).id)
    good = tmp_path / "grant.json"
    cu.export_grant(world.ws, world.bob, grant.id, good)
    assert cu.import_grant(world.ws, world.alice, good).id == grant.id  # the untampered twin
    bad = tmp_path / "bad.json"
    bad.write_bytes(_flip_json(good.read_bytes(), field))
    with pytest.raises(VerificationError):
        cu.import_grant(world.ws, world.alice, bad)


def test_flipped_byte_in_grant_file_refused(world: World, tmp_path: Path) -> None:
    grant = cu.approve(world.ws, world.bob, request(world).id)
    path = tmp_path / "grant.json"
    cu.export_grant(world.ws, world.bob, grant.id, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x04
    path.write_bytes(bytes(data))
    with pytest.raises(VerificationError):
        cu.import_grant(world.ws, world.alice, path)


@pytest.mark.parametrize("field", ["frames", "reason", "signature"])
def test_tampered_request_file_refused(world: World, tmp_path: Path, field: str) -> None:
    req = request(world)
    good = tmp_path / "req.json"
    cu.export_request(world.ws, world.alice, req.id, good)
    assert cu.import_request(world.ws, world.bob, good).id == req.id
    bad = tmp_path / "bad.json"
    bad.write_bytes(_flip_json(good.read_bytes(), field))
    with pytest.raises(VerificationError):
        cu.import_request(world.ws, world.bob, bad)


def test_air_gapped_roundtrip_between_two_workspaces(world: World, tmp_path: Path) -> None:
    """A request carried to a copy of the workspace is approved there and the grant comes back."""
    req = request(world)
    lab2 = copy_lab(world, tmp_path / "lab2")
    # the copy already knows the request; a fresh one is carried over as a file
    req2 = request(world, frames=(3, 4))
    cu.export_request(world.ws, world.alice, req2.id, tmp_path / "r.json")
    bob2 = cu.login(lab2, "bob", PASS["bob"])
    cu.import_request(lab2, bob2, tmp_path / "r.json")
    grant = cu.approve(lab2, bob2, req2.id)
    cu.export_grant(lab2, bob2, grant.id, tmp_path / "g.json")
    imported = cu.import_grant(world.ws, world.alice, tmp_path / "g.json")
    cu.check_grant(world.ws, imported, world.alice, world.evidence_sha256, (3, 4))
    assert cu.get_request(world.ws, req2.id).status == "approved"
    assert cu.get_request(world.ws, req.id).status == "pending"
    lab2.audit.verify()
    world.ws.audit.verify()
    lab2.close()


def test_grant_wider_than_its_request_refused(world: World) -> None:
    req = request(world, frames=(0, 5))
    grant = cu.approve(world.ws, world.bob, req.id)
    doc = {k: v for k, v in grant.doc.items() if k != "signature"}
    doc["frames"] = [0, 50]
    wide = cu.UnlockGrant({**doc, "signature": world.bob.sign(cu.crypto.canonical_json(doc))})
    with pytest.raises(VerificationError, match="scope"):
        cu.check_grant(world.ws, wide, world.alice)
