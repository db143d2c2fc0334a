"""``forensics bench``: run every speed benchmark of benchmarks/ once, in sequence, in one go.

Each benchmark is a script that writes its own JSON; running them one after the other in
one invocation keeps the ratios fair (nothing else competes for the cores) and records
each stage's wall time and peak memory (``wait4`` gives the child's own ``ru_maxrss``).
The scripts live in the source checkout, beside the package; an installed copy without
them says so.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from forensics_app import PROJECT_DIR, __version__
from forensics_app.errors import InputError

BENCH_DIR = PROJECT_DIR / "benchmarks"

#: name → (script, extra arguments); order is the order they run in.
STAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "video": ("bench_video.py", ()),
    "detect": ("bench_detect.py", ("--upscales", "1.0", "2.0")),
    "stego": ("bench_stego.py", ()),
    "producer": ("bench_producer.py", ()),
    "roi_reencode": ("bench_roi_reencode.py", ("--picture", "{out}/public_vs_original.png")),
    "custody": ("bench_custody.py", ("--reveal", "--torch-threads", "1")),
    "report": ("bench_report.py", ()),
    "gui": ("bench_gui.py", ()),
    "train": ("bench_train.py", ("--threads", "1")),
}


def run_stage(name: str, out: Path) -> dict[str, object]:
    """Run one benchmark script as a child process; returns its timing and exit status."""
    script, extra = STAGES[name]
    path = BENCH_DIR / script
    if not path.is_file():
        raise InputError(f"benchmark script {path} not found (run from a source checkout)")
    result = out / f"bench_{name}.json"
    args = [sys.executable, str(path), *(a.format(out=out) for a in extra), "--out", str(result)]
    started = time.perf_counter()
    child = subprocess.Popen(args, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return {
        "script": f"benchmarks/{script}",
        "command": " ".join(["python", f"benchmarks/{script}", *args[2:]]),
        "exit_code": child.returncode,
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "result": str(result) if result.is_file() else None,
    }


def run_benchmarks(
    out: str | Path,
    only: Sequence[str] | None = None,
    log: Callable[[str], None] = lambda text: None,
) -> dict[str, object]:
    """Run the chosen stages (all by default) and write ``bench.json`` and ``bench.md``."""
    names = list(only) if only else list(STAGES)
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        raise InputError(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(STAGES)}")
    if not BENCH_DIR.is_dir():
        raise InputError(f"no benchmarks/ folder at {BENCH_DIR} (forensics bench needs a checkout)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, object] = {
        "format": "forensics-bench/1",
        "version": __version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "stages": {},
    }
    stages: dict[str, object] = summary["stages"]  # type: ignore[assignment]
    for name in names:
        log(f"{name}: running {STAGES[name][0]}")
        stages[name] = row = run_stage(name, out)
        log(f"{name}: exit {row['exit_code']}, {row['seconds']} s, peak {row['peak_rss_mib']} MiB")
    (out / "bench.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    lines = ["| stage | exit | wall s | peak RSS MiB | result |", "|---|---|---|---|---|"]
    for name, r in stages.items():
        lines.append(
            f"| {name} | {r['exit_code']} | {r['seconds']} | {r['peak_rss_mib']} | {r['result'] or '—'} |"
        )
    (out / "bench.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return summary
