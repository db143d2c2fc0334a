"""Training checkpoints: versioned dicts written atomically, loaded without unpickling code.

A checkpoint holds ``version``, ``arch`` ({role: {"name", "config"}}), ``config`` (the
resolved run configuration), ``state_dict`` and ``optimizer`` ({role: state}), ``epoch``,
``step`` and the RNG states needed to make the next step identical after ``--resume``.
It is written to a temporary file and moved into place with ``os.replace``; it is read
with ``torch.load(weights_only=True)`` (tensors and plain containers only).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch

from forensics_app.core.atomic import PRIVATE, atomic_open
from forensics_app.errors import ModelError

CHECKPOINT_VERSION = 1


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plus the format version) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": CHECKPOINT_VERSION, **payload}
    with atomic_open(path, PRIVATE) as fh:
        torch.save(data, fh)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (never unpickles objects)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"no checkpoint at {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt file, or one that would need unpickling
        raise ModelError(f"cannot load checkpoint {path}: {type(error).__name__}") from None
    if not isinstance(data, dict) or data.get("version") != CHECKPOINT_VERSION:
        raise ModelError(f"{path} is not a version {CHECKPOINT_VERSION} UU-Net checkpoint")
    for key in ("arch", "config", "state_dict", "optimizer", "step"):
        if key not in data:
            raise ModelError(f"checkpoint {path} lacks '{key}'")
    return data


def rng_state() -> dict[str, Any]:
    """The torch RNG state(s) to store in a checkpoint."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def python_rng_state(rng: random.Random) -> list[int]:
    """A :class:`random.Random`'s state as plain integers (a checkpoint never pickles):
    ``[version, *internal, flag]``; the cached Gaussian is not kept (flag −1 when none)."""
    version, internal, gauss = rng.getstate()
    return [version, *internal, -1 if gauss is None else 0]


def set_python_rng_state(rng: random.Random, flat: list) -> None:
    """Restore what :func:`python_rng_state` saved."""
    rng.setstate((int(flat[0]), tuple(int(v) for v in flat[1:-1]), None))
