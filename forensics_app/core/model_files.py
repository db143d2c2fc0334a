"""Model files shipped in ``models/``, read only after their sha256 matches their card.

Every network the producer runs (the person detector, CenterFace) is pinned by a small JSON
card beside it (``weights_file``, ``sha256``); a swapped or altered file is refused with one
line before any byte of it reaches onnxruntime or OpenCV.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from forensics_app.errors import DetectionError, ForensicsError, InputError

#: Which back end runs a torch-trained network: its onnxruntime twin when its card pins one
#: (``auto``), only the twin (``onnxruntime``), or never the twin (``torch``).
RUNTIMES = ("auto", "onnxruntime", "torch")


def check_runtime(runtime: str) -> None:
    """Refuse a back-end name other than :data:`RUNTIMES` (one-line :class:`InputError`)."""
    if runtime not in RUNTIMES:
        raise InputError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")


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
    return _read_checked(weights, expected, what, DetectionError), card


def _read_checked(path: Path, expected: str, what: str, error: type[ForensicsError]) -> bytes:
    """``path``'s bytes, or one line (``error``) when their sha256 is not ``expected``."""
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise error(
            f"{what} {path.name} was altered: sha256 {actual[:16]}… does not match "
            f"its model card ({expected[:16]}…); refusing to run it"
        )
    return data


def load_runtime_twin(
    card: dict,
    folder: str | Path,
    what: str = "model",
    error: type[ForensicsError] = DetectionError,
) -> tuple[bytes, dict] | None:
    """The onnxruntime twin of a torch model, when its card names one and it is intact.

    ``forensics train export-runtime`` writes the same network as ONNX beside the
    safetensors weights and pins it in the card's ``runtime`` block (``file``, ``sha256``),
    so one card pins both files: the producer then runs without importing torch (200 MiB
    and a second of start-up on two cores). ``card`` is the card as its caller already read
    and checked it, ``folder`` the folder it lies in. Returns ``(onnx bytes, runtime block)``, or None
    when the card names no twin or the file is absent (the caller runs the torch network
    instead: same results, slower). A twin whose digest differs from the card's, or that
    was traced from weights other than the card's (``traced_from``), is refused with one
    line (``error``), as any altered model is.
    """
    block = card.get("runtime")
    if not isinstance(block, dict):
        return None
    try:
        path = Path(folder) / str(block["file"])
        expected = str(block["sha256"]).lower()
    except KeyError as key:
        raise error(f"{what} model card in {folder}: runtime lacks {key}") from None
    if not path.is_file():
        return None
    data = _read_checked(path, expected, what, error)
    if block.get("traced_from") != card.get("sha256"):
        raise error(
            f"{what} {path.name} was traced from other weights than its card's; "
            "re-run forensics train export-runtime"
        )
    return data, block


def open_onnx_session(model: bytes, threads: int | None = None):  # -> ort.InferenceSession
    """An onnxruntime CPU session with the producer's settings.

    The memory arena is off (it kept 25–30 MiB more at the producer's peak, no faster) and
    idle threads do not spin: a spinning thread held the core that the video encoder and
    the other networks need (the producer ran about 10 % faster with spinning off).
    onnxruntime's own errors pass through; callers name the model in theirs.
    """
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = False
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = int(threads)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
