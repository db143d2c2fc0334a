"""Gender-aware donor choice for ``U_e(x, z)``: keep (``s = +1``) or flip (``s = −1``) x's gender.

Why: the virtual-identity encoder takes the donor's face, so the surrogate's perceived gender
is the donor's, and a donor drawn from the seed alone keeps x's gender only half the time
(issue #12 asks for ≥ 90 % kept under ``s = +1`` and ≥ 80 % changed under ``s = −1``).
``U_d`` rebuilds x from ``a`` alone and never sees z, so the producer may pick any donor:
no retraining is needed, only a donor chosen from the right half of the bank.

Two pieces, both independent of the gender judge of the evaluation
(:class:`.evaluation.judges.GenderReader`, which must only ever measure):

* **donor tags**: the perceived gender of each donor of the bank, from human labels
  (``resources/labels/donor_gender.csv``), written into the encoder's model card under
  ``donor_bank.gender`` by ``forensics train tag-donors``. The weights file, and so its
  sha256 and every figure measured on it, stays as it was.
* **the reader of x**: this package's own identity embedder E_id (``models/identity``)
  followed by a linear probe on its features (``models/gender/probe.safetensors``, trained
  by ``forensics train gender-probe`` on human-labelled synthetic faces, their degraded
  training frames and LFW faces that no evaluation holds back). Its card pins E_id's
  sha256, so a swapped embedder is refused.

A track's gender is decided once, from all faces of that track in the first
:meth:`GenderControl.donors` call that sees it (a vote of the reader's logits), and kept for
the life of the control: one track keeps one donor. The donor is then the seed's hash
(:func:`.donors.donor_index`) into the wanted half of the bank.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from forensics_app.errors import InputError
from forensics_app.uunet.gender_control import (  # noqa: F401  (their home before the split)
    GENDERS,
    PROBE_DIR,
    PROBE_FILE,
    SHOWN_MIN,
    GenderControl,
    check_identity_pin,
    reader_files,
    setup_gender_control,
)
from forensics_app.uunet.networks import GenderProbe


class OwnGenderReader:
    """x's perceived gender by this package's own models: E_id's features → linear probe."""

    #: the back end that runs it (ProducerStats.runtime)
    runtime = "torch"

    def __init__(self, embedder: nn.Module, probe: nn.Module, card: dict[str, Any]) -> None:
        self.embedder, self.probe, self.card = embedder.eval(), probe.eval(), card

    @classmethod
    def from_dir(cls, models: Path) -> OwnGenderReader:
        """Load ``models/gender/probe.safetensors`` and the E_id it was trained on.

        Raises :class:`ModelError` when a file is missing (``FileNotFoundError`` as cause)
        and :class:`VerificationError`/:class:`ModelError` when a file fails its card.
        """
        from forensics_app.uunet.export import load_model

        probe_path, identity_path = reader_files(models)
        probe, card = load_model(probe_path, expected_role="gender_reader")
        check_identity_pin(card, identity_path)
        embedder, _ = load_model(identity_path, expected_role="identity_embedder")
        return cls(embedder, probe, card)

    def logits(self, faces_bgr: np.ndarray, batch: int = 256) -> np.ndarray:
        """Logit of "female" for ``N×64×64×3`` uint8 BGR faces (> 0 reads as female)."""
        faces = np.asarray(faces_bgr)
        out = []
        with torch.inference_mode():
            for i in range(0, len(faces), batch):
                rgb = np.ascontiguousarray(faces[i : i + batch, ..., ::-1])
                feats = _features(self.embedder, rgb, self.probe.features)
                out.append(self.probe(feats).float().numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def descriptors(self, faces_rgb: np.ndarray, batch: int = 256) -> np.ndarray:
        """Unit-length E_id descriptors ``N×128`` of ``N×64×64×3`` uint8 **RGB** faces."""
        faces = np.asarray(faces_rgb)
        with torch.inference_mode():
            out = [
                _features(self.embedder, faces[i : i + batch], "descriptor").numpy()
                for i in range(0, len(faces), batch)
            ]
        return np.concatenate(out) if out else np.zeros((0, 128), np.float32)


def _features(embedder: nn.Module, rgb_u8: np.ndarray, kind: str = "layers") -> torch.Tensor:
    """E_id's read-out of uint8 RGB faces that a probe reads (see :class:`GenderProbe`)."""
    t = torch.from_numpy(np.ascontiguousarray(rgb_u8)).permute(0, 3, 1, 2).float() / 255.0
    return features_of(embedder, t, kind)


def features_of(embedder: nn.Module, t: torch.Tensor, kind: str = "layers") -> torch.Tensor:
    """:func:`_features` of float RGB faces ``N×3×64×64`` in [0, 1] (what the ONNX twin of
    the reader traces)."""
    if kind == "descriptor":
        return nn.functional.normalize(embedder(t), dim=1)
    conv = embedder.features((t - 0.5) * 4.0)  # as IdentityEmbedder.forward
    hidden = embedder.head[2](embedder.head[1](embedder.head[0](conv)))
    parts = (embedder.head[3](hidden), hidden, conv.mean(dim=(2, 3)))
    return torch.cat([nn.functional.normalize(p, dim=1) for p in parts], dim=1)


# --- making the pieces: donor tags and the probe ------------------------------------------


def read_gender_labels(path: Path, key: str) -> dict[str, str]:
    """``{row[key]: gender}`` from a labels CSV; unknown (empty) values are kept as ``""``."""
    try:
        with Path(path).open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise InputError(f"cannot read labels {path}: {error.strerror}") from None
    out = {}
    for row in rows:
        value = (row.get("gender") or "").strip().lower()
        if value not in ("female", "male", ""):
            raise InputError(f"{path}: gender must be female, male or empty, got {value!r}")
        if key not in row:
            raise InputError(f"{path} has no column {key!r}")
        out[row[key].strip()] = value
    return out


def tag_donors(encoder_weights: Path, labels: Path) -> dict[str, Any]:
    """Write the donor tags of ``labels`` (``donor,identity,gender``) into the encoder's card.

    Each row's identity must be the bank's donor of that index (``card.donor_bank``
    names the first identity; the bank holds consecutive identities), so a label file of
    another bank is refused. The weights file is not touched. Returns the ``donor_bank``
    block written.
    """
    from forensics_app.uunet.export import _atomic_write, read_card

    card_path = Path(encoder_weights).with_suffix(".json")
    card = read_card(card_path)
    count = int(card.get("architecture", {}).get("config", {}).get("donors", 0))
    bank = card.get("donor_bank")
    if not count or not isinstance(bank, dict):
        raise InputError(f"{card_path} is not the card of an encoder with a donor bank")
    found = re.search(r"id(\d+)", str(bank.get("identities", "")))
    if found is None:
        raise InputError(f"{card_path}: donor_bank.identities does not name the first identity")
    first = int(found.group(1))
    by_index = read_gender_labels(labels, "donor")
    identities = read_gender_labels(labels, "identity")
    tags = []
    for i in range(count):
        if str(i) not in by_index:
            raise InputError(f"{labels} has no row for donor {i} (the bank holds {count})")
        tags.append(by_index[str(i)])
    expected = {f"id{first + i:05d}" for i in range(count)}
    if set(identities) != expected or len(by_index) != count:
        raise InputError(f"{labels} does not label this bank's donors id{first:05d} onward")
    with Path(labels).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["identity"].strip() != f"id{first + int(row['donor']):05d}":
                raise InputError(f"{labels}: donor {row['donor']} is not {row['identity']}")
    bank["gender"] = tags
    bank["gender_labels"] = (
        f"{Path(labels).name}: perceived gender of each donor, one annotator looking at the "
        "64-px donor faces (empty = not decidable: children, ambiguous); "
        f"{tags.count('female')} female, {tags.count('male')} male, {tags.count('')} untagged. "
        "Independent of the evaluation's gender judge."
    )
    text = json.dumps(card, indent=2, ensure_ascii=False) + "\n"  # as the cards are kept
    _atomic_write(card_path, text.encode("utf-8"))
    return bank


def _degrade(face: np.ndarray, rng: random.Random) -> np.ndarray:
    """A deployment-like copy of a clean face: flip, 10–40 px box, sometimes grey."""
    img = face[:, ::-1] if rng.random() < 0.5 else face
    if rng.random() < 0.7:
        side = rng.randint(10, 40)
        small = cv2.resize(np.ascontiguousarray(img), (side, side), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (64, 64), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        grey = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
        img = np.stack([grey] * 3, axis=-1)
    return np.ascontiguousarray(img)


def _fit(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """Class-balanced L2 logistic regression (L-BFGS, deterministic)."""
    xt = torch.from_numpy(np.asarray(x, np.float32))
    yt = torch.from_numpy(np.asarray(y, np.float32))
    w = torch.zeros(xt.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    pos_weight = (1 - yt).sum() / yt.sum().clamp(min=1)
    opt = torch.optim.LBFGS([w, b], max_iter=500)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (
            nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt, pos_weight=pos_weight)
            + l2 * (w * w).sum()
        )
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), float(b.detach())


def _auc(score: np.ndarray, positive: np.ndarray) -> float | None:
    """P(score of a positive > score of a negative) + ½ ties."""
    pos, neg = score[positive], score[~positive]
    if not len(pos) or not len(neg):
        return None
    diff = pos[:, None] - neg[None, :]
    return round(float((diff > 0).mean() + 0.5 * (diff == 0).mean()), 4)


def train_gender_probe(
    embedder: nn.Module,
    synthetic: tuple[np.ndarray, np.ndarray],
    real: tuple[np.ndarray, np.ndarray],
    real_heldout: tuple[np.ndarray, np.ndarray] | None = None,
    frames: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    copies: int = 6,
    l2: float = 1e-4,
    folds: int = 5,
    seed: int = 0,
) -> tuple[GenderProbe, dict[str, Any]]:
    """Fit the probe on E_id descriptors of labelled faces; returns it and its metrics.

    ``synthetic`` and ``real`` are ``(faces N×64×64×3 uint8 RGB, female bool N)``; each
    synthetic face also enters as ``copies`` degraded copies (:func:`_degrade`), since x
    comes from small, blurred boxes. Metrics: ``folds``-fold cross-validated AUC and
    accuracy on the synthetic faces (clean and degraded) and, when given, AUC/accuracy on
    held-back real faces (their labels, never the evaluation's judge).

    ``frames`` = ``(faces M×64×64×3 uint8 RGB, index M)``: channel-degraded training frames
    of the synthetic identities (``index`` into ``synthetic``, whose label they take), as
    ``forensics train synth-import`` makes them; cross-validation keeps each identity's
    frames in its identity's fold and also reports the per-frame and per-identity (mean
    logit of its frames, as a track's vote) accuracy on them.
    """
    rng = random.Random(seed)
    s_faces, s_y = synthetic
    r_faces, r_y = real
    if len(s_faces) < folds or s_y.all() or not s_y.any():
        raise InputError("need labelled synthetic faces of both genders to train the probe")

    def emb(faces: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return np.concatenate(
                [_features(embedder, faces[i : i + 256]).numpy() for i in range(0, len(faces), 256)]
            )

    clean = emb(s_faces)
    copies_emb = [emb(np.stack([_degrade(f, rng) for f in s_faces])) for _ in range(copies)]
    test_deg = emb(np.stack([_degrade(f, rng) for f in s_faces]))
    real_emb = emb(r_faces) if len(r_faces) else np.zeros((0, clean.shape[1]), np.float32)
    f_faces, f_of = frames if frames is not None else (s_faces[:0], np.zeros(0, int))
    f_emb = emb(f_faces) if len(f_faces) else np.zeros((0, clean.shape[1]), np.float32)
    f_y = s_y[f_of]
    fold = np.arange(len(s_faces)) % folds
    cv_clean, cv_deg = np.zeros(len(s_faces)), np.zeros(len(s_faces))
    cv_frames = np.zeros(len(f_faces))
    for k in range(folds):
        tr = fold != k
        f_tr = tr[f_of]
        x = np.concatenate([clean[tr], *[c[tr] for c in copies_emb], real_emb, f_emb[f_tr]])
        y = np.concatenate([np.tile(s_y[tr], copies + 1), r_y, f_y[f_tr]])
        w, b = _fit(x, y, l2)
        cv_clean[~tr], cv_deg[~tr] = clean[~tr] @ w + b, test_deg[~tr] @ w + b
        cv_frames[~f_tr] = f_emb[~f_tr] @ w + b
    w, b = _fit(
        np.concatenate([clean, *copies_emb, real_emb, f_emb]),
        np.concatenate([np.tile(s_y, copies + 1), r_y, f_y]),
        l2,
    )
    probe = GenderProbe(clean.shape[1])
    with torch.no_grad():
        probe.linear.weight.copy_(torch.from_numpy(w[None].astype(np.float32)))
        probe.linear.bias.fill_(b)
    pos = s_y.astype(bool)
    metrics: dict[str, Any] = {
        "synthetic_cv": {
            "faces": int(len(s_faces)),
            "female": int(pos.sum()),
            "auc_clean": _auc(cv_clean, pos),
            "accuracy_clean": round(float(((cv_clean > 0) == pos).mean()), 4),
            "auc_degraded": _auc(cv_deg, pos),
            "accuracy_degraded": round(float(((cv_deg > 0) == pos).mean()), 4),
        }
    }
    if len(f_faces):
        f_pos = f_y.astype(bool)
        ids = sorted(set(f_of.tolist()))
        vote = {i: float(cv_frames[f_of == i].mean()) for i in ids}
        metrics["synthetic_cv_frames"] = {
            "frames": int(len(f_faces)),
            "identities": len(ids),
            "auc": _auc(cv_frames, f_pos),
            "accuracy": round(float(((cv_frames > 0) == f_pos).mean()), 4),
            "identity_vote_accuracy": round(
                float(np.mean([(vote[i] > 0) == bool(s_y[i]) for i in ids])), 4
            ),
        }
    if real_heldout is not None and len(real_heldout[0]):
        h_faces, h_y = real_heldout
        score = emb(h_faces) @ w + b
        h_pos = h_y.astype(bool)
        metrics["real_heldout"] = {
            "faces": int(len(h_faces)),
            "female": int(h_pos.sum()),
            "auc": _auc(score, h_pos),
            "accuracy": round(float(((score > 0) == h_pos).mean()), 4),
        }
    return probe, metrics


def labelled_synthetic(
    src: Path, labels: Sequence[Path]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Clean head crops (variant 0, RGB) of the labelled synthetic identities of ``labels``.

    Each CSV has ``identity`` (``id00042``) and ``gender`` columns; empty values are left out.
    """
    from forensics_app.uunet.synthetic import _groups, _Source, head_crop

    wanted: dict[str, str] = {}
    for path in labels:
        for ident, value in read_gender_labels(path, "identity").items():
            if value:
                wanted[ident] = value
    source = _Source(Path(src))
    faces, female, names = [], [], []
    for ident, rows in _groups(source.rows).items():
        name = f"id{int(ident):05d}"
        if name in wanted:
            row = rows[0]
            faces.append(head_crop(source.image(row), row)[..., ::-1])
            female.append(wanted[name] == "female")
            names.append(name)
    if len(names) != len(wanted):
        missing = sorted(set(wanted) - set(names))[:3]
        raise InputError(f"{src} lacks labelled identities, e.g. {', '.join(missing)}")
    return np.ascontiguousarray(np.stack(faces)), np.array(female), names


def labelled_frames(root: Path, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every frame under ``ROOT/syn_NNNNN/`` (``synth-import``) of the identities ``names``
    (``idNNNNN``); returns ``(faces RGB, index into names)``. Absent subjects are skipped."""
    from forensics_app.uunet.data import IMAGE_EXTS, load_face

    faces, index = [], []
    for k, name in enumerate(names):
        folder = Path(root) / f"syn_{name[2:]}"
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS):
            faces.append(load_face(path))
            index.append(k)
    if not faces:
        raise InputError(f"{root} holds no frames of the labelled synthetic identities")
    return np.stack(faces), np.array(index)


def labelled_real(
    data: Path, exclude: set[str]
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Every frame of the labelled subjects of ``DATA/attributes.csv``: (kept, excluded).

    ``exclude`` names subjects some evaluation holds back; they are returned apart, to
    measure the probe on, and never trained on.
    """
    from forensics_app.uunet.data import IMAGE_EXTS, load_face

    labels = read_gender_labels(Path(data) / "attributes.csv", "subject")
    parts: dict[bool, tuple[list, list]] = {False: ([], []), True: ([], [])}
    for subject, value in sorted(labels.items()):
        if not value:
            continue
        files = sorted(
            p for p in (Path(data) / subject).rglob("*") if p.suffix.lower() in IMAGE_EXTS
        )
        faces, ys = parts[subject in exclude]
        for path in files:
            faces.append(load_face(path))
            ys.append(value == "female")

    def pack(faces: list, ys: list) -> tuple[np.ndarray, np.ndarray]:
        if not faces:
            return np.zeros((0, 64, 64, 3), np.uint8), np.zeros(0, bool)
        return np.stack(faces), np.array(ys)

    return pack(*parts[False]), pack(*parts[True])


def heldout_subjects(cards: Sequence[Path]) -> set[str]:
    """The union of ``data.heldout_subjects`` of the given model cards."""
    out: set[str] = set()
    for path in cards:
        try:
            card = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(f"cannot read model card {path}: {error}") from None
        out |= set(card.get("data", {}).get("heldout_subjects", []))
    return out


def build_gender_probe(
    identity: Path,
    synthetic_src: Path,
    labels: Sequence[Path],
    real_data: Path | None,
    heldout_cards: Sequence[Path],
    out: Path,
    seed: int = 0,
    frames_data: Path | None = None,
) -> dict[str, Any]:
    """``forensics train gender-probe``: fit the probe and write ``out/probe.safetensors``.

    Real faces of subjects that any of ``heldout_cards`` holds back are never trained on;
    the probe is measured on them instead. Returns the card written.
    """
    from forensics_app.uunet.export import export_model, load_model

    identity = Path(identity)
    if identity.is_dir():
        identity = identity / "identity.safetensors"
    embedder, _ = load_model(identity, expected_role="identity_embedder")
    s_faces, s_y, names = labelled_synthetic(synthetic_src, labels)
    exclude = heldout_subjects(heldout_cards)
    empty = (np.zeros((0, 64, 64, 3), np.uint8), np.zeros(0, bool))
    real, held = labelled_real(real_data, exclude) if real_data else (empty, empty)
    frames = None
    if frames_data is not None:  # never frames of a held-back subject
        keep = [n for n in names if f"syn_{n[2:]}" not in exclude]
        faces, index = labelled_frames(frames_data, keep)
        frames = (faces, np.array([names.index(keep[i]) for i in index]))
    probe, metrics = train_gender_probe(embedder, (s_faces, s_y), real, held, frames, seed=seed)
    return export_model(
        probe,
        "gender_probe",
        {"dim": int(probe.linear.in_features), "features": probe.features},
        Path(out) / PROBE_FILE,
        role="gender_reader",
        data={
            "identity_model_sha256": hashlib.sha256(identity.read_bytes()).hexdigest(),
            "synthetic_labels": [Path(p).name for p in labels],
            "synthetic_identities": len(names),
            "real_faces": int(len(real[0])),
            "real_subjects_held_back": sorted(exclude),
            "real_root": str(real_data) if real_data else None,
            "synthetic_frames": int(len(frames[0])) if frames is not None else 0,
            "synthetic_frames_root": str(frames_data) if frames_data else None,
        },
        training={"l2": 1e-4, "degraded_copies": 6, "seed": seed, "folds": 5},
        metrics=metrics,
    )


def labelled_training_faces(
    data: Path, labels: Path, heldout: set[str], frames: int = 2
) -> tuple[np.ndarray, list[str]]:
    """``frames`` evenly spaced frames (BGR) of each hand-labelled synthetic identity of
    ``labels`` under ``DATA/syn_NNNNN/`` that no card holds back; and each face's gender."""
    from forensics_app.uunet.data import IMAGE_EXTS, load_face

    faces, genders = [], []
    for identity, value in sorted(read_gender_labels(labels, "identity").items()):
        folder = Path(data) / f"syn_{identity[2:]}"
        if not value or folder.name in heldout or not folder.is_dir():
            continue
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
        if not files:
            continue
        for i in np.linspace(0, len(files) - 1, min(frames, len(files))).astype(int):
            faces.append(np.ascontiguousarray(load_face(files[i])[..., ::-1]))
            genders.append(value)
    if not faces:
        raise InputError(f"{data} holds no frames of the training identities labelled in {labels}")
    return np.stack(faces), genders


def shown_rates(
    encoder: Any,
    faces_bgr: np.ndarray,
    genders: Sequence[str],
    tags: Sequence[str],
    readers: dict[str, Any],
) -> dict[str, dict[str, Any]]:
    """For each tagged donor: how often each reader reads ``U_e(x, donor)`` as the donor's tag,
    over the faces x of the donor's gender (``<reader>_same``, what ``s = +1`` makes) and of
    the other (``<reader>_other``, ``s = −1``). ``readers`` maps a name to a function
    ``faces_bgr -> bool array (male)``. The noise map is face ``i``'s seed ``1000 + i``."""
    from forensics_app.uunet.inference import bgr_to_float, float_to_bgr, noise_map

    x = bgr_to_float(faces_bgr)
    noise = np.stack([noise_map(1000 + i) for i in range(len(x))])[:, None]
    genders = np.asarray(genders)
    out: dict[str, dict[str, Any]] = {}
    for donor, tag in enumerate(tags):
        if not tag:
            continue
        a = float_to_bgr(encoder.forward(x, noise, np.full(len(x), donor, np.int64)))
        same = genders == tag
        row: dict[str, Any] = {"tag": tag}
        for name, read_male in readers.items():
            hits = np.asarray(read_male(a)) == (tag == "male")
            for part, mask in (("same", same), ("other", ~same)):
                row[f"{name}_{part}"] = round(float(hits[mask].mean()), 4) if mask.any() else None
        out[str(donor)] = row
    return out


def screen_inputs(
    models: Path, data: Path, labels: Path, frames: int = 2
) -> tuple[Any, dict[str, Any], np.ndarray, list[str]]:
    """What a donor screen measures: the encoder of ``models`` (under ``s = +1``, built
    without any screen its card already holds, so a broken one is replaced, not an obstacle),
    its card, and the hand-labelled training faces with their genders (subjects held back by
    ``ue.json`` or ``ud.json`` are left out)."""
    from forensics_app.uunet.export import read_card
    from forensics_app.uunet.inference import FaceEncoder

    models = Path(models)
    card_path = models / "ue.json"
    card = read_card(card_path)
    if not isinstance(card.get("donor_bank", {}).get("gender"), list):
        raise InputError(
            f"{card_path} carries no donor gender tags: run forensics train tag-donors"
        )
    unscreened = json.loads(json.dumps(card))
    for key in ("gender_shown", "gender_shown_min", "gender_shown_note"):
        unscreened["donor_bank"].pop(key, None)
    blob = (models / str(card.get("weights_file", "ue.safetensors"))).read_bytes()
    encoder = FaceEncoder.from_bytes(blob, unscreened, s_gender=1, models_dir=models)
    assert encoder.gender is not None  # s_gender=1 raises when control cannot run
    held = heldout_subjects([p for p in (card_path, models / "ud.json") if p.is_file()])
    faces, genders = labelled_training_faces(data, labels, held, frames)
    return encoder, card, faces, genders


def screen_donors(
    models: Path, data: Path, labels: Path, shown_min: float = SHOWN_MIN, frames: int = 2
) -> dict[str, Any]:
    """Measure which tagged donors show their gender through U_e, and write the screen into
    the encoder's card (``donor_bank.gender_shown``, ``gender_shown_min``).

    Each donor's rate is the mean of the own reader's ``same``/``other`` rates of
    :func:`shown_rates` on the faces of :func:`screen_inputs`; the evaluation's gender judge
    is not used. Gender control then treats donors below ``shown_min`` as untagged
    (``gender_control.screened_tags``). The weights and the hand tags are untouched.
    Returns the ``donor_bank`` block written.
    """
    from forensics_app.uunet.export import _atomic_write
    from forensics_app.uunet.gender_control import screened_tags

    if not 0.0 <= shown_min <= 1.0:
        raise InputError(f"--shown-min must be in [0, 1], got {shown_min}")
    encoder, card, faces, genders = screen_inputs(models, data, labels, frames)
    bank = card["donor_bank"]
    tags = bank["gender"]
    reader = encoder.gender.reader
    rates = shown_rates(encoder, faces, genders, tags, {"own": lambda f: reader.logits(f) < 0})
    shown = [None] * len(tags)
    for donor, row in rates.items():
        parts = [v for v in (row["own_same"], row["own_other"]) if v is not None]
        shown[int(donor)] = round(float(np.mean(parts)), 4) if parts else None
    bank["gender_shown"] = shown
    bank["gender_shown_min"] = shown_min
    kept, _ = screened_tags(bank, tags)
    bank["gender_shown_note"] = (
        f"share of surrogates that this package's own gender reader reads as the donor's tag, "
        f"over {len(faces)} frames of hand-labelled training "
        f"identities ({Path(labels).name}, none held back); gender control uses the "
        f"{sum(map(bool, kept))} of {sum(map(bool, tags))} tagged donors at or above "
        f"{shown_min}. Independent of the evaluation's gender judge."
    )
    text = json.dumps(card, indent=2, ensure_ascii=False) + "\n"
    _atomic_write(Path(models) / "ue.json", text.encode("utf-8"))
    return bank
