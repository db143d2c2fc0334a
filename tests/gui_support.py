"""A small real workspace for the GUI tests, built once per session and copied per test.

Real parts throughout: a 40-frame FFV1 clip cut from the sample with ROI messages hidden by
core/stego in frames 0-29 (frames 30-39 carry none, frame 35 is damaged by noise), users
with Argon2id keys (the ``fast`` test profile), a decoder network exported as safetensors
and sealed for the supervisors, case DEMO-1 with the clip as evidence.
"""

from __future__ import annotations

import shutil
from pathlib import Path

PASSPHRASES = {name: f"demo-{name}" for name in ("alice", "bob", "dave", "carol")}
CASE = "DEMO-1"
FRAMES = 40
MESSAGE_FRAMES = range(0, 30)
DAMAGED_FRAME = 35
#: Head boxes placed by hand over pedestrians of the sample's first seconds.
HEADS = ((503, 154, 16, 18), (260, 218, 15, 17), (645, 240, 16, 18))


def build_clip(sample: Path, out: Path) -> Path:
    """Cut FRAMES frames of the sample, hide their ROI messages, write lossless FFV1."""
    from forensics_app.core.stego import RoiMessage, embed
    from forensics_app.core.video import VideoReader, VideoWriter

    with VideoReader(sample) as reader:
        info = reader.info
        writer = VideoWriter(out, info.width, info.height, info.fps, codec="ffv1")
        try:
            for frame in reader.frames(0, FRAMES):
                image = frame.image
                if frame.index in MESSAGE_FRAMES or frame.index == DAMAGED_FRAME:
                    shift = frame.index // 3
                    boxes = tuple((x + shift, y, w, h) for x, y, w, h in HEADS)
                    image = embed(
                        image, RoiMessage(stream_id=1, frame_index=frame.index, boxes=boxes)
                    )
                if frame.index == DAMAGED_FRAME:
                    # The lower half carries another message with the same header: the sync
                    # pattern is intact, the body inconsistent, so the frame reads "damaged".
                    other = embed(
                        frame.image, RoiMessage(stream_id=1, frame_index=999, boxes=boxes)
                    )
                    image[info.height // 2 :] = other[info.height // 2 :]
                writer.write(image)
        finally:
            writer.close()
    return out


def default_decoder_shipped() -> bool:
    """True when the trained decoder ships in models/ (else tests use an untrained one)."""
    from forensics_app.uunet.inference import default_decoder_path

    path = default_decoder_path()
    return path.is_file() and path.with_suffix(".json").is_file()


def build_decoder(folder: Path) -> tuple[Path, dict]:
    """A small U_d (the shipped one when present, else an untrained network) as safetensors."""
    from forensics_app.uunet.export import export_model, read_card
    from forensics_app.uunet.inference import default_decoder_path
    from forensics_app.uunet.networks import build_network

    if default_decoder_shipped():
        shipped = default_decoder_path()
        return shipped, read_card(shipped.with_suffix(".json"))
    config = {"base": 8, "depth": 3}
    module = build_network("unet_decoder", **config)
    path = folder / "ud.safetensors"
    card = export_model(module.eval(), "unet_decoder", config, path, role="decoder")
    return path, card


def build_workspace(root: Path, sample: Path) -> Path:
    """The template workspace (users, sealed decoder, case DEMO-1 with the clip)."""
    from forensics_app.core.custody.cases import add_evidence, create_case
    from forensics_app.core.custody.sealed import seal_model
    from forensics_app.core.custody.users import add_user, login
    from forensics_app.core.custody.workspace import Workspace

    root.mkdir(parents=True, exist_ok=True)
    clip = build_clip(sample, root / "demo_clip.mkv")
    weights, card = build_decoder(root)
    ws_root = root / "workspace"
    with Workspace.open(ws_root, create=True) as ws:
        add_user(ws, "carol", "admin", PASSPHRASES["carol"], kdf_profile="fast")
        carol = login(ws, "carol", PASSPHRASES["carol"])
        for name, role in (("alice", "analyst"), ("bob", "supervisor"), ("dave", "supervisor")):
            add_user(ws, name, role, PASSPHRASES[name], by=carol, kdf_profile="fast")
        seal_model(ws, weights, card, ["bob", "dave"], carol)
        create_case(ws, carol, CASE, "Demo case")
        add_evidence(ws, carol, CASE, clip)
    return ws_root


def copy_workspace(template: Path, dest: Path) -> Path:
    """A private copy of the template workspace for one test (the clip stays shared)."""
    shutil.copytree(template, dest)
    return dest


def open_workspace_window(qtbot, root: Path, size: tuple[int, int] | None = None):  # noqa: ANN001, ANN201
    """A shown main window on the workspace ``root``; closing it never waits on a dialog."""
    from forensics_app.gui.main_window import MainWindow

    win = MainWindow()
    win.confirm = lambda question: True
    qtbot.addWidget(win)
    if size is not None:
        win.resize(*size)
    win.show()
    assert win.open_workspace(root)
    return win
