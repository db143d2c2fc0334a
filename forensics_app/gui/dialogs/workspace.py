"""Open or create a workspace, with the list of recent ones."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from forensics_app.gui.settings import recent_workspaces


class WorkspaceDialog(QDialog):
    """Choose a workspace folder: a recent one, an existing one, or a new one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open workspace")
        self.chosen: Path | None = None
        self.create = False
        self.recent_list = QListWidget()
        for path in recent_workspaces():
            item = QListWidgetItem(str(path))
            item.setData(256, str(path))
            self.recent_list.addItem(item)
        self.recent_list.itemDoubleClicked.connect(lambda item: self._choose(Path(item.text())))
        self.open_button = QPushButton("Open")
        self.open_button.clicked.connect(self._open_selected)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        self.new_button = QPushButton("New workspace…")
        self.new_button.clicked.connect(self._new)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.browse_button, self.new_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Recent workspaces"))
        layout.addWidget(self.recent_list)
        layout.addLayout(buttons)
        if self.recent_list.count():
            self.recent_list.setCurrentRow(0)
        self.open_button.setEnabled(self.recent_list.count() > 0)
        self.resize(560, 300)

    def _choose(self, path: Path, create: bool = False) -> None:
        self.chosen, self.create = path, create
        self.accept()

    def _open_selected(self) -> None:
        item = self.recent_list.currentItem()
        if item is not None:
            self._choose(Path(item.text()))

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open workspace folder")
        if path:
            self._choose(Path(path))

    def _new(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for the new workspace")
        if path:
            self._choose(Path(path), create=True)
