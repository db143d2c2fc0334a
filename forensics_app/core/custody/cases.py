"""Cases and their evidence records.

Evidence is taken in through :mod:`forensics_app.core.evidence` (read-only, streamed hash);
the record keeps path, size and sha256, and :func:`reopen_evidence` re-hashes the file
before anyone works on it again, logging the verification either way.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forensics_app.core.custody.audit import now_times
from forensics_app.core.custody.users import UserSession
from forensics_app.core.custody.workspace import Workspace
from forensics_app.errors import (
    EvidenceError,
    ForensicsError,
    InputError,
    VerificationError,
    VideoError,
)

CASE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Case:
    case_id: str
    title: str
    created: str
    created_by: str


@dataclass(frozen=True)
class EvidenceRecord:
    """An evidence file as registered in a case (the file itself is never written)."""

    case_id: str
    sha256: str
    path: str
    size: int
    ingested: str
    ingested_by: str
    details: dict[str, Any]


def _case(row: dict) -> Case:
    return Case(row["case_id"], row["title"], row["created"], row["created_by"])


def _evidence(row: dict) -> EvidenceRecord:
    return EvidenceRecord(
        case_id=row["case_id"],
        sha256=row["sha256"],
        path=row["path"],
        size=int(row["size"]),
        ingested=row["ingested"],
        ingested_by=row["ingested_by"],
        details=json.loads(row["details"]),
    )


def create_case(ws: Workspace, session: UserSession, case_id: str, title: str = "") -> Case:
    """Open a new case (any logged-in user); logged as case_created."""
    if not CASE_ID_RE.match(case_id or ""):
        raise InputError(f"bad case id {case_id!r}: letters, digits, '.', '_', '/', '-'")
    if ws.store.get_case(case_id) is not None:
        raise InputError(f"case {case_id} already exists")
    created, _ = now_times()
    with ws.store.transaction():
        ws.store.insert_case(case_id, title, created, session.name)
        ws.audit.record(session, "case_created", case_id=case_id, details={"title": title})
    return get_case(ws, case_id)


def get_case(ws: Workspace, case_id: str) -> Case:
    row = ws.store.get_case(case_id)
    if row is None:
        raise InputError(f"no case {case_id!r} in this workspace")
    return _case(row)


def list_cases(ws: Workspace) -> list[Case]:
    return [_case(r) for r in ws.store.list_cases()]


def add_evidence(
    ws: Workspace,
    session: UserSession,
    case_id: str,
    path: str | Path,
    progress=None,
    any_file: bool = False,
    camera_key: bytes | None = None,
) -> EvidenceRecord:
    """Ingest a file as evidence of ``case_id`` (hash streamed, file opened read-only).

    Evidence must be a readable, complete video unless ``any_file`` (other exhibits: a
    document, a still, a damaged recording kept as it is; they have no frames to reveal).
    What intake noticed without refusing (a container that declares more frames than the
    file holds) is kept in ``details["warnings"]`` and in the ``collection`` row.
    ``camera_key`` is the producer's ROI-message MAC key: kept with the record, its sha256
    signed into the ``collection`` row, and every hidden message checked against it before
    U_d runs on a frame (:func:`camera_key`).
    """
    from forensics_app.core import evidence

    if camera_key is not None and (not isinstance(camera_key, bytes) or not camera_key):
        raise InputError("a camera key must be non-empty bytes")
    get_case(ws, case_id)
    try:
        ref = evidence.ingest(Path(path), progress=progress, require_video=not any_file)
    except VideoError as error:
        raise InputError(
            f"{Path(path).name} is not a readable video ({error}); add it with --any-file "
            "to keep it as another kind of exhibit"
        ) from None
    sha, size = ref.sha256, int(ref.size)
    if ws.store.get_evidence(case_id, sha) is not None:
        raise InputError(f"evidence {sha} is already in case {case_id}")
    created, _ = now_times()
    details = _ref_details(ref)
    if camera_key is not None:
        details["camera_key"] = base64.b64encode(camera_key).decode()
    with ws.store.transaction():
        ws.store.insert_evidence(
            {
                "case_id": case_id,
                "sha256": sha,
                "path": str(Path(ref.path).resolve()),
                "size": size,
                "ingested": created,
                "ingested_by": session.name,
                "details": json.dumps(details, sort_keys=True, default=str),
            }
        )
        ws.audit.record(
            session,
            "collection",
            case_id=case_id,
            object=Path(ref.path).name,
            object_sha256=sha,
            details={
                "size": size,
                "path": str(Path(ref.path).resolve()),
                "video": ref.media is not None,
                **({"warnings": list(ref.warnings)} if ref.warnings else {}),
                **(
                    {"camera_key_sha256": hashlib.sha256(camera_key).hexdigest()}
                    if camera_key is not None
                    else {}
                ),
            },
        )
    return get_evidence(ws, case_id, sha)


def _ref_details(ref: Any) -> dict[str, Any]:
    if hasattr(ref, "to_dict"):
        data = ref.to_dict()
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in ("path", "sha256", "size")}
    return {}


def camera_key(ws: Workspace, record: EvidenceRecord) -> bytes | None:
    """The camera MAC key kept with ``record``, or None if it was taken in without one.

    The key must hash to the fingerprint its ``collection`` row signed at intake: a key
    added, swapped or dropped in the database afterwards is a VerificationError.
    """
    stored = record.details.get("camera_key")
    rows = ws.store.find_audit("collection", record.case_id, record.sha256)
    logged = json.loads(rows[0]["details"]).get("camera_key_sha256") if rows else None
    if stored is None and logged is None:
        return None
    try:
        key = base64.b64decode(stored, validate=True) if isinstance(stored, str) else b""
    except ValueError:
        key = b""
    if logged is None or hashlib.sha256(key).hexdigest() != logged:
        raise VerificationError(
            f"the camera key kept with evidence {Path(record.path).name} is not the one "
            "logged at intake"
        )
    return key


def get_evidence(ws: Workspace, case_id: str, sha256: str) -> EvidenceRecord:
    row = ws.store.get_evidence(case_id, sha256)
    if row is None:
        raise InputError(f"no evidence {sha256} in case {case_id}")
    return _evidence(row)


def list_evidence(ws: Workspace, case_id: str) -> list[EvidenceRecord]:
    get_case(ws, case_id)
    return [_evidence(r) for r in ws.store.list_evidence(case_id)]


def reopen_evidence(
    ws: Workspace, session: UserSession, case_id: str, sha256: str, progress=None
) -> EvidenceRecord:
    """Re-hash the evidence file before use; a changed or missing file raises EvidenceError.

    The verification is logged with its outcome, success or failure.
    """
    from forensics_app.core import evidence

    record = get_evidence(ws, case_id, sha256)
    outcome, why = "success", None
    try:
        actual = evidence.sha256_file(Path(record.path), progress=progress)
        if actual != record.sha256:
            why = f"evidence {Path(record.path).name} changed since intake (sha256 {actual})"
    except (ForensicsError, OSError) as error:
        why = f"evidence {record.path} cannot be re-verified: {error}"
    if why:
        outcome = "failure"
    with ws.store.transaction():
        ws.audit.record(
            session,
            "verification",
            outcome=outcome,
            case_id=case_id,
            object=Path(record.path).name,
            object_sha256=record.sha256,
            details={"check": "evidence sha256 on reopen", **({"error": why} if why else {})},
        )
    if why:
        raise EvidenceError(why)
    return record
