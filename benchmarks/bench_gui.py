"""Desktop app benchmark (issue #6 targets), offscreen, through the real widgets.

Writes one JSON file (default ``benchmarks/results/bench_gui.json``)::

    python benchmarks/bench_gui.py [--video resources/samples/vtest_cut.avi] [--reencode-gop N] [--out FILE]

Measured:
* seek: ms from asking the video panel for a random frame to that frame being on screen
  (decode on the frame thread + QImage + pixmap), over N random indices; target ≤ 100 ms.
  Cold (no prefetch, an 8-frame cache) without the seek copy and, for a long-GOP video,
  with it once built (its build time after opening is recorded), then warm (prefetched);
* reveal: ms for the core ``RevealSession.reveal_frame`` of the current frame on the reveal
  thread (ROI message, crops, U_d, paste) in a small workspace built like the GUI tests',
  frames asked for out of order as a seek does; target ≤ 200 ms;
* reveal_range (``--range-video``): the GUI's reveal of a frame range played through, and
  saved as exhibits, each against plain decoding of the same file in the same run;
* UI latency during a full background ROI scan of the clip: a 10 ms timer in the UI thread
  records how late each tick fires; the worst lateness is how long the UI thread was
  blocked; target ≤ 100 ms.
"""

from __future__ import annotations

import argparse
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

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("FORENSICS_KDF_PROFILE", "fast")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def wait(app: QApplication, condition, timeout_s: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        app.processEvents()
        time.sleep(0.0005)


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(values),
        "mean_ms": round(statistics.mean(values), 2),
        "median_ms": round(statistics.median(values), 2),
        "p95_ms": round(ordered[max(0, int(0.95 * len(ordered)) - 1)], 2),
        "max_ms": round(ordered[-1], 2),
    }


def reencode(video: Path, gop: int, out: Path) -> Path:
    """``video`` re-encoded by libx264 (CRF 23, preset medium) with a keyframe every ``gop``
    frames: the long-GOP H.264 a video platform hands back."""
    from fractions import Fraction

    import av

    from forensics_app.core.video import VideoReader

    with VideoReader(video) as reader, av.open(str(out), "w") as sink:
        stream = sink.add_stream("libx264", rate=round(reader.info.fps) or 25)
        stream.width, stream.height, stream.pix_fmt = (
            reader.info.width,
            reader.info.height,
            "yuv420p",
        )
        stream.options = {"crf": "23", "preset": "medium", "g": str(gop), "keyint_min": str(gop)}
        for frame in reader.frames():
            picture = av.VideoFrame.from_ndarray(frame.image, format="bgr24").reformat(
                format="yuv420p"
            )
            picture.pts, picture.time_base = frame.index, Fraction(1, round(reader.info.fps) or 25)
            for packet in stream.encode(picture):
                sink.mux(packet)
        for packet in stream.encode(None):
            sink.mux(packet)
    return out


def bench_seek(  # noqa: ANN001
    app: QApplication, window, video: Path, n: int, warm: bool, copy: bool = True
) -> dict:
    """Random seeks; ``copy``: let the seek copy be built first (a long-GOP video) and serve."""
    from forensics_app.core import seek_copy
    from forensics_app.gui import frame_source

    frame_source.CACHE_MB = 512 if warm else 0  # 0: no prefetch, an 8-frame cache
    cache = os.environ.get(seek_copy.CACHE_ENV)
    if not copy:
        os.environ[seek_copy.CACHE_ENV] = "off"
    started = time.perf_counter()
    window.open_video(video)
    if cache is not None:
        os.environ[seek_copy.CACHE_ENV] = cache
    panel = window.video
    panel.source._prefetch = warm
    wait(app, lambda: panel.player.current is not None)
    building = panel.source._builder is not None
    if building:
        wait(app, lambda: panel.source.seek_copy_ready, timeout_s=600)
    ready_s = time.perf_counter() - started
    if warm:  # let the idle prefetch fill the cache, as it does while a user looks
        wait(app, lambda: len(panel.source._cache) >= panel.source._cache_size, timeout_s=120)
    rng = random.Random(1)
    times = []
    for index in [rng.randrange(panel.player.frame_count) for _ in range(n)]:
        start = time.perf_counter()
        panel.seek(index)
        wait(app, lambda i=index: panel.player.current.index == i)
        times.append((time.perf_counter() - start) * 1000.0)
    result = stats(times)
    if building:
        result["seek_copy_ready_after_open_s"] = round(ready_s, 2)
    result["seek_copy"] = "served far reads" if panel.source._copy is not None else "none"
    return result


def bench_scan_latency(app: QApplication, window) -> dict:  # noqa: ANN001
    panel = window.video
    lateness: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def tick() -> None:
        now = clock.elapsed()
        lateness.append(max(0.0, now - last[0] - 10.0))
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    start = time.perf_counter()
    task = panel.start_scan()
    wait(app, lambda: task.is_done and panel.scan_task is None, timeout_s=600)
    seconds = time.perf_counter() - start
    timer.stop()
    return {
        "frames": len(panel.marks),
        "scan_seconds": round(seconds, 2),
        "frames_per_s": round(len(panel.marks) / seconds, 1),
        "ui_ticks": len(lateness),
        "ui_max_blocked_ms": round(max(lateness), 1),
        "ui_p99_blocked_ms": round(sorted(lateness)[int(0.99 * len(lateness)) - 1], 1),
    }


def bench_reveal(app: QApplication, sample: Path, n: int) -> dict:
    """Reveal through the GUI's RevealWorker (its own thread, as in the app)."""
    import gui_support as support

    from forensics_app.core.custody.cases import list_evidence
    from forensics_app.core.custody.unlock import approve, create_request
    from forensics_app.core.custody.users import login
    from forensics_app.core.custody.workspace import Workspace
    from forensics_app.gui.reveal_worker import RevealWorker

    folder = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    root = support.build_workspace(folder, sample)
    with Workspace.open(root) as ws:
        alice = login(ws, "alice", support.PASSPHRASES["alice"])
        bob = login(ws, "bob", support.PASSPHRASES["bob"])
        record = list_evidence(ws, support.CASE)[0]
        request = create_request(ws, alice, support.CASE, record.sha256, (0, 29), "bench", "n/a")
        grant = approve(ws, bob, request.id)
    start = time.perf_counter()
    worker = RevealWorker(root, alice, grant.id)
    opened: list[object] = []
    results: list[tuple[object, float]] = []
    worker.opened.connect(opened.append)
    worker.revealed.connect(lambda frame, ms: results.append((frame, ms)))
    worker.open_failed.connect(lambda text: print("open failed:", text))
    wait(app, lambda: bool(opened), timeout_s=120)
    open_s = time.perf_counter() - start
    worker.request(0)  # warm-up
    wait(app, lambda: len(results) == 1)
    times, faces = [], 0
    for k in range(n):
        before = len(results)
        worker.request((7 * (k + 1)) % 30)  # never the next frame: a seek's single reveal
        wait(app, lambda b=before: len(results) > b)
        frame, ms = results[-1]
        times.append(ms)
        faces += len(frame.faces)
    worker.close()
    return {
        "open_session_s": round(open_s, 3),
        "faces_per_frame": faces / n,
        "decoder": "shipped models/ud.safetensors"
        if support.default_decoder_shipped()
        else "untrained stand-in",
        **stats(times),
    }


def bench_reveal_range(app: QApplication, public_video: Path, frames: int) -> dict:
    """The GUI's reveal of a frame range through its RevealWorker, against plain decoding of
    the same file in the same run: played through (each frame asked for when the last one
    came back, as the reveal panel follows playback) and saved as exhibits ("Save
    frames…", the core ``write`` on the worker's thread)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_custody

    from forensics_app.core.custody.users import login
    from forensics_app.core.video import VideoReader
    from forensics_app.gui.reveal_worker import RevealWorker

    def plain_fps() -> float:
        with VideoReader(public_video) as reader:
            t0 = time.perf_counter()
            count = sum(1 for _ in reader.frames(0, frames))
            return count / (time.perf_counter() - t0)

    tmp = Path(tempfile.mkdtemp(prefix="bench-gui-range-"))
    ws, grant, source = bench_custody.granted_workspace(
        tmp, public_video, REPO / "models/ud.safetensors", frames
    )
    alice = login(ws, "alice", "demo-alice")
    ws.close()
    worker = RevealWorker(tmp / "reveal", alice, grant.id)
    opened: list[object] = []
    results: list[object] = []
    written: list[object] = []
    worker.opened.connect(opened.append)
    worker.revealed.connect(lambda frame, ms: results.append(frame))
    worker.written.connect(written.append)
    worker.write_failed.connect(lambda text: print("write failed:", text))
    wait(app, lambda: bool(opened), timeout_s=120)
    worker.request(0)  # warm-up
    wait(app, lambda: len(results) == 1)
    plain = [plain_fps()]
    faces = 0
    t0 = time.perf_counter()
    for index in range(frames):
        before = len(results)
        worker.request(index)
        wait(app, lambda b=before: len(results) > b)
        faces += len(results[-1].faces)
    played = time.perf_counter() - t0
    plain.append(plain_fps())
    t0 = time.perf_counter()
    worker.write(tmp / "saved")
    wait(app, lambda: bool(written), timeout_s=600)
    saved = time.perf_counter() - t0
    plain.append(plain_fps())
    worker.close()
    plain_mean = statistics.mean(plain)
    return {
        "video": str(public_video),
        "decoder": source,
        "frames": frames,
        "faces": faces,
        "plain_decode_fps": round(plain_mean, 1),
        "plain_decode_fps_runs": [round(p, 1) for p in plain],
        "played": {
            "fps": round(frames / played, 1),
            "ratio_to_plain": round(frames / played / plain_mean, 3),
        },
        "saved_as_exhibits": {
            "fps": round(frames / saved, 2),
            "ratio_to_plain": round(frames / saved / plain_mean, 3),
        },
        "target_ratio": 0.5,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=REPO / "resources/samples/vtest_cut.avi")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/bench_gui.json")
    parser.add_argument("--seeks", type=int, default=60)
    parser.add_argument("--reveals", type=int, default=30)
    parser.add_argument(
        "--range-video",
        type=Path,
        help="also time the GUI's reveal of the first --range-frames frames of this public "
        "stream (with hidden ROI messages: the demo's media/demo_public.mkv)",
    )
    parser.add_argument("--range-frames", type=int, default=100)
    parser.add_argument(
        "--reencode-gop",
        type=int,
        metavar="N",
        help="measure an H.264 re-encode of --video (CRF 23) with a keyframe every N frames",
    )
    args = parser.parse_args()
    from forensics_app.core import seek_copy

    scratch = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    os.environ[seek_copy.CACHE_ENV] = str(scratch / "seek-cache")  # built here, not reused
    source = args.video
    if args.reencode_gop:
        args.video = reencode(source, args.reencode_gop, scratch / f"gop{args.reencode_gop}.mp4")
    app = QApplication.instance() or QApplication([])
    from forensics_app.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    result = {
        "benchmark": "gui",
        "created": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "video": str(source),
        "reencoded": f"libx264 CRF 23 preset medium, a keyframe every {args.reencode_gop} frames"
        if args.reencode_gop
        else None,
        "seek_cold_without_copy": bench_seek(app, window, args.video, args.seeks, False, False),
        "seek_cold": bench_seek(app, window, args.video, args.seeks, warm=False),
        "seek": bench_seek(app, window, args.video, args.seeks, warm=True),
        "scan_ui_latency": bench_scan_latency(app, window),
        "reveal": bench_reveal(app, args.video, args.reveals),
        "reveal_range": bench_reveal_range(app, args.range_video, args.range_frames)
        if args.range_video
        else None,
        "targets": {"seek_ms": 100, "reveal_ms": 200, "ui_blocked_ms": 100},
    }
    window.shutdown()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
