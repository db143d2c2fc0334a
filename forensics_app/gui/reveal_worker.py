"""The reveal session on a thread of its own.

:class:`~forensics_app.core.custody.reveal.RevealSession` holds a database connection, a
video reader and the decrypted decoder; all three must stay on the thread that made them.
This worker opens its own workspace connection, runs every custody check while opening the
session, then reveals the frames the panel asks for (only the latest request is served),
and on :meth:`RevealWorker.close` drops the decoder and closes everything on that thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from forensics_app.core.custody.reveal import RevealedFrame, RevealSession
from forensics_app.core.custody.users import UserSession
from forensics_app.core.custody.workspace import Workspace
from forensics_app.errors import ForensicsError

log = logging.getLogger(__name__)


class RevealWorker(QObject):
    """Owns one RevealSession; signals come back to the UI thread."""

    opened = Signal(object)  # the RevealSession (read its grant/frames/expires_at only)
    open_failed = Signal(str)
    revealed = Signal(object, float)  # RevealedFrame, milliseconds
    refused = Signal(int, str)  # frame index, one-line reason from the core
    write_progress = Signal(int, int)
    written = Signal(object)  # Path of reveal.json
    write_failed = Signal(str)
    closed = Signal()

    def __init__(
        self,
        root: Path,
        session: UserSession,
        grant_id: str,
        parent: QObject | None = None,
        db_password: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.root, self.user, self.grant_id = Path(root), session, grant_id
        self._db_password = db_password  # a PostgreSQL workspace's, in memory only
        self.session: RevealSession | None = None
        self._cond = threading.Condition()
        self._wanted: int | None = None
        self._write_to: Path | None = None
        self._ahead: Generator[RevealedFrame, None, None] | None = None  # playback's range
        self._ahead_at: int | None = None  # the frame it yields next
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="reveal", daemon=True)
        self._thread.start()

    def request(self, index: int) -> None:
        """Reveal frame ``index`` next (replacing a request not yet started)."""
        with self._cond:
            self._wanted = int(index)
            self._cond.notify()

    def write(self, out_dir: Path) -> None:
        """Write every frame in the grant's scope as exhibits (core ``RevealSession.write``)."""
        with self._cond:
            self._write_to = Path(out_dir)
            self._cond.notify()

    def close(self, wait_s: float = 10.0) -> None:
        """Drop the decoder and close the session (blocks until the thread has let go)."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=wait_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        _single_threaded_inference()
        ws = None
        try:
            # U_d's networks (torch) load here, on this thread, the first time a reveal opens
            from forensics_app.uunet.inference import FaceDecoder

            ws = Workspace.open(self.root, password=self._db_password)
            self.session = RevealSession(ws, self.user, self.grant_id, FaceDecoder.from_bytes)
        except ForensicsError as error:
            self.session = None
            if ws is not None:
                ws.close()
            self.open_failed.emit(str(error))
            return
        except Exception as error:  # one line for the user, details in the log
            log.exception("opening the reveal session failed")
            if ws is not None:
                ws.close()
            self.open_failed.emit(f"cannot open the reveal session: {error}")
            return
        self.opened.emit(self.session)
        try:
            self._serve()
        finally:
            session, self.session = self.session, None
            if session is not None:
                session.close()
            ws.close()
            self.closed.emit()

    def _serve(self) -> None:
        try:
            self._serve_requests()
        finally:
            self._stop_ahead()

    def _serve_requests(self) -> None:
        last: int | None = None
        while True:
            with self._cond:
                while self._wanted is None and self._write_to is None and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                out, self._write_to = self._write_to, None
                index, self._wanted = self._wanted, None
            if out is not None:
                self._stop_ahead()  # the session's video reader serves one caller at a time
                self._write(out)
            if index is None:
                continue
            start = time.perf_counter()
            try:
                frame = self._reveal(index, follows=last is not None and index == last + 1)
            except ForensicsError as error:
                self.refused.emit(index, str(error))
                continue
            except Exception as error:
                log.exception("revealing frame %d failed", index)
                self.refused.emit(index, f"frame {index} could not be revealed: {error}")
                continue
            finally:
                last = index
            self.revealed.emit(frame, (time.perf_counter() - start) * 1000.0)

    def _reveal(self, index: int, follows: bool) -> RevealedFrame:
        """Frame ``index``; frames asked for one after another (playback) come from the
        core's range reveal, which decodes ahead and batches U_d (0.78× plain decoding
        against 0.57× frame by frame), started at the second frame in a row."""
        assert self.session is not None
        if self._ahead is not None and index != self._ahead_at:
            self._stop_ahead()
        last_in_scope = self.session.frames[1]
        if self._ahead is None and follows and self.session.in_scope(index):
            self._ahead = self.session.reveal_range(index, last_in_scope)
            self._ahead_at = index
        if self._ahead is None:
            return self.session.reveal_frame(index)
        try:
            frame = next(self._ahead)
        except BaseException:
            self._stop_ahead()
            raise
        self._ahead_at = index + 1
        if index >= last_in_scope:
            self._stop_ahead()
        return frame

    def _stop_ahead(self) -> None:
        """End a range reveal in progress (its decoding thread stops and is joined)."""
        ahead, self._ahead, self._ahead_at = self._ahead, None, None
        if ahead is not None:
            ahead.close()

    def _write(self, out: Path) -> None:
        try:
            path = self.session.write(out, progress=self.write_progress.emit)
        except ForensicsError as error:
            self.write_failed.emit(str(error))
            return
        except Exception as error:
            log.exception("writing the revealed frames failed")
            self.write_failed.emit(f"cannot write the revealed frames: {error}")
            return
        self.written.emit(path)


def _single_threaded_inference() -> None:
    """Run U_d with one intra-op thread: the decoder is tiny (a few ms per frame on one
    core) and a second thread competing with the UI, the frame decoder and any scan made
    it ~100× slower on a busy 2-core machine (437 ms vs 4 ms for 3 faces, measured)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch ships with the product
        return
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
