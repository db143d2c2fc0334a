"""Capacity of a dense hidden channel in the frame's luma after H.264 (issue #12, item 5).

The ROI message is sparse and strong (benchmarks/bench_code_budget.json: 470 bytes per
768×576 frame at capacity). A design that carries a code of each face in the frame needs
more. This measures the raw channel a denser layout would have: one QIM bit in the (0, 1)
DCT coefficient of the luma of *every* 8×8 block, fresh random bits in every frame (as face
codes would be), through libx264 at CRF 23 and 28, for several QIM steps. Per step:
embedding PSNR, bit error rate p after the codec, and the binary-symmetric-channel capacity
``blocks · (1 − H(p))`` in bytes per frame (the ceiling an ideal code could reach; a real
LDPC code at that rate gets within ~10–20 % of it).

    python benchmarks/bench_dense_channel.py --frames 60 --out benchmarks/results/bench_dense_channel.json

Frames come from the start of vtest.avi (the sample clip).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from forensics_app.core.stego.layout import BASIS
from forensics_app.uunet.bootstrap import default_source

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_stego import h264  # noqa: E402  (the same in-memory libx264 round trip)

B = 8


def _blocks(luma: np.ndarray) -> np.ndarray:
    h, w = luma.shape
    return luma.reshape(h // B, B, w // B, B).transpose(0, 2, 1, 3).reshape(-1, B * B)


def _coef(frame: np.ndarray) -> np.ndarray:
    luma = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV)[..., 0].astype(np.float32)
    return _blocks(luma) @ BASIS[0]


def embed(frame: np.ndarray, bits: np.ndarray, step: float) -> np.ndarray:
    """QIM of one bit per block in the (0, 1) coefficient; the change is added to B, G, R."""
    c = _coef(frame)
    target = step * np.round((c - bits * step / 2) / step) + bits * step / 2
    delta = (target - c)[:, None] * BASIS[0][None, :]  # per block, 64 pixels
    h, w = frame.shape[:2]
    image = delta.reshape(h // B, w // B, B, B).transpose(0, 2, 1, 3).reshape(h, w)
    out = frame.astype(np.float32) + image[..., None]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def extract(frame: np.ndarray, step: float) -> np.ndarray:
    return (np.round(2 * _coef(frame) / step).astype(np.int64) % 2).astype(np.uint8)


def _entropy(p: float) -> float:
    return 0.0 if p <= 0 or p >= 1 else -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/bench_dense_channel.json"))
    args = parser.parse_args()
    started = time.time()
    cap = cv2.VideoCapture(str(default_source()))
    frames = []
    while len(frames) < args.frames:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    h, w = frames[0].shape[:2]
    n_blocks = (h // B) * (w // B)
    rng = np.random.default_rng(0)
    rows = []
    for step in (16.0, 32.0, 48.0, 96.0):
        bits = [rng.integers(0, 2, n_blocks).astype(np.uint8) for _ in frames]
        marked = [embed(f, b, step) for f, b in zip(frames, bits, strict=True)]
        mse = np.mean(
            [np.mean((m.astype(float) - f) ** 2) for m, f in zip(marked, frames, strict=True)]
        )
        row = {"step": step, "embed_psnr_db": round(10 * math.log10(255**2 / mse), 2)}
        for crf in (23, 28):
            decoded = h264(crf, bframes=True)(marked)
            ber = float(
                np.mean(
                    [np.mean(extract(d, step) != b) for d, b in zip(decoded, bits, strict=True)]
                )
            )
            row[f"crf{crf}"] = {
                "bit_error_rate": round(ber, 4),
                "capacity_bytes_per_frame": int(n_blocks * (1 - _entropy(ber)) / 8),
            }
        rows.append(row)
        print(json.dumps(row))
    result = {
        "format": "bench-dense-channel/1",
        "frames": len(frames),
        "frame": f"{w}x{h}",
        "blocks_per_frame": n_blocks,
        "rows": rows,
        "seconds": round(time.time() - started, 1),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
