"""Head finder benchmark on the labelled sample: where a head sits in a person box, and recall.

Against benchmarks/labels/vtest_cut_heads.json (120 heads in frames 0, 15, …, 285 of the
sample, frames 0–299 of vtest.avi, audited 2026-12-03; frames 300–794 are left unseen on
purpose), and, for comparison, the same frames' labels before the audit
(vtest_cut_heads_2026-11-29.json, 122 heads; ``carried_before_audit``):
  * ``fit``: for every labelled head whose centre lies in the top part of a person box
    (CenterNet on the whole frame, the producer's default), the head's height, width, top and centre offset as
    fractions of the box, as percentiles: the medians are HeadGeometry's defaults;
  * ``tracking``: the HeadDetector + tracker at every k, scored one-to-one at IoU >= 0.3
    on all tracked boxes, on those scoring >= 0.4, and on those the producer carries
    (score >= 0.4 and the track found by the last detector run), over all
    labelled frames and over the even / odd halves (frames 0, 30, … and 15, 45, …) so that
    a setting that only fits one half shows.

The head refiner (models/heads, trained on the 246 heads of vtest_cut_heads_train.json, the
frames between the scored ones) runs as in the producer; ``--no-refiner`` measures without.
``--person-sweep`` scores, at k = 4, how the person network is run (whole frame at several
person thresholds, and the two half-frame tiles stretched to 512×512 at 0.3 that were the
default until 2026-12-03) on the scored labels *and* on the training labels: the threshold
is chosen on the training labels, not on the scored ones.

    python benchmarks/bench_heads.py --out benchmarks/results/bench_heads.json [--margins 1.0 1.2 1.3] [--person-sweep]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_detect import read_frames, score_frames  # noqa: E402

from forensics_app import SAMPLE_VIDEO  # noqa: E402
from forensics_app.core.detect import Box  # noqa: E402
from forensics_app.core.head_refine import HeadRefiner  # noqa: E402
from forensics_app.core.heads import PERSON_THRESHOLD, HeadDetector  # noqa: E402
from forensics_app.core.people import PersonDetector  # noqa: E402
from forensics_app.core.track import detect_and_track  # noqa: E402

LABELS = HERE / "labels" / "vtest_cut_heads.json"
TRAIN_LABELS = HERE / "labels" / "vtest_cut_heads_train.json"
BEFORE_AUDIT = HERE / "labels" / "vtest_cut_heads_2026-11-29.json"
CARRY = 0.4


def fit(labels: dict, frames: dict[int, np.ndarray], people: PersonDetector) -> dict:
    """Percentiles of the head's place in its person box (the HeadGeometry fit)."""
    finder = HeadDetector(people)
    rows = []
    for index, image in frames.items():
        persons = finder.find_people(image)
        for x, y, w, h in labels["frames"][str(index)]:
            cx, cy = x + w / 2, y + h / 2
            inside = [
                p
                for p in persons
                if p.x - 2 <= cx <= p.x2 + 2 and p.y - 0.15 * p.h <= cy <= p.y + 0.35 * p.h
            ]
            if inside:
                p = max(inside, key=lambda b: b.score)
                rows.append((h / p.h, w / p.h, (y - p.y) / p.h, (cx - p.center[0]) / p.w))
    data = np.asarray(rows)
    names = ("height", "width", "top", "shift_x")
    return {
        "heads_in_a_person_box": len(rows),
        "heads": sum(len(v) for v in labels["frames"].values()),
        **{
            n: dict(
                zip(
                    ("p10", "p25", "p50", "p75", "p90"),
                    np.percentile(data[:, i], [10, 25, 50, 75, 90]).round(3).tolist(),
                    strict=True,
                )
            )
            for i, n in enumerate(names)
        },
    }


def tracking(
    labels: dict,
    video: Path,
    people: PersonDetector,
    ks: list[int],
    margin: float = 1.2,
    refiner: HeadRefiner | None = None,
    before_audit: dict | None = None,
    tiles: tuple[int, int] = (1, 1),
    threshold: float = PERSON_THRESHOLD,
) -> dict:
    wanted = {int(k) for k in labels["frames"]}
    everything = [image for _, image in read_frames(video)]
    out = {}
    for k in ks:
        detector = HeadDetector(
            people, margin=margin, refiner=refiner, tiles=tiles, threshold=threshold
        )
        found: dict[int, list[Box]] = {}
        fresh: dict[int, list[Box]] = {}  # what the producer carries: no coasting tracks
        started = time.perf_counter()
        for i, (_, tracked) in enumerate(detect_and_track(iter(everything), detector, every_k=k)):
            if i in wanted:
                found[i] = [t.box for t in tracked]
                fresh[i] = [t.box for t in tracked if t.missed == 0]
        seconds = time.perf_counter() - started
        halves = {
            "even": {i: b for i, b in fresh.items() if (i // 15) % 2 == 0},
            "odd": {i: b for i, b in fresh.items() if (i // 15) % 2 == 1},
        }
        out[str(k)] = {
            "fps_detect_and_track": round(len(everything) / seconds, 2),
            "all_boxes": score_frames(labels, found, "iou"),
            "score_at_least_carry": score_frames(labels, found, "iou", CARRY),
            "carried": score_frames(labels, fresh, "iou", CARRY),
            **{f"carried_{n}": score_frames(labels, h, "iou", CARRY) for n, h in halves.items()},
        }
        if before_audit is not None:
            out[str(k)]["carried_before_audit"] = score_frames(before_audit, fresh, "iou", CARRY)
        c = out[str(k)]["carried"]
        print(f"k={k}: carried recall {c['recall']} precision {c['precision']}", flush=True)
    return out


def person_sweep(video: Path, refiner: HeadRefiner | None) -> dict:
    """Carried recall / precision at k = 4 per way of running the person network, on the
    scored labels and on the training labels."""
    scored, train = json.loads(LABELS.read_text()), json.loads(TRAIN_LABELS.read_text())
    whole = PersonDetector(threads=2)
    tiled = PersonDetector(threads=2, input_size=(512, 512))
    settings = [
        (f"whole frame, person threshold {t}", whole, (1, 1), t) for t in (0.2, 0.25, 0.3)
    ] + [("two half-frame tiles at 512x512, threshold 0.3 (until 2026-12-03)", tiled, (2, 1), 0.3)]
    out = {}
    for name, people, tiles, threshold in settings:
        row = {}
        for label_name, labels in (("scored", scored), ("training_labels", train)):
            result = tracking(labels, video, people, [4], 1.2, refiner, None, tiles, threshold)
            row[label_name] = result["4"]["carried"]
            row[f"fps_detect_and_track_{label_name}"] = result["4"]["fps_detect_and_track"]
        out[name] = row
        print(name, {k: (v["recall"], v["precision"]) for k, v in row.items() if "fps" not in k})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SAMPLE_VIDEO)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "bench_heads.json")
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 3, 4, 5])
    parser.add_argument(
        "--margins",
        type=float,
        nargs="+",
        help="also sweep the head box margin at k = 4 (carried boxes), e.g. 1.0 1.1 1.2 1.3",
    )
    parser.add_argument("--no-refiner", action="store_true", help="place heads without it")
    parser.add_argument(
        "--person-sweep", action="store_true", help="also compare ways to run the person network"
    )
    args = parser.parse_args(argv)
    labels = json.loads(LABELS.read_text())
    before = json.loads(BEFORE_AUDIT.read_text())
    refiner = None if args.no_refiner else HeadRefiner()
    people = PersonDetector(threads=2)
    frames = dict(read_frames(args.video, {int(k) for k in labels["frames"]}))
    result = {
        "benchmark": "head finder on the labelled sample",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average_before": os.getloadavg(),
        "video": str(args.video),
        "matching": "one-to-one (Hungarian), IoU >= 0.3, bench_detect.score_frames",
        "carry_threshold": CARRY,
        "refiner_sha256": refiner.sha256 if refiner else None,
        "fit": fit(labels, frames, people),
        "tracking": tracking(labels, args.video, people, args.ks, 1.2, refiner, before),
    }
    if args.margins:
        result["margin_sweep_k4"] = {
            str(m): tracking(labels, args.video, people, [4], m, refiner)["4"]["carried"]
            for m in args.margins
        }
    if args.person_sweep:
        result["person_sweep_k4"] = person_sweep(args.video, refiner)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["fit"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
