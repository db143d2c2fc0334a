"""Gather a case's report from the custody workspace, and write it (logged as a disclosure).

Everything comes from the workspace: the case and its evidence records, the signed requests
and grants, the sealed decoder's header (its model card), the audit log (which must verify,
and whose rows give the processing steps) and the reveal outputs the log points to, each
re-checked against the hashes recorded when it was made.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from forensics_app.core.custody import (
    UserSession,
    Workspace,
    get_case,
    get_user,
    list_evidence,
    list_grants,
    list_requests,
    load_sealed,
    revocation,
)
from forensics_app.core.custody.flags import box_flags, flag_texts
from forensics_app.core.outputs import PRIVATE_DIR, write_private
from forensics_app.core.report.environment import (
    collect_tools,
    load_model_card,
    model_info_from_card,
)
from forensics_app.core.report.model import (
    AuditExcerpt,
    AuditRow,
    EvidenceItem,
    Exhibit,
    ModelInfo,
    Person,
    ProcessingStep,
    ReportData,
    UnlockRecord,
    new_report_id,
    sha256_bytes,
)
from forensics_app.core.report.render import render_pdf, write_bytes_atomic
from forensics_app.core.report.sources import (
    RevealOutput,
    exhibits_from_reveal,
    load_reveal,
    select_frames,
)
from forensics_app.core.report.texts import METHOD_TEXT, limitations
from forensics_app.errors import ForensicsError, InputError, ModelError, VerificationError

#: Workspace folder keeping a private copy of every report written (for ``export --report``).
REPORTS_DIR = "reports"
_REPORT_ID = re.compile(r"^RPT-\d{8}-\d{6}-[0-9A-F]{8}$")

DEFAULT_LAB = "Forensic Video Laboratory"
#: What each audit action means as a processing step.
STEP_TITLES = {
    "case_created": "Case opened",
    "collection": "Evidence received and hashed (SHA-256)",
    "verification": "Evidence re-hashed before use",
    "request": "Unlock request filed",
    "approval": "Unlock request approved (grant signed)",
    "denial": "Unlock request denied",
    "revocation": "Grant revoked",
    "consultation": "Sealed decoder opened under grant",
    "reveal": "Faces reconstructed and written",
    "disclosure": "Disclosure",
    "export": "Court export",
}


def _when(text: str) -> str:
    """ISO time as 'YYYY-MM-DD HH:MM:SS UTC' (unchanged if it does not parse)."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return str(text)
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _person(ws: Workspace, name: str) -> Person:
    try:
        user = get_user(ws, name)
    except ForensicsError:
        return Person(name, "unknown")
    return Person(user.name, user.role, user.key_id)


def _evidence(ws: Workspace, case_id: str) -> list[EvidenceItem]:
    items = []
    for rec in list_evidence(ws, case_id):
        media = rec.details.get("media") or {}
        facts = {}
        for key in ("container", "codec", "width", "height", "fps", "frame_count", "duration"):
            if key in media and media[key] not in (None, ""):
                value = media[key]
                facts[key] = (
                    f"{value:.3f}".rstrip("0").rstrip(".")
                    if isinstance(value, float)
                    else str(value)
                )
        items.append(
            EvidenceItem(
                file_name=Path(rec.path).name,
                size_bytes=rec.size,
                sha256=rec.sha256,
                ingested_at=_when(rec.ingested),
                ingested_by=rec.ingested_by,
                how_received=f"file {rec.path}, opened read-only and hashed at intake; "
                "re-hashed before every use",
                media=facts,
            )
        )
    return items


def _named(ws: Workspace, name: str) -> str:
    person = _person(ws, name)
    return f"{person.name} ({person.role})"


def _track_scope(tracks: tuple[int, ...] | None, first: int | None) -> str:
    """How a judge reads a track-scoped range: which faces, and what a track is here
    (``first``: the frame the ids are linked from, the document's ``track_origin``)."""
    if tracks is None:
        return ""
    ids = ", ".join(str(t) for t in tracks)
    return (
        f", only the faces of track {ids} (boxes linked across frames from frame {first} "
        "by position; no other face is reconstructed)"
    )


def _unlocks(ws: Workspace, case_id: str) -> list[UnlockRecord]:
    grants = {g.request_id: g for g in list_grants(ws, case_id)}
    out = []
    for info in list_requests(ws, case_id):
        req = info.request
        common = dict(
            request_id=req.id,
            requested_by=_named(ws, req.requester),
            requested_at=_when(req.created),
            reason=req.reason,
            legal_authority=req.authority,
            evidence_sha256=req.evidence_sha256,
            frames=f"{req.frames[0]}–{req.frames[1]}{_track_scope(req.tracks, req.track_origin)}",
        )
        grant = grants.get(req.id)
        if grant is not None:
            revoked = revocation(ws, grant.id)
            a, b = grant.frames
            out.append(
                UnlockRecord(
                    **common,
                    status="approved" + (" (later revoked)" if revoked else ""),
                    grant_id=grant.id,
                    approver=_named(ws, grant.approver),
                    decided_at=_when(grant.issued),
                    expires_at=_when(grant.expires),
                    frames_granted=f"{a}–{b}{_track_scope(grant.tracks, grant.track_origin)}",
                    decision_note=f"grant document sha256 {grant.sha256}",
                )
            )
        elif info.status == "denied" and info.decision:
            out.append(
                UnlockRecord(
                    **common,
                    status="denied",
                    approver=_named(ws, str(info.decision.get("by", ""))),
                    decided_at=_when(str(info.decision.get("time", ""))),
                    decision_note=str(info.decision.get("reason", "")),
                )
            )
        else:
            out.append(UnlockRecord(**common, status=info.status))
    return out


def _model(ws: Workspace, case_id: str) -> ModelInfo:
    shas = [g.model_sha256 for g in list_grants(ws, case_id)]
    if not shas:
        return ModelInfo(
            name="none",
            sha256="none",
            card_found=False,
            note="No unlock was granted for this case, so no decoder model was used.",
            used=False,
        )
    sha = shas[-1]
    try:
        sealed = load_sealed(ws, sha)
    except ModelError:
        return load_model_card(sha256=sha or "")
    info = model_info_from_card(sealed.card, sha256=sealed.model_sha256)
    if not info.validation or not info.card_limitations:
        # the sealed card may predate the evaluation or the stated limitations; the shipped
        # card of the very same weights (same sha256, so no note) may say more
        shipped = load_model_card(sha256=sealed.model_sha256)
        if shipped.card_found and shipped.validation and not shipped.note:
            return shipped
    return info


def _case_rows(ws: Workspace, case_id: str) -> list[dict[str, Any]]:
    return [row for row in ws.audit.entries() if row.get("case_id") == case_id]


def _steps(rows: list[dict[str, Any]]) -> list[ProcessingStep]:
    steps = []
    for row in rows:
        title = STEP_TITLES.get(row["action"])
        if title is None:
            continue
        details = json.loads(row.get("details") or "{}")
        params: dict[str, str] = {}
        if row.get("object"):
            params["object"] = str(row["object"])
        if row.get("object_sha256"):
            params["sha256"] = str(row["object_sha256"])
        for key, value in details.items():
            if key in ("path", "out"):
                continue
            if isinstance(value, list):
                value = "–".join(map(str, value)) if key == "frames" else ", ".join(map(str, value))
            params[key] = str(value)
        if row.get("outcome") not in (None, "success"):
            params["outcome"] = str(row["outcome"])
        steps.append(
            ProcessingStep(title, _when(row["time"]), f"{row['actor']} ({row['role']})", params)
        )
    return steps


def _reconstructions(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for row in rows:
        if row["action"] != "reveal":
            continue
        d = json.loads(row.get("details") or "{}")
        frames = d.get("frames") or ["?", "?"]
        out.append(
            f"On {_when(row['time'])}, {row['actor']} ({row['role']}) reconstructed frames "
            f"{frames[0]}–{frames[1]} under grant {d.get('grant_id', '?')} "
            f"({d.get('faces', '?')} face(s), {d.get('files', '?')} image files)."
        )
    return out


def audit_excerpt(ws: Workspace, rows: list[dict[str, Any]]) -> AuditExcerpt:
    """The case's rows plus a fresh signed checkpoint over the whole (verified) log."""
    ws.audit.verify()  # raises AuditVerificationError naming the first bad row
    checkpoint = ws.audit.checkpoint()
    shown = [
        AuditRow(
            seq=int(r["seq"]),
            time=_when(r["time"]).replace(" UTC", ""),
            actor=str(r["actor"]),
            role=str(r["role"]),
            action=str(r["action"]),
            object_ref=str(r.get("object") or ""),
            outcome=str(r.get("outcome") or ""),
            entry_hash=str(r["entry_hash"]),
        )
        for r in rows
    ]
    return AuditExcerpt(
        rows=shown,
        checkpoint_size=checkpoint.size,
        checkpoint_root=checkpoint.root,
        checkpoint_time=_when(checkpoint.time),
        checkpoint_signer=f"workspace log key {checkpoint.key_id}",
        log_verified=True,
    )


def reveal_outputs(
    ws: Workspace, rows: list[dict[str, Any]], folders: Sequence[Path] | None
) -> tuple[list[tuple[RevealOutput, bool]], list[str]]:
    """The case's checked reveal folders, each with whether the log recorded it, and the
    logged reveal folders that are no longer there. Without ``folders``, the logged ones."""
    logged: dict[str, str] = {}
    for row in rows:
        if row["action"] == "reveal":
            out = json.loads(row.get("details") or "{}").get("out")
            if out:
                logged[str(Path(out).resolve())] = row["object_sha256"]
    gone = [p for p in logged if not (Path(p) / "reveal.json").is_file()]
    chosen = [Path(f) for f in folders] if folders else [Path(p) for p in logged if p not in gone]
    outputs = []
    for folder in chosen:
        key = str(folder.resolve())
        outputs.append((load_reveal(folder, logged.get(key)), key in logged))
    return outputs, gone


def frame_ranges(frames: Sequence[int]) -> str:
    """``[36, 37, 38, 40]`` as ``"36–38, 40"``."""
    out: list[str] = []
    ordered = sorted(set(frames))
    start = prev = ordered[0] if ordered else 0
    for f in [*ordered[1:], None]:
        if f is not None and f == prev + 1:
            prev = f
            continue
        out.append(f"{start}–{prev}" if prev > start else str(start))
        if f is not None:
            start = prev = f
    return ", ".join(out) if ordered else ""


def _first_reveal_only(
    candidates: list[int], sha: str, grant_id: str, first_by: dict[tuple[str, int], str]
) -> tuple[list[int], list[str]]:
    """The candidate frames no earlier reveal of the same evidence made, and a note per
    earlier grant naming the frames left to it, so that each frame is an exhibit once.

    ``first_by`` is updated with this reveal's new frames."""
    repeated: dict[str, list[int]] = {}
    fresh = []
    for f in candidates:
        earlier = first_by.get((sha, f))
        if earlier is None:
            fresh.append(f)
        else:
            repeated.setdefault(earlier, []).append(f)
    for f in fresh:
        first_by[(sha, f)] = grant_id
    notes = [
        f"Frames {frame_ranges(fs)} were reconstructed under grant {earlier} and again under "
        f"grant {grant_id}; each is shown once, as reconstructed under grant {earlier} (both "
        "reveals are in the court export, each in its own folder)."
        for earlier, fs in repeated.items()
    ]
    return fresh, notes


def _keep_chosen(exhibits: list[Exhibit], picked: dict[int, tuple[int, ...]]) -> list[Exhibit]:
    """The exhibits in frame order, numbered from 1, each with its chosen face numbers;
    raises InputError for a chosen frame no reveal made or a face its frame lacks."""
    by_frame = {e.frame_index: e for e in exhibits}
    out = []
    for number, frame in enumerate(sorted(picked), 1):
        ex = by_frame.get(frame)
        if ex is None:
            raise InputError(f"frame {frame} is in no reveal of this case with a face to show")
        present = {f.number for f in ex.faces}
        for face in picked[frame]:
            if face not in present:
                raise InputError(
                    f"frame {frame} has no face {face} (faces "
                    f"{', '.join(str(n) for n in sorted(present))})"
                )
        out.append(replace(ex, number=number, chosen=tuple(sorted(set(picked[frame])))))
    return out


def build_report_data(
    ws: Workspace,
    case_id: str,
    session: UserSession,
    reveal_dirs: Sequence[Path] | None = None,
    *,
    max_exhibits: int = 20,
    frames: tuple[int, int] | None = None,
    lab: str = DEFAULT_LAB,
    agency: str = "",
    progress: Callable[[int, int], None] | None = None,
    faces: Sequence[tuple[int, int]] | None = None,
) -> ReportData:
    """Everything the report of ``case_id`` states, gathered and checked from ``ws``.

    Exhibits are sampled evenly from the reconstructed frames (``frames``: only from that
    range; at most ``max_exhibits``) unless the examiner chose them: ``faces`` lists
    (frame, face number) pairs, and then exactly those frames are exhibits (in frame order,
    ``max_exhibits`` not applied), each showing the enlarged pairs of its chosen faces only.
    A chosen frame no reveal made, or a face number its frame lacks, is an InputError.

    ``progress(done, total)`` is called after each reveal's exhibits are read (the slow
    part: their images are decoded and checked), for the GUI's percentage."""
    case = get_case(ws, case_id)
    rows = _case_rows(ws, case_id)
    evidence = _evidence(ws, case_id)
    fps = {e.sha256: (float(e.media.get("fps", 0) or 0)) for e in evidence}
    unlocks = _unlocks(ws, case_id)
    model = _model(ws, case_id)
    exhibits: list[Exhibit] = []
    notes: list[str] = []
    flags = box_flags(ws, case_id)
    outputs, gone = reveal_outputs(ws, rows, reveal_dirs)
    #: (evidence sha256, frame) -> the grant of the first reveal that reconstructed it
    first_by: dict[tuple[str, int], str] = {}
    picked: dict[int, tuple[int, ...]] | None = None
    if faces is not None:
        picked = {}
        for frame, face in faces:
            picked[int(frame)] = (*picked.get(int(frame), ()), int(face))
    for done, (reveal, logged) in enumerate(outputs, 1):
        if reveal.manifest.get("case_id") != case_id:
            raise InputError(
                f"reveal at {reveal.folder} belongs to case {reveal.manifest.get('case_id')}"
            )
        if not logged:
            notes.append(f"The reveal at {reveal.folder} is not recorded in this workspace's log.")
        sha = str(reveal.manifest.get("evidence_sha256"))
        candidates = reveal.frames_with_faces()
        if frames is not None:
            candidates = [f for f in candidates if frames[0] <= f <= frames[1]]
        if picked is not None:
            candidates = [f for f in candidates if f in picked]
        candidates, overlap = _first_reveal_only(candidates, sha, reveal.grant_id, first_by)
        notes += overlap
        if picked is not None:
            chosen = candidates
        else:
            chosen = select_frames(candidates, max_exhibits - len(exhibits))
        rate = fps.get(sha, 0.0)
        exhibits += exhibits_from_reveal(
            reveal, chosen, rate, first_number=len(exhibits) + 1, flags=flag_texts(flags, sha)
        )
        if progress is not None:
            progress(done, len(outputs))
    if picked is not None:
        exhibits = _keep_chosen(exhibits, picked)
        notes.append(
            "The exhibits were chosen by the examiner (frame and face numbers); each shows "
            "the enlarged pairs of the chosen faces only, and every box of the frame numbered "
            "in the whole frames."
        )
    for folder in gone:
        notes.append(
            f"The reconstruction the audit log records in {folder} is no longer available "
            "here; its images are not shown."
        )
    if not exhibits and outputs:
        notes.append("No reconstructed frame with a face is in the selection: no exhibits.")
    elif not exhibits and not gone:
        notes.append(
            "No reconstruction has been made for this case: there are no exhibits. "
            "The public video has not been reversed."
        )
    requests = list_requests(ws, case_id)
    requester = _person(ws, requests[0].request.requester if requests else case.created_by)
    return ReportData(
        report_id=new_report_id(),
        created_at=_when(datetime.now(UTC).isoformat()),
        lab=lab,
        agency=agency,
        case_id=case.case_id,
        case_title=case.title,
        requester=requester,
        examiner=Person(session.name, session.role, session.user.key_id),
        evidence=evidence,
        tools=collect_tools(),
        model=model,
        steps=_steps(rows),
        unlocks=unlocks,
        exhibits=exhibits,
        audit=audit_excerpt(ws, rows),
        exhibits_note=" ".join(notes),
        reconstructions=_reconstructions(rows),
        method=METHOD_TEXT,
        limitations=limitations(model),
    )


def disclose_report(ws: Workspace, session: UserSession, data: ReportData) -> tuple[str, bytes]:
    """Render ``data`` and log the PDF's sha256 as a disclosure; returns (sha256, pdf)."""
    pdf = render_pdf(data)
    digest = sha256_bytes(pdf)
    _log_report(ws, session, data, digest)
    return digest, pdf


def _log_report(
    ws: Workspace, session: UserSession, data: ReportData, digest: str, out: Path | None = None
) -> None:
    details: dict[str, Any] = {
        "kind": "report",
        "report_id": data.report_id,
        "exhibits": len(data.exhibits),
        "model_sha256": data.model.sha256,
        "grants": sorted({u.grant_id for u in data.unlocks if u.grant_id}),
    }
    if out is not None:
        details["out"] = str(out.resolve())
    ws.audit.record(
        session,
        "disclosure",
        case_id=data.case_id,
        object=f"report:{data.report_id}",
        object_sha256=digest,
        justification="; ".join(sorted({u.legal_authority for u in data.unlocks if u.grant_id}))
        or None,
        details=details,
    )


def write_report(ws: Workspace, session: UserSession, data: ReportData, out: Path) -> str:
    """Render ``data`` to ``out`` and log the PDF's sha256 as a disclosure (fail closed).

    The log row and the file are written in one transaction: if the row cannot be written no
    file is left, and if the file cannot be written the row is rolled back. A private copy is
    kept in the workspace (``reports/RPT-….pdf``, 0600) so that ``export --report`` can put
    this very report in a court bundle. Returns the sha256.
    """
    pdf = render_pdf(data)
    digest = sha256_bytes(pdf)
    with ws.store.transaction():
        _log_report(ws, session, data, digest, Path(out))
        folder = Path(ws.root) / REPORTS_DIR
        try:
            folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
            write_private(folder / f"{data.report_id}.pdf", pdf)
        except OSError as error:
            raise InputError(f"cannot keep a copy in {folder}: {error.strerror}") from None
        write_bytes_atomic(Path(out), pdf)
    return digest


@dataclass(frozen=True)
class StoredReport:
    """A report made earlier, as its disclosure row recorded it, with its checked PDF."""

    report_id: str
    pdf: bytes
    sha256: str
    model_sha256: str
    row: dict[str, Any]


def stored_report(ws: Workspace, case_id: str, report_id: str) -> StoredReport:
    """The PDF of report ``report_id`` of ``case_id``, checked against its logged sha256.

    Looks in the workspace's ``reports/`` copy, then where the report was written; the first
    whose sha256 is the one the log recorded is returned. A report of another case, one the
    log does not know, or a PDF that no longer matches is refused.
    """
    if not _REPORT_ID.match(report_id):
        raise InputError(f"{report_id!r} is not a report id (RPT-YYYYMMDD-HHMMSS-XXXXXXXX)")
    rows = [
        r
        for r in ws.audit.entries()
        if r["action"] == "disclosure"
        and r.get("object") == f"report:{report_id}"
        and r.get("outcome") in (None, "success")
    ]
    if not rows:
        raise InputError(f"no report {report_id} is recorded in this workspace's log")
    row = rows[-1]
    if row.get("case_id") != case_id:
        raise InputError(f"report {report_id} belongs to case {row.get('case_id')}, not {case_id}")
    details = json.loads(row.get("details") or "{}")
    places = [Path(ws.root) / REPORTS_DIR / f"{report_id}.pdf"]
    if details.get("out"):
        places.append(Path(details["out"]))
    altered = []
    for place in places:
        try:
            pdf = place.read_bytes()
        except OSError:
            continue
        if sha256_bytes(pdf) == row["object_sha256"]:
            return StoredReport(
                report_id, pdf, row["object_sha256"], str(details.get("model_sha256", "")), row
            )
        altered.append(str(place))
    if altered:
        raise VerificationError(
            f"report {report_id}: {', '.join(altered)} differs from the PDF the log recorded "
            "(altered); make a new report"
        )
    raise InputError(
        f"report {report_id}: its PDF is neither in the workspace nor at "
        f"{details.get('out', 'the place it was written')}; make a new report"
    )
