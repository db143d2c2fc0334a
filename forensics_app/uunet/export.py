"""Released weights: safetensors + a JSON model card carrying the weights' sha256.

The card records the architecture (registry name + config) needed to rebuild the network,
the data and training configuration, the sha256 of the weights file and the measured
metrics. Loading goes through ``safetensors`` only (no pickle anywhere).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forensics_app.core.atomic import PUBLIC, atomic_write_bytes
from forensics_app.errors import ModelError, VerificationError

if TYPE_CHECKING:  # torch is imported where a network is built: reading cards needs none
    from torch import nn

CARD_FORMAT = "uunet-model-card/1"


def _atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` (folder made if needed); released files are readable by anyone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data, PUBLIC)


def weights_bytes(module: nn.Module) -> bytes:
    """The module's state dict serialised as safetensors bytes (contiguous CPU tensors)."""
    from safetensors.torch import save as st_save

    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    return st_save(state)


def export_model(
    module: nn.Module,
    name: str,
    config: dict[str, Any],
    weights_path: Path,
    *,
    role: str,
    data: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``weights_path`` (.safetensors) and the card beside it (.json); return the card."""
    weights_path = Path(weights_path)
    blob = weights_bytes(module)
    _atomic_write(weights_path, blob)
    card = {
        "format": CARD_FORMAT,
        "role": role,
        "architecture": {"name": name, "config": config},
        "weights_file": weights_path.name,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "parameters": int(sum(p.numel() for p in module.parameters())),
        "data": data or {},
        "training": training or {},
        "metrics": metrics or {},
    }
    write_card(weights_path.with_suffix(".json"), card)
    return card


def write_card(path: Path, card: dict[str, Any]) -> None:
    """Write a model card as indented JSON (atomically)."""
    _atomic_write(Path(path), (json.dumps(card, indent=2, sort_keys=False) + "\n").encode())


def read_card(path: Path) -> dict[str, Any]:
    """Read and sanity-check a model card."""
    try:
        card = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot read model card {path}: {error}") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ModelError(f"{path} is not a UU-Net model card")
    if "architecture" not in card or "sha256" not in card:
        raise ModelError(f"model card {path} lacks architecture or sha256")
    return card


def check_weights(blob: bytes, card: dict[str, Any], expected_role: str | None = None) -> None:
    """Refuse weights whose sha256 differs from the card's (:class:`VerificationError`) or a
    card of another role (:class:`ModelError`)."""
    if expected_role is not None and card.get("role") != expected_role:
        raise ModelError(f"model is a {card.get('role')!r}, expected {expected_role!r}")
    digest = hashlib.sha256(blob).hexdigest()
    if digest != card.get("sha256"):
        raise VerificationError(
            f"model weights sha256 {digest[:16]}… does not match the card's "
            f"{str(card.get('sha256'))[:16]}…"
        )


def module_from_bytes(blob: bytes, card: dict[str, Any], expected_role: str | None = None):
    """Build the card's network and load safetensors ``blob`` into it, after checking its
    sha256 against the card (a flipped byte raises :class:`VerificationError`)."""
    from safetensors.torch import load as st_load

    from forensics_app.uunet.networks import build_network

    check_weights(blob, card, expected_role)
    arch = card["architecture"]
    module = build_network(arch["name"], **arch.get("config", {}))
    try:
        state = st_load(blob)
        module.load_state_dict(state, strict=True)
    except Exception as error:
        raise ModelError(f"weights do not fit architecture {arch['name']}: {error}") from None
    return module.eval()


def load_model(weights_path: Path, expected_role: str | None = None) -> tuple[nn.Module, dict]:
    """Load ``X.safetensors`` with its card ``X.json``; returns (module in eval mode, card)."""
    weights_path = Path(weights_path)
    if not weights_path.is_file():
        raise ModelError(f"no model file at {weights_path}")
    card = read_card(weights_path.with_suffix(".json"))
    module = module_from_bytes(weights_path.read_bytes(), card, expected_role)
    return module, card


def to_device(module: nn.Module, device: str) -> nn.Module:
    """Move a loaded module to ``device`` (kept separate so loading stays CPU-only)."""
    import torch

    return module.to(torch.device(device))
