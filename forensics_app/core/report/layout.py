"""Fonts, styles and the page frame (header, "page x / y" footer) of every report.

The DejaVu TrueType fonts shipped in ``resources/fonts`` are embedded in the PDF so text
renders identically on any reader and extracts as real text. Page numbers need the total
page count, so pages are buffered by :class:`NumberedCanvas` and stamped when the document
is saved (the usual reportlab two-pass-free technique).
"""

from __future__ import annotations

from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from forensics_app import RESOURCES_DIR
from forensics_app.errors import InputError

FONT_DIR = RESOURCES_DIR / "fonts"
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
FONT_MONO = "DejaVuSansMono"
PAGE = A4
MARGIN = 18 * mm
#: Width of the text frame.
TEXT_WIDTH = PAGE[0] - 2 * MARGIN
ACCENT = colors.HexColor("#1F3A5F")
GRID = colors.HexColor("#B8C2CC")
SHADE = colors.HexColor("#EEF2F6")


def register_fonts() -> None:
    """Register the embedded TrueType fonts once (InputError if the font files are missing)."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    files = {
        FONT: "DejaVuSans.ttf",
        FONT_BOLD: "DejaVuSans-Bold.ttf",
        FONT_MONO: "DejaVuSansMono.ttf",
    }
    for name, file_name in files.items():
        path = FONT_DIR / file_name
        if not path.is_file():
            raise InputError(f"report font missing: {path}")
        pdfmetrics.registerFont(TTFont(name, str(path)))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD
    )


def styles() -> dict[str, ParagraphStyle]:
    """The paragraph styles of a report, by name."""
    base = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13, alignment=TA_LEFT)
    return {
        "body": base,
        "title": ParagraphStyle(
            "title",
            base,
            fontName=FONT_BOLD,
            fontSize=17,
            leading=22,
            textColor=ACCENT,
            spaceAfter=4,
        ),
        "subtitle": ParagraphStyle("subtitle", base, fontSize=10.5, leading=14, spaceAfter=10),
        "h1": ParagraphStyle(
            "h1",
            base,
            fontName=FONT_BOLD,
            fontSize=12.5,
            leading=16,
            textColor=ACCENT,
            spaceBefore=12,
            spaceAfter=5,
        ),
        "h2": ParagraphStyle(
            "h2", base, fontName=FONT_BOLD, fontSize=10.5, leading=14, spaceBefore=8, spaceAfter=3
        ),
        "small": ParagraphStyle("small", base, fontSize=7.5, leading=9.5),
        "cell": ParagraphStyle("cell", base, fontSize=8, leading=10),
        "cellbold": ParagraphStyle("cellbold", base, fontName=FONT_BOLD, fontSize=8, leading=10),
        "mono": ParagraphStyle("mono", base, fontName=FONT_MONO, fontSize=7, leading=9),
        "box": ParagraphStyle(
            "box",
            base,
            fontSize=9.5,
            leading=13.5,
            backColor=SHADE,
            borderColor=GRID,
            borderWidth=0.6,
            borderPadding=7,
            spaceBefore=6,
            spaceAfter=12,
        ),
        "warn": ParagraphStyle(
            "warn",
            base,
            fontSize=9.5,
            leading=13.5,
            borderColor=ACCENT,
            borderWidth=1,
            borderPadding=7,
            spaceBefore=6,
            spaceAfter=10,
        ),
    }


def make_canvas_class(report_id: str, case_id: str, lab: str) -> type[Canvas]:
    """A canvas class stamping header and "Page x / y" footer, knowing the page total."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # reportlab API
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._stamp(total)
                super().showPage()
            super().save()

        def _stamp(self, total: int) -> None:
            width, height = PAGE
            self.saveState()
            self.setStrokeColor(ACCENT)
            self.setLineWidth(0.6)
            self.line(MARGIN, height - MARGIN + 3 * mm, width - MARGIN, height - MARGIN + 3 * mm)
            self.setFont(FONT_BOLD, 8)
            self.setFillColor(ACCENT)
            self.drawString(MARGIN, height - MARGIN + 5 * mm, f"Report {report_id}")
            self.setFont(FONT, 8)
            self.drawRightString(width - MARGIN, height - MARGIN + 5 * mm, f"Case {case_id}")
            self.line(MARGIN, MARGIN - 4 * mm, width - MARGIN, MARGIN - 4 * mm)
            self.setFillColor(colors.black)
            self.drawString(MARGIN, MARGIN - 8 * mm, f"{lab} · Report {report_id}")
            self.drawRightString(
                width - MARGIN, MARGIN - 8 * mm, f"Page {self._pageNumber} / {total}"
            )
            self.restoreState()

    return NumberedCanvas
