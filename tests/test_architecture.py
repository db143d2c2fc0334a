"""House rules that code can check: no Qt in the domain, no pickled weights."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import forensics_app

REPO = Path(__file__).resolve().parents[1]
QT_IMPORT = re.compile(r"^\s*(from|import)\s+(PySide6|shiboken6|PyQt5|PyQt6)\b", re.M)


def _modules(package: str) -> list[str]:
    path = [str(Path(forensics_app.__file__).parent / package.split(".")[-1])]
    return [package] + [f"{package}.{m.name}" for m in pkgutil.walk_packages(path, "")]


def test_core_and_uunet_never_import_qt() -> None:
    """Import every core/uunet module in a fresh interpreter and check PySide6 stays out."""
    names = _modules("forensics_app.core") + _modules("forensics_app.uunet")
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}:\n"
        "    importlib.import_module(n)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"Qt imported by the Qt-free core: {out.stdout.strip()}"


def test_no_qt_import_statements_in_core_sources() -> None:
    for package in ("core", "uunet"):
        for source in (REPO / "forensics_app" / package).rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            assert not QT_IMPORT.search(text), f"{source} imports Qt"


def test_no_pickle_weight_files_tracked() -> None:
    bad = [p for p in (REPO / "models").rglob("*") if p.suffix in {".pt", ".pth", ".ckpt", ".pkl"}]
    assert bad == []


def test_ruff_is_clean() -> None:
    """The whole tree passes ruff (lint)."""
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--quiet", str(REPO)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
