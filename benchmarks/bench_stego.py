"""ROI steganography benchmark: speed, invisibility and robustness, with a peer.

Writes one JSON file (default ``benchmarks/out/bench_stego.json``)::

    python benchmarks/bench_stego.py [--video ../shared/data/vtest.avi] [--frames 60] [--out F]

Measured, single-threaded (OpenCV, OpenMP and BLAS limited to one thread):

* embed and extract ms per frame at 640x480 and 1280x720 (8 boxes, with MAC);
* on ``--frames`` consecutive real frames of the clip resized to 640x480, each carrying its
  own message (stream id, frame index, 8 head-sized boxes, truncated HMAC): embedding PSNR,
  and after JPEG 90/75/50 and H.264 (PyAV libx264, yuv420p, preset medium) CRF 18/23/28/33,
  once with x264's default GOP (3 B-frames) and once without B-frames, the share of frames
  whose message comes back exact, ``damaged``, ``none``, and **wrong** (must be 0);
* the same for the peer ``invisible-watermark`` (``dwtDctSvd``) carrying the same number of
  bits (our header and body bytes): exact recovery of all bits, bit error rate, PSNR, speed;
  once with its default scales (it marks the U chroma channel only) and once on the luma.
  The peer has no error correction and no "no message" answer, so its failures are wrong bits.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from forensics_app.core.stego import (  # noqa: E402
    FORMAT_VERSION,
    RoiMessage,
    capacity,
    embed,
    extract,
)
from forensics_app.core.stego.message import pack_body  # noqa: E402

KEY = b"benchmark camera key"
N_BOXES = 8


def read_frames(video: Path, start: int, count: int, size: tuple[int, int]) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            raise SystemExit(f"{video}: fewer than {start + count} frames")
        frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    capture.release()
    return frames


def boxes_for(rng: np.random.Generator, width: int, height: int) -> tuple:
    out = []
    for _ in range(N_BOXES):
        w, h = (int(v) for v in rng.integers(10, 41, 2))
        out.append((int(rng.integers(0, width - w)), int(rng.integers(0, height - h)), w, h))
    return tuple(out)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def jpeg(quality: int) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    def channel(frames: list[np.ndarray]) -> list[np.ndarray]:
        out = []
        for image in frames:
            ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            out.append(cv2.imdecode(data, cv2.IMREAD_COLOR))
        return out

    return channel


def h264(crf: int, bframes: bool) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    def channel(frames: list[np.ndarray]) -> list[np.ndarray]:
        buffer = io.BytesIO()
        height, width = frames[0].shape[:2]
        with av.open(buffer, "w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"crf": str(crf), "preset": "medium", "threads": "1"}
            if not bframes:
                stream.options["x264-params"] = "bframes=0"
            for image in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        buffer.seek(0)
        with av.open(buffer) as source:
            decoded = [f.to_ndarray(format="bgr24") for f in source.decode(video=0)]
        assert len(decoded) == len(frames)
        return decoded

    return channel


CHANNELS: dict[str, Callable[[list[np.ndarray]], list[np.ndarray]]] = {
    "none": lambda frames: frames,
    "jpeg90": jpeg(90),
    "jpeg75": jpeg(75),
    "jpeg50": jpeg(50),
    **{f"h264_crf{c}": h264(c, True) for c in (18, 23, 28, 33)},
    **{f"h264_crf{c}_no_bframes": h264(c, False) for c in (18, 23, 28, 33)},
}


def time_ms(fn: Callable[[], object], reps: int) -> dict[str, float]:
    """Median wall time and median CPU time of this thread, in ms (CPU time is what one
    core spends, whatever else the machine is doing)."""
    fn()
    wall, cpu = [], []
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.thread_time()
        fn()
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return {
        "wall_ms": round(statistics.median(wall), 3),
        "cpu_ms": round(statistics.median(cpu), 3),
    }


def speed(frame: np.ndarray, reps: int) -> dict[str, object]:
    rng = np.random.default_rng(5)
    out: dict[str, object] = {}
    for width, height in ((640, 480), (1280, 720)):
        image = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        message = RoiMessage(1, 7, boxes_for(rng, width, height))
        marked = embed(image, message, KEY)
        out[f"{width}x{height}"] = {
            "embed": time_ms(lambda i=image, m=message: embed(i, m, KEY), reps),
            "extract": time_ms(lambda w=marked: extract(w, KEY), reps),
            "extract_clean_frame": time_ms(lambda i=image: extract(i, KEY), reps),
            "capacity_boxes": capacity(width, height),
        }
    return out


def ours(frames: list[np.ndarray], messages: list[RoiMessage]) -> dict[str, object]:
    marked = [embed(f, m, KEY) for f, m in zip(frames, messages, strict=True)]
    psnrs = [psnr(a, b) for a, b in zip(frames, marked, strict=True)]
    results: dict[str, object] = {
        "psnr_mean": round(statistics.mean(psnrs), 2),
        "psnr_min": round(min(psnrs), 2),
    }
    for name, channel in CHANNELS.items():
        decoded = channel(marked)
        counts = {"exact": 0, "wrong": 0, "damaged": 0, "none": 0}
        for image, message in zip(decoded, messages, strict=True):
            result = extract(image, KEY)
            if result.status == "ok":
                counts["exact" if result.message == message else "wrong"] += 1
            else:
                counts[result.status] += 1
        counts["recovered_pct"] = round(100 * counts["exact"] / len(frames), 1)
        results[name] = counts
        print(f"  ours  {name:24s} {counts}", flush=True)
    return results


def peer(
    frames: list[np.ndarray], messages: list[RoiMessage], reps: int, scales: list[int]
) -> dict[str, object]:
    from imwatermark import WatermarkDecoder, WatermarkEncoder

    payloads = []
    height, width = frames[0].shape[:2]
    for message in messages:
        flags, body = pack_body(message, KEY, width, height)
        header = bytes([FORMAT_VERSION, flags]) + len(message.boxes).to_bytes(2, "little")
        payloads.append(np.unpackbits(np.frombuffer(header + body, np.uint8)))
    n_bits = len(payloads[0])

    def mark(image: np.ndarray, bits: np.ndarray) -> np.ndarray:
        encoder = WatermarkEncoder()
        encoder.set_watermark("bits", bits.tolist())
        return encoder.encode(image, "dwtDctSvd", scales=scales)

    def read(image: np.ndarray) -> np.ndarray:
        decoder = WatermarkDecoder("bits", n_bits)
        return np.asarray(decoder.decode(image, "dwtDctSvd", scales=scales), np.uint8)

    marked = [mark(f, b) for f, b in zip(frames, payloads, strict=True)]
    psnrs = [psnr(a, b) for a, b in zip(frames, marked, strict=True)]
    results: dict[str, object] = {
        "library": f"invisible-watermark 0.2.0, method dwtDctSvd, scales (Y, U, V) {scales}",
        "payload_bits": n_bits,
        "embed_640x480": time_ms(lambda: mark(frames[0], payloads[0]), reps),
        "extract_640x480": time_ms(lambda: read(marked[0]), reps),
        "psnr_mean": round(statistics.mean(psnrs), 2),
        "psnr_min": round(min(psnrs), 2),
    }
    for name, channel in CHANNELS.items():
        decoded = channel(marked)
        errors = [
            int(np.sum(read(img) != bits)) for img, bits in zip(decoded, payloads, strict=True)
        ]
        row = {
            "exact": sum(e == 0 for e in errors),
            "wrong": sum(e > 0 for e in errors),
            "recovered_pct": round(100 * sum(e == 0 for e in errors) / len(frames), 1),
            "bit_error_rate_pct": round(100 * sum(errors) / (n_bits * len(frames)), 2),
        }
        results[name] = row
        print(f"  peer{scales} {name:24s} {row}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", type=Path, default=REPO.parent / "shared/data/vtest.avi")
    parser.add_argument("--start", type=int, default=200, help="first frame used")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--reps", type=int, default=30, help="repetitions of each timing")
    parser.add_argument("--no-peer", action="store_true", help="skip invisible-watermark")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/out/bench_stego.json")
    args = parser.parse_args()
    cv2.setNumThreads(1)

    frames = read_frames(args.video, args.start, args.frames, (640, 480))
    rng = np.random.default_rng(2026)
    messages = [RoiMessage(1, args.start + i, boxes_for(rng, 640, 480)) for i in range(len(frames))]
    report: dict[str, object] = {
        "benchmark": "bench_stego",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
        "versions": {"numpy": np.__version__, "opencv": cv2.__version__, "av": av.__version__},
        "video": str(args.video),
        "frames": f"{args.start}..{args.start + args.frames - 1} resized to 640x480",
        "message": f"{N_BOXES} boxes, with MAC; one message per frame (frame index differs)",
        "speed_single_thread": speed(frames[0], args.reps),
    }
    print("speed", report["speed_single_thread"], flush=True)
    report["ours"] = ours(frames, messages)
    if not args.no_peer:
        reps = max(3, args.reps // 10)
        # The library's default marks the U channel only; also try it on the luma.
        report["peer"] = peer(frames, messages, reps, [0, 36, 0])
        report["peer_on_luma"] = peer(frames, messages, reps, [36, 0, 0])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
