"""The producer's networks as onnxruntime twins: U_e and the reader of x, without torch.

``forensics train export-runtime`` traces each shipped torch network to ONNX, checks that
the twin gives the same outputs, and pins it in the network's own model card (a
``runtime`` block: ``file``, ``sha256``), so one card pins both files. The producer then
never imports torch: on two cores that import alone costs about 200 MiB and a second of
start-up, and onnxruntime runs U_e about 1.7× faster than torch does. Without a twin (a
freshly trained model, a sealed encoder) the torch network runs: same results, slower.

Each twin is read only after the card's weights file *and* the twin have matched their
sha256, so a tampered file is refused whichever back end runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from forensics_app.core.model_files import load_runtime_twin, open_onnx_session
from forensics_app.errors import ModelError, VerificationError
from forensics_app.uunet.export import check_weights, read_card
from forensics_app.uunet.gender_control import check_identity_pin, reader_files

#: Input and output names of the traced graphs (the export and the runners share them).
ENCODER_INPUTS = ("rgb", "noise", "index")
READER_INPUT = "faces_bgr"


def _session(data: bytes, what: str) -> Any:
    try:
        return open_onnx_session(data)
    except Exception as error:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load the onnxruntime twin of {what}: {error}") from error


class OnnxEncoderNet:
    """U_e's twin, called with numpy arrays as the torch module is with tensors:
    ``rgb`` ``N×3×64×64`` float32 in [0, 1], ``noise`` ``N×1×64×64`` float32, and (for the
    virtual-identity encoder) the donor ``index`` ``N`` → ``a`` ``N×3×64×64`` float32."""

    def __init__(self, data: bytes, donors: np.ndarray | None) -> None:
        #: the donor bank, ``N×3×64×64`` uint8 RGB (as the torch module's ``donors`` buffer)
        self.donors = donors
        self.donor_count = 0 if donors is None else int(donors.shape[0])
        self._session = _session(data, "U_e")
        self._inputs = [i.name for i in self._session.get_inputs()]

    def __call__(
        self, rgb: np.ndarray, noise: np.ndarray, index: np.ndarray | None = None
    ) -> np.ndarray:
        feed = {
            "rgb": rgb.astype(np.float32, copy=False),
            "noise": noise.astype(np.float32, copy=False),
        }
        if "index" in self._inputs:
            if index is None:
                raise ModelError("the virtual-identity U_e needs a donor index")
            feed["index"] = np.asarray(index, np.int64)
        return self._session.run(None, feed)[0]


def load_encoder_twin(weights: Path) -> tuple[OnnxEncoderNet, dict[str, Any]] | None:
    """U_e's twin and card for ``X.safetensors`` (card ``X.json``), or None when the card pins
    no twin or its file is absent. The weights file is checked against the card too, so a
    tampered U_e is refused although the twin is what runs."""
    weights = Path(weights)
    if not weights.is_file():
        raise ModelError(f"no model file at {weights}")
    card_path = weights.with_suffix(".json")
    card = read_card(card_path)
    blob = weights.read_bytes()
    check_weights(blob, card, "encoder")
    twin = load_runtime_twin(card, weights.parent, "U_e", VerificationError)
    if twin is None:
        return None
    donors = None
    if card["architecture"].get("name") == "vi_encoder":
        from safetensors.numpy import load as load_arrays

        try:
            donors = load_arrays(blob)["donors"]
        except Exception as error:  # safetensors raises untyped errors
            raise ModelError(f"cannot read the donor bank of {weights}: {error}") from None
    return OnnxEncoderNet(twin[0], donors), card


class OnnxGenderReader:
    """The reader of x (E_id's features → the linear probe) as one graph: uint8 BGR faces
    ``N×64×64×3`` → logit of "female" ``N`` (see :class:`.gender.OwnGenderReader`)."""

    #: the back end that runs it (ProducerStats.runtime)
    runtime = "onnxruntime"

    def __init__(self, data: bytes, card: dict[str, Any]) -> None:
        self.card = card
        self._session = _session(data, "the gender reader")

    @classmethod
    def from_dir(cls, models: Path) -> OnnxGenderReader | None:
        """The twin pinned by ``models/gender/probe.json``, or None when it pins none.

        Checks what the torch reader checks (the probe's sha256, the E_id it pins) and that
        the twin was traced from that E_id. Missing files raise :class:`ModelError` with
        ``FileNotFoundError`` as cause.
        """
        probe_path, identity_path = reader_files(models)
        card_path = probe_path.with_suffix(".json")
        card = read_card(card_path)
        check_weights(probe_path.read_bytes(), card, "gender_reader")
        check_identity_pin(card, identity_path)
        twin = load_runtime_twin(card, card_path.parent, "gender reader", VerificationError)
        if twin is None:
            return None
        data, block = twin
        if block.get("identity_model_sha256") != card["data"]["identity_model_sha256"]:
            raise ModelError(
                f"{card_path}: the reader's twin was traced from another E_id; "
                "re-run forensics train export-runtime"
            )
        return cls(data, card)

    def logits(self, faces_bgr: np.ndarray, batch: int = 256) -> np.ndarray:
        """Logit of "female" for ``N×64×64×3`` uint8 BGR faces (> 0 reads as female)."""
        faces = np.ascontiguousarray(faces_bgr, np.uint8)
        out = [
            self._session.run(None, {READER_INPUT: faces[i : i + batch]})[0]
            for i in range(0, len(faces), batch)
        ]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)

    def descriptors(self, faces_rgb: np.ndarray) -> np.ndarray:
        """Not traced: the least-alike donor choice runs the torch reader."""
        raise ModelError("the reader's onnxruntime twin has no descriptors; use runtime torch")
