"""Playback state of the video view: current frame, play/pause, direction and speed.

The player owns no pixels: it asks the :class:`~forensics_app.gui.frame_source.FrameSource`
for frames and moves on only once the previous frame has been shown, so a slow machine
drops frames instead of queueing them (the UI never falls behind).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from forensics_app.gui.frame_source import DisplayFrame, FrameSource

SPEEDS = (1, 2, 4, 8)


class Player(QObject):
    """Current position and transport (Space, ←/→, J/K/L, Home/End) over a frame source."""

    position_changed = Signal(int)
    frame_shown = Signal(object)  # DisplayFrame of the current position
    playing_changed = Signal(bool)

    def __init__(self, source: FrameSource, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.frame_count = source.frame_count
        fps = float(source.info.fps or 25.0)
        self.fps = fps if fps > 0 else 25.0
        self.index = 0
        self.direction = 0  # -1 backwards, 0 paused, +1 forwards
        self.speed = 1
        self._awaiting = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        source.frame_ready.connect(self._on_frame)
        self.current: DisplayFrame | None = None

    @property
    def playing(self) -> bool:
        return self.direction != 0

    # -- transport -------------------------------------------------------------------
    def seek(self, index: int) -> None:
        """Show frame ``index`` (clamped to the clip)."""
        index = max(0, min(int(index), self.frame_count - 1))
        self.index = index
        self._awaiting = True
        self.source.request(index)
        self.position_changed.emit(index)

    def step(self, delta: int) -> None:
        """Pause and move by ``delta`` frames."""
        self.pause()
        self.seek(self.index + delta)

    def home(self) -> None:
        self.step(-self.frame_count)

    def end(self) -> None:
        self.step(self.frame_count)

    def play(self, direction: int = 1) -> None:
        """Play forwards (1) or backwards (-1); J/L pressed again double the speed."""
        if self.direction == direction:
            self.speed = SPEEDS[min(SPEEDS.index(self.speed) + 1, len(SPEEDS) - 1)]
        else:
            self.speed = 1
        if direction > 0 and self.index >= self.frame_count - 1:
            self.seek(0)
        self.direction = direction
        self._timer.start(max(1, int(1000 / (self.fps * self.speed))))
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if self.direction != 0:
            self.direction = 0
            self.speed = 1
            self._timer.stop()
            self.playing_changed.emit(False)

    def toggle(self) -> None:
        """Space: play forwards or pause."""
        if self.playing:
            self.pause()
        else:
            self.play(1)

    # -- internals -------------------------------------------------------------------
    def _tick(self) -> None:
        if self._awaiting:
            return  # previous frame not shown yet: drop this tick
        nxt = self.index + self.direction
        if not 0 <= nxt < self.frame_count:
            self.pause()
            return
        self.seek(nxt)

    def _on_frame(self, frame: DisplayFrame) -> None:
        if frame.index != self.index:
            return  # a stale answer to an earlier request
        self._awaiting = False
        self.current = frame
        self.frame_shown.emit(frame)
