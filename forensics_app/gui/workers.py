"""Background work for the GUI: a QThreadPool of cancellable tasks with Qt signals.

Long work (hashing evidence, scanning every frame for its hidden ROI message, verifying
the audit log, revealing) runs here so the UI thread never blocks. A task is a plain
function ``fn(progress, cancel) -> result``: ``progress(done, total)`` reports, ``cancel()``
returns True once the user asked to stop. Errors come back as the one-line ``str(error)``
of a :class:`~forensics_app.errors.ForensicsError`; anything unexpected is reduced to one
line too, so no traceback ever reaches a dialog.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from forensics_app.errors import ForensicsError, OperationCancelled

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]
TaskFn = Callable[[ProgressFn, CancelFn], Any]


#: Raised inside a task (by ``progress`` or by core code polling ``cancel``) to stop it.
Cancelled = OperationCancelled


class TaskSignals(QObject):
    """Signals of one task; they are delivered in the UI thread (queued connections)."""

    progress = Signal(int, int)
    partial = Signal(object)
    result = Signal(object)
    error = Signal(str)
    cancelled = Signal()
    finished = Signal()


class Task:
    """One cancellable unit of background work.

    A plain Python object handed to the pool as a callable, not a ``QRunnable``: a
    ``QRunnable`` wrapper dropped (or collected) by Python deletes its C++ object, which the
    pool's thread may still be finishing with — a crash seen once in the full suite.
    """

    def __init__(self, name: str, fn: TaskFn, with_partial: bool = False) -> None:
        self.with_partial = with_partial
        self.launched = False
        self.name = name
        self.fn = fn
        self.signals = TaskSignals()
        self._cancel = threading.Event()
        self._done = threading.Event()

    def cancel(self) -> None:
        """Ask the task to stop at its next ``cancel()`` check."""
        self._cancel.set()

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def is_done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the task has finished (used only on close and in tests)."""
        return self._done.wait(timeout)

    def emit_partial(self, value: object) -> None:
        """Send an intermediate result to the UI thread (e.g. a batch of scan results)."""
        if not self._cancel.is_set():
            self.signals.partial.emit(value)

    def run(self) -> None:
        """The work itself, on a pool thread."""
        # The outcome is decided first and ``is_done`` is set before any terminal signal
        # goes out: a slot reacting to ``result`` must already see the task as done.
        outcome: tuple[Any, tuple[object, ...]]
        signals = self.signals
        try:
            if self.with_partial:
                result = self.fn(self._progress, self._cancel.is_set, self.emit_partial)
            else:
                result = self.fn(self._progress, self._cancel.is_set)
            if self._cancel.is_set():
                outcome = (signals.cancelled, ())
            else:
                outcome = (signals.result, (result,))
        except Cancelled:
            outcome = (signals.cancelled, ())
        except ForensicsError as error:
            if self._cancel.is_set():
                outcome = (signals.cancelled, ())
            else:
                outcome = (signals.error, (str(error),))
        except Exception as error:  # last line of defence: one line, logged
            log.exception("background task %s failed", self.name)
            text = " ".join(str(error).split()) or type(error).__name__
            outcome = (signals.error, (f"{self.name} failed: {text}",))
        self._done.set()
        signal, args = outcome
        signal.emit(*args)
        signals.finished.emit()

    def _progress(self, done: int, total: int) -> None:
        if self._cancel.is_set():
            raise Cancelled(f"{self.name} cancelled")
        self.signals.progress.emit(int(done), int(total))


class TaskRunner(QObject):
    """Starts tasks on a thread pool and keeps them alive until they finish."""

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._tasks: list[Task] = []

    def start(self, name: str, fn: Callable[..., Any], with_partial: bool = False) -> Task:
        """Create and start a task; connect to ``task.signals`` before events are processed.

        With ``with_partial`` the function is called as ``fn(progress, cancel, partial)``
        and ``partial(value)`` sends intermediate results (``signals.partial``).
        """
        task = Task(name, fn, with_partial)
        was_busy = self.busy
        self._tasks.append(task)
        task.signals.finished.connect(lambda t=task: self._forget(t))
        # Start on the next turn of the event loop, so the caller's connections to
        # ``task.signals`` (made right after this returns) are in place before any emission.
        QTimer.singleShot(0, self, lambda t=task: self._launch(t))
        if not was_busy:
            self.busy_changed.emit(True)
        return task

    def _launch(self, task: Task) -> None:
        if task.launched:
            return
        task.launched = True
        if task.is_cancelled:  # cancelled before it started: finish without running
            task._done.set()
            task.signals.cancelled.emit()
            task.signals.finished.emit()
            return
        self.pool.start(task.run)

    @property
    def busy(self) -> bool:
        """True until every task's results have been delivered to the UI thread."""
        return bool(self._tasks)

    def running(self) -> list[Task]:
        """Tasks whose ``finished`` has not reached the UI thread yet."""
        return list(self._tasks)

    def cancel_all(self, wait_s: float = 10.0) -> bool:
        """Cancel every task and wait for the pool to drain; True when all stopped."""
        for task in list(self._tasks):
            task.cancel()
            if not task.launched:  # never handed to the pool: it is over already
                self._launch(task)
        return self.pool.waitForDone(int(wait_s * 1000))

    def _forget(self, task: Task) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        if not self.busy:
            self.busy_changed.emit(False)
