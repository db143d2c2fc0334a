"""Reversal end to end, as the users do it: camera → public H.264 → two-person unlock → reveal.

Everything runs through the ``forensics`` command line on the sample clip, with the shipped
models (``models/``: the demo seals that U_d, ``deidentify`` uses that U_e by default):

1. ``forensics demo`` builds a workspace (users, sealed decoder, case DEMO-1);
2. ``forensics deidentify`` makes a public stream of the first ``--frames`` frames at each
   ``--crf`` (libx264), which is added to the case as evidence;
3. alice requests those frames, bob approves, alice reveals them (``reveal.json`` + PNGs);
4. each revealed face (its unmarked copy, ``face_reconstructed_unmarked``) and each public face (``face_public``) is
   compared, *at its head box's own size*, with the same box of the original frame.

``r vs x`` is the reversal; ``a vs x`` is how much of the original the public stream still
shows at that box (lower is better for privacy); ``x through the codec`` is the ceiling
(the original frames coded at the same CRF, same box). ``--chroma 444`` publishes (and codes
the ceiling) with full-resolution colour. Writes JSON.

    python benchmarks/bench_reveal_quality.py --out benchmarks/results/bench_reveal_quality.json
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

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_stego import psnr  # noqa: E402  (one PSNR for every benchmark)

from forensics_app import SAMPLE_VIDEO, __version__  # noqa: E402
from forensics_app.core.evidence import sha256_file  # noqa: E402
from forensics_app.core.video import VideoReader  # noqa: E402
from forensics_app.core.video_writer import VideoWriter  # noqa: E402
from forensics_app.uunet.inference import DEFAULT_MODELS  # noqa: E402

PASS = {name: f"demo-{name}" for name in ("alice", "bob")}


def _cli(*args: str, user: str | None = None, env: dict[str, str]) -> str:
    """Run ``forensics ARGS`` (as ``user``), returning stdout; a failure stops the benchmark."""
    cli = Path(sys.executable).with_name("forensics")
    child = dict(env, FORENSICS_PASSPHRASE=PASS[user]) if user else env
    cmd = [str(cli), *args, *(["--as", user] if user else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:])} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def _frames(path: Path, count: int) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [reader.read(i).image for i in range(count)]


def _coded(frames: list[np.ndarray], crf: int, folder: Path, chroma: str) -> list[np.ndarray]:
    """The original frames through libx264 at ``crf`` (the codec's own ceiling)."""
    path = folder / f"original_crf{crf}.mkv"
    height, width = frames[0].shape[:2]
    with VideoWriter(path, width, height, fps=10.0, codec="h264", crf=crf, chroma=chroma) as writer:
        for k, frame in enumerate(frames):
            writer.write(frame, k / 10.0)
    return _frames(path, len(frames))


def _summary(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": round(float(v.mean()), 2), "median": round(float(np.median(v)), 2)}


def measure(
    original: list[np.ndarray], crf: int, work: Path, env: dict[str, str], chroma: str = "420"
) -> dict:
    """One CRF: public stream → evidence → request/approve/reveal → box-size PSNRs of the
    revealed faces against the ``original`` frames."""
    frames = len(original)
    ws = work / "ws"
    public = work / f"public_crf{crf}.mkv"
    summary = json.loads(
        _cli(
            "deidentify", str(SAMPLE_VIDEO), "--out", str(public), "--codec", "h264",
            "--crf", str(crf), "--chroma", chroma, "--max-frames", str(frames),
            "--stream-id", "4242", "--json", "--quiet",
            env=env,
        )
    )  # fmt: skip
    env = dict(env, FORENSICS_WORKSPACE=str(ws))
    sha = _cli("evidence", "add", "DEMO-1", str(public), user="alice", env=env)
    sha = sha.split()[0]
    req = _cli(
        "request", "DEMO-1", "--evidence", sha, "--frames", f"0-{frames - 1}",
        "--reason", "reversal benchmark", "--authority", "bench",
        user="alice", env=env,
    ).split()[0]  # fmt: skip
    grant = _cli("approve", req, "--expires", "1h", user="bob", env=env)
    grant = grant.split()[0]
    out = work / f"reveal_crf{crf}"
    started = time.time()
    _cli("reveal", grant, "--out", str(out), user="alice", env=env)
    reveal_s = time.time() - started
    record = json.loads((out / "reveal.json").read_text())
    ceiling_frames = _coded(original, crf, work, chroma)
    rows: dict[str, list[float]] = {"r_vs_x": [], "a_vs_x": [], "x_coded_vs_x": []}
    sides = []
    for item in record["files"]:
        if item["kind"] not in ("face_reconstructed_unmarked", "face_public"):
            continue
        x, y, w, h = item["box"]
        truth = original[item["frame"]][y : y + h, x : x + w]
        face = cv2.imread(str(out / item["file"]), cv2.IMREAD_COLOR)
        if face is None or face.shape != truth.shape:
            raise SystemExit(f"{item['file']}: not a {w}x{h} face image")
        if item["kind"] == "face_reconstructed_unmarked":  # the marked file is enlarged
            rows["r_vs_x"].append(psnr(truth, face))
            coded = ceiling_frames[item["frame"]][y : y + h, x : x + w]
            rows["x_coded_vs_x"].append(psnr(truth, coded))
            sides.append((w + h) / 2)
        else:
            rows["a_vs_x"].append(psnr(truth, face))
    if not sides:
        raise SystemExit(f"CRF {crf}: the reveal returned no faces")
    return {
        "crf": crf,
        "faces": len(sides),
        "box_side_px": _summary(sides),
        "psnr_db": {k: _summary(v) for k, v in rows.items()},
        "reveal_seconds": round(reveal_s, 1),
        "public_bytes": public.stat().st_size,
        "producer": {k: summary.get(k) for k in ("frames", "faces", "tracks", "obscured", "fps")},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--crf", type=int, action="append", help="default: 23 and 28")
    ap.add_argument(
        "--chroma", choices=("420", "444"), default="420", help="deidentify --chroma (420)"
    )
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    crfs = args.crf or [23, 28]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    with tempfile.TemporaryDirectory(prefix="bench-reveal-") as tmp:
        work = Path(tmp)
        _cli("demo", "--workspace", str(work / "ws"), env=env)
        original = _frames(SAMPLE_VIDEO, args.frames)  # decoded once for every CRF
        results = [measure(original, crf, work, env, args.chroma) for crf in crfs]
    report = {
        "benchmark": "reveal_quality",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores",
        "version": __version__,
        "ue_sha256": sha256_file(DEFAULT_MODELS / "ue.safetensors"),
        "ud_sha256": sha256_file(DEFAULT_MODELS / "ud.safetensors"),
        "clip": f"{SAMPLE_VIDEO.name}, first {args.frames} frames",
        "chroma": args.chroma,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
