"""Who appears when: one lane per track under the scrubber, with counts and time ticks.

The tracks are the analyst side's (``core.roi_tracks``: the ROI boxes of the scanned frames
linked by overlap, from frame 0; the stream carries no tracker ids). Each lane shows where
its track has a box, and its label the track id and how many boxes it holds. Dragging
across the lanes selects a frame range (the scope of an unlock request, shared with the
scrubber's Shift+drag); clicking a lane's label picks that track and selects its span, so
"request this person" is one click and the request button.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from forensics_app.core.roi_tracks import Track
from forensics_app.gui.timeline import FrameAxis

LANE_HEIGHT = 16
HEADER_HEIGHT = 18
LABEL_WIDTH = 104
#: Candidate tick steps in seconds; the smallest leaving at least MIN_TICK_PX between ticks.
TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
MIN_TICK_PX = 64
DRAG_PX = 3


def lane_label(track: Track, picked: bool = False) -> str:
    """A lane's label, ``track N · count``: N is the number every view, the request, the
    grant and the report give that person (ids linked from frame 0, core.roi_tracks)."""
    return f"{'▶ ' if picked else ''}track {track.track_id} · {track.count}"


def lane_colour(track_id: int) -> QColor:
    """A distinct, stable hue per track id (golden-angle steps around the wheel)."""
    return QColor.fromHsv(int(track_id * 137.508) % 360, 170, 235)


def tick_step(duration_s: float, width_px: float) -> float:
    """The tick spacing in seconds for ``duration_s`` drawn over ``width_px`` pixels."""
    if duration_s <= 0 or width_px <= 0:
        return TICK_STEPS[-1]
    for step in TICK_STEPS:
        if width_px * step / duration_s >= MIN_TICK_PX:
            return step
    return TICK_STEPS[-1]


def tick_label(seconds: float, step: float) -> str:
    """A tick's time: ``m:ss`` (``h:mm:ss`` past an hour), tenths when ticks are that close."""
    whole = int(seconds + 1e-6)
    hours, rest = divmod(whole, 3600)
    text = f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
    if step < 1:
        text += f".{int(round((seconds - whole) * 10)) % 10}"
    return text


class TrackLanes(FrameAxis, QWidget):
    """One lane per track: presence bars, ``track N · count`` labels, ticks, selection."""

    position_changed = Signal(int)
    selection_changed = Signal(int, int)
    track_selected = Signal(int)  # 0: none

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setToolTip(
            "One lane per track (boxes linked across frames). Drag to select a frame range; "
            "click a lane's label to pick that track and select its frames"
        )
        self.frame_count = 0
        self.fps = 25.0
        self.position = 0
        self.tracks: list[Track] = []
        self.selection: tuple[int, int] | None = None
        self.selected_track: int | None = None
        self._press: tuple[float, int, int] | None = None  # x, frame, lane
        self._dragging = False
        self._fit_height()

    def sizeHint(self) -> QSize:  # Qt API
        return QSize(600, self.height())

    # -- model -----------------------------------------------------------------------
    def set_frame_count(self, count: int, fps: float = 25.0) -> None:
        self.frame_count = max(0, int(count))
        self.fps = float(fps) if fps and fps > 0 else 25.0
        self.position, self.selection = 0, None
        self.set_tracks([])

    def set_tracks(self, tracks: Sequence[Track]) -> None:
        """Show these tracks (one lane each); a picked track that is gone is dropped."""
        self.tracks = list(tracks)
        if self.selected_track is not None and self.track(self.selected_track) is None:
            self.selected_track = None
        self._fit_height()
        self.update()

    def track(self, track_id: int) -> Track | None:
        return next((t for t in self.tracks if t.track_id == track_id), None)

    def set_position(self, index: int) -> None:
        if index != self.position:
            self.position = index
            self.update()

    def set_selection(self, first: int, last: int) -> None:
        """Show a range chosen elsewhere (the scrubber); emits nothing."""
        self.selection = (min(first, last), max(first, last))
        self.update()

    def select_track(self, track_id: int | None) -> None:
        """Pick a track (None: none), select its span and say so."""
        track = self.track(track_id) if track_id else None
        self.selected_track = track.track_id if track else None
        if track is not None:
            self.selection = (track.first, track.last)
            self.selection_changed.emit(track.first, track.last)
        self.track_selected.emit(self.selected_track or 0)
        self.update()

    def _fit_height(self) -> None:
        self.setFixedHeight(HEADER_HEIGHT + max(1, len(self.tracks)) * LANE_HEIGHT + 4)

    # -- geometry --------------------------------------------------------------------
    def _bar(self) -> QRectF:
        return QRectF(LABEL_WIDTH, 0, max(1, self.width() - LABEL_WIDTH - 6), self.height())

    def lane_at(self, y: float) -> int:
        """The lane index under ``y`` (-1 above the lanes or past the last one)."""
        lane = int((y - HEADER_HEIGHT) // LANE_HEIGHT) if y >= HEADER_HEIGHT else -1
        return lane if 0 <= lane < len(self.tracks) else -1

    # -- mouse -----------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.frame_count == 0:
            return
        x, y = event.position().x(), event.position().y()
        lane = self.lane_at(y)
        if x < LABEL_WIDTH:
            if lane >= 0:
                self.select_track(self.tracks[lane].track_id)
            return
        self._press, self._dragging = (x, self.frame_at(x), lane), False

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is None:
            return
        x = event.position().x()
        if not self._dragging and abs(x - self._press[0]) < DRAG_PX:
            return
        self._dragging = True
        first, last = sorted((self._press[1], self.frame_at(x)))
        self.selection = (first, last)
        self.selection_changed.emit(first, last)
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        press, self._press = self._press, None
        if press is None or self._dragging:
            self._dragging = False
            return
        self.position = press[1]
        self.position_changed.emit(press[1])
        self.update()

    # -- paint -----------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(36, 36, 40))
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        self._paint_ticks(painter)
        if not self.tracks:
            painter.setPen(QColor(160, 160, 170))
            text = (
                "no tracks yet: Scan ROIs to see who appears when (one lane per track)"
                if self.frame_count
                else "no video"
            )
            painter.drawText(
                QRectF(8, HEADER_HEIGHT, self.width() - 16, LANE_HEIGHT),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                text,
            )
        for lane, track in enumerate(self.tracks):
            self._paint_lane(painter, lane, track)
        if self.frame_count:
            self._paint_selection(painter)
            x = self.x_of(self.position + 0.5)
            painter.setPen(QPen(QColor(255, 255, 255), 1.5))
            painter.drawLine(QPointF(x, HEADER_HEIGHT - 4), QPointF(x, self.height()))
        painter.end()

    def _paint_ticks(self, painter: QPainter) -> None:
        bar = self._bar()
        painter.setPen(QColor(200, 200, 210))
        painter.drawText(
            QRectF(6, 0, LABEL_WIDTH - 8, HEADER_HEIGHT),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            f"{len(self.tracks)} track{'s' if len(self.tracks) != 1 else ''}",
        )
        if not self.frame_count:
            return
        duration = self.frame_count / self.fps
        step = tick_step(duration, bar.width())
        n = int(duration / step) + 1
        for i in range(n):
            seconds = i * step
            x = self.x_of(seconds * self.fps)
            painter.setPen(QColor(120, 120, 130))
            painter.drawLine(QPointF(x, HEADER_HEIGHT - 5), QPointF(x, self.height()))
            label = tick_label(seconds, step)
            if x + 3 + painter.fontMetrics().horizontalAdvance(label) <= bar.right():
                painter.setPen(QColor(200, 200, 210))
                painter.drawText(QPointF(x + 3, HEADER_HEIGHT - 6), label)

    def _paint_lane(self, painter: QPainter, lane: int, track: Track) -> None:
        top = HEADER_HEIGHT + lane * LANE_HEIGHT
        picked = track.track_id == self.selected_track
        background = QColor(70, 70, 90) if picked else QColor(44 + 6 * (lane % 2), 44, 50)
        painter.fillRect(QRectF(0, top, self.width(), LANE_HEIGHT - 1), background)
        colour = lane_colour(track.track_id)
        painter.setPen(colour.lighter(130) if picked else colour)
        painter.drawText(
            QRectF(6, top, LABEL_WIDTH - 10, LANE_HEIGHT),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            lane_label(track, picked),
        )
        frames = [frame for frame, _ in track.faces]
        start = prev = frames[0]
        for frame in [*frames[1:], None]:
            if frame is not None and frame == prev + 1:
                prev = frame
                continue
            left, right = self.x_of(start), self.x_of(prev + 1)
            rect = QRectF(left, top + 3, max(1.5, right - left), LANE_HEIGHT - 7)
            painter.fillRect(
                rect, colour if picked or self.selected_track is None else colour.darker(160)
            )
            if frame is not None:
                start = prev = frame

    def _paint_selection(self, painter: QPainter) -> None:
        if self.selection is None:
            return
        left, right = self.x_of(self.selection[0]), self.x_of(self.selection[1] + 1)
        rect = QRectF(left, HEADER_HEIGHT, max(2.0, right - left), self.height() - HEADER_HEIGHT)
        painter.fillRect(rect, QColor(120, 170, 255, 60))
        painter.setPen(QPen(QColor(120, 170, 255), 1))
        painter.drawLine(QPointF(left, HEADER_HEIGHT), QPointF(left, self.height()))
        painter.drawLine(QPointF(left + rect.width(), HEADER_HEIGHT),
                         QPointF(left + rect.width(), self.height()))  # fmt: skip
