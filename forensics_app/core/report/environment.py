"""Facts about the software and the model that produced a reconstruction.

Versions are read from the running interpreter and libraries (never typed in), and the
decoder's validation figures come from its model card JSON, so the report states what was
actually used. A missing or unreadable model card is reported as such, not invented.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

from forensics_app import MODELS_DIR, __version__
from forensics_app.core.report.model import ModelInfo, ToolVersion
from forensics_app.core.report.validation import assessment, is_demonstrator

#: Model-card keys whose numeric leaves are validation figures.
_METRIC_KEYS = ("metrics", "validation", "evaluation", "results")
#: Model-card keys that describe how the model was trained.
_TRAINING_KEYS = ("data", "dataset", "training", "train")


def _module_version(name: str) -> str | None:
    try:
        module = __import__(name)
    except Exception:  # any import failure means "not available"
        return None
    return str(getattr(module, "__version__", None) or getattr(module, "VERSION", "unknown"))


def collect_tools() -> list[ToolVersion]:
    """The program, interpreter and libraries used, with the versions running right now."""
    tools = [
        ToolVersion("UU-Net Forensics (forensics_app)", __version__, "this program"),
        ToolVersion("Python", platform.python_version(), platform.python_implementation()),
        ToolVersion("Operating system", f"{platform.system()} {platform.release()}", ""),
    ]
    wanted = [
        ("torch", "PyTorch", "neural network inference (decoder)"),
        ("cv2", "OpenCV", "image processing"),
        ("av", "PyAV", "video decoding"),
        ("numpy", "NumPy", "numerical arrays"),
        ("cryptography", "pyca/cryptography", "signatures, encryption"),
        ("reportlab", "ReportLab", "this PDF"),
    ]
    for module, label, purpose in wanted:
        version = _module_version(module)
        if version is not None:
            tools.append(ToolVersion(label, version, purpose))
    ffmpeg = _ffmpeg_version()
    if ffmpeg:
        tools.append(ToolVersion("FFmpeg (libavcodec, via PyAV)", ffmpeg, "video codecs"))
    return tools


def _ffmpeg_version() -> str:
    """The FFmpeg libraries PyAV is linked against, e.g. ``libavcodec 62.28.102``."""
    try:
        import av
    except Exception:
        return ""
    parts = []
    info = getattr(av, "ffmpeg_version_info", None)
    if info:
        parts.append(str(info))
    codec = getattr(av, "library_versions", {}).get("libavcodec")
    if codec:
        parts.append("libavcodec " + ".".join(str(v) for v in codec))
    return ", ".join(parts)


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, bool):
        out.append((prefix, "yes" if value else "no"))
    elif isinstance(value, float):
        out.append((prefix, f"{value:.4g}"))
    elif isinstance(value, int | str):
        text = str(value)
        out.append((prefix, text if len(text) <= 120 else text[:117] + "..."))
    elif isinstance(value, list) and all(isinstance(v, int | float | str) for v in value):
        text = ", ".join(str(v) for v in value)
        out.append((prefix, text if len(text) <= 120 else text[:117] + "..."))


def _card_sha256(card: dict[str, Any]) -> str:
    for key in ("sha256", "weights_sha256", "plaintext_sha256", "file_sha256"):
        if isinstance(card.get(key), str):
            return card[key]
    weights = card.get("weights")
    if isinstance(weights, dict) and isinstance(weights.get("sha256"), str):
        return weights["sha256"]
    return ""


def model_info_from_card(
    card: dict[str, Any] | None, *, sha256: str = "", name: str = ""
) -> ModelInfo:
    """A :class:`ModelInfo` from a model card dict; ``sha256`` (pinned elsewhere) wins."""
    if not card:
        return ModelInfo(
            name=name or "UU-Net decoder (U_d)",
            sha256=sha256 or "unknown",
            card_found=False,
            note="No model card was available: validation figures cannot be stated.",
            assessment=assessment(None),
        )
    validation: list[tuple[str, str]] = []
    training: list[tuple[str, str]] = []
    for key in _METRIC_KEYS:
        if key in card:
            _flatten(key if key != "metrics" else "", card[key], validation)
    for key in _TRAINING_KEYS:
        if key in card:
            _flatten(key, card[key], training)
    card_sha = _card_sha256(card)
    note = ""
    if sha256 and card_sha and card_sha != sha256:
        note = (
            f"The model card names weights sha256 {card_sha}, which differs from the sealed "
            "model actually used; its figures may describe another model."
        )
    if not validation:
        note = (note + " " if note else "") + "The model card lists no validation figures."
    return ModelInfo(
        name=name or str(card.get("name") or card.get("arch") or "UU-Net decoder (U_d)"),
        sha256=sha256 or card_sha or "unknown",
        card_found=True,
        validation=validation[:40],
        training=training[:12],
        note=note,
        assessment=assessment(card),
        demonstrator=is_demonstrator(card),
        card_limitations=bool(card.get("limitations")),
    )


def load_model_card(path: Path | None = None, *, sha256: str = "") -> ModelInfo:
    """Read the decoder's model card (default ``models/ud.json``); absence is stated, not fatal."""
    path = path or (MODELS_DIR / "ud.json")
    try:
        card = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        card = None
    if card is not None and not isinstance(card, dict):
        card = None
    return model_info_from_card(card, sha256=sha256)


def python_summary() -> str:
    """One line naming the interpreter, for the report footer of the tools table."""
    return f"Python {platform.python_version()} on {sys.platform}"
