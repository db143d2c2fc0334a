"""Figure: labelled frames of the sample beside the same frames of their public stream.

Each row is one labelled frame, cropped around its labelled heads and enlarged: the
original with the audited labels in green, and the public stream (surrogates and
pixelation) at the same place, so that a reader can check every head by eye.

    forensics deidentify resources/samples/vtest_cut.avi --out /tmp/public.mkv --max-frames 130
    python benchmarks/figure_heads_public.py --public /tmp/public.mkv --out docs/heads_public_frames.jpg
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
LABELS = HERE / "labels" / "vtest_cut_heads.json"

from forensics_app import SAMPLE_VIDEO  # noqa: E402
from forensics_app.core.video import VideoReader  # noqa: E402


def frame_at(path: Path, index: int) -> np.ndarray:
    with VideoReader(path) as reader:
        return reader.read(index).image


def panel(
    original: np.ndarray, public: np.ndarray, heads: list[list[int]], title: str, size=(400, 240)
) -> np.ndarray:
    """The two crops side by side, ``size`` each, around the labelled heads."""
    height, width = original.shape[:2]
    xs = [x + w / 2 for x, _, w, _ in heads]
    ys = [y + h / 2 for _, y, _, h in heads]
    span_w = max(200.0, max(xs) - min(xs) + 80.0)
    span_h = span_w * size[1] / size[0]
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2 + 0.25 * span_h
    x0 = int(np.clip(cx - span_w / 2, 0, width - span_w))
    y0 = int(np.clip(cy - span_h / 2, 0, height - span_h))
    x1, y1 = x0 + int(span_w), y0 + int(span_h)
    scale = size[0] / (x1 - x0)
    left = cv2.resize(original[y0:y1, x0:x1], size, interpolation=cv2.INTER_NEAREST)
    right = cv2.resize(public[y0:y1, x0:x1], size, interpolation=cv2.INTER_NEAREST)
    for x, y, w, h in heads:
        p1 = (int((x - x0) * scale), int((y - y0) * scale))
        p2 = (int((x + w - x0) * scale), int((y + h - y0) * scale))
        cv2.rectangle(left, p1, p2, (0, 255, 0), 2)
    cv2.putText(left, title, (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
    gap = np.zeros((size[1], 4, 3), np.uint8)
    return np.hstack([left, gap, right])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--public", type=Path, required=True, help="the public stream")
    parser.add_argument("--video", type=Path, default=SAMPLE_VIDEO)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--frames", type=int, nargs="+", default=[75, 120, 90])
    args = parser.parse_args(argv)
    labels = json.loads(LABELS.read_text())["frames"]
    rows = []
    for index in args.frames:
        heads = labels.get(str(index))
        if not heads:
            raise SystemExit(f"frame {index} has no labelled heads")
        title = f"frame {index}: original (labels green) | public"
        rows.append(panel(frame_at(args.video, index), frame_at(args.public, index), heads, title))
        rows.append(np.zeros((4, rows[-1].shape[1], 3), np.uint8))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.vstack(rows[:-1]), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return 0


if __name__ == "__main__":
    sys.exit(main())
