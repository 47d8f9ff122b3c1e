#!/usr/bin/env bash
# Renders the monthly HTML report of the fixture dataset (fixtures/metrics/) and photographs it
# with headless Chromium into docs/report.png, the picture in the README.
# Usage: scripts/report-screenshot.sh [OUT.png]   (installs chromium when run as root)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/report.png}
. scripts/lib.sh
need chromium:chromium
cargo build --release --locked --quiet --bin arkwatch
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp fixtures/metrics/arkwatch.toml fixtures/metrics/access.log "$work/"
mkdir "$work/data"
cp fixtures/metrics/events.jsonl "$work/data/"
target/release/arkwatch --config "$work/arkwatch.toml" report monthly --date 2026-12-01 \
  --format html --out "$work/report.html"
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=900,1700 \
  --screenshot="$work/report.png" "file://$work/report.html" 2>/dev/null
mkdir -p "$(dirname "$out")"
cp "$work/report.png" "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
