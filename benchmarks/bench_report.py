"""Report and court-export benchmark (issue #7 targets) → JSON.

    python benchmarks/bench_report.py [--frames 100] [--exhibits 20] \
        [--out benchmarks/results/bench_report.json]

Builds a real custody case (the same builder the tests use: workspace, users, a public FFV1
video of sample frames carrying embedded ROI messages, a sealed U_d, request, grant, and a
``RevealSession.write`` of every frame), then measures on this machine:

- a report with ``--exhibits`` exhibits: gathering (log verification, reveal re-hashing) +
  rendering + writing + logging;  target <= 10 s for 20 exhibits
- a court export of all ``--frames`` revealed frames (it includes its own 20-exhibit report,
  side-by-side images, the audit excerpt with inclusion proofs, signing, zip);  target <= 20 s
  for 100 frames
- ``verify_export`` of that bundle (no target; reported).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from test_report_fixtures import PASS, build_case  # noqa: E402

from forensics_app.core.custody import login  # noqa: E402
from forensics_app.core.report.build import build_report_data, write_report  # noqa: E402
from forensics_app.core.report.export import export_case  # noqa: E402
from forensics_app.core.report.verify_export import verify_export  # noqa: E402


def _best(runs: list[float]) -> float:
    return round(min(runs), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--exhibits", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bench_report.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        case = build_case(root / "case", frames=args.frames)
        setup_s = time.perf_counter() - t0
        report_s, export_s, verify_s, report_cpu, export_cpu = [], [], [], [], []
        with case.open() as ws:
            alice = login(ws, "alice", PASS["alice"])
            for i in range(args.repeat):
                t, c = time.perf_counter(), time.process_time()
                data = build_report_data(ws, case.case_id, alice, max_exhibits=args.exhibits)
                write_report(ws, alice, data, root / f"report{i}.pdf")
                report_s.append(time.perf_counter() - t)
                report_cpu.append(time.process_time() - c)
                t, c = time.perf_counter(), time.process_time()
                result = export_case(
                    ws, alice, case.case_id, root / f"bundle{i}.zip", "benchmark",
                    max_exhibits=args.exhibits,
                )  # fmt: skip
                export_s.append(time.perf_counter() - t)
                export_cpu.append(time.process_time() - c)
                t = time.perf_counter()
                summary = verify_export(result.path)
                verify_s.append(time.perf_counter() - t)
        from pypdf import PdfReader

        pages = len(PdfReader(root / "report0.pdf").pages)
        out = {
            "benchmark": "report_export",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {
                "platform": platform.platform(),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
                "note": "wall seconds on a shared machine; cpu_seconds (all threads) are less "
                "sensitive to other load",
            },
            "command": " ".join(["python", *sys.argv]),
            "setup_s": round(setup_s, 2),
            "report": {
                "exhibits": len(data.exhibits),
                "pages": pages,
                "bytes": (root / "report0.pdf").stat().st_size,
                "seconds_runs": [round(x, 3) for x in report_s],
                "seconds_best": _best(report_s),
                "cpu_seconds_runs": [round(x, 3) for x in report_cpu],
                "target_s": 10.0,
                "meets_target": _best(report_s) <= 10.0,
            },
            "export": {
                "frames": result.frames,
                "files": result.files,
                "bytes": result.path.stat().st_size,
                "seconds_runs": [round(x, 3) for x in export_s],
                "seconds_best": _best(export_s),
                "cpu_seconds_runs": [round(x, 3) for x in export_cpu],
                "target_s": 20.0,
                "meets_target": _best(export_s) <= 20.0,
            },
            "verify_export": {
                "files": summary.files,
                "audit_rows": summary.audit_rows,
                "seconds_runs": [round(x, 3) for x in verify_s],
                "seconds_best": _best(verify_s),
            },
        }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
