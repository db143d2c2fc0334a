"""Lay a :class:`ReportData` out as a PDF (reportlab platypus).

The order follows what a reader in court needs first: a plain summary (what was done, by
whom, under what authority, with what limits), then the evidence, the authorisation, the
method and its limits, the steps, the exhibits, the audit trail and the signature.
"""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from forensics_app import __version__
from forensics_app.core.atomic import PRIVATE, atomic_write_bytes
from forensics_app.core.report import layout
from forensics_app.core.report.flowables import S, W, facts, grid, heading, para
from forensics_app.core.report.model import ReportData, sha256_bytes
from forensics_app.core.report.render_exhibits import exhibits_section
from forensics_app.errors import InputError

#: Audit rows shown in the PDF; the full excerpt travels in the court export.
MAX_AUDIT_ROWS = 150


def _summary(data: ReportData) -> list[tuple[str, str]]:
    """Plain answers to what a court asks first: what, who, on what authority, how reliable."""
    granted = [u for u in data.unlocks if u.grant_id]
    evidence = "; ".join(f"{e.file_name} (SHA-256 {e.sha256})" for e in data.evidence) or "none"
    if data.exhibits:
        what = (
            f"Faces hidden in the de-identified video were reconstructed by the decoder model "
            f"with SHA-256 {data.model.sha256}. {len(data.exhibits)} frame(s) are shown as "
            "exhibits (section 7), each public frame beside its reconstruction."
        )
    elif data.reconstructions:
        what = "A reconstruction was made, but no reconstructed frame is shown in this report."
    else:
        what = "No reconstruction has been produced for this case; there are no exhibits."
    who = [
        f"Requested by {u.requested_by} on {u.requested_at}; approved by {u.approver} on "
        f"{u.decided_at}."
        for u in granted
    ]
    who += data.reconstructions
    who.append(f"This report was prepared by {data.examiner.name} ({data.examiner.role}).")
    authority = (
        " ".join(
            f"“{u.legal_authority}”, for the reason “{u.reason}”; grant {u.grant_id} covers frames "
            f"{u.frames_granted or u.frames} of one evidence file and expires {u.expires_at}."
            for u in granted
        )
        or "No unlock request for this case has been approved."
    )
    return [
        ("Evidence", evidence),
        ("What was done", what),
        ("By whom", " ".join(who)),
        ("Under what authority", authority),
        (
            "Limits",
            (
                "The decoder is a demonstrator: its model card says it is not fit for operational "
                "use (section 4). "
                if data.model.used and data.model.demonstrator
                else ""
            )
            + "A reconstruction is the output of a statistical model, not an optical record; "
            "it may differ from the real face and should not by itself establish an "
            "identification (section 5). Every reconstructed image is marked as such.",
        ),
        (
            "Record",
            "Every step is an entry of a signed, hash-chained audit log; the excerpt and its "
            f"Merkle checkpoint root ({data.audit.checkpoint_root or 'none'}) are in section 8.",
        ),
    ]


def _header(data: ReportData) -> list:
    return [
        Paragraph("Forensic reconstruction report", S["title"]),
        para(f"{data.lab}" + (f" — {data.agency}" if data.agency else ""), "subtitle"),
        facts(
            [
                ("Report id", data.report_id),
                (
                    "Case",
                    f"{data.case_id} — {data.case_title}" if data.case_title else data.case_id,
                ),
                ("Date of report", data.created_at),
                ("Requested by", f"{data.requester.name} ({data.requester.role})"),
                ("Examiner", f"{data.examiner.name} ({data.examiner.role})"),
                ("Produced with", f"UU-Net Forensics {__version__}"),
            ]
        ),
        *heading("1. Summary"),
        facts(_summary(data)),
    ]


def _evidence(data: ReportData) -> list:
    out: list = [*heading("2. Evidence")]
    if not data.evidence:
        return out + [para("No evidence is recorded for this case.")]
    for i, item in enumerate(data.evidence, 1):
        media = ", ".join(f"{k}: {v}" for k, v in item.media.items())
        out.append(
            KeepTogether(
                [
                    Paragraph(f"Evidence item {i}: {escape(item.file_name)}", S["h2"]),
                    facts(
                        [
                            ("SHA-256", item.sha256),
                            ("Size", f"{item.size_bytes:,} bytes"),
                            ("Received", item.how_received),
                            ("Entered workspace", f"{item.ingested_at} by {item.ingested_by}"),
                            ("Media", media),
                        ]
                    ),
                ]
            )
        )
    return out


def _authorisation(data: ReportData) -> list:
    intro = para(
        "The decoder can only be opened with a key released by a supervisor other than the "
        "requester, for one evidence file and one range of frames, until an expiry time. "
        "Requests and decisions are signed (Ed25519) and logged."
    )
    if not data.unlocks:
        return [*heading("3. Authorisation to reconstruct"), intro,
                para("No unlock request was made for this case.")]  # fmt: skip
    tables = []
    for u in data.unlocks:
        rows = [
            ("Request id", u.request_id),
            ("Requested by / at", f"{u.requested_by}, {u.requested_at}"),
            ("Reason", u.reason),
            ("Legal authority", u.legal_authority),
            ("Evidence SHA-256", u.evidence_sha256),
            ("Frames requested", u.frames),
            ("Decision", u.status),
        ]
        if u.grant_id:
            rows += [
                ("Grant id", u.grant_id),
                ("Approved by / at", f"{u.approver}, {u.decided_at}"),
                ("Frames granted", u.frames_granted or u.frames),
                ("Grant expires", u.expires_at),
            ]
        elif u.approver:
            rows.append(("Decided by / at", f"{u.approver}, {u.decided_at}"))
        if u.decision_note:
            rows.append(("Note", u.decision_note))
        tables.append(facts(rows))
    out: list = [CondPageBreak(100 * mm), *heading("3. Authorisation to reconstruct"), intro]
    for table in tables:
        out += [Spacer(1, 3 * mm), KeepTogether([table])]
    return out


def _method(data: ReportData) -> list:
    model = data.model
    rows = [("Decoder", model.name), ("SHA-256 of the weights", model.sha256)]
    out: list = [
        *heading("4. Method and model"),
        para(data.method),
        Spacer(1, 2 * mm),
        para(f"Reference: {data.paper_reference}", "small"),
        Paragraph("Decoder model", S["h2"]),
    ]
    if not model.used:
        return out + [para(model.note, "box")]
    out.append(facts(rows))
    if model.assessment:
        out.append(Paragraph("What the model is worth, in plain words", S["h2"]))
        for i, text in enumerate(model.assessment):
            out += [para(text, "warn" if i == 0 and model.demonstrator else "body"),
                    Spacer(1, 1.5 * mm)]  # fmt: skip
    if model.validation:
        out += [Paragraph("Validation figures as the model card names them", S["h2"])]
        out.append(
            grid([["measure", "value"]] + [[k, v] for k, v in model.validation], [W * 0.7, W * 0.3])
        )
    if model.training:
        out += [Paragraph("Training data and configuration (from the model card)", S["h2"])]
        out.append(
            grid([["item", "value"]] + [[k, v] for k, v in model.training], [W * 0.4, W * 0.6])
        )
    if model.note:
        out.append(para(model.note, "warn"))
    return out


def _limitations(data: ReportData) -> list:
    out: list = [*heading("5. Limitations")]
    for i, text in enumerate(data.limitations):
        out.append(para(text, "warn" if i == 0 else "body"))
        out.append(Spacer(1, 2 * mm))
    return out


def _steps(data: ReportData) -> list:
    out: list = [*heading("6. Processing steps")]
    if not data.steps:
        return out + [para("No processing step is recorded for this case.")]
    rows: list[list[object]] = [["#", "step", "when / by", "parameters"]]
    for i, step in enumerate(data.steps, 1):
        params = "; ".join(f"{k} = {v}" for k, v in step.parameters.items()) or "—"
        rows.append([str(i), step.title, f"{step.when}\n{step.actor}", params])
    return out + [grid(rows, [8 * mm, 40 * mm, 42 * mm, W - 90 * mm])]


def _audit(data: ReportData) -> list:
    a = data.audit
    out: list = [*heading("8. Audit trail")]
    out.append(
        para(
            "Every action on this case is a row of an append-only log. Each row is signed and "
            "chained to the previous one; signed checkpoints commit to all rows with a Merkle tree "
            "root (RFC 6962), so a removed, edited or reordered row is detected."
        )
    )
    out.append(
        facts(
            [
                ("Checkpoint root", a.checkpoint_root or "none"),
                (
                    "Checkpoint covers",
                    f"{a.checkpoint_size} log entries" if a.checkpoint_size else "—",
                ),
                ("Checkpoint time / signer", f"{a.checkpoint_time} {a.checkpoint_signer}".strip()),
                ("Log verified when this report was made", "yes" if a.log_verified else "no"),
            ]
        )
    )
    if a.note:
        out.append(para(a.note, "warn"))
    rows: list[list[object]] = [
        ["seq", "time (UTC)", "actor (role)", "action", "object", "outcome", "entry hash"]
    ]
    for r in a.rows[-MAX_AUDIT_ROWS:]:
        rows.append(
            [
                str(r.seq),
                r.time,
                f"{r.actor} ({r.role})",
                r.action,
                r.object_ref,
                r.outcome,
                para(r.entry_hash[:12] + "…", "mono"),
            ]
        )
    out.append(Spacer(1, 3 * mm))
    out.append(grid(rows, [10 * mm, 22 * mm, 27 * mm, 22 * mm, W - 127 * mm, 17 * mm, 29 * mm]))
    if len(a.rows) > MAX_AUDIT_ROWS:
        out.append(
            para(
                f"Showing the last {MAX_AUDIT_ROWS} of {len(a.rows)} rows; all are in the export.",
                "small",
            )
        )
    return out


def _tools_and_signature(data: ReportData) -> list:
    rows: list[list[object]] = [["software", "version", "used for"]]
    rows += [[t.name, t.version, t.purpose] for t in data.tools]
    sign = Table(
        [
            [
                para("Examiner", "cellbold"),
                para(f"{data.examiner.name} ({data.examiner.role})", "cell"),
            ],
            [para("Signature", "cellbold"), ""],
            [para("Date and place", "cellbold"), ""],
        ],
        colWidths=[40 * mm, W - 40 * mm],
        rowHeights=[8 * mm, 18 * mm, 10 * mm],
    )
    sign.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, layout.GRID),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONTNAME", (0, 0), (-1, -1), layout.FONT),
            ]
        )
    )
    return [
        *heading("9. Software and versions"),
        grid(rows, [55 * mm, 60 * mm, W - 115 * mm]),
        CondPageBreak(95 * mm),
        *heading("10. Declaration and signature"),
        KeepTogether(
            [
                para(
                    f"I, {data.examiner.name}, declare that the exhibits in this report were "
                    "produced by the procedure described above from the evidence identified by its "
                    "SHA-256 digest, within the scope of the authorisation shown, and that the "
                    "limitations stated above apply."
                ),
                Spacer(1, 3 * mm),
                sign,
                Spacer(1, 3 * mm),
                para(
                    "The SHA-256 of this PDF file is recorded in the audit log as a disclosure of "
                    f"report {data.report_id}; a copy can be checked against that entry.",
                    "small",
                ),
            ]
        ),
    ]


def render_pdf(data: ReportData) -> bytes:
    """The report as PDF bytes (fonts embedded, metadata set, report id on every page)."""
    layout.register_fonts()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=layout.PAGE,
        leftMargin=layout.MARGIN,
        rightMargin=layout.MARGIN,
        topMargin=layout.MARGIN + 4 * mm,
        bottomMargin=layout.MARGIN,
        title=data.title,
        author=data.examiner.name,
        subject=f"Case {data.case_id}; report {data.report_id}",
        creator=f"UU-Net Forensics {__version__}",
        producer=f"UU-Net Forensics {__version__} (ReportLab)",
        keywords=f"{data.report_id}, {data.case_id}, forensic report",
        lang="en",
        initialFontName=layout.FONT,
    )
    story = (
        _header(data)
        + _evidence(data)
        + _authorisation(data)
        + _method(data)
        + _limitations(data)
        + _steps(data)
        + exhibits_section(data)
        + _audit(data)
        + _tools_and_signature(data)
    )
    canvas_class = layout.make_canvas_class(data.report_id, data.case_id, data.lab)
    # Binary streams (no ASCII85): reportlab's pure-Python ASCII85 encoder dominates the
    # time on image-heavy reports and inflates the file by a quarter.
    saved = rl_config.useA85
    rl_config.useA85 = 0
    try:
        doc.build(story, canvasmaker=canvas_class)
    finally:
        rl_config.useA85 = saved
    return buffer.getvalue()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, owner-only (:mod:`forensics_app.core.atomic`)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(f"output folder does not exist: {path.parent}")
    try:
        atomic_write_bytes(path, data, PRIVATE)
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror}") from None


def write_pdf(data: ReportData, path: Path) -> str:
    """Render the report and write it atomically to ``path``; returns the PDF's sha256."""
    pdf = render_pdf(data)
    write_bytes_atomic(path, pdf)
    return sha256_bytes(pdf)
