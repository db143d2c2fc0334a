"""The scrubber: a timeline that follows the mouse, marks scan results and a selection.

Each frame has a scan mark: not scanned yet, ``none`` (no hidden message), ``ok`` without
faces, ``ok`` with faces, or ``damaged``. Dragging with the left button moves the playhead
continuously; dragging with Shift held selects a frame range (the default scope of an
unlock request). A granted range can be shown as a band.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

UNSCANNED, NONE, OK_EMPTY, FACES, DAMAGED = 0, 1, 2, 3, 4
STATUS_CODES = {"none": NONE, "damaged": DAMAGED}
MARK_COLOURS = {
    UNSCANNED: QColor(60, 60, 66),
    NONE: QColor(95, 95, 105),
    OK_EMPTY: QColor(70, 130, 180),
    FACES: QColor(255, 196, 0),
    DAMAGED: QColor(230, 60, 60),
}


def status_code(status: str, n_boxes: int) -> int:
    """The timeline mark for one frame's extract result."""
    if status == "ok":
        return FACES if n_boxes > 0 else OK_EMPTY
    return STATUS_CODES.get(status, UNSCANNED)


class FrameAxis:
    """Frames along a widget's bar (``_bar()``) and back: the timeline and the track lanes
    share one axis, so a frame sits at the same x in both."""

    frame_count: int

    def _bar(self) -> QRectF:
        raise NotImplementedError

    def frame_at(self, x: float) -> int:
        """The frame under horizontal position ``x`` (clamped to the clip)."""
        if self.frame_count <= 0:
            return 0
        bar = self._bar()
        fraction = (x - bar.left()) / bar.width()
        return int(max(0, min(self.frame_count - 1, fraction * self.frame_count)))

    def x_of(self, index: float) -> float:
        """The horizontal position of frame ``index`` (fractions allowed)."""
        bar = self._bar()
        return bar.left() + bar.width() * (index / max(1, self.frame_count))


class Timeline(FrameAxis, QWidget):
    """Frame scrubber with scan marks, playhead, selection and grant band."""

    position_changed = Signal(int)
    selection_changed = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(46)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setToolTip("Drag to scrub · Shift+drag (or keys I / O) selects a frame range")
        self.frame_count = 0
        self.position = 0
        self.marks = np.zeros(0, dtype=np.uint8)
        self.selection: tuple[int, int] | None = None
        self.grant_range: tuple[int, int] | None = None
        self._dragging = False
        self._select_anchor: int | None = None

    def sizeHint(self) -> QSize:  # Qt API
        return QSize(600, 46)

    # -- model -----------------------------------------------------------------------
    def set_frame_count(self, count: int) -> None:
        self.frame_count = max(0, int(count))
        self.marks = np.zeros(self.frame_count, dtype=np.uint8)
        self.position = 0
        self.selection = None
        self.update()

    def set_position(self, index: int) -> None:
        """Move the playhead without emitting (the player drives it)."""
        if index != self.position:
            self.position = index
            self.update()

    def set_marks(self, indices: np.ndarray, codes: np.ndarray) -> None:
        """Record scan marks for some frames."""
        self.marks[np.asarray(indices, dtype=np.int64)] = np.asarray(codes, dtype=np.uint8)
        self.update()

    def set_selection(self, first: int, last: int) -> None:
        first, last = sorted((int(first), int(last)))
        self.selection = (max(0, first), min(self.frame_count - 1, last))
        self.selection_changed.emit(*self.selection)
        self.update()

    def clear_selection(self) -> None:
        self.selection = None
        self.update()

    def set_grant_range(self, frames: tuple[int, int] | None) -> None:
        self.grant_range = frames
        self.update()

    # -- geometry --------------------------------------------------------------------
    def _bar(self) -> QRectF:
        return QRectF(6, 14, max(1, self.width() - 12), self.height() - 22)

    # -- mouse -----------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.frame_count == 0:
            return
        index = self.frame_at(event.position().x())
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self._select_anchor = index
            self.set_selection(index, index)
        else:
            self._dragging = True
            self._move_to(index)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self.frame_at(event.position().x())
        if self._select_anchor is not None:
            self.set_selection(self._select_anchor, index)
        elif self._dragging:
            self._move_to(index)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._dragging = False
        self._select_anchor = None

    def _move_to(self, index: int) -> None:
        if index != self.position:
            self.position = index
            self.update()
            self.position_changed.emit(index)

    # -- paint -----------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(36, 36, 40))
        bar = self._bar()
        painter.fillRect(bar, MARK_COLOURS[UNSCANNED])
        if self.frame_count:
            self._paint_marks(painter, bar)
            if self.grant_range is not None:
                self._band(painter, bar, self.grant_range, QColor(80, 200, 120, 200), 0, 4)
            if self.selection is not None:
                self._band(painter, bar, self.selection, QColor(120, 170, 255, 90), 0, bar.height())
                self._band(painter, bar, self.selection, QColor(120, 170, 255), bar.height() - 3, 3)
            x = self.x_of(self.position + 0.5)
            painter.setPen(QPen(QColor(255, 255, 255), 2))
            painter.drawLine(QPointF(x, bar.top() - 4), QPointF(x, bar.bottom() + 2))
            painter.setBrush(QColor(255, 255, 255))
            painter.drawPolygon(
                QPolygonF([QPointF(x - 5, 2), QPointF(x + 5, 2), QPointF(x, bar.top() - 2)])
            )
        painter.end()

    def _paint_marks(self, painter: QPainter, bar: QRectF) -> None:
        columns = max(1, int(bar.width()))
        edges = np.linspace(0, self.frame_count, columns + 1).astype(np.int64)[:-1]
        edges = np.minimum(edges, self.frame_count - 1)
        per_column = np.maximum.reduceat(self.marks, edges)  # the most telling mark wins
        changes = np.flatnonzero(np.diff(per_column)) + 1
        starts = np.concatenate(([0], changes))
        ends = np.concatenate((changes, [columns]))
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            code = int(per_column[start])
            if code == UNSCANNED:
                continue
            height = bar.height() if code in (FACES, DAMAGED) else bar.height() * 0.45
            rect = QRectF(bar.left() + start, bar.bottom() - height, end - start, height)
            painter.fillRect(rect, MARK_COLOURS[code])

    def _band(
        self,
        painter: QPainter,
        bar: QRectF,
        frames: tuple[int, int],
        colour: QColor,
        y: float,
        h: float,
    ) -> None:
        left, right = self.x_of(frames[0]), self.x_of(frames[1] + 1)
        painter.fillRect(QRectF(left, bar.top() + y, max(2.0, right - left), h), colour)
