"""``forensics train export-runtime``: the producer's torch networks traced to onnxruntime twins.

What the producer runs per frame besides the person detector — U_e, the reader of x that
picks a gender-matched donor, and the head refiner — is trained in torch. Importing torch
costs the producer about 200 MiB and a second of start-up on two cores, a third of its
memory budget, and onnxruntime runs these small convolutional networks faster. So each is
traced once to ONNX (torch's TorchScript exporter, opset 17), run through onnxruntime on
inputs other than the ones it was traced with (another batch size too), compared with torch
(the largest difference is recorded), and pinned in the network's own model card:

.. code-block:: json

    "runtime": {"file": "ue.onnx", "sha256": "…", "traced_from": "<the weights' sha256>", …}

Loading refuses a twin whose sha256 or ``traced_from`` does not match its card
(:func:`forensics_app.core.model_files.load_runtime_twin`). Training writes fresh cards
without a ``runtime`` block, so a newly trained network runs in torch until this is re-run.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from forensics_app.core.atomic import PUBLIC, atomic_write_bytes
from forensics_app.core.model_files import open_onnx_session
from forensics_app.errors import ModelError
from forensics_app.uunet.export import load_model
from forensics_app.uunet.onnx_twins import ENCODER_INPUTS, READER_INPUT

#: ONNX opset of the twins (onnxruntime 1.17+ runs it; torch's TorchScript exporter writes it).
OPSET = 17
#: Largest |torch − onnxruntime| accepted, per twin: U_e's output is in [0, 1] (a grey level
#: is 0.0039), the reader's a logit, the refiner's boxes in window units and P(head).
TOLERANCE = {"ue": 1e-4, "gender": 1e-3, "refiner": 1e-3}


class _Encoder(nn.Module):
    def __init__(self, module: nn.Module, donors: bool) -> None:
        super().__init__()
        self.module, self.donors = module, donors

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.module(*inputs)


class _Reader(nn.Module):
    """uint8 BGR faces ``N×64×64×3`` → the probe's logit, as OwnGenderReader.logits reads."""

    def __init__(self, embedder: nn.Module, probe: nn.Module) -> None:
        super().__init__()
        self.embedder, self.probe = embedder, probe

    def forward(self, faces_bgr: torch.Tensor) -> torch.Tensor:
        from forensics_app.uunet.gender import features_of

        rgb = faces_bgr[..., [2, 1, 0]].permute(0, 3, 1, 2).float() / 255.0
        return self.probe(features_of(self.embedder, rgb, self.probe.features))


def _trace(module: nn.Module, inputs: tuple[torch.Tensor, ...], names: list[str]) -> bytes:
    buffer = io.BytesIO()
    axes = {name: {0: "n"} for name in [*names, "out"]}
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation and trace notes
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(), inputs, buffer, dynamo=False, opset_version=OPSET,
            input_names=names, output_names=["out"], dynamic_axes=axes,
        )  # fmt: skip
    return buffer.getvalue()


def _compare(module: nn.Module, data: bytes, feed: dict[str, np.ndarray]) -> float:
    """Largest |torch − onnxruntime| on ``feed`` (inputs the trace never saw)."""
    got = open_onnx_session(data).run(None, feed)[0]
    with torch.inference_mode():
        want = module(*[torch.from_numpy(v) for v in feed.values()]).numpy()
    if got.shape != want.shape:
        raise ModelError(f"the twin's output {got.shape} differs from torch's {want.shape}")
    return float(np.abs(got.astype(np.float64) - want).max())


def _pin(card_path: Path, onnx_path: Path, data: bytes, extra: dict[str, Any]) -> dict:
    """Write the twin and its ``runtime`` block into the card (both atomically)."""
    import onnxruntime

    original = card_path.read_text(encoding="utf-8")
    card = json.loads(original)
    atomic_write_bytes(onnx_path, data, PUBLIC)
    block = {
        "file": onnx_path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "traced_from": card["sha256"],
        "exporter": f"torch {torch.__version__} TorchScript exporter, opset {OPSET}",
        "checked_with": f"onnxruntime {onnxruntime.__version__}",
        **extra,
        "written_by": "forensics train export-runtime",
    }
    card["runtime"] = block
    text = json.dumps(card, indent=2, ensure_ascii=original.isascii()) + "\n"  # as it was kept
    atomic_write_bytes(card_path, text.encode("utf-8"), PUBLIC)
    return block


def _check(name: str, diff: float) -> None:
    if not diff <= TOLERANCE[name]:
        raise ModelError(
            f"the {name} twin differs from torch by {diff:.2e} (> {TOLERANCE[name]:.0e}); "
            "not written"
        )


def export_encoder(weights: Path, seed: int = 0) -> dict[str, Any]:
    """Twin of U_e ``X.safetensors`` → ``X.onnx``, pinned in ``X.json``."""
    module, card = load_model(Path(weights), expected_role="encoder")
    donors = int(getattr(module, "donor_count", 0))
    names = list(ENCODER_INPUTS if donors else ENCODER_INPUTS[:2])
    rng = np.random.default_rng(seed)

    def inputs(n: int) -> dict[str, np.ndarray]:
        feed = {
            "rgb": rng.random((n, 3, 64, 64), dtype=np.float32),
            "noise": rng.random((n, 1, 64, 64), dtype=np.float32),
        }
        if donors:
            feed["index"] = rng.integers(0, donors, n).astype(np.int64)
        return feed

    wrapper = _Encoder(module, bool(donors))
    data = _trace(wrapper, tuple(torch.from_numpy(v) for v in inputs(2).values()), names)
    diff = _compare(wrapper, data, inputs(9))
    _check("ue", diff)
    extra = {"inputs": names, "max_abs_diff": diff, "checked_on": "9 random faces"}
    return _pin(Path(weights).with_suffix(".json"), Path(weights).with_suffix(".onnx"), data, extra)


def export_reader(models: Path, seed: int = 0) -> dict[str, Any]:
    """Twin of the reader of x (E_id + the gender probe) → ``gender/reader.onnx``, pinned in
    ``gender/probe.json``."""
    from forensics_app.uunet.gender import OwnGenderReader

    reader = OwnGenderReader.from_dir(Path(models))  # checks both files and the E_id pin
    wrapper = _Reader(reader.embedder, reader.probe)
    rng = np.random.default_rng(seed)
    faces = rng.integers(0, 256, (11, 64, 64, 3), dtype=np.uint8)
    data = _trace(wrapper, (torch.from_numpy(faces[:2]),), [READER_INPUT])
    diff = _compare(wrapper, data, {READER_INPUT: faces[2:]})
    _check("gender", diff)
    extra = {
        "inputs": [READER_INPUT],
        "identity_model_sha256": reader.card["data"]["identity_model_sha256"],
        "max_abs_diff": diff,
        "checked_on": "9 random faces",
    }
    card_path = Path(models) / "gender" / "probe.json"
    return _pin(card_path, card_path.with_name("reader.onnx"), data, extra)


def export_refiner(card_path: Path, seed: int = 0) -> dict[str, Any]:
    """Twin of the head refiner → ``refiner.onnx`` beside its card, pinned in it."""
    from forensics_app.core.head_refine_net import load_refiner_readout
    from forensics_app.core.model_files import load_verified_model

    data, card = load_verified_model(card_path, "head refiner")
    readout = load_refiner_readout(data, int(card.get("config", {}).get("width", 24)))
    rng = np.random.default_rng(seed)
    patches = rng.integers(0, 256, (11, 4, 32, 32), dtype=np.uint8)
    twin = _trace(readout, (torch.from_numpy(patches[:2]),), ["patches"])
    diff = _compare(readout, twin, {"patches": patches[2:]})
    _check("refiner", diff)
    extra = {"inputs": ["patches"], "max_abs_diff": diff, "checked_on": "9 random windows"}
    return _pin(Path(card_path), Path(card_path).with_name("refiner.onnx"), twin, extra)


def export_runtime(models: Path) -> dict[str, dict[str, Any]]:
    """Trace every producer network found in ``models`` (U_e, the reader of x when the
    gender probe is installed, the head refiner) and pin the twins; returns their blocks."""
    models = Path(models)
    if not (models / "ue.safetensors").is_file():
        raise ModelError(f"no U_e at {models / 'ue.safetensors'}")
    out = {"ue": export_encoder(models / "ue.safetensors")}
    if (models / "gender" / "probe.safetensors").is_file():
        out["gender"] = export_reader(models)
    if (models / "heads" / "refiner.json").is_file():
        out["refiner"] = export_refiner(models / "heads" / "refiner.json")
    return out
