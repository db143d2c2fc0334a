"""The video panel: frame view, transport bar, jump field, timeline, track lanes and ROI scan."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from forensics_app.core.roi_tracks import Track, link_tracks, tracks_of
from forensics_app.errors import ForensicsError
from forensics_app.gui import scan as scan_mod
from forensics_app.gui.frame_source import DisplayFrame, FrameSource
from forensics_app.gui.player import Player
from forensics_app.gui.timecode import format_timestamp, parse_position
from forensics_app.gui.timeline import MARK_COLOURS, Timeline, status_code
from forensics_app.gui.track_lanes import HEADER_HEIGHT, LANE_HEIGHT, TrackLanes
from forensics_app.gui.video_view import FrameView
from forensics_app.gui.workers import Task, TaskRunner


def _legend(*right: QWidget) -> QWidget:
    """The timeline's colour key, then the ``right`` widgets at the row's end."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    for code, text in ((3, "faces"), (2, "message, no face"), (1, "no message"), (4, "damaged")):
        swatch = QLabel()
        swatch.setFixedSize(10, 10)
        swatch.setStyleSheet(f"background:{MARK_COLOURS[code].name()};")
        row.addWidget(swatch)
        row.addWidget(QLabel(text))
    row.addStretch(1)
    for widget in right:
        row.addWidget(widget)
    return box


class VideoPanel(QWidget):
    """Everything needed to look at one public video and its hidden ROI messages."""

    frame_changed = Signal(int)
    scan_finished = Signal(object)  # ScanSummary
    error = Signal(str)
    notice = Signal(str)  # a line for the status bar (the seek copy's state)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.source: FrameSource | None = None
        self.player: Player | None = None
        self.path: Path | None = None
        self.marks: dict[int, scan_mod.FrameMark] = {}
        self._scans: dict[Path, dict[int, scan_mod.FrameMark]] = {}
        self.scan_task: Task | None = None
        #: Track ids of the scanned boxes, linked from frame 0 (core.roi_tracks), per frame.
        self.track_ids: dict[int, list[int]] = {}
        self.tracks: list[Track] = []
        self._linked_at = 0.0
        self.last_seek_ms: float | None = None
        self._seek_started: float | None = None
        self._build()
        self._set_enabled(False)

    def _build(self) -> None:
        self.view = FrameView(self)
        self.timeline = Timeline(self)
        self.lanes = TrackLanes(self)
        self.lanes_scroll = QScrollArea(self)
        self.lanes_scroll.setWidget(self.lanes)
        self.lanes_scroll.setWidgetResizable(True)
        self.lanes_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.lanes_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.lanes_scroll.setMinimumHeight(HEADER_HEIGHT + LANE_HEIGHT * 4 + 4)  # 4 lanes at 768
        self.lanes_scroll.setMaximumHeight(LANE_HEIGHT * 6 + 24)
        style = self.style()
        self.home_button = self._tool(
            QStyle.StandardPixmap.SP_MediaSkipBackward, "First frame (Home)"
        )
        self.back_button = self._tool(
            QStyle.StandardPixmap.SP_MediaSeekBackward, "Previous frame (←)"
        )
        self.play_button = self._tool(QStyle.StandardPixmap.SP_MediaPlay, "Play / pause (Space)")
        self.next_button = self._tool(QStyle.StandardPixmap.SP_MediaSeekForward, "Next frame (→)")
        self.end_button = self._tool(QStyle.StandardPixmap.SP_MediaSkipForward, "Last frame (End)")
        self._play_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPause)
        self.jump_edit = QLineEdit()
        self.jump_edit.setPlaceholderText("frame or mm:ss.f")
        self.jump_edit.setToolTip("Jump to a frame number (e.g. 120) or a timecode (e.g. 00:12.0)")
        self.jump_edit.setMinimumWidth(90)
        self.jump_edit.setMaximumWidth(140)
        self.jump_edit.returnPressed.connect(self.jump_from_text)
        self.position_label = QLabel("no video")
        self.position_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.position_label.setStyleSheet("font-family: monospace; font-weight: bold;")
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Fit the frame to the window (wheel zooms, drag pans)")
        self.fit_button.clicked.connect(self.view.fit)
        self.one_button = QPushButton("1:1")
        self.one_button.clicked.connect(lambda: self.view.set_zoom(1.0))
        self.zoom_label = QLabel("zoom –")
        self.zoom_label.setToolTip("Image pixels per screen pixel (wheel zooms, Fit, 1:1)")
        self.view.zoom_changed.connect(self._on_zoom)
        self.scan_button = QPushButton("Scan ROIs")
        self.scan_button.setToolTip("Read the hidden ROI message of every frame in the background")
        self.scan_button.clicked.connect(self.toggle_scan)
        self.scan_progress = QProgressBar()
        self.scan_progress.setMaximumWidth(160)
        self.scan_progress.setFormat("scan %p%")
        self.scan_progress.setVisible(False)

        for button in (self.fit_button, self.one_button, self.scan_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for button in (self.fit_button, self.one_button):
            button.setMaximumWidth(48)  # the window must fit 1366 px (issue #15 item 9)
        transport = QHBoxLayout()
        for button in (self.home_button, self.back_button, self.play_button):
            transport.addWidget(button)
        for button in (self.next_button, self.end_button):
            transport.addWidget(button)
        transport.addSpacing(8)
        transport.addWidget(QLabel("Go to:"))
        transport.addWidget(self.jump_edit)
        transport.addSpacing(8)
        transport.addStretch(1)
        transport.addWidget(self.scan_progress)
        transport.addWidget(self.fit_button)
        transport.addWidget(self.one_button)
        transport.addWidget(self.scan_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.timeline)
        layout.addWidget(self.lanes_scroll)
        # position and zoom go on the legend's row: on the transport row, with the scan's
        # bar, a longer frame number widened the window past 1366 px mid-session
        layout.addWidget(_legend(self.position_label, self.zoom_label))
        layout.addLayout(transport)

        self.home_button.clicked.connect(lambda: self.player and self.player.home())
        self.back_button.clicked.connect(lambda: self.player and self.player.step(-1))
        self.play_button.clicked.connect(lambda: self.player and self.player.toggle())
        self.next_button.clicked.connect(lambda: self.player and self.player.step(1))
        self.end_button.clicked.connect(lambda: self.player and self.player.end())
        self.timeline.position_changed.connect(self.seek)
        self.timeline.selection_changed.connect(self.lanes.set_selection)
        self.lanes.position_changed.connect(self.seek)
        self.lanes.selection_changed.connect(self.timeline.set_selection)
        self.lanes.track_selected.connect(self._redraw_boxes)

    def _tool(self, icon: QStyle.StandardPixmap, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(self.style().standardIcon(icon))
        button.setToolTip(tip)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (
            self.home_button, self.back_button, self.play_button, self.next_button,
            self.end_button, self.jump_edit, self.fit_button, self.one_button, self.timeline,
            self.lanes,
        ):  # fmt: skip
            widget.setEnabled(enabled)
        self.scan_button.setEnabled(enabled)

    def install_shortcuts(self, window: QWidget) -> list[QShortcut]:
        """Transport keys for the whole window: Space, ←/→, Shift+←/→, PageUp/PageDown (one
        second), J/K/L, Home/End."""

        def on(action):
            return lambda: self.player is not None and action(self.player)

        keys = {
            "Space": on(lambda p: p.toggle()),
            "Right": on(lambda p: p.step(1)),
            "Left": on(lambda p: p.step(-1)),
            "Shift+Right": on(lambda p: p.step(10)),
            "Shift+Left": on(lambda p: p.step(-10)),
            "PgDown": on(lambda p: p.step(max(1, round(p.fps)))),  # one second on
            "PgUp": on(lambda p: p.step(-max(1, round(p.fps)))),  # one second back
            "J": on(lambda p: p.play(-1)),
            "K": on(lambda p: p.pause()),
            "L": on(lambda p: p.play(1)),
            "Home": on(lambda p: p.home()),
            "End": on(lambda p: p.end()),
            "I": on(lambda p: self.mark_selection(start=p.index)),
            "O": on(lambda p: self.mark_selection(end=p.index)),
        }
        shortcuts = []
        for key, slot in keys.items():
            shortcut = QShortcut(QKeySequence(key), window)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)
            shortcuts.append(shortcut)
        return shortcuts

    def mark_selection(self, start: int | None = None, end: int | None = None) -> None:
        """I / O keys: set the start or end of the timeline selection at the current frame."""
        current = self.timeline.selection or (self.index, self.index)
        first = current[0] if start is None else start
        last = current[1] if end is None else end
        self.timeline.set_selection(first, last)

    # -- opening ---------------------------------------------------------------------
    def open_video(self, path: Path) -> None:
        """Open a video (read-only) and show its first frame; raises ForensicsError."""
        self.close_video()
        self.source = FrameSource(Path(path), annotate=scan_mod.mark_frame, parent=self)
        self.path = Path(path)
        self.player = Player(self.source, self)
        self.player.frame_shown.connect(self._show)
        self.player.position_changed.connect(self._on_position)
        self.player.playing_changed.connect(self._on_playing)
        self.source.failed.connect(self.error)
        self.source.notice.connect(self.notice)
        self.timeline.set_frame_count(self.player.frame_count)
        self.lanes.set_frame_count(self.player.frame_count, self.player.fps)
        self.marks, self.track_ids, self.tracks = {}, {}, []
        known = self._scans.get(self.path.resolve())
        if known:  # this file was scanned earlier in this session: show its marks again
            self._on_marks(list(known.values()))
            self.relink()
        self._set_enabled(True)
        self.seek(0)

    def close_video(self) -> None:
        """Stop playback and any scan, release the file."""
        self.cancel_scan()
        if self.player is not None:
            self.player.pause()
            self.player.deleteLater()
            self.player = None
        if self.source is not None:
            self.source.close()
            self.source.deleteLater()
            self.source = None
        self.path = None
        self._set_enabled(False)

    # -- navigation ------------------------------------------------------------------
    @property
    def index(self) -> int:
        return self.player.index if self.player else 0

    def seek(self, index: int) -> None:
        if self.player is not None:
            self._seek_started = time.perf_counter()
            self.player.seek(index)

    def jump_from_text(self) -> None:
        """Jump to the frame or timecode typed in the field."""
        if self.player is None:
            return
        try:
            index = parse_position(self.jump_edit.text(), self.player.fps, self.player.frame_count)
        except ForensicsError as error:
            self.error.emit(str(error))
            return
        self.player.pause()
        self.seek(index)

    def _on_position(self, index: int) -> None:
        self.timeline.set_position(index)
        self.lanes.set_position(index)
        self.frame_changed.emit(index)

    def _on_zoom(self, zoom: float) -> None:
        """Show the zoom level as a percentage, and whether it follows the window."""
        self.zoom_label.setText(
            f"zoom {zoom * 100:.0f} %" + (" (fit)" if self.view.fit_mode else "")
        )

    def _on_playing(self, playing: bool) -> None:
        self.play_button.setIcon(self._pause_icon if playing else self._play_icon)

    def _show(self, frame: DisplayFrame) -> None:
        if self._seek_started is not None:
            self.last_seek_ms = (time.perf_counter() - self._seek_started) * 1000.0
            self._seek_started = None
        self.view.set_image(frame.qimage)
        mark = self.marks.get(frame.index) or frame.mark
        status_line = ""
        if isinstance(mark, scan_mod.FrameMark):
            self.view.set_boxes(
                mark.boxes, mark.status, self.track_ids.get(frame.index), self.lanes.selected_track
            )
            status_line = {
                "ok": f"message ok · {len(mark.boxes)} ROI(s)",
                "none": "no hidden message",
                "damaged": "message DAMAGED",
            }.get(mark.status, mark.status)
        else:
            self.view.set_boxes(())
        total = self.player.frame_count if self.player else 0
        text = f"frame {frame.index} / {total - 1}  ·  {format_timestamp(frame.pts)}"
        self.position_label.setText(text)
        self.view.set_overlay(text, status_line)

    # -- scan ------------------------------------------------------------------------
    def toggle_scan(self) -> None:
        if self.scan_task is not None:
            self.cancel_scan()
        else:
            self.start_scan()

    def start_scan(self) -> Task | None:
        """Scan every frame's hidden message on a worker; marks fill in as they come."""
        if self.path is None:
            return None
        path = self.path
        task = self.runner.start(
            "ROI scan",
            lambda progress, cancel, partial: scan_mod.scan_video(path, progress, cancel, partial),
            with_partial=True,
        )
        task.signals.partial.connect(self._on_marks)
        task.signals.progress.connect(self._on_scan_progress)
        task.signals.result.connect(self.scan_finished)
        task.signals.error.connect(self.error)
        task.signals.finished.connect(self._on_scan_done)
        self.scan_task = task
        self.scan_button.setText("Stop scan")  # no wider than "Scan ROIs": the row is full
        self.scan_progress.setValue(0)
        self.scan_progress.setVisible(True)
        return task

    def cancel_scan(self) -> None:
        if self.scan_task is not None:
            self.scan_task.cancel()

    def _on_marks(self, batch: list[scan_mod.FrameMark]) -> None:
        for mark in batch:
            self.marks[mark.index] = mark
        indices = np.array([m.index for m in batch], dtype=np.int64)
        codes = np.array([status_code(m.status, len(m.boxes)) for m in batch], dtype=np.uint8)
        self.timeline.set_marks(indices, codes)
        if time.perf_counter() - self._linked_at > 0.5:  # lanes grow while a scan runs
            self.relink()

    # -- tracks ----------------------------------------------------------------------
    def boxes_by_frame(self) -> dict[int, tuple[tuple[int, int, int, int], ...]]:
        """The scanned boxes of every frame whose message read ok (face order)."""
        return {i: m.boxes for i, m in self.marks.items() if m.status == "ok" and m.boxes}

    def relink(self) -> None:
        """Link the scanned boxes into tracks from frame 0 and show one lane per track."""
        self.track_ids = link_tracks(self.boxes_by_frame(), start=0)
        self.tracks = tracks_of(self.track_ids)
        self.lanes.set_tracks(self.tracks)
        self._linked_at = time.perf_counter()

    def _redraw_boxes(self, _track: int = 0) -> None:
        """Draw the current frame's boxes again (a track was picked or dropped)."""
        if self.player is not None and self.player.current is not None:
            self._show(self.player.current)

    def selected_track(self) -> Track | None:
        """The track picked on the lanes (None when none is)."""
        picked = self.lanes.selected_track
        return self.lanes.track(picked) if picked else None

    def _on_scan_progress(self, done: int, total: int) -> None:
        self.scan_progress.setMaximum(max(1, total))
        self.scan_progress.setValue(done)

    def _on_scan_done(self) -> None:
        if self.scan_task is not None and self.path is not None and not self.scan_task.is_cancelled:
            self._scans[self.path.resolve()] = dict(self.marks)
        self.relink()
        self.scan_task = None
        self.scan_button.setText("Scan ROIs")
        self.scan_progress.setVisible(False)
