"""The frame display: zoom with the wheel, pan by dragging, ROI boxes over the frame.

A :class:`QGraphicsView` shows the frame as a pixmap item; the ROI boxes read from the
frame's hidden message are rectangle items on top, so they follow zoom and pan. The frame
index and timestamp are painted in the view's corner in screen coordinates, so they stay
visible whatever the zoom.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

BOX_COLOURS = {"ok": QColor(255, 196, 0), "damaged": QColor(230, 60, 60)}
MIN_ZOOM, MAX_ZOOM = 0.05, 40.0


class FrameView(QGraphicsView):
    """Shows one frame with its ROI boxes; wheel zooms around the cursor, drag pans."""

    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QBrush(QColor(24, 24, 28)))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the main window keeps the keyboard
        self._pixmap = QGraphicsPixmapItem()
        self._pixmap.setTransformationMode(Qt.TransformationMode.FastTransformation)
        self.scene().addItem(self._pixmap)
        self._box_items: list[QGraphicsRectItem | QGraphicsSimpleTextItem] = []
        self._fitted = False
        self._fit_mode = True
        self.overlay_text = "no video"
        self.status_text = ""
        self.boxes: tuple[tuple[int, int, int, int], ...] = ()
        #: The boxes of the picked track on this frame (drawn thicker).
        self.picked_boxes: tuple[tuple[int, int, int, int], ...] = ()

    # -- content ---------------------------------------------------------------------
    def set_image(self, image: QImage) -> None:
        """Show a new frame; the first one is fitted to the window."""
        self._pixmap.setPixmap(QPixmap.fromImage(image))
        self.scene().setSceneRect(QRectF(0, 0, image.width(), image.height()))
        if not self._fitted:
            self._fitted = True
            self.fit()

    def set_boxes(
        self,
        boxes: Sequence[Sequence[int]],
        status: str = "ok",
        tracks: Sequence[int] | None = None,
        picked: int | None = None,
    ) -> None:
        """Draw the ROI boxes of the current frame (empty to clear), each labelled with its
        face number and, when the boxes have been linked, its track (``2 · T5``); the box
        of track ``picked`` (the lane picked under the scrubber) is drawn thicker, in white."""
        scene = self.scene()
        for item in self._box_items:
            scene.removeItem(item)
        self._box_items.clear()
        self.boxes = tuple(tuple(int(v) for v in box) for box in boxes)
        self.picked_boxes: tuple[tuple[int, int, int, int], ...] = ()
        colour = BOX_COLOURS.get(status, BOX_COLOURS["ok"])
        pen = QPen(colour, 0)  # cosmetic: one screen pixel whatever the zoom
        pen.setCosmetic(True)
        pen.setWidthF(2.0)
        # 9 pt bold on a dark plate: the 7 pt yellow labels alone could not be read over
        # light pavement in the 1366×768 screenshots (issue #15, "Must show")
        font = QFont()
        font.setPointSizeF(9.0)
        font.setBold(True)
        plate_brush = QBrush(QColor(0, 0, 0, 170))
        strong = QPen(QColor(255, 255, 255), 0)
        strong.setCosmetic(True)
        strong.setWidthF(3.5)
        for number, (x, y, w, h) in enumerate(self.boxes, start=1):
            track = tracks[number - 1] if tracks and number <= len(tracks) else None
            is_picked = picked is not None and track == picked
            if is_picked:
                self.picked_boxes += ((x, y, w, h),)
            rect = QGraphicsRectItem(QRectF(x, y, w, h))
            rect.setPen(strong if is_picked else pen)
            rect.setZValue(2)
            label = QGraphicsSimpleTextItem(f"{number} · T{track}" if track else str(number))
            label.setBrush(QBrush(QColor(255, 255, 255) if is_picked else colour))
            label.setFont(font)
            # the plate ignores the zoom (so does its child, the label): anchored at the
            # box's corner, it sits just above the box, the same size on screen at any zoom
            # (a box at the very top gets its label inside, below the corner)
            text = label.boundingRect()
            above = y >= text.height()
            top = -text.height() - 1 if above else 1
            label.setPos(2, top)
            plate = QGraphicsRectItem(QRectF(0, top, text.width() + 4, text.height()))
            plate.setBrush(plate_brush)
            plate.setPen(QPen(Qt.PenStyle.NoPen))
            plate.setFlag(QGraphicsRectItem.GraphicsItemFlag.ItemIgnoresTransformations)
            label.setParentItem(plate)
            plate.setPos(x, y)
            plate.setZValue(3)
            scene.addItem(rect)
            scene.addItem(plate)
            self._box_items += [rect, plate]
        self.viewport().update()

    def set_overlay(self, text: str, status: str = "") -> None:
        """The frame index/timestamp line and the message status shown in the corner."""
        self.overlay_text = text
        self.status_text = status
        self.viewport().update()

    # -- zoom and pan ----------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return float(self.transform().m11())

    @property
    def fit_mode(self) -> bool:
        """True while the frame follows the window's size (Fit), False at a set zoom."""
        return bool(self._fit_mode)

    def fit(self) -> None:
        """Fit the whole frame into the window."""
        self._fit_mode = True
        if not self._pixmap.pixmap().isNull():
            self.fitInView(self._pixmap, Qt.AspectRatioMode.KeepAspectRatio)
            self.zoom_changed.emit(self.zoom)

    def set_zoom(self, factor: float) -> None:
        """Set an absolute zoom factor (1.0 = one image pixel per screen pixel)."""
        factor = max(MIN_ZOOM, min(MAX_ZOOM, factor))
        self._fit_mode = False
        self.setTransform(self.transform().fromScale(factor, factor))
        self.zoom_changed.emit(self.zoom)

    def zoom_by(self, step: float) -> None:
        """Multiply the zoom by ``step`` around the cursor."""
        self.set_zoom(self.zoom * step)

    def wheelEvent(self, event: QWheelEvent) -> None:  # Qt API
        delta = event.angleDelta().y()
        if delta:
            self.zoom_by(1.25 if delta > 0 else 0.8)
        event.accept()

    def resizeEvent(self, event) -> None:  # Qt API
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    # -- overlay ---------------------------------------------------------------------
    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        painter.save()
        painter.resetTransform()
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSizeF(10.0)
        font.setBold(True)
        painter.setFont(font)
        lines = [self.overlay_text] + ([self.status_text] if self.status_text else [])
        metrics = painter.fontMetrics()
        width = max(metrics.horizontalAdvance(line) for line in lines) + 16
        height = metrics.height() * len(lines) + 10
        painter.fillRect(8, 8, width, height, QColor(0, 0, 0, 170))
        painter.setPen(QColor(240, 240, 240))
        for row, line in enumerate(lines):
            painter.drawText(16, 13 + metrics.ascent() + row * metrics.height(), line)
        painter.restore()
