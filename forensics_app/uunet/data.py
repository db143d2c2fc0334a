"""Face datasets for both learning phases.

On-disk layout (what ``bootstrap-data`` and the adapters in :mod:`.adapters` write)::

    ROOT/<subject>/<sequence>/<frame>.png      64×64 RGB face crops (any size is resized)
    ROOT/attributes.csv                         optional: subject,<label>,<label>,...

A label cell that is empty, ``?`` or ``unknown`` is treated as not annotated and masked out
of the BCE. The ``id`` label is implicit (the subject folder).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from forensics_app.core.face_geometry import FACE_SIZE as SIZE
from forensics_app.errors import InputError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp"}
UNKNOWN = {"", "?", "unknown", "na", "n/a", "-1"}


def load_face(path: Path) -> np.ndarray:
    """A face image as ``64×64×3`` uint8 RGB (resized with area/linear as needed)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"cannot read image {path}")
    if img.shape[:2] != (SIZE, SIZE):
        interp = cv2.INTER_AREA if min(img.shape[:2]) > SIZE else cv2.INTER_LINEAR
        img = cv2.resize(img, (SIZE, SIZE), interpolation=interp)
    return np.ascontiguousarray(img[..., ::-1])


@dataclass
class FaceSequence:
    """The frames of one sequence (track) of one subject, decoded into memory."""

    subject: str
    name: str
    frames: np.ndarray  # K×64×64×3 uint8 RGB


@dataclass
class FaceIndex:
    """All sequences under a root, with per-subject attribute labels."""

    sequences: list[FaceSequence]
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def subjects(self) -> list[str]:
        return sorted({s.subject for s in self.sequences})

    def num_frames(self) -> int:
        return sum(len(s.frames) for s in self.sequences)

    def by_subject(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i, seq in enumerate(self.sequences):
            out.setdefault(seq.subject, []).append(i)
        return out

    def split(self, holdout: float, seed: int) -> tuple[FaceIndex, FaceIndex]:
        """Split by subject (no face of a held-back subject is seen in training)."""
        subjects = self.subjects
        random.Random(seed).shuffle(subjects)
        n_eval = int(round(len(subjects) * holdout))
        held = set(subjects[:n_eval])
        train = [s for s in self.sequences if s.subject not in held]
        test = [s for s in self.sequences if s.subject in held]
        return FaceIndex(train, self.attributes), FaceIndex(test, self.attributes)


def read_attributes(path: Path) -> dict[str, dict[str, str]]:
    """``attributes.csv`` → {subject: {label: value}} (values kept as strings)."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "subject" not in reader.fieldnames:
            raise InputError(f"{path} needs a 'subject' column")
        return {
            row["subject"]: {k: (v or "").strip() for k, v in row.items() if k != "subject"}
            for row in reader
        }


def scan_faces(root: Path, max_frames_per_sequence: int | None = None) -> FaceIndex:
    """Read ``ROOT/<subject>/<sequence>/<frame>`` into a :class:`FaceIndex`."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"no data folder at {root}")
    sequences: list[FaceSequence] = []
    for subject_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for seq_dir in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
            files = sorted(p for p in seq_dir.iterdir() if p.suffix.lower() in IMAGE_EXTS)
            if max_frames_per_sequence and len(files) > max_frames_per_sequence:
                step = len(files) / max_frames_per_sequence
                files = [files[int(i * step)] for i in range(max_frames_per_sequence)]
            if files:
                frames = np.stack([load_face(f) for f in files])
                sequences.append(FaceSequence(subject_dir.name, seq_dir.name, frames))
    if not sequences:
        raise InputError(f"no face images found under {root} (expected ROOT/subject/seq/frame)")
    attr_path = root / "attributes.csv"
    attributes = read_attributes(attr_path) if attr_path.is_file() else {}
    return FaceIndex(sequences, attributes)


# --------------------------------------------------------------------------- augmentation


@dataclass
class Augment:
    """Flip, colour and small affine jitter, plus deployment-like low resolution."""

    flip: float = 0.5
    colour: float = 0.8
    affine: float = 0.7
    max_shift: float = 3.0
    max_rotate: float = 8.0
    lowres: float = 0.3
    lowres_min: int = 12
    lowres_max: int = 40

    def colour_params(self, rng: random.Random) -> np.ndarray | None:
        """Per-channel gain and offset, shared by frames that should look alike."""
        if rng.random() >= self.colour:
            return None
        gain = 1.0 + rng.uniform(-0.25, 0.25)
        tint = np.array([rng.uniform(0.85, 1.15) for _ in range(3)], np.float32)
        offset = rng.uniform(-0.08, 0.08)
        return np.array([gain, offset, *tint], np.float32)

    def __call__(
        self, face: np.ndarray, rng: random.Random, colour: np.ndarray | None = None
    ) -> np.ndarray:
        """Augment one ``64×64×3`` uint8 RGB face; returns float32 in [0, 1]."""
        img = face
        if rng.random() < self.flip:
            img = img[:, ::-1]
        if rng.random() < self.affine:
            angle = rng.uniform(-self.max_rotate, self.max_rotate)
            scale = rng.uniform(0.94, 1.06)
            mat = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), angle, scale)
            mat[:, 2] += [rng.uniform(-self.max_shift, self.max_shift) for _ in range(2)]
            img = cv2.warpAffine(
                np.ascontiguousarray(img), mat, (SIZE, SIZE), borderMode=cv2.BORDER_REFLECT
            )
        if rng.random() < self.lowres:
            side = rng.randint(self.lowres_min, self.lowres_max)
            small = cv2.resize(
                np.ascontiguousarray(img), (side, side), interpolation=cv2.INTER_AREA
            )
            img = cv2.resize(small, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
        out = img.astype(np.float32) / 255.0
        if colour is not None:
            gain, offset, tint = colour[0], colour[1], colour[2:]
            out = (out * tint) * gain + offset
        return np.clip(out, 0.0, 1.0)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """``H×W×3`` float [0,1] → ``3×H×W`` tensor."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float()


class AttributePairs(Dataset):
    """Phase 1 pairs (x, x', b, mask): half same subject, half different subjects."""

    def __init__(self, index: FaceIndex, labels: list[str], augment: Augment | None, seed: int):
        if len(index.subjects) < 2:
            raise InputError("attribute training needs at least two subjects")
        self.index, self.labels, self.augment, self.seed = index, labels, augment, seed
        self.by_subject = index.by_subject()
        self.subjects = index.subjects
        self.flat = [
            (s, k) for s, seq in enumerate(index.sequences) for k in range(len(seq.frames))
        ]
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.flat)

    def _frame(self, rng: random.Random, seq_ids: list[int]) -> tuple[int, np.ndarray]:
        s = rng.choice(seq_ids)
        frames = self.index.sequences[s].frames
        return s, frames[rng.randrange(len(frames))]

    def __getitem__(self, i: int):
        rng = random.Random(hash((self.seed, self.epoch, i)) & 0xFFFFFFFF)
        s, k = self.flat[i]
        first_seq = self.index.sequences[s]
        if rng.random() < 0.5:
            _, other = self._frame(rng, self.by_subject[first_seq.subject])
            other_subject = first_seq.subject
        else:
            choices = [x for x in self.subjects if x != first_seq.subject]
            other_subject = rng.choice(choices)
            _, other = self._frame(rng, self.by_subject[other_subject])
        agree, mask = [], []
        for label in self.labels:
            if label == "id":
                agree.append(float(other_subject == first_seq.subject))
                mask.append(1.0)
                continue
            va = self.index.attributes.get(first_seq.subject, {}).get(label, "").lower()
            vb = self.index.attributes.get(other_subject, {}).get(label, "").lower()
            known = va not in UNKNOWN and vb not in UNKNOWN
            agree.append(float(known and va == vb))
            mask.append(float(known))
        aug = self.augment
        x1 = (
            aug(first_seq.frames[k], rng, aug.colour_params(rng))
            if aug
            else first_seq.frames[k] / 255.0
        )
        x2 = aug(other, rng, aug.colour_params(rng)) if aug else other / 255.0
        return to_tensor(x1), to_tensor(x2), torch.tensor(agree), torch.tensor(mask)


class SequenceTriplets(Dataset):
    """Phase 2 samples: two frames of one sequence and one frame of another sequence of the
    same subject (``has_div`` = 0 when the subject has a single sequence), with the
    sequence ids used to seed each sequence's noise map."""

    def __init__(self, index: FaceIndex, augment: Augment | None, seed: int):
        self.index, self.augment, self.seed = index, augment, seed
        self.by_subject = index.by_subject()
        self.flat = [
            (s, k) for s, seq in enumerate(index.sequences) for k in range(len(seq.frames))
        ]
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.flat)

    def __getitem__(self, i: int):
        rng = random.Random(hash((self.seed, self.epoch, i, 2)) & 0xFFFFFFFF)
        s, k = self.flat[i]
        seq = self.index.sequences[s]
        k2 = rng.randrange(len(seq.frames))
        others = [o for o in self.by_subject[seq.subject] if o != s]
        s3 = rng.choice(others) if others else s
        third = self.index.sequences[s3].frames
        frame3 = third[rng.randrange(len(third))]
        aug = self.augment
        if aug:
            colour = aug.colour_params(rng)
            x1, x2 = aug(seq.frames[k], rng, colour), aug(seq.frames[k2], rng, colour)
            x3 = aug(frame3, rng, aug.colour_params(rng))
        else:
            x1, x2, x3 = (f / 255.0 for f in (seq.frames[k], seq.frames[k2], frame3))
        return {
            "x1": to_tensor(x1),
            "x2": to_tensor(x2),
            "x3": to_tensor(x3),
            "has_div": torch.tensor(float(bool(others))),
            "seq": torch.tensor(s),
            "seq3": torch.tensor(s3),
        }
