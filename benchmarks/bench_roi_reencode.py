"""Does `forensics roi` read the same boxes after the public stream is re-encoded?

Makes the public stream of the first N frames of the sample (FFV1, lossless), re-encodes it
with plain H.264 at CRF 18/23/28 — x264 defaults, B-frames included, as a platform or a
viewer's export would — and compares the ROI messages frame by frame. Also saves one
public frame beside its original (docs/public_vs_original.png).

    python benchmarks/bench_roi_reencode.py --out benchmarks/results/bench_roi_reencode.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from forensics_app import SAMPLE_VIDEO
from forensics_app.core.stego.scan import scan_video
from forensics_app.core.video import VideoReader
from forensics_app.core.video_writer import VideoWriter
from forensics_app.uunet.inference import FaceEncoder, default_encoder_path
from forensics_app.uunet.producer import ProducerConfig, deidentify_video

REPO = Path(__file__).resolve().parents[1]


def reencode(src: Path, dst: Path, crf: int) -> None:
    with VideoReader(src) as reader:
        info = reader.info
        with VideoWriter(dst, info.width, info.height, info.fps, codec="h264", crf=crf) as w:
            for frame in reader:
                w.write(frame.image)


def rois(path: Path) -> dict[int, tuple[str, tuple]]:
    return {
        row.frame: (row.result.status, row.result.message.boxes if row.result.message else ())
        for row in scan_video(path)
    }


def picture(original: Path, public: Path, index: int, out: Path) -> None:
    with VideoReader(original) as r1, VideoReader(public) as r2:
        a, b = r1.read(index).image, r2.read(index).image
    boxes = rois(public)[index][1]
    crops = []
    for x, y, w, h in boxes[:4]:
        pad = 6
        y0, y1, x0, x1 = max(0, y - pad), y + h + pad, max(0, x - pad), x + w + pad
        pair = np.concatenate([a[y0:y1, x0:x1], b[y0:y1, x0:x1]], axis=1)
        crops.append(
            cv2.resize(
                pair, (pair.shape[1] * 8, pair.shape[0] * 8), interpolation=cv2.INTER_NEAREST
            )
        )
    top = np.concatenate([a, b], axis=1)
    for img, label in (
        (top[:, :768], "original"),
        (top[:, 768:], "public (U_e surrogates + hidden ROIs)"),
    ):
        cv2.putText(img, label, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    rows = [top]
    if crops:
        width = top.shape[1]
        strip = np.full((max(c.shape[0] for c in crops), width, 3), 255, np.uint8)
        x = 0
        for c in crops:
            if x + c.shape[1] > width:
                break
            strip[: c.shape[0], x : x + c.shape[1]] = c
            x += c.shape[1] + 16
        rows.append(strip)
    cv2.imwrite(str(out), np.concatenate(rows, axis=0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/out/bench_roi_reencode.json")
    parser.add_argument("--picture", type=Path, default=REPO / "docs/public_vs_original.png")
    args = parser.parse_args(argv)
    result: dict = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "frames": args.frames, "crf": {}}
    with tempfile.TemporaryDirectory() as tmp:
        public = Path(tmp) / "public.mkv"
        encoder = FaceEncoder.from_file(default_encoder_path())
        deidentify_video(
            SAMPLE_VIDEO,
            public,
            encoder,
            config=ProducerConfig(max_frames=args.frames, stream_id=7),
        )
        lossless = rois(public)
        result["lossless"] = {
            "ok": sum(s == "ok" for s, _ in lossless.values()),
            "boxes": sum(len(b) for _, b in lossless.values()),
        }
        for crf in (18, 23, 28):
            h264 = Path(tmp) / f"public_crf{crf}.mp4"
            reencode(public, h264, crf)
            again = rois(h264)
            same = sum(again[i] == lossless[i] for i in lossless)
            wrong = sum(again[i][0] == "ok" and again[i] != lossless[i] for i in lossless)
            result["crf"][str(crf)] = {
                "same_boxes": same,
                "frames": len(lossless),
                "damaged": sum(s == "damaged" for s, _ in again.values()),
                "none": sum(s == "none" for s, _ in again.values()),
                "wrong_boxes": wrong,
                "bytes": h264.stat().st_size,
            }
        args.picture.parent.mkdir(parents=True, exist_ok=True)
        picture(SAMPLE_VIDEO, public, 35, args.picture)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
