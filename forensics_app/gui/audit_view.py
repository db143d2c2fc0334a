"""The audit log as a table, filtered by case, user and action, with a Verify button.

Verification is the core ``AuditLog.verify()`` (chain, signatures, Merkle checkpoints),
run on a worker with its own database connection; a failure names the first bad entry,
which is selected in the table. The result follows the rows: when the log has grown since the
last verification the view verifies again (at once while shown, else when next shown), so
"✓ log verifies" never speaks for fewer entries than the table lists. Each row's details
read as fields (``frames: 10–20 · tracks: 2``), and the selected row's in full below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from forensics_app.core.custody.audit import AuditVerificationError
from forensics_app.gui.context import AppContext
from forensics_app.gui.workers import Task, TaskRunner

COLUMNS = (
    ("seq", "#"),
    ("time", "time (UTC)"),
    ("actor", "actor"),
    ("role", "role"),
    ("action", "action"),
    ("case_id", "case"),
    ("object", "object"),
    ("outcome", "outcome"),
    ("justification", "justification / legal basis"),
    ("details", "details"),
)
ALL = "(all)"
#: The table shows the newest entries (verification always covers the whole log).
MAX_ROWS = 5000


def _readable(value: Any) -> str:
    """A details value in words: ``[10, 20]`` frames as ``10–20``, lists joined, dicts k=v."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "—"}[value]
    if isinstance(value, list):
        if len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return f"{value[0]}–{value[1]}"
        return ", ".join(_readable(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_readable(v)}" for k, v in sorted(value.items()))
    text = str(value)
    return (
        text[:16] + "…" if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else text
    )


def readable_details(details: str | None) -> list[tuple[str, str]]:
    """An audit row's ``details`` JSON as (field, value) pairs a person reads, in key order;
    underscores become spaces and hashes are shortened (the full text stays in the log)."""
    if not details:
        return []
    try:
        data = json.loads(details)
    except (TypeError, ValueError):
        return [("details", str(details))]
    if not isinstance(data, dict):
        return [("details", _readable(data))]
    return [(key.replace("_", " "), _readable(data[key])) for key in sorted(data)]


@dataclass(frozen=True)
class VerifyFailure:
    """The log did not verify: the one-line reason and the first bad entry (if one)."""

    message: str
    seq: int | None


class AuditModel(QAbstractTableModel):
    """Rows of the audit log (dicts as the core returns them)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self.bad_seq: int | None = None

    def set_rows(self, rows: list[dict]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        row = self.rows[index.row()]
        key = COLUMNS[index.column()][0]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            value = row.get(key)
            if key == "time" and value:
                return str(value)[:19].replace("T", " ")
            if key == "details" and value:
                fields = readable_details(value)
                if role == Qt.ItemDataRole.ToolTipRole:
                    return "\n".join(f"{k}: {v}" for k, v in fields)
                return " · ".join(f"{k}: {v}" for k, v in fields)
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.BackgroundRole:
            if self.bad_seq is not None and row.get("seq") == self.bad_seq:
                return QColor(255, 190, 190)
            if row.get("outcome") not in (None, "success"):
                return QColor(255, 236, 200)
        return None

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][1]
        return None


class AuditFilter(QSortFilterProxyModel):
    """Keeps rows whose case, actor and action match the chosen filters."""

    def __init__(self) -> None:
        super().__init__()
        self.wanted: dict[str, str] = {}

    def set_filter(self, key: str, value: str) -> None:
        if value == ALL:
            self.wanted.pop(key, None)
        else:
            self.wanted[key] = value
        self.invalidate()

    def filterAcceptsRow(self, source_row: int, parent: QModelIndex) -> bool:
        row = self.sourceModel().rows[source_row]
        return all(str(row.get(k) or "") == v for k, v in self.wanted.items())


class AuditView(QWidget):
    """The workspace's audit log with filters and verification."""

    def __init__(
        self, context: AppContext, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.runner = runner
        self.model = AuditModel()
        self.proxy = AuditFilter()
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setAlternatingRowColors(True)
        self.filters: dict[str, QComboBox] = {}
        bar = QHBoxLayout()
        for key, label in (("case_id", "Case"), ("actor", "User"), ("action", "Action")):
            combo = QComboBox()
            combo.setMinimumWidth(110)
            combo.currentTextChanged.connect(lambda text, k=key: self.proxy.set_filter(k, text))
            self.filters[key] = combo
            bar.addWidget(QLabel(label))
            bar.addWidget(combo)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.verify_button = QPushButton("Verify log")
        self.verify_button.setToolTip("Recompute the hash chain, every signature and checkpoint")
        self.verify_button.clicked.connect(self.verify)
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        bar.addStretch(1)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.verify_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self.detail_label = QLabel("")
        self.detail_label.setWordWrap(True)
        self.detail_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.detail_label)
        layout.addWidget(self.result_label)
        self.table.selectionModel().selectionChanged.connect(self._show_selected)
        #: Log size the shown verification result speaks for (None: not verified yet).
        self.verified_size: int | None = None
        self._verify_again = False
        self.verify_task: Task | None = None
        self.last_result: dict | None = None
        self.last_error: str | None = None
        context.data_changed.connect(self.refresh)
        context.workspace_changed.connect(self._forget_verification)
        context.workspace_changed.connect(self.refresh)

    def _forget_verification(self) -> None:
        """Another workspace: the last result spoke for another log."""
        self.verified_size, self.last_result, self.last_error = None, None, None
        self.result_label.setText("")

    def refresh(self) -> None:
        """Reload the log and the filter choices."""
        ws = self.context.ws
        rows: list[dict] = []
        if ws is not None:
            size = ws.audit.size()
            first = max(1, size - MAX_ROWS + 1)
            rows = list(ws.audit.entries(first, size))
            self.setToolTip(f"entries {first}–{size} of {size}" if first > 1 else "")
        self.model.set_rows(rows)
        for key, combo in self.filters.items():
            current = combo.currentText() or ALL
            values = sorted({str(r.get(key)) for r in rows if r.get(key)})
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([ALL, *values])
            combo.setCurrentText(current if current in values else ALL)
            combo.blockSignals(False)
            self.proxy.set_filter(key, combo.currentText())
        self.table.resizeColumnsToContents()
        self.table.scrollToBottom()
        self._follow_rows(len(rows) and int(rows[-1].get("seq") or 0))

    def _follow_rows(self, size: int) -> None:
        """Keep the verification result about the rows shown: verify again when the log
        grew (now if the view is shown, else when it is), and say so meanwhile."""
        if self.context.root is None or size == self.verified_size:
            return
        if self.verify_task is not None:
            self._verify_again = True
        elif self.isVisible():
            self.verify()
        elif self.verified_size is not None:
            self.result_label.setStyleSheet("color: #9a7d0a; font-weight: bold;")
            self.result_label.setText(
                f"log verified up to entry {self.verified_size}; "
                f"{size - self.verified_size} newer entries not verified yet"
            )

    def showEvent(self, event: QShowEvent) -> None:  # Qt API
        super().showEvent(event)
        if self.context.ws is not None and self.context.ws.audit.size() != self.verified_size:
            self._follow_rows(self.context.ws.audit.size())

    def _show_selected(self) -> None:
        """The selected row's details in full, as fields (wrapped, one paragraph)."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            self.detail_label.setText("")
            return
        row = self.model.rows[self.proxy.mapToSource(rows[0]).row()]
        fields = readable_details(row.get("details"))
        head = f"<b>#{row.get('seq')} {row.get('action')}</b> by {row.get('actor')}"
        lines = " · ".join(f"{k}: <b>{v}</b>" for k, v in fields)
        self.detail_label.setText(f"{head}<br>{lines}" if lines else head)

    def verify(self) -> Task | None:
        """Run the log verification on a worker; show the summary or the first bad entry."""
        if self.context.root is None or self.verify_task is not None:
            return None
        context = self.context

        def work(progress, cancel):
            with context.worker_workspace() as ws:
                try:
                    return ws.audit.verify()
                except AuditVerificationError as error:
                    return VerifyFailure(str(error), error.seq)

        self._verify_again = False
        self._verifying_size = self.context.ws.audit.size() if self.context.ws else None
        self.verify_button.setEnabled(False)
        self.result_label.setText("verifying…")
        self.result_label.setStyleSheet("")
        task = self.runner.start("log verification", work)
        task.signals.result.connect(self._on_result)
        task.signals.error.connect(lambda text: (self._on_done(), self._on_bad(text)))
        task.signals.finished.connect(self._on_done)
        self.verify_task = task
        return task

    def _on_result(self, result: dict | VerifyFailure) -> None:
        self._on_done()
        if isinstance(result, VerifyFailure):
            self._on_bad(result.message, result.seq)
        else:
            self._on_ok(result)

    def _on_ok(self, summary: dict) -> None:
        self.last_result, self.last_error = summary, None
        self.verified_size = int(summary.get("entries") or 0)
        self._after_verification()
        self.model.bad_seq = None
        self.result_label.setStyleSheet("color: #1e8449; font-weight: bold;")
        self.result_label.setText(
            f"✓ log verifies: {summary.get('entries')} entries, "
            f"{summary.get('checkpoints')} checkpoint(s), root {str(summary.get('root'))[:16]}…"
        )
        self.model.layoutChanged.emit()

    def _on_bad(self, text: str, seq: int | None = None) -> None:
        self.last_result, self.last_error = None, text
        self.verified_size = getattr(self, "_verifying_size", None)  # no re-run on the same log
        self._after_verification()
        self.result_label.setStyleSheet("color: #c0392b; font-weight: bold;")
        self.result_label.setText(f"✗ {text}")
        self.model.bad_seq = seq
        self.refresh()
        if seq is not None:
            for row in range(self.proxy.rowCount()):
                source = self.proxy.mapToSource(self.proxy.index(row, 0))
                if self.model.rows[source.row()].get("seq") == seq:
                    self.table.selectRow(row)
                    self.table.scrollTo(self.proxy.index(row, 0))
                    break

    def _on_done(self) -> None:
        self.verify_task = None
        self.verify_button.setEnabled(True)

    def _after_verification(self) -> None:
        """Rows came in while verifying: verify again once this task has wound down."""
        if self._verify_again:
            self._verify_again = False
            QTimer.singleShot(0, lambda: self.context.ws and self._follow_rows(
                self.context.ws.audit.size()))  # fmt: skip
