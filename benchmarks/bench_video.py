"""Video I/O benchmark: decode speed, random access, FFV1 exactness, H.264 at a CRF.

Writes one JSON file (default ``benchmarks/out/bench_video.json``)::

    python benchmarks/bench_video.py [--video ../shared/data/vtest.avi] [--out FILE]

Measured:
* sequential decode (frames/s, BGR arrays out) of the full clip;
* random access: ms per ``VideoReader.read(i)`` over N random indices (fresh reader, so every
  read seeks), and whether each frame equals the sequentially decoded one (SHA-256 of the
  pixels), on the full clip and on the sample clip in resources/;
* FFV1 round trip of 640x480 and 767x575 frames (noise and real frames): bit-exact or not,
  encode/decode frames/s and bytes per frame;
* H.264 (libx264, yuv420p, CRF 23, preset medium) of the clip: encode frames/s, size, PSNR.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from forensics_app.core.video import VideoReader, VideoWriter  # noqa: E402

DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "vtest.avi"
SAMPLE = REPO / "resources" / "samples" / "vtest_cut.avi"


def _digest(image: np.ndarray) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


def bench_decode(path: Path) -> tuple[dict, list[str]]:
    """Sequential decode speed; returns figures and the per-frame digests."""
    start = time.perf_counter()
    with VideoReader(path) as reader:
        open_s = time.perf_counter() - start
        digests = []
        t0 = time.perf_counter()
        for frame in reader:
            digests.append(_digest(frame.image))
        seconds = time.perf_counter() - t0
        info = reader.info.to_dict()
    return {
        "video": str(path),
        "media": info,
        "open_and_scan_ms": round(open_s * 1000, 2),
        "frames": len(digests),
        "seconds": round(seconds, 3),
        "fps": round(len(digests) / seconds, 1),
    }, digests


def bench_random_access(path: Path, digests: list[str], n: int, seed: int) -> dict:
    """ms per random read(i) and exactness against sequential decoding."""
    picks = random.Random(seed).sample(range(len(digests)), min(n, len(digests)))
    picks += [len(digests) - 1, 0]  # always the last and the first frame
    times, mismatches = [], []
    with VideoReader(path) as reader:
        for index in picks:
            t0 = time.perf_counter()
            frame = reader.read(index)
            times.append((time.perf_counter() - t0) * 1000)
            if frame.index != index or _digest(frame.image) != digests[index]:
                mismatches.append(index)
    ordered = sorted(times)
    return {
        "video": str(path),
        "reads": len(picks),
        "ms_mean": round(statistics.fmean(times), 2),
        "ms_median": round(statistics.median(times), 2),
        "ms_p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "exact": not mismatches,
        "mismatched_indices": mismatches,
    }


def _ffv1_round_trip(frames: list[np.ndarray], path: Path) -> dict:
    height, width = frames[0].shape[:2]
    t0 = time.perf_counter()
    with VideoWriter(path, width, height, 10, codec="ffv1") as writer:
        for image in frames:
            writer.write(image)
    encode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with VideoReader(path) as reader:
        decoded = [f.image for f in reader]
    decode_s = time.perf_counter() - t0
    exact = len(decoded) == len(frames) and all(
        np.array_equal(a, b) for a, b in zip(frames, decoded, strict=True)
    )
    return {
        "frames": len(frames),
        "bit_exact": exact,
        "encode_fps": round(len(frames) / encode_s, 1),
        "decode_fps": round(len(frames) / decode_s, 1),
        "bytes_per_frame": path.stat().st_size // len(frames),
    }


def bench_ffv1(width: int, height: int, real: list[np.ndarray], folder: Path) -> dict:
    """FFV1 round trip of uniform-noise frames and of real frames resized to the size."""
    rng = np.random.default_rng(width * height)
    noise = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(5)]
    noise += [np.zeros_like(noise[0]), np.full_like(noise[0], 255)]
    resized = [cv2.resize(im, (width, height), interpolation=cv2.INTER_AREA) for im in real]
    noise_run = _ffv1_round_trip(noise, folder / f"noise_{width}x{height}.mkv")
    real_run = _ffv1_round_trip(resized, folder / f"real_{width}x{height}.mkv")
    return {
        "size": f"{width}x{height}",
        "bit_exact": noise_run["bit_exact"] and real_run["bit_exact"],
        "noise": noise_run,
        "real": real_run,
    }


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def bench_h264(real: list[np.ndarray], folder: Path, crf: int = 23) -> dict:
    """H.264 encode speed, size and PSNR (decoded vs written BGR frames)."""
    height, width = real[0].shape[:2]
    path = folder / "h264.mp4"
    t0 = time.perf_counter()
    with VideoWriter(path, width, height, 10, codec="h264", crf=crf) as writer:
        for image in real:
            writer.write(image)
    encode_s = time.perf_counter() - t0
    with VideoReader(path) as reader:
        psnr = [_psnr(a, f.image) for a, f in zip(real, reader, strict=True)]
    return {
        "crf": crf,
        "preset": "medium",
        "frames": len(real),
        "encode_fps": round(len(real) / encode_s, 1),
        "bytes_per_frame": path.stat().st_size // len(real),
        "psnr_db_mean": round(statistics.fmean(psnr), 2),
        "psnr_db_min": round(min(psnr), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "out" / "bench_video.json"
    )
    parser.add_argument("--random-reads", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.video.is_file():
        parser.error(f"no video at {args.video}")

    load_start = os.getloadavg()[0]  # other work on the machine skews every speed figure
    decode, digests = bench_decode(args.video)
    print(f"decode: {decode['fps']} fps over {decode['frames']} frames", flush=True)
    full_random = bench_random_access(args.video, digests, args.random_reads, args.seed)
    print(f"random access: {full_random['ms_mean']} ms/frame, exact={full_random['exact']}")
    _, sample_digests = bench_decode(SAMPLE)
    sample_random = bench_random_access(SAMPLE, sample_digests, args.random_reads, args.seed)
    with VideoReader(args.video) as reader:
        real = [f.image for f in reader.frames(0, 100)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ffv1 = [bench_ffv1(w, h, real[:20], folder) for w, h in ((640, 480), (767, 575))]
        h264 = bench_h264(real, folder)
    for row in ffv1:
        print(f"ffv1 {row['size']}: bit_exact={row['bit_exact']}")
    print(f"h264 crf 23: {h264['psnr_db_mean']} dB, {h264['encode_fps']} fps")

    result = {
        "benchmark": "video_io",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/bench_video.py " + " ".join(argv or sys.argv[1:]),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_1min": [round(load_start, 2), round(os.getloadavg()[0], 2)],
            "pyav": av.__version__,
            "ffmpeg_libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
        },
        "sequential_decode": decode,
        "random_access_full_clip": full_random,
        "random_access_sample_clip": sample_random,
        "ffv1_round_trip": ffv1,
        "h264": h264,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    ok = full_random["exact"] and sample_random["exact"] and all(r["bit_exact"] for r in ffv1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
