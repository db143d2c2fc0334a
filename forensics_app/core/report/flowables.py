"""Small building blocks of the report layout: styled paragraphs, headings, tables, images.

Shared by the report renderer and its exhibit pages so both look the same. All text passed
as a plain string is XML-escaped here, so user-supplied words (a reason, a case title)
can never inject reportlab markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Paragraph, Table, TableStyle

from forensics_app.core.report import layout
from forensics_app.core.report.exhibits import png_size
from forensics_app.core.report.pdfimage import PngImage

S = layout.styles()
W = layout.TEXT_WIDTH


def para(text: object, style: str = "body") -> Paragraph:
    """A paragraph of escaped plain text in one of the report styles."""
    return Paragraph(escape(str(text)), S[style])


def heading(text: str) -> list:
    """A section heading that never ends a page: it starts a new page when little room is left."""
    return [CondPageBreak(45 * mm), Paragraph(escape(text), S["h1"])]


def grid(rows: Sequence[Sequence[object]], widths: list[float], header: bool = True) -> Table:
    """A table of escaped text cells (first row bold when ``header``)."""
    cells = [
        [
            c if not isinstance(c, str) else para(c, "cellbold" if header and i == 0 else "cell")
            for c in row
        ]
        for i, row in enumerate(rows)
    ]
    table = Table(cells, colWidths=widths, repeatRows=1 if header else 0)
    commands = [
        ("FONTNAME", (0, 0), (-1, -1), layout.FONT),
        ("GRID", (0, 0), (-1, -1), 0.4, layout.GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), layout.SHADE))
    table.setStyle(TableStyle(commands))
    return table


def facts(pairs: Sequence[tuple[str, object]]) -> Table:
    """A two-column label/value table."""
    rows = [
        [para(k, "cellbold"), para(v if v not in (None, "") else "—", "cell")] for k, v in pairs
    ]
    return grid(rows, [45 * mm, W - 45 * mm], header=False)


def image(png: bytes, width: float) -> PngImage:
    """A PNG drawn ``width`` wide at its own aspect ratio, passed through losslessly."""
    w, h = png_size(png)
    return PngImage(png, width, width * h / w)


def tight(table: Table, valign: str = "TOP") -> Table:
    """``table`` styled without padding or rules (for laying out images side by side)."""
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), valign),
                ("FONTNAME", (0, 0), (-1, -1), layout.FONT),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return table
