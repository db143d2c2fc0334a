"""What the Xvfb screenshots at 1366×768 (issue #15, "Must show") found clipped, kept fixed:

* a reveal, and a flagged face with a long reason, must not widen the window past a 1366-pixel
  screen nor push the reconstructed column and the flag buttons out of the reveal panel;
* the approval dialog shows the thumbnails of the selected request only (a request picked
  while the previous one's thumbnails load must not collect both sets, which widened the
  dialog past the screen and cut off Approve, Deny and Close).
"""

from __future__ import annotations

from pathlib import Path

import gui_support as support
import pytest
from PySide6.QtWidgets import QLabel
from test_gui_workflow import (
    file_request,
    login,
    open_demo_evidence,
    revealed_at,
)

from forensics_app.gui.main_window import MainWindow

SCREEN_W, SCREEN_H = 1366, 768


@pytest.fixture
def window(qtbot, gui_template: Path, tmp_path: Path) -> MainWindow:
    root = support.copy_workspace(gui_template, tmp_path / "ws")
    win = support.open_workspace_window(qtbot, root, size=(SCREEN_W, SCREEN_H))
    yield win
    win.shutdown()


def _fits(qtbot, win: MainWindow) -> None:
    """The window still fits the screen and the reveal panel needs no sideways scrolling."""
    assert win.minimumSizeHint().width() <= SCREEN_W
    win.resize(SCREEN_W, SCREEN_H)
    qtbot.waitUntil(lambda: win.width() == SCREEN_W, timeout=5000)
    panel = win.reveal
    qtbot.wait(50)  # the panel lays its new rows out
    content, viewport = panel.content, panel.scroll.viewport()
    assert content.width() <= viewport.width(), (content.width(), viewport.width())
    for button in panel.flag_buttons.values():
        right = button.mapTo(viewport, button.rect().topRight()).x()
        assert right <= viewport.width(), "a flag button is cut off"


def test_reveal_and_a_long_flag_reason_keep_the_window_within_1366(
    qtbot, window: MainWindow
) -> None:
    win = window
    panel = revealed_at(qtbot, win)
    _fits(qtbot, win)
    reason = "a reflection in the shop window behind the man in the dark jacket, not a face " * 2
    panel.ask_reason = lambda prompt: (reason.strip(), True)
    assert panel.flag_face(2) is not None
    _fits(qtbot, win)
    captions = [w for w in panel.content.findChildren(QLabel) if "flagged" in w.text()]
    assert captions and all(c.wordWrap() for c in captions)  # the reason wraps, in full
    assert any(reason.strip() in c.text() for c in captions)


def test_approval_shows_the_selected_requests_thumbnails_only(qtbot, window: MainWindow) -> None:
    win = window
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    file_request(qtbot, win, 0, 9)
    file_request(qtbot, win, 20, 29)
    login(qtbot, win, "bob")
    dialog = win.approval_dialog()
    assert dialog is not None and len(dialog.infos) == 2
    # the first request's thumbnails are loading; the supervisor picks the second at once
    dialog.request_list.setCurrentRow(1)
    second = dialog.selected.request.frames
    qtbot.waitUntil(lambda: dialog.thumbs.count() >= 3, timeout=30000)
    qtbot.wait(300)  # the first request's thumbnails have come back by now, if at all
    shown = [
        label.text()
        for i in range(dialog.thumbs.count())
        for label in dialog.thumbs.itemAt(i).widget().findChildren(QLabel)
        if label.text().startswith("frame ")
    ]
    assert shown == [f"frame {f}" for f in (second[0], sum(second) // 2, second[1])]
    assert dialog.minimumSizeHint().width() <= SCREEN_W
    assert dialog.width() <= SCREEN_W and dialog.height() <= SCREEN_H


def test_box_labels_are_legible_and_stay_on_their_box_at_any_zoom(qtbot) -> None:
    """Face numbers are 9 pt bold on a dark plate anchored at the box's corner (above it, or
    inside a box at the very top): the 7 pt yellow text alone was unreadable over pavement
    in the Xvfb screenshots, and it drifted away from its box when the view was zoomed."""
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QGraphicsRectItem, QGraphicsSimpleTextItem

    from forensics_app.gui.video_view import FrameView

    view = FrameView()
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    image = QImage(768, 576, QImage.Format.Format_RGB888)
    image.fill(0xC8C8C8)
    view.set_image(image)
    boxes = [(100, 200, 20, 24), (300, 5, 12, 14)]
    view.set_boxes(boxes, tracks=[3, 7])
    for zoom in (1.0, 3.0):
        view.set_zoom(zoom)
        plates = sorted(
            (
                i
                for i in view.scene().items()
                if isinstance(i, QGraphicsRectItem) and i.childItems()
            ),
            key=lambda p: p.pos().x(),
        )
        assert len(plates) == len(boxes)
        for number, (plate, (x, y, _w, _h)) in enumerate(zip(plates, boxes, strict=True), 1):
            label = plate.childItems()[0]
            assert isinstance(label, QGraphicsSimpleTextItem)
            assert label.text() == f"{number} · T{(3, 7)[number - 1]}"
            assert label.font().pointSizeF() >= 9 and label.font().bold()
            assert plate.brush().color().alpha() > 100  # a dark plate behind the text
            assert (plate.pos().x(), plate.pos().y()) == (x, y)  # at the box, at any zoom
            assert plate.flags() & QGraphicsRectItem.GraphicsItemFlag.ItemIgnoresTransformations
            above = plate.rect().bottom() <= 0
            assert above == (y >= label.boundingRect().height())  # box 2 (y=5): inside
