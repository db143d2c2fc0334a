"""Producer speed and head recall against `deface`, on the same clip, in the same run.

Our producer (detect every k frames + track + U_e + paste + hidden ROI message + FFV1) is
timed end to end on the sample clip at two detector settings; `deface` (plain CenterFace
blurring, the tool people use) is timed on the same clip with its defaults. Head recall is
measured against the hand labels of benchmarks/labels/vtest_cut_heads.json: for our
producer from the ROI messages read back out of its public stream (what was really
replaced and listed), for deface from its own CenterFace class at its own default setting
(threshold 0.2, native resolution, mask scale 1.3), both with bench_detect's matching rule.

    python benchmarks/bench_producer.py --out benchmarks/results/bench_producer.json
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
from forensics_app.core import stego  # noqa: E402
from forensics_app.core.detect import Box  # noqa: E402
from forensics_app.core.video import VideoReader  # noqa: E402
from forensics_app.uunet.inference import FaceEncoder, default_encoder_path  # noqa: E402
from forensics_app.uunet.producer import ProducerConfig, deidentify_video  # noqa: E402

LABELS = HERE / "labels" / "vtest_cut_heads.json"


def recall_from_public_stream(public: Path, labels: dict) -> dict:
    """Score the boxes listed in the public stream's ROI messages on the labelled frames."""
    wanted = {int(k) for k in labels["frames"]}
    found: dict[int, list[Box]] = {}
    with VideoReader(public) as reader:
        for index in sorted(wanted):
            result = stego.extract(reader.read(index).image)
            boxes = result.message.boxes if result.message else ()
            found[index] = [Box(*b) for b in boxes]
    return score_frames(labels, found, "iou")


def run_ours(source: Path, out_dir: Path, labels: dict, upscale: float, every_k: int) -> dict:
    encoder = FaceEncoder.from_file(default_encoder_path())
    out = out_dir / f"public_up{upscale}_k{every_k}.mkv"
    config = ProducerConfig(upscale=upscale, every_k=every_k)
    started = time.perf_counter()
    stats = deidentify_video(source, out, encoder, config=config)
    wall = time.perf_counter() - started
    return {
        "tool": "uunet-forensics deidentify",
        "setting": {
            "upscale": upscale,
            "every_k": every_k,
            "threshold": config.threshold,
            "codec": "ffv1",
        },
        "frames": stats.frames,
        "faces": stats.faces,
        "tracks": stats.tracks,
        "seconds": round(wall, 2),
        "fps": round(stats.frames / wall, 2),
        "head_recall": recall_from_public_stream(out, labels),
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
    cmd = [str(deface_cli), str(source), "-o", str(out)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"deface failed: {proc.stderr.strip()[-400:]}")
    return {
        "tool": "deface (blur, defaults)",
        "command": " ".join(["deface", source.name, "-o", out.name]),
        "frames": frames,
        "seconds": round(wall, 2),
        "fps": round(frames / wall, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SAMPLE_VIDEO)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "bench_producer.json")
    args = parser.parse_args(argv)
    labels = json.loads(LABELS.read_text())
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
    }
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        result["deface"] = run_deface(args.video, out_dir, frames)
        result["deface"]["head_recall_of_its_detector"] = deface_detector_recall(args.video, labels)
        result["ours"] = [
            run_ours(args.video, out_dir, labels, upscale, k) for upscale, k in ((1.0, 3), (2.0, 3))
        ]
    base = result["deface"]["fps"]
    for row in result["ours"]:
        row["speed_vs_deface"] = round(row["fps"] / base, 2) if base else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
