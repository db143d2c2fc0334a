"""Producer vs `deface` on the same clip in one run: whole-process speed, memory, head coverage.

Each tool runs as its own process from the command line, at its defaults, on the sample clip
(frames 0–299 of vtest.avi), one after the other, so wall time and peak memory (the child's
maximum resident set) are those of the whole process: start-up, model loading, decoding,
detection, de-identification, encoding. Ours runs at its defaults (people + silhouettes
head detector) and, for comparison, with the earlier face detector (``--detector faces``).

Scored against the 120 hand-labelled heads of benchmarks/labels/vtest_cut_heads.json (audited
2026-12-03; the labels before the audit are scored too, ``*_before_audit``):
  * recall / precision of the boxes *read back from the public stream* by ``forensics roi
    --json`` (what was replaced reversibly and listed), one-to-one, IoU >= 0.3;
  * the privacy figure: the share of labelled head pixels that were replaced (inside a
    listed box) or made unrecognisable (inside the pixelated ring around a listed box, or a
    pixelated region listed by ``--review``: unsure heads, uncovered moving blobs).
For deface, its own CenterFace at its defaults is scored as before.

    python benchmarks/bench_producer.py --out benchmarks/results/bench_producer.json [--repeat 3]

deface's own wall time on this clip moves a lot from run to run (26–42 s on the same
machine on the same day), so ``--repeat N`` runs deface and our default N more times,
alternating, and reports each run and the ratio of the medians (``speed_repeated``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_detect import score_frames  # noqa: E402

from forensics_app import SAMPLE_VIDEO, __version__  # noqa: E402
from forensics_app.core.detect import Box  # noqa: E402
from forensics_app.core.obscure import HALO, OBSCURE_MARGIN  # noqa: E402
from forensics_app.core.video import VideoReader  # noqa: E402

LABELS = HERE / "labels" / "vtest_cut_heads.json"
BEFORE_AUDIT = HERE / "labels" / "vtest_cut_heads_2026-11-29.json"


def _child_peak_mib(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of one process, measured with os.wait4."""
    # stderr goes to a file: a progress bar filling a second pipe while stdout is read to
    # the end would block the child for good
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors)
        stdout = proc.stdout.read() if proc.stdout else b""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(cmd[:2])} failed: {errors.read().decode()[-400:]}")
    return wall, usage.ru_maxrss / 1024.0, stdout.decode()


def roi_boxes(public: Path, wanted: set[int]) -> dict[int, list[Box]]:
    """The boxes ``forensics roi --json`` reads back from the labelled frames."""
    cli = Path(sys.executable).with_name("forensics")
    proc = subprocess.run([str(cli), "roi", str(public), "--json"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"forensics roi failed: {proc.stderr.strip()[-400:]}")
    found: dict[int, list[Box]] = {}
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        if row["frame"] in wanted:
            found[row["frame"]] = [Box(*b) for b in row["rois"]]
    return found


def privacy_coverage(labels: dict, listed: dict[int, list[Box]], review: dict, size) -> dict:
    """Share of labelled head pixels inside a listed box or a pixelated region."""
    width, height = size
    rows = {row["frame"]: row for row in review["review"]}
    covered = total = 0
    heads_full = heads = 0
    for key, truth in labels["frames"].items():
        index = int(key)
        mask = np.zeros((height, width), bool)
        for b in listed.get(index, []):  # the carried box and the pixelated ring around it
            region = b.expand(HALO).clip(width, height)
            mask[region.y : region.y2, region.x : region.x2] = True
        row = rows.get(index)
        if row is not None:
            if "damaged_frame" in row["reasons"]:
                mask[:] = True
            for box in row["obscured"]:
                region = Box(*box).expand(OBSCURE_MARGIN).clip(width, height)
                mask[region.y : region.y2, region.x : region.x2] = True
        for x, y, w, h in truth:
            part = mask[y : y + h, x : x + w]
            covered += int(part.sum())
            total += part.size
            heads += 1
            heads_full += bool(part.mean() >= 0.9)
    return {
        "labelled_head_pixels": total,
        "covered_pixels": covered,
        "privacy": round(covered / total, 4) if total else None,
        "heads_at_least_90pct_covered": heads_full,
        "heads": heads,
    }


def run_ours(
    source: Path, out_dir: Path, labels: dict, extra: list[str], name: str, before: dict
) -> dict:
    cli = Path(sys.executable).with_name("forensics")
    out, review = out_dir / f"{name}.mkv", out_dir / f"{name}_review.json"
    cmd = [str(cli), "deidentify", str(source), "--out", str(out), "--json", "--quiet"]
    cmd += ["--review", str(review), *extra]
    wall, peak, stdout = _child_peak_mib(cmd)
    stats = json.loads(stdout)
    wanted = {int(k) for k in labels["frames"]}
    listed = roi_boxes(out, wanted)
    flagged = json.loads(review.read_text())
    with VideoReader(out) as reader:
        size = (reader.info.width, reader.info.height)
    return {
        "tool": "uunet-forensics deidentify",
        "command": " ".join(["forensics", "deidentify", source.name, "--out", out.name, *extra]),
        "frames": stats["frames"],
        "heads_carried": stats["faces"],
        "heads_pixelated": stats["obscured"],
        "pixelated_by_reason": stats["obscured_by_reason"],
        "scenery_dropped": stats["scenery_dropped"],
        "tracks": stats["tracks"],
        "runtime": stats.get("runtime"),
        "seconds": round(wall, 2),
        "fps": round(stats["frames"] / wall, 2),
        "peak_memory_mib": round(peak, 1),
        "head_recall_from_roi": score_frames(labels, listed, "iou"),
        "privacy": privacy_coverage(labels, listed, flagged, size),
        "head_recall_from_roi_before_audit": score_frames(before, listed, "iou"),
        "privacy_before_audit": privacy_coverage(before, listed, flagged, size),
        "refiner_sha256": stats.get("refiner_sha256", ""),
    }


def deface_detector_recall(source: Path, labels: dict) -> dict:
    """deface's own CenterFace at its defaults (thresh 0.2, native size, mask scale 1.3)."""
    from deface.centerface import CenterFace

    net = CenterFace(in_shape=None, backend="auto")
    wanted = {int(k) for k in labels["frames"]}
    found: dict[int, list[Box]] = {}
    with VideoReader(source) as reader:
        for index in sorted(wanted):
            frame = reader.read(index).image
            rgb = np.ascontiguousarray(frame[..., ::-1])
            dets, _ = net(rgb, threshold=0.2)
            boxes = []
            for x1, y1, x2, y2, score in dets:
                w, h = (x2 - x1) * 1.3, (y2 - y1) * 1.3  # deface's default --mask-scale
                cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
                boxes.append(Box.from_xyxy(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score))
            found[index] = boxes
    return score_frames(labels, found, "iou")


def run_deface(source: Path, out_dir: Path, frames: int) -> dict:
    out = out_dir / "deface.mp4"
    deface_cli = Path(sys.executable).with_name("deface")  # the console script beside python
    wall, peak, _ = _child_peak_mib([str(deface_cli), str(source), "-o", str(out)])
    return {
        "tool": "deface (blur, defaults)",
        "command": " ".join(["deface", source.name, "-o", out.name]),
        "frames": frames,
        "seconds": round(wall, 2),
        "fps": round(frames / wall, 2),
        "peak_memory_mib": round(peak, 1),
    }


def repeated(source: Path, out_dir: Path, frames: int, runs: int) -> dict:
    """deface and our default, alternating ``runs`` times: every run's frames/s and the
    ratio of the medians (the load on a shared machine moves both, not always together)."""
    cli = Path(sys.executable).with_name("forensics")
    ours_cmd = [str(cli), "deidentify", str(source), "--out", str(out_dir / "r.mkv"), "--quiet"]
    deface_fps, ours_fps = [], []
    for _ in range(runs):
        deface_fps.append(run_deface(source, out_dir, frames)["fps"])
        wall, _, _ = _child_peak_mib(ours_cmd)
        ours_fps.append(round(frames / wall, 2))
    d, o = float(np.median(deface_fps)), float(np.median(ours_fps))
    return {
        "runs": runs,
        "deface_fps": deface_fps,
        "ours_fps": ours_fps,
        "median_deface_fps": d,
        "median_ours_fps": o,
        "speed_vs_deface_of_medians": round(o / d, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SAMPLE_VIDEO)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "bench_producer.json")
    parser.add_argument(
        "--repeat", type=int, default=0, help="run deface and our default N more times, alternating"
    )
    args = parser.parse_args(argv)
    labels = json.loads(LABELS.read_text())
    before = json.loads(BEFORE_AUDIT.read_text())
    with VideoReader(args.video) as reader:
        frames = len(reader)
    result: dict = {
        "benchmark": "producer vs deface",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "version": __version__,
        "video": str(args.video),
        "frames": frames,
        "labels": str(LABELS.relative_to(HERE.parent)),
        "matching": "one-to-one (Hungarian), IoU >= 0.3, bench_detect.score_frames",
        "load_average_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        result["deface"] = run_deface(args.video, out_dir, frames)
        result["deface"]["head_recall_of_its_detector"] = deface_detector_recall(args.video, labels)
        result["ours"] = [
            run_ours(args.video, out_dir, labels, [], "heads_default", before),
            run_ours(args.video, out_dir, labels, ["--detector", "faces"], "faces_2x", before),
        ]
        if args.repeat > 0:
            result["speed_repeated"] = repeated(args.video, out_dir, frames, args.repeat)
    base = result["deface"]["fps"]
    for row in result["ours"]:
        row["speed_vs_deface"] = round(row["fps"] / base, 2) if base else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
