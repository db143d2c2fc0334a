"""Two-person unlock: signed requests, signed grants, denials and revocations.

An analyst signs an :class:`UnlockRequest`; a *different* user who is a supervisor holding a
slot of the sealed decoder signs an :class:`UnlockGrant` that carries the data key wrapped
to the requester's X25519 key. Requests and grants travel as canonical-JSON files for
air-gapped labs; an imported document passes exactly the checks a local one does
(:func:`check_grant`). Every decision is logged in the same transaction that records it.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Self

from forensics_app.core.custody import sealed as sealed_mod
from forensics_app.core.custody.audit import now_times
from forensics_app.core.custody.cases import SHA256_RE, get_case, get_evidence
from forensics_app.core.custody.crypto import (
    canonical_json,
    ed_public_from_b64,
    sha256_hex,
    verify_signature,
    wrap_key,
)
from forensics_app.core.custody.users import User, UserSession, get_user
from forensics_app.core.custody.workspace import Workspace
from forensics_app.core.roi_tracks import LINKER, LINKERS, link_origin
from forensics_app.errors import (
    AuthError,
    InputError,
    PermissionDenied,
    VerificationError,
)

REQUEST_TYPE = "uunet-unlock-request"
GRANT_TYPE = "uunet-unlock-grant"
DENIAL_TYPE = "uunet-unlock-denial"
REVOCATION_TYPE = "uunet-grant-revocation"
#: Version of a request or grant that reveals every face in its frames (read and written).
VERSION_ALL_FACES = 1
#: Version of a track-scoped request or grant: ``tracks`` (ids under ``track_linker``:
#: linked from frame 0 of the evidence under ``uunet-roi-link/2``, from the first frame of
#: ``frames`` under ``uunet-roi-link/1``) restricts it to those tracks' faces. A reader that
#: knows only version 1 refuses it instead of revealing every face.
VERSION_TRACKS = 2
#: Most track ids one request may name.
MAX_TRACKS = 64
DEFAULT_DURATION_S = 24 * 3600
MAX_DURATION_S = 30 * 24 * 3600
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds in ``"90m"``, ``"24h"``, ``"2d"``, ``"3600s"`` or ``"3600"``."""
    match = _DURATION_RE.match(text or "")
    if not match or int(match.group(1)) <= 0:
        raise InputError(f"bad duration {text!r}: use e.g. 90m, 24h or 2d")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_DURATION_S:
        raise InputError(f"duration {text} is longer than the maximum of 30 days")
    return seconds


def parse_frames(text: str) -> tuple[int, int]:
    """``"A-B"`` (inclusive) as a pair of ints with 0 <= A <= B."""
    match = re.match(r"^\s*(\d+)\s*-\s*(\d+)\s*$", text or "")
    if not match or int(match.group(1)) > int(match.group(2)):
        raise InputError(f"bad frame range {text!r}: use A-B with A <= B")
    return int(match.group(1)), int(match.group(2))


def parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (TypeError, ValueError):
        raise VerificationError(f"malformed time {text!r}") from None


def _fmt(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _signed(doc: dict[str, Any], session: UserSession) -> dict[str, Any]:
    body = {k: v for k, v in doc.items() if k != "signature"}
    return {**body, "signature": session.sign(canonical_json(body))}


def _check_doc_signature(doc: dict[str, Any], public_b64: str, what: str) -> None:
    body = {k: v for k, v in doc.items() if k != "signature"}
    public = ed_public_from_b64(public_b64, f"{what} signer key")
    verify_signature(public, str(doc.get("signature", "")), canonical_json(body), what)


def _parse_doc(
    data: bytes | str, kind: str, what: str, versions: tuple[int, ...] = (1,)
) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise VerificationError(f"{what} is not valid JSON (altered or not a {what})") from None
    if not isinstance(doc, dict) or doc.get("type") != kind:
        raise VerificationError(f"not a {what} document")
    if doc.get("version") not in versions:
        raise VerificationError(f"unsupported {what} version {doc.get('version')!r}")
    return doc


def _party(user: User) -> dict[str, str]:
    return {
        "name": user.name,
        "role": user.role,
        "key_id": user.key_id,
        "ed25519_public": user.ed25519_public,
        "x25519_public": user.x25519_public,
    }


def _check_party(ws: Workspace, party: dict[str, Any], what: str) -> User:
    """The party named in a document must be a user of ``ws`` with the same keys and role."""
    try:
        user = get_user(ws, str(party["name"]))
    except (KeyError, TypeError):
        raise VerificationError(f"{what}: malformed party record") from None
    except AuthError:
        raise VerificationError(f"{what}: {party.get('name')!r} is not a user here") from None
    if (party.get("ed25519_public"), party.get("x25519_public"), party.get("role")) != (
        user.ed25519_public,
        user.x25519_public,
        user.role,
    ):
        raise VerificationError(f"{what}: keys or role of {user.name} differ from this workspace")
    return user


class _SignedDocument:
    """What requests and grants share: canonical JSON, its sha256, and verified parsing."""

    DOC_TYPE: ClassVar[str]
    LABEL: ClassVar[str]
    doc: dict[str, Any]

    id = property(lambda self: str(self.doc["id"]))
    case_id = property(lambda self: str(self.doc["case_id"]))
    evidence_sha256 = property(lambda self: str(self.doc["evidence_sha256"]))
    frames = property(lambda self: (int(self.doc["frames"][0]), int(self.doc["frames"][1])))
    requester = property(lambda self: str(self.doc["requester"]["name"]))

    @property
    def tracks(self) -> tuple[int, ...] | None:
        """The track ids the document is limited to, or None for every face in its frames."""
        tracks = self.doc.get("tracks")
        return None if tracks is None else tuple(int(t) for t in tracks)

    @property
    def track_linker(self) -> str | None:
        """The linking rule the track ids are under (``core.roi_tracks.LINKERS``), or None."""
        linker = self.doc.get("track_linker")
        return None if linker is None else str(linker)

    @property
    def track_origin(self) -> int | None:
        """The frame the track ids are linked from (0 under the current rule, the first frame
        of ``frames`` under ``uunet-roi-link/1``), or None for every face."""
        linker = self.track_linker
        return None if self.tracks is None or linker is None else link_origin(linker, self.frames)

    def _check_track_scope(self) -> None:
        """Version 1 names no tracks; version 2 names 1..MAX_TRACKS sorted, distinct ids
        from 1 under a linking rule this code implements (raises VerificationError)."""
        version, tracks = self.doc.get("version"), self.doc.get("tracks")
        if version == VERSION_ALL_FACES:
            if "tracks" in self.doc or "track_linker" in self.doc:
                raise VerificationError(f"{self.LABEL} version 1 cannot name tracks")
            return
        if (
            not isinstance(tracks, list)
            or not 0 < len(tracks) <= MAX_TRACKS
            or not all(isinstance(t, int) and not isinstance(t, bool) and t >= 1 for t in tracks)
            or tracks != sorted(set(tracks))
        ):
            raise VerificationError(f"{self.LABEL} has a malformed track list")
        if self.doc.get("track_linker") not in LINKERS:
            known = " or ".join(repr(rule) for rule in LINKERS)
            raise VerificationError(
                f"{self.LABEL} links tracks by {self.doc.get('track_linker')!r}, "
                f"not {known} as this version does"
            )

    def to_json(self) -> bytes:
        return canonical_json(self.doc)

    @property
    def sha256(self) -> str:
        return sha256_hex(self.to_json())

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        doc = _parse_doc(data, cls.DOC_TYPE, cls.LABEL, (VERSION_ALL_FACES, VERSION_TRACKS))
        document = cls(doc)  # type: ignore[call-arg]
        document.verify_signature()
        return document

    def verify_signature(self) -> None:  # pragma: no cover - defined by each document
        raise NotImplementedError


@dataclass(frozen=True)
class UnlockRequest(_SignedDocument):
    """An analyst's signed request to reveal frames of one evidence file."""

    DOC_TYPE: ClassVar[str] = REQUEST_TYPE
    LABEL: ClassVar[str] = "unlock request"
    doc: dict[str, Any]

    reason = property(lambda self: str(self.doc["reason"]))
    authority = property(lambda self: str(self.doc["authority"]))
    duration_s = property(lambda self: int(self.doc["duration_s"]))
    created = property(lambda self: str(self.doc["created"]))

    def verify_signature(self) -> None:
        try:
            _check_doc_signature(self.doc, self.doc["requester"]["ed25519_public"], "request")
            frames = self.frames
            if frames[0] < 0 or frames[0] > frames[1] or self.duration_s <= 0:
                raise VerificationError("unlock request has an invalid scope")
            self._check_track_scope()
        except (KeyError, TypeError, IndexError, ValueError):
            raise VerificationError("unlock request is missing fields") from None

    def verify(self, ws: Workspace) -> None:
        """Signature, and the requester is an analyst of ``ws`` with the signing key."""
        self.verify_signature()
        user = _check_party(ws, self.doc["requester"], f"request {self.id}")
        if user.role != "analyst":
            raise VerificationError(f"request {self.id}: requester {user.name} is not an analyst")


@dataclass(frozen=True)
class UnlockGrant(_SignedDocument):
    """A supervisor's signed approval carrying the data key wrapped to the requester."""

    DOC_TYPE: ClassVar[str] = GRANT_TYPE
    LABEL: ClassVar[str] = "unlock grant"
    doc: dict[str, Any]

    request_id = property(lambda self: str(self.doc["request_id"]))
    model_sha256 = property(lambda self: str(self.doc["model_sha256"]))
    issued = property(lambda self: str(self.doc["issued"]))
    expires = property(lambda self: str(self.doc["expires"]))
    approver = property(lambda self: str(self.doc["approver"]["name"]))

    @property
    def expires_at(self) -> datetime:
        return parse_time(self.expires)

    def verify_signature(self) -> None:
        try:
            _check_doc_signature(self.doc, self.doc["approver"]["ed25519_public"], "grant")
            _ = (self.frames, self.expires_at, self.doc["wrapped_key"], self.model_sha256)
            self._check_track_scope()
        except (KeyError, TypeError, IndexError, ValueError):
            raise VerificationError("unlock grant is missing fields") from None

    def wrap_context(self) -> bytes:
        return f"uunet-grant|v1|{self.id}|{self.model_sha256}|{self.requester}".encode()


@dataclass(frozen=True)
class RequestInfo:
    """A stored request with its status: pending, approved or denied."""

    request: UnlockRequest
    status: str
    decision: dict[str, Any] | None


# --- requests ------------------------------------------------------------------------------


def create_request(
    ws: Workspace,
    session: UserSession,
    case_id: str,
    evidence_sha256: str,
    frames: tuple[int, int],
    reason: str,
    authority: str,
    duration_s: int = DEFAULT_DURATION_S,
    tracks: tuple[int, ...] | list[int] | None = None,
) -> UnlockRequest:
    """File a signed unlock request (analysts only); logged as ``request``.

    ``tracks`` limits the request to the faces of those track ids (``core.roi_tracks``,
    linked from frame 0 of the evidence, :data:`~forensics_app.core.roi_tracks.LINKER`: the
    numbers of the GUI's lanes); the document is then version 2 and names the linking rule,
    and the reveal under its grant reconstructs no other face. None asks for every
    face in the frames (version 1, as before).
    """
    if session.role != "analyst":
        raise PermissionDenied(
            f"{session.name} has role {session.role}; only analysts file requests"
        )
    get_case(ws, case_id)
    if not SHA256_RE.match(evidence_sha256 or ""):
        raise InputError(f"bad evidence sha256 {evidence_sha256!r}")
    a, b = int(frames[0]), int(frames[1])
    if a < 0 or a > b:
        raise InputError(f"bad frame range {a}-{b}")
    check_frames_exist(ws, case_id, evidence_sha256, (a, b))
    if not reason.strip() or not authority.strip():
        raise InputError("a request needs a reason and a legal authority reference")
    if not 0 < duration_s <= MAX_DURATION_S:
        raise InputError("requested duration must be between 1 s and 30 days")
    scope = _track_fields(tracks)
    created, _ = now_times()
    doc = {
        "type": REQUEST_TYPE,
        "version": VERSION_TRACKS if scope else VERSION_ALL_FACES,
        "id": "REQ-" + uuid.uuid4().hex[:16],
        "case_id": case_id,
        "evidence_sha256": evidence_sha256,
        "frames": [a, b],
        "reason": reason.strip(),
        "authority": authority.strip(),
        "duration_s": int(duration_s),
        "created": created,
        "requester": _party(session.user),
        **scope,
    }
    request = UnlockRequest(_signed(doc, session))
    with ws.store.transaction():
        _store_request(ws, request)
        ws.audit.record(
            session,
            "request",
            case_id=case_id,
            object=f"request:{request.id}",
            object_sha256=request.sha256,
            justification=f"{request.reason} [authority: {request.authority}]",
            details={
                "evidence_sha256": evidence_sha256,
                "frames": [a, b],
                "duration_s": duration_s,
                **_track_details(request),
            },
        )
    return request


def _track_fields(
    tracks: tuple[int, ...] | list[int] | None, linker: str = LINKER
) -> dict[str, Any]:
    """The ``tracks`` and ``track_linker`` fields of a track-scoped document ({} for none);
    a new request names the current rule, a grant its request's rule (ids mean the same)."""
    if tracks is None:
        return {}
    try:
        ids = sorted({int(t) for t in tracks})
    except (TypeError, ValueError):
        raise InputError(f"bad track list {tracks!r}: use ids from 1") from None
    if not ids or ids[0] < 1:
        raise InputError("a track-scoped request names track ids from 1")
    if len(ids) > MAX_TRACKS:
        raise InputError(f"a request may name at most {MAX_TRACKS} tracks")
    return {"tracks": ids, "track_linker": linker}


def _track_details(document: _SignedDocument) -> dict[str, Any]:
    """What the audit row says of a document's scope: the ids and rule, or every face."""
    if document.tracks is None:
        return {"tracks": "all"}
    return {"tracks": list(document.tracks), "track_linker": document.track_linker}


def check_frames_exist(
    ws: Workspace, case_id: str, evidence_sha256: str, frames: tuple[int, int]
) -> None:
    """Raise InputError unless frames ``a``-``b`` exist in the evidence video.

    The frame count is the one recorded at intake (the evidence is re-hashed before any
    reveal, so it cannot have changed). Evidence that is not a video has no frames to
    reveal, so no request can name any.
    """
    record = get_evidence(ws, case_id, evidence_sha256)
    media = record.details.get("media")
    count = int(media.get("frame_count") or 0) if isinstance(media, dict) else 0
    name = Path(record.path).name
    if count <= 0:
        raise InputError(f"evidence {name} is not a video with frames; nothing to reveal")
    a, b = frames
    if b >= count:
        raise InputError(
            f"frames {a}-{b} are outside the video {name} ({count} frames, 0-{count - 1})"
        )


def _store_request(ws: Workspace, request: UnlockRequest) -> None:
    ws.store.insert_request(
        {
            "id": request.id,
            "case_id": request.case_id,
            "evidence_sha256": request.evidence_sha256,
            "requester": request.requester,
            "created": request.created,
            "doc": request.to_json().decode(),
            "status": "pending",
        }
    )


def get_request(ws: Workspace, request_id: str) -> RequestInfo:
    """The stored request (its signature re-checked) with its status."""
    row = ws.store.get_request(request_id)
    if row is None:
        raise InputError(f"no request {request_id!r}")
    request = UnlockRequest.from_json(row["doc"])
    if request.id != request_id:
        raise VerificationError(f"request {request_id}: stored document names {request.id}")
    decision = json.loads(row["decision_doc"]) if row["decision_doc"] else None
    return RequestInfo(request, row["status"], decision)


def list_requests(ws: Workspace, case_id: str | None = None) -> list[RequestInfo]:
    return [get_request(ws, r["id"]) for r in ws.store.list_requests(case_id)]


def _supervisor_check(ws: Workspace, session: UserSession, request: UnlockRequest) -> None:
    if session.role != "supervisor":
        raise PermissionDenied(f"{session.name} has role {session.role}; only supervisors decide")
    if session.name == request.requester or (
        session.user.ed25519_public == request.doc["requester"].get("ed25519_public")
    ):
        raise PermissionDenied(f"{session.name} cannot decide on their own request")


def _request_case(ws: Workspace, request_id: str) -> str | None:
    row = ws.store.get_request(request_id)
    return row["case_id"] if row else None


def _claim_pending(ws: Workspace, request_id: str, status: str, decision_doc: str) -> None:
    """Decide a request that must still be pending; call inside the deciding transaction.

    The store's conditional UPDATE runs under ``BEGIN IMMEDIATE``, so of two deciders racing
    (two processes, two supervisors) exactly one wins; the other gets PermissionDenied.
    """
    if not ws.store.decide_request(request_id, status, decision_doc):
        row = ws.store.get_request(request_id)
        raise PermissionDenied(
            f"request {request_id} is already {row['status'] if row else 'gone'}"
        )


def approve(
    ws: Workspace,
    session: UserSession,
    request_id: str,
    expires_s: int | None = None,
    model_sha256: str | None = None,
    reason: str = "",
) -> UnlockGrant:
    """Grant a pending request: sign the scope and wrap the data key to the requester.

    ``reason`` is the supervisor's own reason for approving (the GUI requires one); when
    given it is signed into the grant as ``approval_reason`` and logged as the row's
    ``details.approval_reason``, so the decision carries why it was taken, not only the
    analyst's reason for asking. Pending is decided inside the transaction that stores
    the grant (a second approver or a denier racing this one loses with "already
    approved/denied"); every refusal is logged as an ``approval`` row with
    ``outcome=denied``.
    """
    with ws.audit.refusals(
        session, "approval",
        case_id=_request_case(ws, request_id), object=f"request:{request_id}",
    ):  # fmt: skip
        return _approve(ws, session, request_id, expires_s, model_sha256, reason.strip())


def _approve(
    ws: Workspace,
    session: UserSession,
    request_id: str,
    expires_s: int | None,
    model_sha256: str | None,
    reason: str,
) -> UnlockGrant:
    info = get_request(ws, request_id)
    request = info.request
    request.verify(ws)
    _supervisor_check(ws, session, request)
    if info.status != "pending":
        raise PermissionDenied(f"request {request_id} is already {info.status}")
    check_frames_exist(ws, request.case_id, request.evidence_sha256, request.frames)
    model = sealed_mod.load_sealed(ws, model_sha256)
    data_key = model.data_key_for(session)  # PermissionDenied if no slot
    requester = get_user(ws, request.requester)
    seconds = expires_s if expires_s is not None else request.duration_s
    if not 0 < seconds <= MAX_DURATION_S:
        raise InputError("grant expiry must be between 1 s and 30 days")
    issued = datetime.now(UTC)
    grant_id = "GRT-" + uuid.uuid4().hex[:16]
    scope = _track_fields(request.tracks, request.track_linker or LINKER)
    doc = {
        "type": GRANT_TYPE,
        "version": VERSION_TRACKS if scope else VERSION_ALL_FACES,
        "id": grant_id,
        "request_id": request.id,
        "request_sha256": request.sha256,
        "case_id": request.case_id,
        "evidence_sha256": request.evidence_sha256,
        "frames": list(request.frames),
        "reason": request.reason,
        "authority": request.authority,
        "model_sha256": model.model_sha256,
        "issued": _fmt(issued),
        "expires": _fmt(issued + timedelta(seconds=seconds)),
        "approver": _party(session.user),
        "requester": _party(requester),
        **scope,
    }
    if reason:
        doc["approval_reason"] = reason
    context = f"uunet-grant|v1|{grant_id}|{model.model_sha256}|{requester.name}".encode()
    doc["wrapped_key"] = wrap_key(data_key, requester.wrap_key(), context)
    grant = UnlockGrant(_signed(doc, session))
    with ws.store.transaction():
        _claim_pending(ws, request.id, "approved", canonical_json({"grant": grant.id}).decode())
        _store_grant(ws, grant)
        ws.audit.record(
            session,
            "approval",
            case_id=request.case_id,
            object=f"grant:{grant.id}",
            object_sha256=grant.sha256,
            justification=f"{request.reason} [authority: {request.authority}]",
            details={
                "request_id": request.id,
                "requester": request.requester,
                "frames": list(request.frames),
                "expires": grant.expires,
                "model_sha256": model.model_sha256,
                "recipients": [request.requester],
                **_track_details(grant),
                **({"approval_reason": reason} if reason else {}),
            },
        )
    return grant


def _store_grant(ws: Workspace, grant: UnlockGrant) -> None:
    ws.store.insert_grant(
        {
            "id": grant.id,
            "request_id": grant.request_id,
            "case_id": grant.case_id,
            "approver": grant.approver,
            "requester": grant.requester,
            "expires": grant.expires,
            "doc": grant.to_json().decode(),
        }
    )


def _signed_decision(
    doc_type: str, subject_key: str, subject_id: str, session: UserSession, reason: str
) -> tuple[dict[str, Any], str]:
    """A denial or revocation: who decided what about which document, when and why, signed."""
    time, _ = now_times()
    doc = {
        "type": doc_type,
        "version": 1,
        subject_key: subject_id,
        "by": session.name,
        "key_id": session.user.key_id,
        "reason": reason.strip(),
        "time": time,
    }
    return _signed(doc, session), time


def deny(ws: Workspace, session: UserSession, request_id: str, reason: str) -> dict[str, Any]:
    """Refuse a pending request with a reason; returns the signed denial.

    Same race rule as :func:`approve`; a refused denial is a ``denial`` row, ``outcome=denied``.
    """
    with ws.audit.refusals(
        session, "denial",
        case_id=_request_case(ws, request_id), object=f"request:{request_id}",
    ):  # fmt: skip
        return _deny(ws, session, request_id, reason)


def _deny(ws: Workspace, session: UserSession, request_id: str, reason: str) -> dict[str, Any]:
    info = get_request(ws, request_id)
    _supervisor_check(ws, session, info.request)
    if info.status != "pending":
        raise PermissionDenied(f"request {request_id} is already {info.status}")
    if not reason.strip():
        raise InputError("a denial needs a reason")
    denial, _ = _signed_decision(DENIAL_TYPE, "request_id", request_id, session, reason)
    with ws.store.transaction():
        _claim_pending(ws, request_id, "denied", canonical_json(denial).decode())
        ws.audit.record(
            session,
            "denial",
            case_id=info.request.case_id,
            object=f"request:{request_id}",
            object_sha256=info.request.sha256,
            justification=reason.strip(),
            details={"requester": info.request.requester},
        )
    return denial


# --- grants --------------------------------------------------------------------------------


def get_grant(ws: Workspace, grant_id: str) -> UnlockGrant:
    row = ws.store.get_grant(grant_id)
    if row is None:
        raise InputError(f"no grant {grant_id!r}")
    grant = UnlockGrant.from_json(row["doc"])
    if grant.id != grant_id:
        raise VerificationError(f"grant {grant_id}: stored document names {grant.id}")
    return grant


def list_grants(ws: Workspace, case_id: str | None = None) -> list[UnlockGrant]:
    return [get_grant(ws, r["id"]) for r in ws.store.list_grants(case_id)]


def revocation(ws: Workspace, grant_id: str) -> dict[str, Any] | None:
    """The signed revocation of a grant, or None if it stands."""
    row = ws.store.get_grant(grant_id)
    if row is None or not row["revoked"]:
        return None
    return json.loads(row["revocation_doc"])


def grant_status(ws: Workspace, grant: UnlockGrant, now: datetime | None = None) -> str:
    """``"revoked"``, ``"expired"`` or ``"active"`` (revocation first: it is the decision
    a reader must see even after the grant has also run out). A listing for people, not a
    check: :func:`check_grant` remains the only gate to a reveal."""
    if revocation(ws, grant.id) is not None:
        return "revoked"
    if (now or datetime.now(UTC)) >= grant.expires_at:
        return "expired"
    return "active"


def revoke(ws: Workspace, session: UserSession, grant_id: str, reason: str = "") -> dict[str, Any]:
    """Withdraw a grant (a supervisor or admin); later reveals under it are refused.

    A refused revocation is a ``revocation`` row with ``outcome=denied``.
    """
    row = ws.store.get_grant(grant_id)
    with ws.audit.refusals(
        session, "revocation",
        case_id=row["case_id"] if row else None, object=f"grant:{grant_id}",
    ):  # fmt: skip
        return _revoke(ws, session, grant_id, reason)


def _revoke(ws: Workspace, session: UserSession, grant_id: str, reason: str) -> dict[str, Any]:
    grant = get_grant(ws, grant_id)
    if session.role not in ("supervisor", "admin"):
        raise PermissionDenied(f"{session.name} has role {session.role}; cannot revoke grants")
    if revocation(ws, grant_id) is not None:
        raise PermissionDenied(f"grant {grant_id} is already revoked")
    doc, time = _signed_decision(REVOCATION_TYPE, "grant_id", grant_id, session, reason)
    with ws.store.transaction():
        if not ws.store.revoke_grant(grant_id, time, canonical_json(doc).decode()):
            raise PermissionDenied(f"grant {grant_id} is already revoked")
        ws.audit.record(
            session,
            "revocation",
            case_id=grant.case_id,
            object=f"grant:{grant_id}",
            object_sha256=grant.sha256,
            justification=reason.strip() or None,
        )
    return doc


def check_grant(
    ws: Workspace,
    grant: UnlockGrant,
    session: UserSession | None = None,
    evidence_sha256: str | None = None,
    frames: tuple[int, int] | None = None,
    now: datetime | None = None,
) -> None:
    """Every rule a grant must pass before any key is unwrapped; raises, never returns False.

    Signature by the approver's registered key; approver is a supervisor holding a slot of
    the sealed model; requester != approver; the request it answers (when known here)
    matches; not revoked; not expired; and, when given, requester == ``session`` user,
    evidence hash == ``evidence_sha256`` and ``frames`` inside the granted range.
    """
    grant.verify_signature()
    approver = _check_party(ws, grant.doc["approver"], f"grant {grant.id}")
    requester = _check_party(ws, grant.doc["requester"], f"grant {grant.id}")
    if approver.role != "supervisor":
        raise PermissionDenied(f"grant {grant.id}: approver {approver.name} is not a supervisor")
    if approver.name == requester.name or approver.ed25519_public == requester.ed25519_public:
        raise PermissionDenied(f"grant {grant.id}: approved by its own requester")
    model = sealed_mod.load_sealed(ws, grant.model_sha256)
    if approver.name not in model.holders:
        raise PermissionDenied(f"grant {grant.id}: {approver.name} holds no slot of the model")
    row = ws.store.get_request(grant.request_id)
    if row is not None:
        request = UnlockRequest.from_json(row["doc"])
        if request.sha256 != grant.doc.get("request_sha256"):
            raise VerificationError(f"grant {grant.id} answers another version of its request")
        if (request.case_id, request.evidence_sha256, request.requester) != (
            grant.case_id,
            grant.evidence_sha256,
            grant.requester,
        ) or not (request.frames[0] <= grant.frames[0] <= grant.frames[1] <= request.frames[1]):
            raise VerificationError(f"grant {grant.id} exceeds the scope of its request")
        check_track_scope(grant, request)
    check_grant_live(ws, grant, session, evidence_sha256, frames, now)


def check_track_scope(grant: UnlockGrant, request: UnlockRequest) -> None:
    """A grant for a track-scoped request names a subset of its tracks under the same
    linking rule and starts at its first frame (under ``uunet-roi-link/1`` the ids are
    linked from there); raises VerificationError. Used by :func:`check_grant` and by the
    court export's verifier, so both judge alike."""
    if request.tracks is not None and (
        grant.tracks is None
        or not set(grant.tracks) <= set(request.tracks)
        or grant.track_linker != request.track_linker
        or grant.frames[0] != request.frames[0]
    ):
        raise VerificationError(f"grant {grant.id} exceeds the tracks of its request")


def check_grant_live(
    ws: Workspace,
    grant: UnlockGrant,
    session: UserSession | None = None,
    evidence_sha256: str | None = None,
    frames: tuple[int, int] | None = None,
    now: datetime | None = None,
) -> None:
    """The rules that can change while a grant is held, or differ per use; raises.

    Not revoked; not expired; and, when given, issued to ``session``'s user, for
    ``evidence_sha256``, and ``frames`` inside the granted range. :func:`check_grant` runs
    it after the static checks (signature, parties, model, request); an open
    :class:`~forensics_app.core.custody.reveal.RevealSession` runs it before every frame,
    and :func:`usable_grants` filters with it, so all three decide the same way.
    """
    if revocation(ws, grant.id) is not None:
        raise PermissionDenied(f"grant {grant.id} has been revoked")
    if (now or datetime.now(UTC)) >= grant.expires_at:
        raise PermissionDenied(f"grant {grant.id} expired at {grant.expires}")
    if session is not None and session.name != grant.requester:
        raise PermissionDenied(
            f"grant {grant.id} was issued to {grant.requester}, not {session.name}"
        )
    if evidence_sha256 is not None and evidence_sha256 != grant.evidence_sha256:
        raise PermissionDenied(f"grant {grant.id} is for other evidence ({grant.evidence_sha256})")
    if frames is not None:
        a, b = grant.frames
        if not (a <= frames[0] <= frames[1] <= b):
            what = (
                f"frame {frames[0]} is"
                if frames[0] == frames[1]
                else f"frames {frames[0]}-{frames[1]} are"
            )
            raise PermissionDenied(f"{what} outside grant {grant.id} ({a}-{b})")


def usable_grants(
    ws: Workspace,
    session: UserSession,
    case_id: str,
    evidence_sha256: str,
    now: datetime | None = None,
) -> list[UnlockGrant]:
    """The grants of ``case_id`` that ``session``'s user may use now on this evidence.

    A listing to choose from (the GUI's grant menu): filtered by :func:`check_grant_live`,
    while opening a reveal still runs the full :func:`check_grant`.
    """
    usable = []
    for grant in list_grants(ws, case_id):
        try:
            check_grant_live(ws, grant, session, evidence_sha256, now=now)
        except PermissionDenied:
            continue
        usable.append(grant)
    return usable
