"""Detection and tracking benchmark on the hand-labelled surveillance sample.

Measures, against benchmarks/labels/vtest_cut_heads.json:
  * recall / precision of the CenterFace head boxes at several upscales and thresholds,
    under two matching rules: one-to-one IoU >= 0.3 (Hungarian) and one-to-one
    "detected box centre inside the labelled head box";
  * frames/s of detection alone per upscale, and of detect-every-k + track (k = 1, 3, 5),
    plus the recall/precision of the *tracked* boxes on the labelled frames, which for
    k > 1 are frames without detection (the boxes there were carried by the tracker).

Writes one JSON file (and a precision/recall plot with --plot). Run from the repository root:

    python benchmarks/bench_detect.py --out benchmarks/out/bench_detect.json \
        --plot benchmarks/out/bench_detect_pr.png
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from forensics_app.core.detect import (  # noqa: E402
    DEFAULT_THRESHOLD,
    Box,
    CenterFaceDetector,
)
from forensics_app.core.track import Tracker, detect_and_track  # noqa: E402

IOU_MATCH = 0.3
THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)


def read_frames(video: Path, wanted: set[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Decode the clip sequentially, yielding ``(index, bgr)`` (only ``wanted`` if given)."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise SystemExit(f"cannot open {video}")
    index = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            if wanted is None or index in wanted:
                yield index, frame
            index += 1
    finally:
        cap.release()


def match(
    truth: Sequence[Box], found: Sequence[Box], ignore: Sequence[Box], rule: str
) -> tuple[int, int, list[float]]:
    """One-to-one matching; returns (true positives, false positives, IoUs of the matches).

    An unmatched detection whose centre lies in an ignore region is not a false positive.
    """
    matched: set[int] = set()
    ious: list[float] = []
    if truth and found:
        if rule == "iou":
            score = np.array([[t.iou(f) for f in found] for t in truth])
            ok = score >= IOU_MATCH
        else:  # centre of the detection inside the labelled box
            ok = np.array([[t.contains(*f.center) for f in found] for t in truth])
            score = np.array([[t.iou(f) for f in found] for t in truth]) + ok
        rows, cols = linear_sum_assignment(-np.where(ok, score, -1.0))
        for r, c in zip(rows, cols, strict=True):
            if ok[r, c]:
                matched.add(int(c))
                ious.append(truth[r].iou(found[c]))
    fp = sum(
        1
        for j, f in enumerate(found)
        if j not in matched and not any(g.contains(*f.center) for g in ignore)
    )
    return len(matched), fp, ious


def score_frames(
    labels: dict, boxes_by_frame: dict[int, list[Box]], rule: str, min_score: float = 0.0
) -> dict:
    """Recall/precision over the labelled frames present in ``boxes_by_frame``."""
    tp = fp = n = 0
    ious: list[float] = []
    for index, boxes in boxes_by_frame.items():
        truth = [Box(*b) for b in labels["frames"][str(index)]]
        ignore = [Box(*b) for b in labels.get("ignore", {}).get(str(index), [])]
        kept = [b for b in boxes if b.score >= min_score]
        t, f, i = match(truth, kept, ignore, rule)
        tp, fp, n = tp + t, fp + f, n + len(truth)
        ious += i
    return {
        "labelled": n,
        "found": tp,
        "missed": n - tp,
        "false_positives": fp,
        "recall": round(tp / n, 3) if n else None,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "mean_iou_of_matches": round(float(np.mean(ious)), 3) if ious else None,
    }


def bench_detection(labels: dict, video: Path, upscales: Sequence[float]) -> dict:
    """Accuracy per upscale and threshold, and the detector's own speed."""
    frames = dict(read_frames(video, {int(k) for k in labels["frames"]}))
    out = {}
    for upscale in upscales:
        det = CenterFaceDetector(upscale=upscale, threshold=min(THRESHOLDS), heads=True)
        det.detect(frames[min(frames)])  # warm-up: graph optimisation, allocations
        found, seconds, cpu = {}, [], []
        for index, image in frames.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            found[index] = det.detect(image)
            seconds.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        out[str(upscale)] = {
            "backend": det.backend,
            "detect_ms_per_frame": round(1000 * float(np.median(seconds)), 1),
            "detect_fps": round(1.0 / float(np.median(seconds)), 2),
            "detect_cpu_ms_per_frame": round(1000 * float(np.median(cpu)), 1),
            "by_threshold": {
                str(th): {rule: score_frames(labels, found, rule, th) for rule in ("iou", "centre")}
                for th in THRESHOLDS
            },
        }
        d = out[str(upscale)]["by_threshold"][str(DEFAULT_THRESHOLD)]["iou"]
        print(
            f"upscale {upscale}: {out[str(upscale)]['detect_fps']} fps, at threshold "
            f"{DEFAULT_THRESHOLD}: recall {d['recall']} precision {d['precision']}",
            flush=True,
        )
    return out


def bench_tracking(
    labels: dict,
    video: Path,
    upscale: float,
    ks: Sequence[int],
    max_frames: int | None = None,
    propagate: str = "flow",
    min_hits: int = 1,
) -> dict:
    """Speed and accuracy of detect-every-k + track over the whole clip.

    Timing includes decoding the video (a few ms a frame). The clip is started ``k // 2 + 1``
    frames late for k > 1 so that the labelled frames (every 15th) fall between detections
    and are scored on propagated boxes.
    """
    wanted = {int(k) for k in labels["frames"]}
    out = {}
    for k in ks:
        start = 0 if k == 1 else k // 2 + 1
        det = CenterFaceDetector(upscale=upscale, heads=True)
        last = max_frames if max_frames is not None else 1 << 30
        frames = (img for index, img in read_frames(video) if start <= index < last)
        first = next(frames)
        det.detect(first)  # warm-up outside the timing
        frames = itertools.chain([first], frames)
        tracked: dict[int, list[Box]] = {}
        detected_at: dict[int, bool] = {}
        ids: set[int] = set()
        t0, t0_cpu = time.perf_counter(), time.process_time()
        tracker = Tracker(min_hits=min_hits, frame_size=(first.shape[1], first.shape[0]))
        n = 0
        stream = detect_and_track(frames, det, every_k=k, tracker=tracker, propagate=propagate)
        for i, (_, boxes) in enumerate(stream):
            n += 1
            index = start + i
            ids.update(tb.track_id for tb in boxes)
            if index in wanted:
                tracked[index] = [tb.box for tb in boxes]
                detected_at[index] = i % k == 0
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - t0_cpu
        out[str(k)] = {
            "frames": n,
            "detector_runs": -(-n // k),
            "seconds": round(seconds, 1),
            "fps": round(n / seconds, 2),
            "cpu_ms_per_frame": round(1000 * cpu_seconds / n, 1),
            "tracks_started": len(ids),
            "labelled_frames_scored": len(tracked),
            "labelled_frames_without_detection": sum(not v for v in detected_at.values()),
            "iou": score_frames(labels, tracked, "iou"),
            "centre": score_frames(labels, tracked, "centre"),
        }
        r = out[str(k)]
        print(
            f"every_k={k}: {r['fps']} fps, tracked recall {r['iou']['recall']} "
            f"precision {r['iou']['precision']}, {r['tracks_started']} tracks",
            flush=True,
        )
    return out


def plot(result: dict, path: Path) -> None:
    """Precision/recall per upscale (IoU rule), one point per threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for upscale, r in result["detection"].items():
        pts = [(v["iou"]["recall"], v["iou"]["precision"]) for v in r["by_threshold"].values()]
        pts = [(x, y) for x, y in pts if x is not None and y is not None]
        ax.plot(*zip(*pts, strict=True), marker="o", label=f"upscale {upscale}")
    ax.set_xlabel("recall (IoU ≥ 0.3)")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("CenterFace head boxes, vtest_cut, thresholds 0.1-0.5", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=REPO / "resources/samples/vtest_cut.avi")
    parser.add_argument(
        "--labels", type=Path, default=REPO / "benchmarks/labels/vtest_cut_heads.json"
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/out/bench_detect.json")
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--upscales", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    parser.add_argument("--track-upscale", type=float, default=2.0)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument(
        "--no-tracking", action="store_true", help="rerun detection only, keep --out's tracking"
    )
    parser.add_argument(
        "--no-detection", action="store_true", help="rerun tracking only, keep --out's detection"
    )
    parser.add_argument("--propagate", choices=["flow", "velocity"], default="flow")
    parser.add_argument("--min-hits", type=int, default=1, help="Tracker(min_hits=...)")
    parser.add_argument("--max-frames", type=int, default=None, help="tracking: stop early")
    args = parser.parse_args(argv)

    labels = json.loads(args.labels.read_text())
    import onnxruntime

    result = {
        "benchmark": "bench_detect",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "timing_note": "fps is wall-clock on a machine shared with other jobs; cpu_ms_per_frame "
        "(process CPU time, all threads) is the load-independent figure",
        "machine": {
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__,
            "opencv": cv2.__version__,
        },
        "video": str(
            args.video.relative_to(REPO) if args.video.is_relative_to(REPO) else args.video
        ),
        "labels": {
            "file": str(args.labels.relative_to(REPO)),
            "frames": len(labels["frames"]),
            "heads": sum(len(v) for v in labels["frames"].values()),
            "ignore_regions": sum(len(v) for v in labels.get("ignore", {}).values()),
        },
        "rules": {
            "iou": f"one-to-one (Hungarian), IoU >= {IOU_MATCH} between head box and label",
            "centre": "one-to-one, centre of the detected head box inside the labelled box",
            "ignore": "unmatched detections centred in an ignore region are not false positives",
            "boxes": "CenterFace face boxes expanded to head boxes (Box.to_head)",
        },
        "default_threshold": DEFAULT_THRESHOLD,
    }
    if args.no_detection:  # keep the detection section of an earlier run
        if not args.out.is_file():
            raise SystemExit(f"--no-detection needs an earlier {args.out}")
        result["detection"] = json.loads(args.out.read_text())["detection"]
    else:
        result["detection"] = bench_detection(labels, args.video, args.upscales)
    if args.no_tracking:  # keep the tracking section of an earlier run, if any
        earlier = json.loads(args.out.read_text()) if args.out.is_file() else {}
        if "tracking" in earlier:
            result["tracking"] = earlier["tracking"]
    else:
        result["tracking"] = {
            "upscale": args.track_upscale,
            "threshold": DEFAULT_THRESHOLD,
            "propagation": {
                "flow": "Lucas-Kanade flow between detections, constant velocity fallback",
                "velocity": "constant velocity between detections",
            }[args.propagate],
            "tracker": f"Tracker(iou_threshold=0.2, max_missed=5, min_hits={args.min_hits})",
            "by_k": bench_tracking(
                labels,
                args.video,
                args.track_upscale,
                args.ks,
                args.max_frames,
                args.propagate,
                args.min_hits,
            ),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.plot:
        plot(result, args.plot)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
