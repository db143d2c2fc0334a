#!/usr/bin/env bash
# Build the one-folder desktop application, then prove it starts: render its window
# offscreen (the demo, logged in as alice) and report size and start-up time as JSON.
#   bash packaging/build.sh            (needs the project's venv; installs PyInstaller)
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q 'pyinstaller>=6.0'
python -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/forensics-app.spec
app=dist/forensics-app/forensics-app
size=$(du -sm dist/forensics-app | cut -f1)
start=$(python -c 'import time; print(time.time())')
FORENSICS_PASSPHRASE=demo-alice QT_QPA_PLATFORM=offscreen "$app" --demo --user alice --case DEMO-1 \
  --screenshot dist/forensics-app-screenshot.png
end=$(python -c 'import time; print(time.time())')
mkdir -p benchmarks/results
printf '{"bundle": "%s", "size_mib": %s, "start_to_screenshot_s": %.2f, "date": "%s"}\n' \
  "$app" "$size" "$(python -c "print($end - $start)")" "$(date -u +%FT%TZ)" | tee benchmarks/results/packaging.json
