"""The import rules in pyproject's ``[tool.importlinter]`` hold, and they do bite.

import-linter builds the whole import graph (imports inside functions included, which a
grep misses) and checks the layers errors < core < uunet < demo < commands | gui < cli, a
Qt-free core and uunet, core ↛ uunet, uunet training/runtime ↛ uunet.evaluation, and no
cycles between sibling modules of core. The second test breaks each rule in a copy of the
package and expects every contract to fail, so a contract that silently checks nothing
(a renamed module, a typo) cannot pass for a kept one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = (
    "Layers: errors < core < uunet < demo < commands | gui < cli",
    "The domain is Qt-free: core and uunet never import Qt",
    "core never imports uunet",
    "uunet training and runtime never import uunet.evaluation",
    "No import cycles between sibling modules of core",
)
#: One forbidden import per contract, each hidden inside a function (what grep misses).
VIOLATIONS = {
    "core/custody/reveal.py": "from forensics_app.uunet.inference import FaceDecoder",
    "uunet/channel.py": "from PySide6 import QtCore",
    "uunet/identity.py": "from forensics_app.uunet.evaluation import metrics",
    "core/readonly.py": "from forensics_app.core import evidence",
}


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the package found first on ``root`` (a fresh interpreter)."""
    code = (
        "from importlinter.cli import lint_imports\n"
        "raise SystemExit(lint_imports(config_filename='pyproject.toml', no_cache=True,"
        " no_logo=True))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True
    )


def test_import_contracts_are_kept() -> None:
    out = _lint(REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    for name in CONTRACTS:
        assert name in out.stdout, f"contract {name!r} did not run:\n{out.stdout}"
    assert "0 broken" in out.stdout, out.stdout


def test_each_contract_fails_on_a_forbidden_import(tmp_path: Path) -> None:
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        REPO / "forensics_app",
        tmp_path / "forensics_app",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    for rel, statement in VIOLATIONS.items():
        path = tmp_path / "forensics_app" / rel
        path.write_text(
            path.read_text(encoding="utf-8") + f"\n\ndef _smuggled() -> None:\n    {statement}\n",
            encoding="utf-8",
        )
    out = _lint(tmp_path)
    assert out.returncode != 0, out.stdout
    broken = [line for line in out.stdout.splitlines() if "BROKEN" in line]
    for name in CONTRACTS:
        assert any(name in line for line in broken), f"{name!r} not broken:\n{out.stdout}"
