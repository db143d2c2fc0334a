"""Test fixtures shared by the whole suite.

Every test runs with settings, workspaces and keys pointed at its own ``tmp_path``, Qt in
offscreen mode, and no way to reach a real user's files.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pg_support import PgServer

    from forensics_app.uunet.inference import FaceEncoder

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# demos built by the suite share one cache of public streams of its own, never the user's
os.environ["FORENSICS_DEMO_CACHE"] = tempfile.mkdtemp(prefix="uunet-test-demo-cache-")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_VIDEO = REPO / "resources" / "samples" / "vtest_cut.avi"


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point HOME, XDG dirs and the workspace variable at the test's own folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.delenv("FORENSICS_WORKSPACE", raising=False)
    # no seek copies built in the background of every GUI test; their own tests turn them on
    monkeypatch.setenv("FORENSICS_SEEK_CACHE", "off")
    monkeypatch.delenv("FORENSICS_PASSPHRASE", raising=False)


@pytest.fixture(scope="session", autouse=True)
def _collector_on_the_gui_thread(qapp) -> Iterator[object]:  # noqa: ANN001
    """As the app does (gui/collector.py): no automatic garbage collection in any thread
    mid-test; a GUI-thread timer collects while Qt's event loop runs."""
    from forensics_app.gui import collector

    yield collector.install(qapp)


@pytest.fixture(autouse=True)
def _collect_between_tests(_collector_on_the_gui_thread) -> Iterator[None]:  # noqa: ANN001
    """Collect what a test left behind, after it, when its threads are done."""
    yield
    _collector_on_the_gui_thread.collect_if_due()


@pytest.fixture(scope="session")
def sample_video() -> Path:
    """The real surveillance sample shipped in resources/ (300 frames of vtest.avi)."""
    assert SAMPLE_VIDEO.is_file(), "resources/samples/vtest_cut.avi is missing"
    return SAMPLE_VIDEO


@pytest.fixture(scope="session")
def gui_template(tmp_path_factory: pytest.TempPathFactory, sample_video: Path) -> Path:
    """A small real workspace for the GUI tests (tests/gui_support.py), built once; copy it."""
    import gui_support

    return gui_support.build_workspace(tmp_path_factory.mktemp("gui-template"), sample_video)


@pytest.fixture
def window(qtbot, gui_template: Path, tmp_path: Path) -> Iterator[object]:  # noqa: ANN001
    """The main window on a private copy of the GUI template workspace, shut down after.
    (Test modules with another kind of window define their own ``window``.)"""
    import gui_support as support

    win = support.open_workspace_window(
        qtbot, support.copy_workspace(gui_template, tmp_path / "ws")
    )
    yield win
    win.shutdown()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The demo workspace (``forensics demo``), built once per test module that asks."""
    from forensics_app.demo import build_demo

    mp = pytest.MonkeyPatch()
    mp.setenv("FORENSICS_KDF_PROFILE", "fast")
    try:
        yield build_demo(tmp_path_factory.mktemp("demo") / "ws")
    finally:
        mp.undo()


@pytest.fixture(scope="session")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> FaceEncoder:
    """A small, randomly initialised U_e: the producer's behaviour does not need a trained one."""
    import torch

    from forensics_app.uunet.export import export_model
    from forensics_app.uunet.inference import FaceEncoder
    from forensics_app.uunet.networks import build_network

    torch.manual_seed(0)
    module = build_network("unet_encoder", base=8, depth=2)
    path = tmp_path_factory.mktemp("ue") / "ue.safetensors"
    export_model(module, "unet_encoder", {"base": 8, "depth": 2}, path, role="encoder")
    return FaceEncoder.from_file(path)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL server for the session (tests/pg_support.py); skipped with the
    reason when it cannot start, but a failure under CI=true."""
    import pg_support

    server = pg_support.start_or_explain()
    if isinstance(server, str):
        pg_support.unavailable(server)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def custody_db(request: pytest.FixtureRequest) -> str | None:
    """The store a custody test runs on: None (a SQLite file) or a fresh PostgreSQL
    database's owner URL; custody tests that take it run once on each backend."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("pg_server").new_database()
