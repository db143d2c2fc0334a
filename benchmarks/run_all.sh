#!/usr/bin/env bash
# Run every benchmark once, one after the other (so none competes with another for the
# two cores), writing JSON into benchmarks/results/. Usage: bash benchmarks/run_all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results
mkdir -p "$out"
run() {
  echo "== $*" >&2
  if [ -x /usr/bin/time ]; then /usr/bin/time -f "   %e s wall, %M KiB peak RSS" "$@"; else time "$@"; fi
}
run python benchmarks/bench_video.py --out "$out/bench_video.json"
run python benchmarks/bench_detect.py --upscales 1.0 2.0 --out "$out/bench_detect.json" --plot "$out/bench_detect_pr.png"
run python benchmarks/bench_stego.py --out "$out/bench_stego.json"
run python benchmarks/bench_producer.py --out "$out/bench_producer.json"
run python benchmarks/bench_custody.py --reveal --torch-threads 1 --out "$out/bench_custody.json"
run python benchmarks/bench_report.py --out "$out/bench_report.json"
run python benchmarks/bench_gui.py --out "$out/bench_gui.json"
