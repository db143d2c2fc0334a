"""The visible mark on every reconstructed image the app shows."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen

MARK_TEXT = "reconstruction — model output"
MARK_COLOUR = QColor(255, 0, 160)


def mark_reconstruction(image: QImage) -> QImage:
    """A copy of ``image`` with a magenta frame and a "reconstruction — model output" band.

    The band sits over the bottom of the image (never beside it) so that a screenshot or a
    crop of the picture keeps the mark; on narrow crops the text wraps to two lines.
    """
    out = image.convertToFormat(QImage.Format.Format_RGB32)
    width, height = out.width(), out.height()
    painter = QPainter(out)
    pen = QPen(MARK_COLOUR)
    pen.setWidth(max(2, width // 80))
    painter.setPen(pen)
    painter.drawRect(QRect(0, 0, width - 1, height - 1))
    font = QFont("sans-serif")
    font.setBold(True)
    font.setPixelSize(max(9, min(16, width // 16)))
    painter.setFont(font)
    metrics = QFontMetrics(font)
    lines = 1 if metrics.horizontalAdvance(MARK_TEXT) + 8 <= width else 2
    band = metrics.height() * lines + 6
    painter.fillRect(QRect(0, height - band, width, band), QColor(0, 0, 0, 180))
    painter.setPen(QColor(255, 255, 255))
    flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
    painter.drawText(QRect(2, height - band, width - 4, band), flags, MARK_TEXT)
    painter.end()
    return out
