"""Where the reveal of a real clip loses its decibels: one stage of the public stream at a time.

The producer (``deidentify_video``, the shipped U_e by default) runs on the first
``--frames`` frames of the sample clip several times, each time with one more stage of the
real public stream; each carried head is then cut from the public frame at its box, grown
for U_d and revealed exactly as ``forensics reveal`` does (``crop_face`` → U_d → shrunk to
the box), and compared with the original frame's box (PSNR at the box's own size):

1. ``paste``: the surrogates pasted into the frame, nothing else (no ROI message, no codec);
2. ``stego``: + the ROI message (FFV1, lossless);
3. ``h264 crf0 420``: + libx264 at CRF 0, 4:2:0 — luma nearly lossless, colour at half
   resolution, as every yuv420p stream stores it;
4. ``h264 crf0 444``: the same with full-resolution colour (``--chroma 444``);
5. ``h264 crfN 420`` / ``444`` for each ``--crf``.

With ``--data DATA`` (the trainer's folder, e.g. ``forensics train bootstrap-data``) the same
pair also reveals the model card's held-back faces shrunk to a square box of the clip's
median size, lossless and through libx264 CRF 0 (4:2:0), per source: what the model does
on faces like those it was trained and evaluated on, against the clip's own heads.

The unmarked frames of stage 1 are taken at the one point where the producer hands a
finished frame to the ROI embedder (a pass-through wrapper around ``stego.embed``), so every
stage runs the producer's own code. Writes JSON.

    python benchmarks/bench_reveal_budget.py --out benchmarks/results/bench_reveal_budget.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_reveal_quality import _frames, _summary  # noqa: E402  (the same clip, the same figures)
from bench_stego import psnr  # noqa: E402  (one PSNR for every benchmark)

from forensics_app import SAMPLE_VIDEO, __version__  # noqa: E402
from forensics_app.core import stego  # noqa: E402
from forensics_app.core.face_geometry import crop_face, face_size  # noqa: E402
from forensics_app.uunet import producer  # noqa: E402
from forensics_app.uunet.inference import DEFAULT_MODELS, FaceDecoder, FaceEncoder  # noqa: E402

Boxes = dict[int, list[tuple[int, int, int, int]]]


def _produce(
    encoder: FaceEncoder, frames: int, out: Path, codec: str, crf: int, chroma: str
) -> tuple[list[np.ndarray], list[np.ndarray], Boxes]:
    """The public frames as decoded from ``out``, the frames before the ROI message, and the
    boxes each frame's message lists."""
    unmarked: dict[int, np.ndarray] = {}
    boxes: Boxes = {}
    embed = stego.embed

    def spy(image: np.ndarray, message: stego.RoiMessage, key: bytes | None = None) -> np.ndarray:
        unmarked[message.frame_index] = image.copy()
        boxes[message.frame_index] = list(message.boxes)
        return embed(image, message, key=key)

    config = producer.ProducerConfig(
        max_frames=frames, codec=codec, crf=crf, chroma=chroma, stream_id=4242
    )
    with mock.patch.object(producer.stego, "embed", spy):
        producer.deidentify_video(SAMPLE_VIDEO, out, encoder=encoder, config=config)
    return _frames(out, frames), [unmarked[i] for i in range(frames)], boxes


def _reveal_psnr(
    public: list[np.ndarray], original: list[np.ndarray], boxes: Boxes, decoder: FaceDecoder
) -> list[float]:
    """PSNR of each revealed head against the original, at its box (as ``reveal`` does it)."""
    size = face_size(decoder.card)
    crops, truth, sizes = [], [], []
    for index, frame in enumerate(public):
        for box in boxes.get(index, []):
            x, y, w, h = box
            crops.append(crop_face(frame, box, size))
            truth.append(original[index][y : y + h, x : x + w])
            sizes.append((w, h))
    if not crops:
        raise SystemExit("the producer carried no heads in these frames")
    revealed = decoder.decode(np.stack(crops))
    return [
        psnr(t, cv2.resize(r, (w, h), interpolation=cv2.INTER_AREA))
        for t, r, (w, h) in zip(truth, revealed, sizes, strict=True)
    ]


def _heldout(data: Path, encoder: FaceEncoder, decoder: FaceDecoder, side: int) -> list[dict]:
    """Held-back faces at a ``side``-px box: r vs x lossless and after CRF 0, per source."""
    from forensics_app.uunet.codecs import h264
    from forensics_app.uunet.evaluation.suite import load_eval_faces, source_of
    from forensics_app.uunet.evaluation.transforms import resize_faces

    heldout = decoder.card.get("data", {}).get("heldout_subjects")
    faces = load_eval_faces(data, heldout, None, 4)
    sources = np.array(source_of(faces.subjects))
    x_box = resize_faces(faces.faces, side)
    a_box = resize_faces(encoder.encode(faces.faces, faces.seeds), side)
    rows = []
    for name, passed in (("lossless", a_box), ("h264 crf0 420", h264(a_box, 0))):
        grown = np.stack([crop_face(f, (0, 0, side, side)) for f in passed])
        r_box = resize_faces(decoder.decode(grown), side)
        values = np.array([psnr(x, r) for x, r in zip(x_box, r_box, strict=True)])
        for source in sorted(set(sources)):
            pick = values[sources == source]
            rows.append(
                {"stage": f"held-back {source} faces, {side}-px box, {name}", "faces": len(pick),
                 "r_vs_x_db": _summary(list(pick))}
            )  # fmt: skip
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--crf", type=int, action="append", help="default: 23 and 28")
    ap.add_argument("--models", type=Path, default=DEFAULT_MODELS, help="U_e and U_d folder")
    ap.add_argument("--data", type=Path, help="trainer data folder: add the held-back faces")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    encoder = FaceEncoder.from_file(args.models / "ue.safetensors", None, args.models)
    decoder = FaceDecoder.from_file(args.models / "ud.safetensors")
    original = _frames(SAMPLE_VIDEO, args.frames)
    stages: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-budget-") as tmp:
        work = Path(tmp)

        def stage(name: str, frames: list[np.ndarray], boxes: Boxes, out: Path | None) -> None:
            values = _reveal_psnr(frames, original, boxes, decoder)
            row = {"stage": name, "faces": len(values), "r_vs_x_db": _summary(values)}
            if out is not None:
                row["public_bytes"] = out.stat().st_size
            stages.append(row)
            print(f"{name:18s} {row['r_vs_x_db']}", flush=True)

        lossless = work / "ffv1.mkv"
        public, unmarked, boxes = _produce(encoder, args.frames, lossless, "ffv1", 0, "420")
        stage("paste", unmarked, boxes, None)
        stage("stego", public, boxes, lossless)
        for crf in [0, *(args.crf or [23, 28])]:
            for chroma in ("420", "444"):
                out = work / f"h264_crf{crf}_{chroma}.mkv"
                public, _, boxes = _produce(encoder, args.frames, out, "h264", crf, chroma)
                stage(f"h264 crf{crf} {chroma}", public, boxes, out)
    if args.data is not None:
        sides = [(w + h) / 2 for frame in boxes.values() for _, _, w, h in frame]
        for row in _heldout(args.data, encoder, decoder, round(float(np.median(sides)))):
            stages.append(row)
            print(f"{row['stage']:18s} {row['r_vs_x_db']}", flush=True)
    report = {
        "benchmark": "reveal_budget",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores",
        "version": __version__,
        "ue_sha256": encoder.sha256,
        "ud_sha256": decoder.sha256,
        "clip": f"{SAMPLE_VIDEO.name}, first {args.frames} frames",
        "stages": stages,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
