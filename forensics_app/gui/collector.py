"""Python's cyclic garbage collection, run on the GUI thread at a quiet moment only.

Left automatic, CPython collects whenever an allocation crosses a threshold: on any thread,
and in the middle of anything, Qt's event dispatch included. A collection that frees Qt
objects, PyAV decoders or torch modules at such a moment, while worker threads decode or
reveal, crashed CI's full suite inside "Garbage-collecting" several times (segfaults and an
abort in GUI tests). Qt applications written in Python commonly answer this by turning the
automatic collector off and collecting from a timer on the GUI thread, generation by
generation as the usual thresholds ask; reference counting still frees everything that is
not in a cycle at once.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

#: How often the GUI thread looks at the collector's counts.
INTERVAL_MS = 500


class MainThreadCollector(QObject):
    """Turns automatic collection off and collects on a GUI-thread timer instead."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.collect_if_due)
        self.timer.start(interval_ms)

    def collect_if_due(self) -> int:
        """Collect the oldest generation whose count passed its threshold; return the number
        of unreachable objects found (0 when nothing was due)."""
        counts = gc.get_count()
        generation = -1
        for level in range(3):
            if counts[level] <= self.thresholds[level]:
                break
            generation = level
        return gc.collect(generation) if generation >= 0 else 0

    def stop(self) -> None:
        """Hand collection back to CPython."""
        self.timer.stop()
        gc.enable()


def install(app: QCoreApplication) -> MainThreadCollector:
    """The application's collector, made on first call (idempotent)."""
    existing = app.findChild(MainThreadCollector)
    if existing is not None:
        return existing
    return MainThreadCollector(app)
