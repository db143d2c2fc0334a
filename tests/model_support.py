"""Copies of a shipped detector model (card + weights) for the tests that alter one.

Every detector here pins its weights by the sha256 on its card; the attack tests copy the
pair into a temporary folder, damage the copy and expect a one-line refusal. The weights
file is the one the card names, so the same helper serves every model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def copy_model(card: Path, into: Path) -> Path:
    """Copy ``card``, the weights file it names and its onnxruntime twin (when it pins one)
    into ``into``; returns the copied card."""
    data = json.loads(card.read_text(encoding="utf-8"))
    names = [data["weights_file"]]
    if isinstance(data.get("runtime"), dict):
        names.append(data["runtime"]["file"])
    for path in (card, *(card.parent / name for name in names)):
        shutil.copy(path, into / path.name)
    return into / card.name
