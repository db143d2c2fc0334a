"""Attribute control (paper §IV-E): does a surrogate keep or change a soft label as ``s`` says?

The paper reads the soft labels of each surrogate with the pairwise matcher D_a and
correlates the responses with the ground-truth labels of x "considering the configuration
of s". We make that concrete with pairs across subjects, because D_a answers *whether two
faces share a label*, not what the label is:

* for a surrogate ``a_i`` of subject i and the enrolment face ``x_j`` of another labelled
  subject j, the response is ``D_a,l(x_j, a_i)`` and the ground truth is
  ``b_l = 1[label_l(i) == label_l(j)]``;
* if ``s_l = +1`` the surrogate keeps its subject's label, so the responses follow ``b_l``
  (Pearson r > 0); if ``s_l = −1`` it takes the other label (r < 0); if ``s_l = 0`` nothing
  is asked (r is whatever U_e does on its own);
* the same pairs with the real face ``x_i`` in place of ``a_i`` give the reference: how well
  D_a reads the label on real faces at all (the ceiling of |r|).

Uncertainty follows the paper: 50 draws of 90 % of the subjects with repetition; the
verdict needs the 5–95 % range of r on the side of zero that ``s`` asks for.
Responses come from the D_a of the training phase, so they are not independent of training
(the same caveat as the paper's); the module says so in its output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from forensics_app.errors import InputError
from forensics_app.uunet.data import UNKNOWN
from forensics_app.uunet.evaluation.attacker import train_attacker
from forensics_app.uunet.evaluation.metrics import pearson, roc_auc

DRAWS = 50
FRACTION = 0.9


def matcher_responses(
    matcher: torch.nn.Module, first: np.ndarray, second: np.ndarray, batch: int = 256
) -> np.ndarray:
    """``D_a(first, second)`` for BGR uint8 face pairs (N×H×W×3 each) → N×t probabilities."""
    if first.shape != second.shape:
        raise ValueError(f"pair shapes differ: {first.shape} vs {second.shape}")
    out = []
    matcher.eval()
    with torch.inference_mode():
        for i in range(0, len(first), batch):
            # D_a was trained on RGB tensors in [0, 1]; the evaluation keeps faces as BGR
            t1 = _rgb_tensor(first[i : i + batch])
            t2 = _rgb_tensor(second[i : i + batch])
            out.append(matcher(t1, t2).float().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(matcher.labels)), np.float32)


def _rgb_tensor(faces: np.ndarray) -> torch.Tensor:
    rgb = np.ascontiguousarray(faces[..., ::-1])
    return torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 255.0


def _r(u: np.ndarray, v: np.ndarray) -> float:
    """:func:`metrics.pearson` as a float: NaN where it is undefined (a constant side)."""
    if len(u) < 2:
        return float("nan")
    r = pearson(u, v)
    return float("nan") if r is None else r


def control_row(
    response: np.ndarray,
    agree: np.ndarray,
    pair_subject: Sequence[str],
    s_value: int | None,
    draws: int = DRAWS,
    fraction: float = FRACTION,
    seed: int = 0,
) -> dict[str, Any]:
    """Pearson r of responses vs agreement, with the paper's resampling over subjects.

    ``pair_subject`` names the subject of the surrogate in each pair; each draw takes
    ``fraction`` of the subjects with repetition (a subject drawn twice counts twice).
    ``follows_s`` is True/False when ``s_value`` is ±1 and None when it is 0 or unknown.
    """
    response, agree = np.asarray(response, float), np.asarray(agree, float)
    subjects = np.asarray(pair_subject)
    names = sorted(set(subjects.tolist()))
    rows = {name: np.flatnonzero(subjects == name) for name in names}
    rng = np.random.default_rng(seed)
    k = max(1, int(round(fraction * len(names))))
    values = []
    for _ in range(draws):
        pick = rng.choice(len(names), size=k, replace=True)
        idx = np.concatenate([rows[names[i]] for i in pick])
        r = _r(response[idx], agree[idx])
        if np.isfinite(r):
            values.append(r)
    full = _r(response, agree)
    lo, hi = np.percentile(values, [5, 95]) if values else (np.nan, np.nan)
    follows: bool | None = None
    if s_value in (1, -1) and values:
        follows = bool(lo > 0) if s_value == 1 else bool(hi < 0)
    return {
        "s": s_value,
        "pearson_r": _round(full),
        "resampled_mean": _round(float(np.mean(values))) if values else None,
        "resampled_std": _round(float(np.std(values))) if values else None,
        "p5": _round(float(lo)),
        "p95": _round(float(hi)),
        "pairs": int(len(response)),
        "subjects": len(names),
        "agree_fraction": _round(float(agree.mean())) if len(agree) else None,
        "follows_s": follows,
    }


def _round(v: float) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 4)


def label_pairs(
    subjects: Sequence[str],
    gallery: np.ndarray,
    attributes: Mapping[str, Mapping[str, str]],
    label: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (face index i, enrolment index g_j, agreement) over labelled subjects i ≠ j.

    Every face of a labelled subject is paired with the enrolment face of every other
    labelled subject; unknown values (empty, ``?``, …) are left out, never compared.
    """
    known = {s: attributes.get(s, {}).get(label, "").strip().lower() for s in set(subjects)}
    known = {s: v for s, v in known.items() if v not in UNKNOWN}
    enrol = {subjects[g]: int(g) for g in gallery if subjects[g] in known}
    faces, refs, agree = [], [], []
    for i, s in enumerate(subjects):
        if s not in known:
            continue
        for other, g in enrol.items():
            if other != s:
                faces.append(i)
                refs.append(g)
                agree.append(float(known[s] == known[other]))
    return np.array(faces, int), np.array(refs, int), np.array(agree, float)


def effective_s(
    trained_s: Sequence[int] | None,
    trained_labels: Sequence[str] | None,
    trained_annotated: Mapping[str, bool] | None,
    label: str,
) -> int | None:
    """The s entry U_e really trained under for ``label``.

    A label its D_a never learnt (no annotations) or did not have was not constrained (0);
    ``None`` when the training D_a is unknown.
    """
    if trained_s is None or trained_labels is None:
        return None
    if label not in trained_labels:
        return 0
    if trained_annotated is not None and not trained_annotated.get(label, True):
        return 0
    return int(trained_s[list(trained_labels).index(label)])


def attribute_control(
    matcher: torch.nn.Module,
    attributes: Mapping[str, Mapping[str, str]],
    x: np.ndarray,
    a: np.ndarray,
    subjects: Sequence[str],
    gallery: np.ndarray,
    s_of: Mapping[str, int | None],
    learnt: Mapping[str, bool] | None = None,
) -> dict[str, Any]:
    """Per soft label: r for surrogates and for real faces, and the mean paired response.

    ``s_of`` maps each label of the matcher to the s entry U_e trained under (see
    :func:`effective_s`). ``learnt`` is the matcher card's ``annotated_labels``: a label the
    matcher never saw annotated is not read. Labels without two labelled subjects on both
    sides are reported as not measurable, with the reason.
    """
    subjects = list(subjects)
    paired = matcher_responses(matcher, x, a)
    out: dict[str, Any] = {}
    for li, label in enumerate(matcher.labels):
        row: dict[str, Any] = {"paired_mean_da_x_a": _round(float(paired[:, li].mean()))}
        if label == "id":
            row["note"] = "identity: s_id is always −1; see the leakage tables"
            out[label] = row
            continue
        if learnt is not None and not learnt.get(label, True):
            row["note"] = "not measurable: this D_a never saw the label annotated"
            out[label] = row
            continue
        faces, refs, agree = label_pairs(subjects, gallery, attributes, label)
        if len(faces) == 0 or agree.min() == agree.max():  # one value only: all pairs agree
            row["note"] = "not measurable: fewer than two labelled subjects of each value"
            out[label] = row
            continue
        pair_subject = [subjects[i] for i in faces]
        resp_a = matcher_responses(matcher, x[refs], a[faces])[:, li]
        resp_x = matcher_responses(matcher, x[refs], x[faces])[:, li]
        row["a"] = control_row(resp_a, agree, pair_subject, s_of.get(label))
        reference = control_row(resp_x, agree, pair_subject, 1)
        reference["s"] = None
        reference["reads_label"] = reference.pop("follows_s")
        row["x_reference"] = reference
        out[label] = row
    return out


class AttributeReader:
    """An attribute reader independent of training: the attacker CNN trained to tell the
    values of one label apart on *original* faces, scoring a face by which value's centroid
    it lies nearer (cosine). Nothing of D_a or U_e goes into it, so it checks D_a's verdict."""

    def __init__(self, embed: Any, centroids: dict[str, np.ndarray], positive: str) -> None:
        self.embed, self.centroids, self.positive = embed, centroids, positive
        self.negative = next(v for v in centroids if v != positive)

    def score(self, faces_bgr: np.ndarray) -> np.ndarray:
        """Distance to the positive value's centroid minus distance to the other's (lower =
        reads as the positive value)."""
        emb = self.embed(faces_bgr)
        pos, neg = self.centroids[self.positive], self.centroids[self.negative]
        return (1.0 - emb @ pos) - (1.0 - emb @ neg)


def train_attribute_reader(
    faces_bgr: np.ndarray, values: Sequence[str], steps: int = 600, seed: int = 0
) -> AttributeReader:
    """Train :class:`AttributeReader` on labelled original faces (two values, unknowns out)."""
    keep = [i for i, v in enumerate(values) if v.strip().lower() not in UNKNOWN]
    vals = [values[i].strip().lower() for i in keep]
    names = sorted(set(vals))
    if len(names) != 2:
        raise InputError(f"an attribute reader needs exactly two values, got {names}")
    faces = np.asarray(faces_bgr)[keep]
    embed = train_attacker(np.ascontiguousarray(faces[..., ::-1]), vals, steps=steps, seed=seed)
    emb = embed(faces)
    centroids = {}
    for name in names:
        c = emb[[v == name for v in vals]].mean(axis=0)
        centroids[name] = c / np.linalg.norm(c)
    minority = min(names, key=vals.count)  # the rarer value is "positive", e.g. female
    return AttributeReader(embed, centroids, minority)


def reader_auc(reader: AttributeReader, faces_bgr: np.ndarray, values: Sequence[str]) -> dict:
    """ROC AUC of the reader on faces with known values: > 0.5 reads the label as labelled,
    < 0.5 reads the opposite value (a flipped attribute), 0.5 no signal."""
    vals = [v.strip().lower() for v in values]
    score = reader.score(np.asarray(faces_bgr))
    pos = np.array([v == reader.positive for v in vals])
    neg = np.array([v == reader.negative for v in vals])
    if not pos.any() or not neg.any():
        return {"auc": None, "faces": int(pos.sum() + neg.sum())}
    return {
        "auc": round(roc_auc(score[pos], score[neg]), 4),
        "faces": int(pos.sum() + neg.sum()),
        "positive": reader.positive,
    }
