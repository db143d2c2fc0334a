"""Whole-workspace verification: the log, the checkpoints kept outside it, and the state.

:meth:`AuditLog.verify` proves that the rows the log *has* are authentic and in order. It
cannot see rows that are simply gone: a deleted WAL after a crash, a tail cut together with
its checkpoints, every row deleted with the triggers dropped. Two checks here catch that:

* **anchors**: a signed checkpoint kept outside the database (the anchor file beside it,
  and any ``--checkpoint FILE`` kept elsewhere) proves the log had at least that many rows
  with that Merkle root;
* **state cross-check**: every user, case, evidence record, sealed decoder, request,
  decision, grant and revocation in the database must be recorded by a successful audit row
  naming it (and, for signed documents, its sha256), so a state row whose log row is gone
  is named.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from forensics_app.core.custody.audit import AuditVerificationError, load_checkpoint_file
from forensics_app.core.custody.workspace import Workspace


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class _LoggedFacts:
    """What the successful audit rows record, indexed for the cross-check."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self.objects: set[tuple[str, str | None, str | None]] = set()
        self.cases: set[str] = set()
        self.evidence: set[tuple[str, str]] = set()
        self.models: set[str] = set()
        for row in rows:
            if row["outcome"] != "success":
                continue
            action, obj, sha = row["action"], row["object"], row["object_sha256"]
            self.objects.add((action, obj, sha))
            self.objects.add((action, obj, None))
            if action == "case_created" and row["case_id"]:
                self.cases.add(row["case_id"])
            elif action == "collection" and row["case_id"] and sha:
                self.evidence.add((row["case_id"], sha))
            elif action in ("seal", "import") and (obj or "").startswith("model:") and sha:
                self.models.add(sha)

    def has(self, actions: tuple[str, ...], obj: str, sha: str | None = None) -> bool:
        return any((a, obj, sha) in self.objects for a in actions)


def _missing(what: str) -> AuditVerificationError:
    return AuditVerificationError(
        f"{what} is in the database but no audit row records it (audit rows lost or state forged)"
    )


def check_state_logged(ws: Workspace) -> int:
    """Every state record must have its audit row; returns how many records were checked."""
    facts = _LoggedFacts(ws.audit.entries())
    store, checked = ws.store, 0
    for user in store.list_users():
        if not facts.has(("user_added",), f"user:{user['name']}"):
            raise _missing(f"user {user['name']}")
        checked += 1
    for case in store.list_cases():
        if case["case_id"] not in facts.cases:
            raise _missing(f"case {case['case_id']}")
        checked += 1
        for ev in store.list_evidence(case["case_id"]):
            if (case["case_id"], ev["sha256"]) not in facts.evidence:
                raise _missing(f"evidence {ev['sha256'][:16]}… of case {case['case_id']}")
            checked += 1
    for model in store.list_sealed():
        if model["model_sha256"] not in facts.models:
            raise _missing(f"sealed decoder {model['model_sha256'][:16]}…")
        checked += 1
    for req in store.list_requests():
        obj = f"request:{req['id']}"
        if not facts.has(("request", "import"), obj, _sha(req["doc"])):
            raise _missing(f"request {req['id']}")
        if req["status"] == "denied" and not facts.has(("denial",), obj):
            raise _missing(f"the denial of request {req['id']}")
        if req["status"] == "approved":
            grant_id = json.loads(req["decision_doc"] or "{}").get("grant")
            if not grant_id or store.get_grant(str(grant_id)) is None:
                raise AuditVerificationError(
                    f"request {req['id']} is approved but its grant is not in the database"
                )
        checked += 1
    for grant in store.list_grants():
        obj = f"grant:{grant['id']}"
        if not facts.has(("approval", "import"), obj, _sha(grant["doc"])):
            raise _missing(f"grant {grant['id']}")
        if grant["revoked"] and not facts.has(("revocation",), obj):
            raise _missing(f"the revocation of grant {grant['id']}")
        checked += 1
    return checked


def verify_workspace(
    ws: Workspace,
    public_key_b64: str | None = None,
    checkpoints: Iterable[str | Path] = (),
) -> dict[str, Any]:
    """Verify the log, every checkpoint kept outside it, and the state against the log.

    Raises :class:`AuditVerificationError` (or ``VerificationError`` for a bad checkpoint
    file) naming the first fault; returns the log summary plus ``anchor`` (the size the
    anchor beside the database proves, or None), ``external`` (sizes proven by the given
    files) and ``state_records`` (records cross-checked).
    """
    summary = ws.audit.verify(public_key_b64)
    anchor_size = None
    anchor = ws.audit.anchor()
    if anchor is not None:
        ws.audit.verify_against(anchor, f"the anchor {ws.audit.anchor_path}", public_key_b64)
        anchor_size = anchor.size
    elif ws.audit.anchor_expected():
        raise AuditVerificationError(
            f"the audit anchor {ws.audit.anchor_path} is missing; restore it from backup or "
            "verify with --checkpoint FILE"
        )
    external = []
    for path in checkpoints:
        checkpoint = load_checkpoint_file(path)
        ws.audit.verify_against(checkpoint, f"checkpoint {path}", public_key_b64)
        external.append(checkpoint.size)
    return {
        **summary,
        "anchor": anchor_size,
        "external": external,
        "state_records": check_state_logged(ws),
    }
