"""The onnxruntime twins of U_e, the reader of x and the head refiner (``export-runtime``).

The producer runs them so that it never imports torch. What must hold: each twin computes
what its torch network computes, the shipped twins are exactly the trace of the shipped
weights, the producer at its defaults really runs without torch, and an altered, stale or
missing twin is refused or replaced by the torch network, never silently trusted.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from model_support import copy_model

from forensics_app import MODELS_DIR
from forensics_app.core.head_refine import HeadRefiner
from forensics_app.errors import DetectionError, InputError, ModelError, VerificationError
from forensics_app.uunet.gender_control import load_gender_reader
from forensics_app.uunet.inference import FaceEncoder

SEEDS = [3, 3, 17, 17, 40, 99, 1234, 5]


def _faces(n: int = 8, seed: int = 0) -> np.ndarray:
    """Smooth face-sized test images (random blobs blurred), not pure noise."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    return np.stack([cv2.resize(f, (64, 64), interpolation=cv2.INTER_CUBIC) for f in small])


def _models_copy(tmp_path: Path) -> Path:
    """The files of the shipped U_e, E_id, reader of x and refiner, copied (with twins)."""
    out = tmp_path / "models"
    for rel in ("ue.json", "identity.json", "gender/probe.json", "heads/refiner.json"):
        folder = (out / rel).parent
        folder.mkdir(parents=True, exist_ok=True)
        copy_model(MODELS_DIR / rel, folder)
    return out


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_shipped_encoder_twin_encodes_as_torch_does() -> None:
    twin = FaceEncoder.from_file(MODELS_DIR / "ue.safetensors", s_gender=0)
    torch_run = FaceEncoder.from_file(MODELS_DIR / "ue.safetensors", s_gender=0, runtime="torch")
    assert (twin.runtime, torch_run.runtime) == ("onnxruntime", "torch")
    assert twin.donor_count == torch_run.donor_count == 200
    assert np.array_equal(twin.donor_faces_rgb(), torch_run.donor_faces_rgb())
    faces = _faces()
    a, b = twin.encode(faces, SEEDS), torch_run.encode(faces, SEEDS)
    diff = np.abs(a.astype(int) - b)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3  # rounding of 1e-6 differences
    assert np.array_equal(twin.encode(faces, SEEDS), a)  # deterministic


def test_shipped_reader_twin_reads_as_torch_does() -> None:
    twin = load_gender_reader(MODELS_DIR)
    torch_reader = load_gender_reader(MODELS_DIR, "torch")
    assert (twin.runtime, torch_reader.runtime) == ("onnxruntime", "torch")
    faces = _faces(12, seed=1)
    assert np.allclose(twin.logits(faces), torch_reader.logits(faces), atol=1e-4)
    with pytest.raises(ModelError, match="descriptors"):
        twin.descriptors(faces[..., ::-1])


def test_shipped_refiner_twin_reads_as_torch_does() -> None:
    twin, torch_run = HeadRefiner(), HeadRefiner(runtime="torch")
    assert (twin.runtime, torch_run.runtime) == ("onnxruntime", "torch")
    rng = np.random.default_rng(2)
    patches = rng.integers(0, 256, (16, 4, 32, 32), dtype=np.uint8)
    assert np.allclose(twin.read(patches), torch_run.read(patches), atol=1e-5)


def test_shipped_twins_are_the_trace_of_the_shipped_weights(tmp_path: Path) -> None:
    """Re-exporting from the shipped weights gives byte-identical twins and cards."""
    from forensics_app.uunet.runtime_export import export_runtime

    models = _models_copy(tmp_path)
    blocks = export_runtime(models)
    assert set(blocks) == {"ue", "gender", "refiner"}
    for rel in ("ue.onnx", "gender/reader.onnx", "heads/refiner.onnx"):
        assert (models / rel).read_bytes() == (MODELS_DIR / rel).read_bytes(), rel
    for rel in ("ue.json", "gender/probe.json", "heads/refiner.json"):
        mine = json.loads((models / rel).read_text(encoding="utf-8"))["runtime"]
        shipped = json.loads((MODELS_DIR / rel).read_text(encoding="utf-8"))["runtime"]
        assert mine["sha256"] == shipped["sha256"] and mine["traced_from"] == shipped["traced_from"]


def test_producer_at_its_defaults_never_imports_torch(tmp_path: Path, sample_video: Path) -> None:
    out = tmp_path / "public.mkv"
    code = (
        "import sys, json\n"
        "from forensics_app.cli import main\n"
        f"rc = main(['deidentify', {str(sample_video)!r}, '--out', {str(out)!r},"
        " '--json', '--quiet', '--max-frames', '6'])\n"
        "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    body, _, last = proc.stdout.rstrip().rpartition("\n")
    stats, verdict = json.loads(body), json.loads(last)
    assert verdict == {"rc": 0, "torch": False}
    assert stats["runtime"] == {
        "encoder": "onnxruntime", "gender_reader": "onnxruntime", "refiner": "onnxruntime",
    }  # fmt: skip
    assert stats["frames"] == 6 and out.is_file()


@pytest.mark.parametrize(
    ("twin", "load"),
    [
        ("ue.onnx", lambda m: FaceEncoder.from_file(m / "ue.safetensors", models_dir=m)),
        ("gender/reader.onnx", lambda m: load_gender_reader(m)),
        ("heads/refiner.onnx", lambda m: HeadRefiner(m / "heads" / "refiner.json")),
    ],
)
def test_an_altered_twin_is_refused(tmp_path: Path, twin: str, load) -> None:  # noqa: ANN001
    models = _models_copy(tmp_path)
    _flip_byte(models / twin)
    with pytest.raises((VerificationError, DetectionError), match="was altered"):
        load(models)


def test_a_twin_traced_from_other_weights_is_refused(tmp_path: Path) -> None:
    """Weights replaced (and their card's sha256 with them) but the old twin left in place."""
    models = _models_copy(tmp_path)
    card_path = models / "ue.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    weights = bytearray((models / "ue.safetensors").read_bytes())
    weights[-1] ^= 0x01  # a byte of the last tensor's data: other, still loadable weights
    (models / "ue.safetensors").write_bytes(bytes(weights))
    card["sha256"] = hashlib.sha256(bytes(weights)).hexdigest()
    card_path.write_text(json.dumps(card, indent=2), encoding="utf-8")
    with pytest.raises(VerificationError, match="traced from other weights"):
        FaceEncoder.from_file(models / "ue.safetensors", models_dir=models)
    # the torch network of the new weights still runs when asked for
    enc = FaceEncoder.from_file(models / "ue.safetensors", models_dir=models, runtime="torch")
    assert enc.runtime == "torch"


def test_altered_weights_are_refused_even_though_the_twin_runs(tmp_path: Path) -> None:
    models = _models_copy(tmp_path)
    _flip_byte(models / "ue.safetensors")
    with pytest.raises(VerificationError, match="does not match"):
        FaceEncoder.from_file(models / "ue.safetensors", models_dir=models)
    _flip_byte(models / "gender" / "probe.safetensors")
    with pytest.raises(VerificationError, match="does not match"):
        load_gender_reader(models)


def test_a_missing_twin_runs_the_torch_network(tmp_path: Path) -> None:
    models = _models_copy(tmp_path)
    for rel in ("ue.onnx", "gender/reader.onnx", "heads/refiner.onnx"):
        (models / rel).unlink()
    enc = FaceEncoder.from_file(models / "ue.safetensors", models_dir=models)
    assert enc.runtime == "torch" and enc.gender is not None
    assert enc.gender.reader.runtime == "torch"
    assert HeadRefiner(models / "heads" / "refiner.json").runtime == "torch"
    with pytest.raises(ModelError, match="names no onnxruntime twin"):
        FaceEncoder.from_file(models / "ue.safetensors", models_dir=models, runtime="onnxruntime")
    with pytest.raises(DetectionError, match="names no onnxruntime twin"):
        HeadRefiner(models / "heads" / "refiner.json", runtime="onnxruntime")


def test_unknown_runtime_is_an_input_error() -> None:
    with pytest.raises(InputError, match="runtime must be one of"):
        FaceEncoder.from_file(MODELS_DIR / "ue.safetensors", runtime="tensorrt")
    with pytest.raises(InputError, match="runtime must be one of"):
        HeadRefiner(runtime="gpu")
