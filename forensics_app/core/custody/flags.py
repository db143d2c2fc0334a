"""Box flags: an analyst says a detected box is not a person (issue #15 item 4).

The producer's detector also fires on traffic cones and signs; U_d then "reconstructs" a
face there. An analyst who sees that flags the box, with a reason. A flag is one signed
``flag`` row of the audit log and lives nowhere else: it cannot be removed or edited
without the log failing to verify, and reports and exports read it from there. A later row
for the same box (``flagged: false``, :func:`unflag_box`) withdraws it; the latest row wins.

A box is named by the evidence sha256, the frame index and its face number (1-based, the
box's position in the frame's ROI message plus one: the number the GUI, the file names,
``reveal.json`` and the report show). The ROI message is part of the evidence, so that
name stays the same however often the frame is revealed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from forensics_app.core.custody.cases import get_evidence
from forensics_app.core.custody.users import UserSession
from forensics_app.core.custody.workspace import Workspace
from forensics_app.errors import InputError

#: The audit action of a flag (and of its withdrawal).
FLAG_ACTION = "flag"
#: What a flag says about a box; the only kind so far.
NOT_A_PERSON = "not_a_person"
#: Longest reason kept (a sentence, not a document).
MAX_REASON = 500

BoxKey = tuple[str, int, int]  # (evidence sha256, frame index, face number)


@dataclass(frozen=True)
class BoxFlag:
    """An analyst's flag on one box, as the audit log holds it."""

    evidence_sha256: str
    frame: int
    face: int
    reason: str
    by: str
    time: str
    seq: int
    box: tuple[int, int, int, int] | None = None
    kind: str = NOT_A_PERSON

    @property
    def key(self) -> BoxKey:
        return (self.evidence_sha256, self.frame, self.face)

    def text(self) -> str:
        """How reports, exports and the GUI say it: "flagged: not a person (reason)"."""
        return f"flagged: not a person ({self.reason})"


def _check(frame: int, face: int, reason: str | None) -> str:
    if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
        raise InputError(f"frame must be a frame index (0 or more), got {frame!r}")
    if isinstance(face, bool) or not isinstance(face, int) or face < 1:
        raise InputError(f"face must be a face number (1 or more, as shown), got {face!r}")
    text = " ".join(str(reason or "").split())
    if not text:
        raise InputError("a flag needs a reason (what the box shows instead of a person)")
    if len(text) > MAX_REASON:
        raise InputError(f"the reason is longer than {MAX_REASON} characters")
    return text


def flag_box(
    ws: Workspace,
    session: UserSession,
    case_id: str,
    evidence_sha256: str,
    frame: int,
    face: int,
    reason: str,
    box: tuple[int, int, int, int] | None = None,
) -> BoxFlag:
    """Flag face ``face`` of ``frame`` as not a person, for ``reason``; one signed row.

    ``box`` (x, y, w, h), when the caller knows it, is kept in the row so a reader of the
    log sees which box was meant without revealing the frame.
    """
    text = _check(frame, face, reason)
    kept = None
    if box is not None:
        if len(box) != 4:
            raise InputError(f"a box is four numbers (x, y, w, h), got {box!r}")
        x, y, w, h = box
        kept = (int(x), int(y), int(w), int(h))
    box_list = list(kept) if kept is not None else None
    row = _record(ws, session, case_id, evidence_sha256, frame, face, text, True, box=box_list)
    return BoxFlag(evidence_sha256, frame, face, text, session.name, row["time"], row["seq"], kept)


def unflag_box(
    ws: Workspace,
    session: UserSession,
    case_id: str,
    evidence_sha256: str,
    frame: int,
    face: int,
    reason: str,
) -> None:
    """Withdraw a flag (it was a person after all), for ``reason``; one signed row."""
    text = _check(frame, face, reason)
    _record(ws, session, case_id, evidence_sha256, frame, face, text, False)


def _record(
    ws: Workspace,
    session: UserSession,
    case_id: str,
    evidence_sha256: str,
    frame: int,
    face: int,
    reason: str,
    flagged: bool,
    **extra: object,
) -> dict:
    """The one signed ``flag`` row of a flag (``flagged``) or of its withdrawal, after
    checking that the evidence is in the case; ``extra`` joins the row's details."""
    get_evidence(ws, case_id, evidence_sha256)  # the evidence must be in the case
    details = {"flagged": flagged, "kind": NOT_A_PERSON, "evidence_sha256": evidence_sha256,
               "frame": frame, "face": face, **extra}  # fmt: skip
    return ws.audit.record(
        session,
        FLAG_ACTION,
        case_id=case_id,
        object=f"box:{evidence_sha256[:16]}:{frame}:{face}",
        object_sha256=evidence_sha256,
        justification=reason,
        details=details,
    )


def box_flags(ws: Workspace, case_id: str) -> dict[BoxKey, BoxFlag]:
    """The boxes of ``case_id`` flagged now, by (evidence sha256, frame, face number)."""
    flags: dict[BoxKey, BoxFlag] = {}
    for row in ws.store.audit_rows(FLAG_ACTION, case_id):
        d = json.loads(row["details"] or "{}")
        key = (str(d.get("evidence_sha256")), int(d.get("frame", -1)), int(d.get("face", -1)))
        if not d.get("flagged"):
            flags.pop(key, None)
            continue
        box = d.get("box")
        flags[key] = BoxFlag(
            *key, str(row["justification"] or ""), str(row["actor"]), str(row["time"]),
            int(row["seq"]), tuple(int(v) for v in box) if box else None,  # type: ignore[arg-type]
            str(d.get("kind") or NOT_A_PERSON),
        )  # fmt: skip
    return flags


def flag_texts(flags: dict[BoxKey, BoxFlag], evidence_sha256: str) -> dict[tuple[int, int], str]:
    """(frame, face) → "flagged: not a person (reason)" for one evidence file."""
    return {(f.frame, f.face): f.text() for k, f in flags.items() if k[0] == evidence_sha256}
