"""Request and grant files for air-gapped labs (canonical JSON, one document per file).

An imported request or grant passes exactly the checks a local one does before it is
stored; exports and imports are logged (export names the recipient). An import never
overrides a decision taken here: a grant for a request denied (or already approved) in this
workspace is refused, and every refused import is logged (``import``, ``outcome=denied``).
"""

from __future__ import annotations

from pathlib import Path

from forensics_app.core.custody.crypto import canonical_json
from forensics_app.core.custody.unlock import (
    UnlockGrant,
    UnlockRequest,
    _request_case,
    _store_grant,
    _store_request,
    check_frames_exist,
    check_grant,
    get_grant,
    get_request,
)
from forensics_app.core.custody.users import UserSession
from forensics_app.core.custody.workspace import Workspace
from forensics_app.errors import ForensicsError, InputError, PermissionDenied, VerificationError


def _write(path: Path, data: bytes) -> None:
    try:
        Path(path).write_bytes(data + b"\n")
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror}") from None


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None


def export_request(ws: Workspace, session: UserSession, request_id: str, path: Path) -> None:
    """Write a request file (canonical JSON); logged as a transfer."""
    info = get_request(ws, request_id)
    with ws.store.transaction():
        ws.audit.record(
            session, "export", case_id=info.request.case_id,
            object=f"request:{request_id}", object_sha256=info.request.sha256,
            details={"file": str(path)},
        )  # fmt: skip
        _write(path, info.request.to_json())


def import_request(ws: Workspace, session: UserSession, path: Path) -> UnlockRequest:
    """Read a request file; verified exactly like a local request before it is stored."""
    with ws.audit.refusals(session, "import", object=f"file:{path}", errors=(ForensicsError,)):
        return _import_request(ws, session, path)


def _import_request(ws: Workspace, session: UserSession, path: Path) -> UnlockRequest:
    request = UnlockRequest.from_json(_read(path))
    request.verify(ws)
    check_frames_exist(ws, request.case_id, request.evidence_sha256, request.frames)
    existing = ws.store.get_request(request.id)
    if existing is not None:
        if UnlockRequest.from_json(existing["doc"]).sha256 != request.sha256:
            raise VerificationError(f"request {request.id} differs from the one already here")
        return request
    with ws.store.transaction():
        _store_request(ws, request)
        ws.audit.record(
            session, "import", case_id=request.case_id,
            object=f"request:{request.id}", object_sha256=request.sha256,
            details={"file": str(path), "requester": request.requester},
        )  # fmt: skip
    return request


def export_grant(ws: Workspace, session: UserSession, grant_id: str, path: Path) -> None:
    """Write a grant file (canonical JSON); logged as a transfer to its requester."""
    grant = get_grant(ws, grant_id)
    with ws.store.transaction():
        ws.audit.record(
            session, "export", case_id=grant.case_id,
            object=f"grant:{grant_id}", object_sha256=grant.sha256,
            details={"file": str(path), "recipients": [grant.requester]},
        )  # fmt: skip
        _write(path, grant.to_json())


def import_grant(ws: Workspace, session: UserSession, path: Path) -> UnlockGrant:
    """Read a grant file; it must pass :func:`check_grant` before it is stored.

    If the request it answers is known here it must still be pending: a local denial or
    approval stands (decided inside the storing transaction, like :func:`approve`).
    """
    with ws.audit.refusals(session, "import", object=f"file:{path}", errors=(ForensicsError,)):
        return _import_grant(ws, session, path)


def _import_grant(ws: Workspace, session: UserSession, path: Path) -> UnlockGrant:
    grant = UnlockGrant.from_json(_read(path))
    check_grant(ws, grant)
    existing = ws.store.get_grant(grant.id)
    if existing is not None:
        if UnlockGrant.from_json(existing["doc"]).sha256 != grant.sha256:
            raise VerificationError(f"grant {grant.id} differs from the one already here")
        return grant
    with ws.store.transaction():
        if _request_case(ws, grant.request_id) is not None and not ws.store.decide_request(
            grant.request_id, "approved", canonical_json({"grant": grant.id}).decode()
        ):
            request = ws.store.get_request(grant.request_id)
            status = request["status"] if request is not None else "decided"
            raise PermissionDenied(
                f"request {grant.request_id} was already {status} here; grant {grant.id} by "
                f"{grant.approver} not imported (an import never overrides a local decision)"
            )
        _store_grant(ws, grant)
        ws.audit.record(
            session, "import", case_id=grant.case_id,
            object=f"grant:{grant.id}", object_sha256=grant.sha256,
            details={"file": str(path), "approver": grant.approver},
        )  # fmt: skip
    return grant
