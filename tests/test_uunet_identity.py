"""E_id (identity.py) and L_id: known answers, the descriptor cache, and phase 2 with it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from forensics_app.cli import main
from forensics_app.errors import InputError, ModelError
from forensics_app.uunet import losses as L
from forensics_app.uunet.identity import (
    IdentityConfig,
    distillation_loss,
    load_identity,
    teacher_descriptors,
    train_identity,
)
from forensics_app.uunet.networks import build_network
from forensics_app.uunet.train_attributes import AttributesConfig, train_attributes
from forensics_app.uunet.train_uunet import train_uunet
from tests.test_uunet_training import _config, make_tree


def test_identity_loss_known_answers() -> None:
    x = torch.zeros(4, 128)
    assert float(L.identity_loss(x, x.clone(), 0.8)) == pytest.approx(1.0, abs=1e-5)
    far = torch.zeros(4, 128)
    far[:, 0] = 0.9
    assert float(L.identity_loss(x, far, 0.8)) == 0.0
    half = torch.zeros(4, 128)
    half[:, 3] = 0.4
    assert float(L.identity_loss(x, half, 0.8)) == pytest.approx(0.5)
    with pytest.raises(InputError, match="margin"):
        L.identity_loss(x, far, 0.0)


def test_identity_loss_gradient_pushes_a_away_from_x() -> None:
    x = torch.zeros(2, 8)
    a = torch.full((2, 8), 0.01, requires_grad=True)
    L.identity_loss(x, a, 0.8).backward()
    assert a.grad is not None and torch.all(a.grad < 0)  # descending moves a further from x
    # identical descriptors still give a finite gradient (no NaN from the square root)
    b = torch.zeros(2, 8, requires_grad=True)
    L.identity_loss(x, b, 0.8).backward()
    assert torch.isfinite(b.grad).all()


def test_distillation_loss_is_zero_only_on_a_match() -> None:
    t = torch.randn(6, 128, generator=torch.Generator().manual_seed(0))
    assert float(distillation_loss(t, t)) == pytest.approx(0.0, abs=1e-5)
    assert float(distillation_loss(t * 1.5, t)) > 0.1


def test_identity_embedder_shapes_and_determinism() -> None:
    net = build_network("identity_embedder", base=8, dim=16, hidden=32).eval()
    x = torch.rand(3, 3, 64, 64)
    out = net(x)
    assert out.shape == (3, 16)
    assert torch.equal(out, net(x))


class CountingTeacher:
    """Stands in for dlib in the cache test only: a fixed projection of the pixels."""

    def __init__(self) -> None:
        self.calls = 0
        self.w = np.random.default_rng(0).standard_normal((64 * 64 * 3, 4)).astype(np.float32)

    def faces(self, rgb_u8: np.ndarray) -> np.ndarray:
        self.calls += len(rgb_u8)
        return rgb_u8.reshape(len(rgb_u8), -1).astype(np.float32) @ self.w / 1e4


def test_teacher_descriptors_are_cached_by_pixels(tmp_path: Path) -> None:
    faces = np.random.default_rng(1).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    cache = tmp_path / "teacher.npz"
    teacher = CountingTeacher()
    first = teacher_descriptors(faces[:3], cache, teacher, batch=2)  # type: ignore[arg-type]
    assert teacher.calls == 3 and cache.is_file()
    both = teacher_descriptors(faces, cache, teacher)  # type: ignore[arg-type]
    assert teacher.calls == 5  # only the two new faces were computed
    np.testing.assert_array_equal(both[:3], first)
    again = teacher_descriptors(faces[::-1], cache, CountingTeacher())  # type: ignore[arg-type]
    np.testing.assert_array_equal(again, both[::-1])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny tree, a D_a and an E_id distilled from real dlib on it."""
    root = tmp_path_factory.mktemp("identity")
    data = make_tree(root / "data")
    train_attributes(
        data,
        root / "da",
        AttributesConfig(width=0.25, batch_size=8, steps=2, holdout=0.2, device="cpu"),
        quiet=True,
    )
    config = IdentityConfig(base=8, hidden=32, batch_size=16, steps=30, holdout=0.2, device="cpu")
    summary = train_identity(data, root / "eid", config, quiet=True)
    return {"data": data, "da": root / "da", "eid": root / "eid", "summary": summary}  # type: ignore[dict-item]


def test_train_identity_exports_a_card_with_fidelity(tiny: dict) -> None:
    card = json.loads((tiny["eid"] / "identity.json").read_text())
    assert card["role"] == "identity_embedder" and card["data"]["teacher"].startswith("dlib")
    held = card["metrics"]["heldout"]
    assert -1.0 <= held["distance_pearson_r"] <= 1.0 and held["pairs"] >= 1
    # flips doubled the training faces; descriptors were cached for the next run
    assert card["data"]["train_faces"] == 2 * 24
    with np.load(tiny["eid"] / "teacher_descriptors.npz") as cache:
        assert len(cache["keys"]) == 2 * 24 + 6
    model, _ = load_identity(tiny["eid"])
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 128)


def test_load_identity_refuses_a_missing_or_tampered_model(tiny: dict, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="train identity"):
        load_identity(tmp_path)
    bad = tmp_path / "eid"
    bad.mkdir()
    blob = bytearray((tiny["eid"] / "identity.safetensors").read_bytes())
    blob[-1] ^= 0xFF
    (bad / "identity.safetensors").write_bytes(bytes(blob))
    (bad / "identity.json").write_text((tiny["eid"] / "identity.json").read_text())
    from forensics_app.errors import VerificationError

    with pytest.raises(VerificationError):
        load_identity(bad)


def test_phase_two_with_e_id_logs_dlib_and_resumes_exactly(tiny: dict, tmp_path: Path) -> None:
    kw = dict(identity=str(tiny["eid"]), id_refresh_every=2, weights={"id": 2.0})
    straight, split = tmp_path / "straight", tmp_path / "split"
    train_uunet(tiny["data"], straight, _config(steps=4, **kw), attributes=tiny["da"], quiet=True)
    log = [json.loads(x) for x in (straight / "train_log.jsonl").read_text().splitlines()]
    assert all("id" in r for r in log)
    refreshed = [r["step"] for r in log if "dlib_xa" in r]
    assert refreshed == [0, 2] and all(r["dlib_xa"] >= 0 for r in log if "dlib_xa" in r)
    resolved = json.loads((straight / "config.json").read_text())["weights"]
    assert resolved["id"] == 2.0 and resolved["mse"] == 50.0  # overrides merged, all shown
    card = json.loads((straight / "ue.json").read_text())
    eid_card = json.loads((tiny["eid"] / "identity.json").read_text())
    assert card["data"]["identity_model_sha256"] == eid_card["sha256"]
    # the refits of E_id are part of the state: a resumed run continues identically
    train_uunet(tiny["data"], split, _config(steps=3, **kw), attributes=tiny["da"], quiet=True)
    train_uunet(
        tiny["data"], split, _config(steps=4, **kw), attributes=tiny["da"], resume=True, quiet=True
    )
    a = [json.loads(x) for x in (straight / "train_log.jsonl").read_text().splitlines()][-1]
    b = [json.loads(x) for x in (split / "train_log.jsonl").read_text().splitlines()][-1]
    assert a["step"] == b["step"] == 3
    for key in ("mse", "ano", "id", "critic"):
        assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), key


def test_cli_identity_errors(tiny: dict, tmp_path: Path, capsys) -> None:
    rc = main(
        ["train", "identity", "--data", str(tiny["data"]), "--out", str(tmp_path), "--resume"]
    )
    assert rc != 0 and "no --resume" in capsys.readouterr().err
    rc = main(
        ["train", "uunet", "--data", str(tiny["data"]), "--out", str(tmp_path / "u"),
         "--attributes", str(tiny["da"]), "--identity", str(tmp_path / "nothing"), "--steps", "1"]
    )  # fmt: skip
    assert rc != 0 and "no identity embedder" in capsys.readouterr().err
