"""The exhibits section: each frame as published beside its reconstruction, with the faces.

Two exhibits fit on an A4 page (five faces to a row); each image is captioned with its file
name, size and SHA-256 so the page can be checked against the files of the court export.
"""

from __future__ import annotations

from dataclasses import replace
from xml.sax.saxutils import escape

from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, Spacer, Table

from forensics_app.core.marking import INTERPOLATION
from forensics_app.core.report import layout
from forensics_app.core.report.exhibits import (
    face_crop_strip,
    flagged,
    numbered_frame,
    png_size,
)
from forensics_app.core.report.flowables import S, W, heading, image, para, tight
from forensics_app.core.report.model import Exhibit, ImageRef, ReportData

#: Faces shown per exhibit (all of them are in the export).
MAX_FACES = 10


def _caption(title: str, ref: ImageRef, note: str = "") -> Paragraph:
    return Paragraph(
        f"<b>{escape(title)}</b> — {escape(ref.name)}, {ref.width}×{ref.height} px<br/>"
        f'<font name="{layout.FONT_MONO}" size="6.2">SHA-256 {ref.sha256}</font>'
        + (f"<br/>{escape(note)}" if note else ""),
        S["small"],
    )


def _drawn_note(ex: Exhibit, reconstructed: bool) -> str:
    """How the drawn frame differs from its file: the numbered outlines (and, in the
    reconstruction, the public pixels of flagged boxes)."""
    if not ex.faces:
        return ""
    note = (
        "Boxes outlined and numbered (as the face pairs below) outside each box, for this "
        "report; the file has no outlines."
    )
    faces = flagged(ex) if reconstructed else []
    if faces:
        names = ", ".join(f"face {f.number}" for f in faces)
        note += (
            f" The box of {names} (flagged as not a person, magenta) shows the public pixels; "
            "the file keeps the model output."
        )
    return note


def _flagged_lines(ex: Exhibit) -> list:
    """One line per box an analyst flagged as not a person: it is named, never shown."""
    return [
        para(f"face {f.number} (box x={f.box[0]} y={f.box[1]}, {f.box[2]}×{f.box[3]} px): "
             f"{f.flag}; its reconstruction is left out of this report (the whole "
             "frame shows its public pixels).", "small")
        for f in ex.faces
        if f.flag
    ]  # fmt: skip


def _face_strip(ex: Exhibit) -> list:
    """Enlarged face crops, public beside reconstructed, three faces to a row.

    In each pair both crops are drawn at the same scale, so the face in the marked
    reconstruction (with its caption band below) lines up with the public crop. Boxes an
    analyst flagged as not a person are left out and named below the strip, so a false
    detection is never presented as a reconstructed face.
    """
    flagged = _flagged_lines(ex)
    others = ""
    if ex.chosen is not None:
        left = [f.number for f in ex.faces if f.number not in ex.chosen and not f.flag]
        if left:
            others = (
                f"Not chosen for this report: face {', '.join(map(str, left))} (numbered in "
                "the whole frames; their pairs are in the court export)."
            )
        ex = replace(ex, faces=[f for f in ex.faces if f.number in ex.chosen])
    ex = replace(ex, faces=[f for f in ex.faces if not f.flag])
    crops = face_crop_strip(ex, min_side=96, limit=MAX_FACES)
    if not crops:
        lead = [para(others, "small")] if others else []
        return lead + (
            flagged or [para("No face was found in this frame's hidden message.", "small")]
        )
    per_row = 3
    cell = W / per_row - 3 * mm
    cells = []
    for face, (pub, rec, factor) in zip(ex.faces, crops, strict=False):
        pub_w, _ = png_size(pub)
        rec_w, _ = png_size(rec)
        inner = face.image_box[2] if face.image_box else rec_w
        scale = cell / (pub_w + rec_w * pub_w / inner) if inner else cell / (pub_w + rec_w)
        rec_drawn = rec_w * pub_w / inner * scale if inner else rec_w * scale
        pair = tight(
            Table(
                [[image(pub, pub_w * scale), image(rec, rec_drawn)]],
                colWidths=[pub_w * scale + 0.5 * mm, rec_drawn + 0.5 * mm],
            )
        )
        x, y, w, h = face.box
        text = para(
            f"face {face.number}: box x={x} y={y}, {w}×{h} px in the frame; both crops "
            f"enlarged ×{factor}, {INTERPOLATION}"
            + ("; right: model output with its burnt-in marking" if face.unmarked else ""),
            "small",
        )
        cells.append(tight(Table([[pair], [text]], colWidths=[W / per_row - 2 * mm])))
    rows = [cells[k : k + per_row] for k in range(0, len(cells), per_row)]
    rows = [r + [""] * (per_row - len(r)) for r in rows]
    out: list = [
        para("Faces (in each pair, left: public, right: reconstructed):", "small"),
        tight(Table(rows, colWidths=[W / per_row] * per_row)),
    ]
    if len(ex.faces) > MAX_FACES:
        out.append(
            para(f"{len(ex.faces) - MAX_FACES} further face(s) are in the court export.", "small")
        )
    if others:
        out.append(para(others, "small"))
    return out + flagged


def _exhibit(ex: Exhibit) -> list:
    half = (W - 12 * mm) / 2
    head = Paragraph(
        f"Exhibit {ex.number} — frame {ex.frame_index}, time {ex.timestamp_s:.3f} s "
        f"from the start of the video, {len(ex.faces)} face(s), reconstructed under grant "
        f"{ex.grant_id}",
        S["h2"],
    )
    images = Table(
        [
            [image(numbered_frame(ex, False), half), image(numbered_frame(ex, True), half)],
            [_caption("Public frame, as published", ex.public, _drawn_note(ex, False)),
             _caption("Reconstructed frame, model output", ex.reconstructed,
                      _drawn_note(ex, True))],
        ],
        colWidths=[W / 2, W / 2],
    )  # fmt: skip
    return [KeepTogether([head, tight(images), *_face_strip(ex)]), Spacer(1, 3 * mm)]


def exhibits_section(data: ReportData) -> list:
    """Section 7: the exhibits, or a statement of why there are none."""
    out: list = [*heading("7. Exhibits")]
    if data.exhibits_note:
        out.append(para(data.exhibits_note, "box"))
    if not data.exhibits:
        if not data.exhibits_note:
            out.append(
                para("No reconstruction was made for this case: there are no exhibits.", "box")
            )
        return out
    out.append(
        para(
            "Each exhibit shows the frame as published (left) and the same frame with the faces "
            "reconstructed by the decoder (right). Each image is identified by the SHA-256 of its "
            "PNG file, as delivered in the court export. Whole frames are drawn about 8.5 cm "
            "wide, scaled only by the PDF viewer; the files keep every pixel. A reconstructed "
            "frame carries a burnt-in band below it (and a tag in its corner) saying that it is "
            "model output, not an optical record; the unmarked model output is in the export's "
            "unmarked/ folder for measurement. Face crops are enlarged by the whole-number "
            "factor stated under each pair, by pixel replication (nearest neighbour): every "
            "pixel becomes a square block, so no detail is added."
        )
    )
    for ex in data.exhibits:
        out += _exhibit(ex)
    return out
