"""Model files shipped in ``models/``, read only after their sha256 matches their card.

Every network the producer runs (the person detector, CenterFace) is pinned by a small JSON
card beside it (``weights_file``, ``sha256``); a swapped or altered file is refused with one
line before any byte of it reaches onnxruntime or OpenCV.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from forensics_app.errors import DetectionError


def load_verified_model(card_path: str | Path, what: str = "model") -> tuple[bytes, dict]:
    """The file named by a model card, after checking it against the card's sha256.

    ``what`` names the model in the one-line :class:`DetectionError` raised when the card or
    the file is missing, unreadable, or the file's digest differs from the card's.
    """
    card_path = Path(card_path)
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
        weights = card_path.parent / str(card["weights_file"])
        expected = str(card["sha256"]).lower()
    except FileNotFoundError:
        raise DetectionError(f"{what} model card not found: {card_path}") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DetectionError(f"{what} model card {card_path} is unreadable: {error}") from None
    if not weights.is_file():
        raise DetectionError(f"{what} model not found: {weights}")
    data = weights.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise DetectionError(
            f"{what} {weights.name} was altered: sha256 {actual[:16]}… does not match "
            f"its model card ({expected[:16]}…); refusing to run it"
        )
    return data, card
