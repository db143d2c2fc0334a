"""Report bookmarks: the frames and faces the analyst picks as the report's exhibits
(issue #15 item 3, the GUI side of ``forensics report --faces FRAME:FACE,...``).

A bookmark is an analyst's working note, not a custody record: the report that uses them
logs its own disclosure row, and its exhibit pages state which frames and faces were
chosen. Bookmarks are therefore kept with the app's other per-user state, in the settings
INI (:mod:`forensics_app.gui.settings`), under one key per workspace + case + evidence
file, and never written into the workspace folder (whose contents are custody data and may
even be a pointer to a PostgreSQL store shared by other workstations).

A frame bookmark (no face) stands for every face of the frame's hidden ROI message: the
number of faces is read when it is made, so the report can pass core's
``build_report_data(faces=)`` exact (frame, face) pairs (``frames=`` is a range only).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from forensics_app.gui.settings import settings

log = logging.getLogger(__name__)

GROUP = "report-bookmarks"


@dataclass(frozen=True, order=True)
class Bookmark:
    """One exhibit choice: ``face`` (from 1) of ``frame``, or the whole frame (None) with
    the ``faces_in_frame`` its ROI message listed when it was bookmarked."""

    frame: int
    face: int | None = None
    faces_in_frame: int = 0

    def pairs(self) -> list[tuple[int, int]]:
        """The (frame, face) pairs this bookmark puts in the report."""
        if self.face is not None:
            return [(self.frame, self.face)]
        return [(self.frame, k) for k in range(1, self.faces_in_frame + 1)]

    def text(self) -> str:
        """How the list shows it."""
        if self.face is not None:
            return f"frame {self.frame} · face {self.face}"
        return f"frame {self.frame} · all {self.faces_in_frame} face(s)"


def report_faces(bookmarks: Iterable[Bookmark]) -> list[tuple[int, int]]:
    """The sorted, distinct (frame, face) pairs for ``build_report_data(faces=)``."""
    return sorted({pair for b in bookmarks for pair in b.pairs()})


def _group(workspace: Path, case_id: str) -> str:
    """The INI group of one workspace's case (hashed: paths and case ids may hold '/')."""
    key = f"{Path(workspace).resolve()}\0{case_id}".encode()
    return f"{GROUP}/{hashlib.sha256(key).hexdigest()[:24]}"


class BookmarkStore:
    """Bookmarks of one workspace, read from and written to the settings INI at once."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = Path(workspace)

    def load(self, case_id: str, evidence_sha256: str) -> list[Bookmark]:
        """The bookmarks of one evidence file, in frame/face order."""
        raw = settings().value(f"{_group(self.workspace, case_id)}/{evidence_sha256}", "")
        return self._parse(raw)

    def by_evidence(self, case_id: str) -> dict[str, list[Bookmark]]:
        """Every evidence file of the case that has bookmarks, with them."""
        store = settings()
        store.beginGroup(_group(self.workspace, case_id))
        try:
            found = {sha: self._parse(store.value(sha, "")) for sha in store.childKeys()}
        finally:
            store.endGroup()
        return {sha: marks for sha, marks in found.items() if marks}

    def save(self, case_id: str, evidence_sha256: str, marks: Iterable[Bookmark]) -> None:
        """Replace the bookmarks of one evidence file (an empty list removes the key)."""
        key = f"{_group(self.workspace, case_id)}/{evidence_sha256}"
        items = sorted(set(marks), key=lambda b: (b.frame, b.face or 0))
        store = settings()
        if items:
            doc = {
                "workspace": str(self.workspace.resolve()),
                "case": case_id,
                "bookmarks": [
                    {"frame": b.frame, "face": b.face, "faces_in_frame": b.faces_in_frame}
                    for b in items
                ],
            }
            store.setValue(key, json.dumps(doc, sort_keys=True))
        else:
            store.remove(key)
        store.sync()

    @staticmethod
    def _parse(raw: object) -> list[Bookmark]:
        if not raw:
            return []
        try:
            doc = json.loads(str(raw))
            return [
                Bookmark(int(d["frame"]), None if d.get("face") is None else int(d["face"]),
                         int(d.get("faces_in_frame") or 0))
                for d in doc.get("bookmarks", [])
            ]  # fmt: skip
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            log.warning("unreadable report bookmarks ignored: %s", error)
            return []


class BookmarksPanel(QWidget):
    """The open evidence's report bookmarks: a list (double-click seeks) with Remove.

    The window owns the store and the evidence; this panel shows what it is given and
    asks for changes through its signals."""

    seek_requested = Signal(int)
    remove_requested = Signal(object)  # Bookmark
    bookmark_frame_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("no evidence open")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("font-size: 8pt; color: gray;")
        self.list = QListWidget()
        self.list.setObjectName("report-bookmarks")
        self.list.itemDoubleClicked.connect(
            lambda item: self.seek_requested.emit(item.data(Qt.ItemDataRole.UserRole).frame)
        )
        self.list.currentRowChanged.connect(lambda _row: self._update_buttons())
        self.add_button = QPushButton("Bookmark frame")
        self.add_button.setToolTip(
            "Bookmark the current frame (all its faces) for the report (B); bookmark one "
            "face with its “Bookmark” button in the reveal panel"
        )
        self.add_button.clicked.connect(self.bookmark_frame_requested)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)
        self.set_bookmarks([], None)

    def set_bookmarks(self, marks: list[Bookmark], evidence: str | None) -> None:
        """Show ``marks`` of the open evidence (``evidence``: its name; None: none open)."""
        self.list.clear()
        for mark in marks:
            item = QListWidgetItem(mark.text())
            item.setData(Qt.ItemDataRole.UserRole, mark)
            self.list.addItem(item)
        if evidence is None:
            self.summary.setText("open a case's evidence to bookmark report exhibits")
        elif marks:
            self.summary.setText(
                f"{len(report_faces(marks))} face(s) bookmarked: the report shows exactly "
                "these as its exhibits"
            )
        else:
            self.summary.setText("no bookmarks: the report samples its exhibits")
        self.add_button.setEnabled(evidence is not None)
        self._update_buttons()

    def bookmarks(self) -> list[Bookmark]:
        """The bookmarks listed now."""
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def remove_selected(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.remove_requested.emit(item.data(Qt.ItemDataRole.UserRole))

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.list.currentItem() is not None)
