"""Training throughput of phase 1 (D_a, pairs/s) and phase 2 (U_e/U_d, images/s) → JSON.

    OMP_NUM_THREADS=1 python benchmarks/bench_train.py [--data DIR] [--identity DIR] \
        [--threads 1] [--p1-steps 20] [--p2-steps 20] [--keep DIR] \
        [--out benchmarks/out/bench_train.json]

A throughput benchmark, not a quality run: the models it trains are thrown away (a temp
folder unless ``--keep``). On this machine's CPU (or whatever ``device: auto`` picks), in
one run:

1. a small real training set: ``bootstrap_data`` on the repo's sample clip
   (``resources/samples/vtest_cut.avi``, the first ``--frames`` frames, every 2nd detected)
   plus the LFW faces; or an existing face tree with ``--data``;
2. phase 1, ``train_attributes`` with ``AttributesConfig`` defaults except the step count:
   pairs/s (a step is ``batch_size`` pairs);
3. phase 2, ``train_uunet`` with ``UUNetConfig`` defaults (the shipped architecture) except
   the step count, three times: the default channel, ``use_channel=False``, and
   ``channel={"p_h264": 1.0}`` (real H.264 straight through, drawn whenever JPEG is not,
   i.e. on about 40 % of the steps with the default ``p_jpeg`` 0.6; its calls are counted);
4. with ``--identity DIR`` (a trained E_id), phase 2 with ``identity=DIR`` and
   ``id_refresh_every=10`` (real dlib descriptors every 10th step). E_id is never trained
   here: it needs dlib descriptors of every face (minutes).

Each training call runs ``warm-up + steps`` steps. ``runtime.iterate_steps`` is wrapped to
timestamp each step, so the steady figure covers the steps after the warm-up (data loading
included); the function's own figure (all steps, first one included) is reported too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SAMPLE = REPO / "resources" / "samples" / "vtest_cut.avi"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@contextlib.contextmanager
def step_clock() -> Iterator[list[float]]:
    """Timestamp every step that ``runtime.iterate_steps`` hands out (both phases use it)."""
    from forensics_app.uunet import runtime

    original, stamps = runtime.iterate_steps, []

    def timed(*args, **kwargs):
        for item in original(*args, **kwargs):
            stamps.append(time.perf_counter())
            yield item

    runtime.iterate_steps = timed
    try:
        yield stamps
    finally:
        runtime.iterate_steps = original


@contextlib.contextmanager
def call_counter(owner: object, attr: str) -> Iterator[dict[str, float]]:
    """Count the calls of ``owner.attr`` and the seconds they take (restored afterwards)."""
    original, tally = getattr(owner, attr), {"calls": 0, "seconds": 0.0}

    def counted(*args, **kwargs):
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            tally["calls"] += 1
            tally["seconds"] += time.perf_counter() - t

    setattr(owner, attr, counted)
    try:
        yield tally
    finally:
        setattr(owner, attr, original)


def steady(stamps: list[float], warmup: int, steps: int) -> float:
    """Seconds of steps ``warmup .. warmup+steps-1`` (stamp k = start of step k)."""
    return stamps[warmup + steps] - stamps[warmup]


def phase1(data: Path, out: Path, steps: int, warmup: int) -> dict:
    from forensics_app.uunet.train_attributes import AttributesConfig, train_attributes

    config = AttributesConfig(steps=warmup + steps)
    with step_clock() as stamps:
        t = time.perf_counter()
        train_attributes(data, out, config, quiet=True)
        call_s = time.perf_counter() - t
    if len(stamps) < warmup + steps + 1:
        raise SystemExit(f"phase 1 stopped after {len(stamps)} of {warmup + steps} steps")
    seconds = steady(stamps, warmup, steps)
    return {
        "batch_size": config.batch_size,
        "warmup_steps": warmup,
        "steps": steps,
        "seconds": round(seconds, 2),
        "pairs_per_second": round(steps * config.batch_size / seconds, 2),
        "seconds_per_step": round(seconds / steps, 3),
        "call_seconds": round(call_s, 1),
        "peak_rss_mib_so_far": _peak_rss_mib(),
    }


def phase2(data: Path, out: Path, attributes: Path, steps: int, warmup: int, **overrides) -> dict:
    from forensics_app.uunet import channel
    from forensics_app.uunet.train_uunet import Phase2, UUNetConfig, train_uunet

    config = UUNetConfig(steps=warmup + steps, **overrides)
    load0 = _load()
    with (
        step_clock() as stamps,
        call_counter(channel, "h264_straight_through") as h264,  # the channel's real H.264
        call_counter(Phase2, "refresh_identity") as refresh,  # dlib + E_id refit
    ):
        t = time.perf_counter()
        figures = train_uunet(data, out, config, attributes=attributes, quiet=True)
        call_s = time.perf_counter() - t
    if len(stamps) < warmup + steps + 1:
        raise SystemExit(f"phase 2 stopped after {len(stamps)} of {warmup + steps} steps")
    seconds = steady(stamps, warmup, steps)
    images = 3 * config.batch_size * figures["world_size"]  # x1, x2, x3 per sample
    row = {
        "overrides": overrides,
        "batch_size": config.batch_size,
        "images_per_step": images,
        "warmup_steps": warmup,
        "steps": steps,
        "seconds": round(seconds, 2),
        "images_per_second": round(steps * images / seconds, 2),
        "seconds_per_step": round(seconds / steps, 3),
        "train_uunet_figures": figures,
        "call_seconds": round(call_s, 1),
        "load_average_1_5_15": {"start": load0, "end": _load()},
        "peak_rss_mib_so_far": _peak_rss_mib(),
    }
    for key, tally in (("h264", h264), ("id_refresh", refresh)):
        if tally["calls"]:  # over all warm-up + timed steps
            row[f"{key}_calls"] = tally["calls"]
            row[f"{key}_seconds"] = round(tally["seconds"], 2)
    return row


def identity_card(folder: Path) -> dict:
    """Which E_id the identity run used (its weights do not change the cost of a step)."""
    from forensics_app.uunet.export import read_card

    card = read_card(folder / "identity.json")
    training = card.get("training", {})
    return {
        "sha256": card["sha256"],
        "steps_done": training.get("steps_done"),
        "data_root": card.get("data", {}).get("root"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="existing face tree (ROOT/subject/sequence/*.png)")
    parser.add_argument("--video", default=str(SAMPLE), help="clip for the bootstrap data")
    parser.add_argument("--frames", type=int, default=60, help="clip frames to bootstrap from")
    parser.add_argument("--identity", help="folder with a trained identity.safetensors (E_id)")
    parser.add_argument("--threads", type=int, default=1, help="torch / OpenMP threads")
    parser.add_argument("--p1-steps", type=int, default=20)
    parser.add_argument("--p1-warmup", type=int, default=2)
    parser.add_argument("--p2-steps", type=int, default=20)
    parser.add_argument("--p2-warmup", type=int, default=2)
    parser.add_argument("--keep", help="write data and models here (kept) instead of a temp dir")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "bench_train.json"))
    args = parser.parse_args()
    if (
        min(args.p1_steps, args.p2_steps, args.threads) < 1
        or min(args.p1_warmup, args.p2_warmup) < 0
    ):
        raise SystemExit("steps and threads must be >= 1, warm-up >= 0")
    if args.data and not Path(args.data).is_dir():
        raise SystemExit(f"--data {args.data}: no such folder")
    identity_ready = find_spec("forensics_app.uunet.identity") is not None
    if args.identity and not identity_ready:
        raise SystemExit("--identity needs forensics_app/uunet/identity.py (E_id)")
    if args.identity and not (Path(args.identity) / "identity.safetensors").is_file():
        raise SystemExit(f"--identity {args.identity}: no identity.safetensors there")

    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before torch starts its pool
    import torch

    torch.set_num_threads(args.threads)
    result: dict = {
        "benchmark": "train_throughput",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_1_5_15": {"start": _load()},
            "note": "wall-clock throughput on a shared machine: other jobs' load (see the "
            "load averages) lowers these figures; a throughput run, not a quality run",
        },
        "versions": {"torch": torch.__version__, "torch_threads": torch.get_num_threads()},
        "command": " ".join(["python", *sys.argv]),
    }
    with contextlib.ExitStack() as stack:
        if args.keep:
            work = Path(args.keep)
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_train_")))
        if args.data:
            data = Path(args.data)
            result["data"] = {"root": str(data), "source": "--data"}
        else:
            from forensics_app.uunet.bootstrap import bootstrap_data

            data = work / "data"
            t = time.perf_counter()
            manifest = bootstrap_data(data, video=Path(args.video), max_frames=args.frames)
            result["data"] = {
                "root": str(data) if args.keep else "(temp, deleted)",
                "source": f"bootstrap_data(video={args.video}, every_k=2, max_frames={args.frames})",
                "seconds": round(time.perf_counter() - t, 1),
                **{k: manifest[k] for k in ("video_subjects", "video_frames", "lfw_subjects")},
                "lfw_frames": manifest["lfw_frames"],
            }
        print(f"data ready: {result['data']}", flush=True)
        da = work / "da"
        result["phase1"] = phase1(data, da, args.p1_steps, args.p1_warmup)
        print(f"phase 1: {result['phase1']['pairs_per_second']} pairs/s", flush=True)
        runs = {
            "channel": {},
            "no_channel": {"use_channel": False},
            "channel_h264": {"channel": {"p_h264": 1.0}},
        }
        if args.identity:
            runs["identity"] = {"identity": str(Path(args.identity)), "id_refresh_every": 10}
        result["phase2"] = {}
        for name, overrides in runs.items():
            row = phase2(data, work / f"p2_{name}", da, args.p2_steps, args.p2_warmup, **overrides)
            if name == "identity":
                row["identity_card"] = identity_card(Path(args.identity))
            result["phase2"][name] = row
            print(f"phase 2 {name}: {row['images_per_second']} images/s", flush=True)
        if not args.identity:
            result["phase2"]["identity"] = {
                "skipped": "no --identity DIR given (a trained E_id folder)"
                if identity_ready
                else "forensics_app/uunet/identity.py not present"
            }
    result["machine"]["load_average_1_5_15"]["end"] = _load()
    result["peak_rss_mib"] = _peak_rss_mib()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    p1 = result["phase1"]
    print(f"\n{'stage':<22}{'steps':>6}{'seconds':>9}{'throughput':>22}")
    print(
        f"{'phase 1 (D_a)':<22}{p1['steps']:>6}{p1['seconds']:>9}{p1['pairs_per_second']:>14} pairs/s"
    )
    for name, row in result["phase2"].items():
        if "skipped" in row:
            print(f"{'phase 2 ' + name:<22}  skipped: {row['skipped']}")
        else:
            figure = f"{row['images_per_second']:>13} images/s"
            print(f"{'phase 2 ' + name:<22}{row['steps']:>6}{row['seconds']:>9}{figure:>22}")
    load = result["machine"]["load_average_1_5_15"]
    print(
        f"threads {args.threads}, torch {torch.__version__}, load {load['start']} → {load['end']}"
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
