#!/usr/bin/env bash
# metrics and report benchmark: 90 days of rollups from 1,000,000 events in a real Redis (started
# here on a free loopback port) and a 500,000-line access log over the same 90 days, all folded
# and ingested first; then hyperfine times `metrics all --json` and `report monthly` (each run
# also checks the logs and the stream for anything new, as it does in production).
# Targets: each <= 1 s; then the dashboard of 90 days (<= 500 ms, index.html <= 400 KB, and a
# scan with [dashboard] out at most that much slower than one without).
# Usage: scripts/bench-metrics.sh   (installs redis-server and hyperfine when run as root)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-target/bench-metrics}
events=${EVENTS:-1000000}

. scripts/lib.sh
need redis-server:redis-server redis-cli:redis-tools hyperfine:hyperfine

cargo build --release --locked --quiet --bin arkwatch --example genevents --example genlog
bin=$PWD/target/release/arkwatch
mkdir -p "$work"; work=$(cd "$work" && pwd); cd "$work"
rm -rf redis data
start_redis "$work/redis"

first=$(date -u -d "89 days ago" +%F)
cat > m.toml <<TOML
data_dir = "$work/data"
timezone = "UTC"
site_hosts = ["acme.example"]
[[access_log]]
path = "$work/access.log"
[events]
store = "redis://127.0.0.1:$port/0"
[metrics]
infra_cost_per_month = "400"
TOML
echo "== $events events over 90 days into Redis; 500,000 log lines from $first"
"$PWD/../../target/release/examples/genevents" --events "$events" --days 90 | redis-cli -p "$port" --pipe >/dev/null
[ -s access.log ] || "$PWD/../../target/release/examples/genlog" --lines 500000 --seed 3 --start "$first" --days 90 --tz-offset +0000 > access.log
/usr/bin/env time -f "   first fold and ingest: %e s, peak RSS %M KiB" "$bin" --config m.toml scan --json > /dev/null || true
echo "== metrics all --json, report monthly (target <= 1 s each)"
hyperfine --style basic --warmup 1 --runs "${RUNS:-10}" --export-json metrics.json \
  -n "metrics all --json" "$bin --config m.toml metrics all --json" \
  -n "report monthly" "$bin --config m.toml report monthly" 2>&1 | grep -E "Time|Range|^  [a-z]" || true
python3 - <<'PY'
import json
for r in json.load(open("metrics.json"))["results"]:
    ms = r["mean"] * 1000
    print(f"{r['command']:<20} {ms:7.1f} ms ± {r['stddev']*1000:.1f}  (target <= 1000 ms: {'ok' if ms <= 1000 else 'OVER TARGET'})")
PY
"$bin" --config m.toml metrics users --json | python3 -c 'import json,sys; u=json.load(sys.stdin)["users"]; print("check: users", u["total"], "MAU", u["mau"])'

echo "== dashboard: 90 days (target <= 500 ms, index.html <= 400 KB, a scan with it <= 500 ms more)"
# The same data dir, one config without [dashboard] and one with it; both scans are quiet
# ticks here (nothing new), so the difference is the dashboard's build.
{ cat m.toml; printf '[dashboard]\nout = "%s/dash"\n' "$PWD"; } > m-dash.toml
hyperfine --style basic --warmup 1 --runs "${RUNS:-10}" --export-json dashboard.json \
  -n "dashboard --days 90" "$bin --config m.toml dashboard --days 90 --out $PWD/dash-cli" \
  -n "scan without [dashboard]" "$bin --config m.toml scan" \
  -n "scan with [dashboard] out" "$bin --config m-dash.toml scan" 2>&1 | grep -E "Time|Range|^  [a-z]" || true
# A first build into an empty folder also builds the three reports (kept an hour after).
hyperfine --style basic --warmup 1 --runs "${RUNS:-10}" --export-json dashboard-cold.json \
  --prepare "rm -rf $PWD/dash-cold" \
  -n "dashboard --days 90, first build" "$bin --config m.toml dashboard --days 90 --out $PWD/dash-cold" 2>&1 | grep -E "Time|Range" || true
python3 - "$PWD/dash-cli/index.html" <<'PY'
import json, os, sys
r = {x["command"]: x for x in json.load(open("dashboard.json"))["results"]}
c = json.load(open("dashboard-cold.json"))["results"][0]
print(f"dashboard, first build {c['mean'] * 1000:7.1f} ms ± {c['stddev'] * 1000:.1f}  (the three reports built too)")
d = r["dashboard --days 90"]["mean"] * 1000
a, b = r["scan without [dashboard]"]["mean"] * 1000, r["scan with [dashboard] out"]["mean"] * 1000
kb = os.path.getsize(sys.argv[1]) / 1024
print(f"dashboard --days 90   {d:7.1f} ms ± {r['dashboard --days 90']['stddev']*1000:.1f}  (target <= 500 ms: {'ok' if d <= 500 else 'OVER TARGET'})")
print(f"index.html            {kb:7.1f} KB  (target <= 400 KB: {'ok' if kb <= 400 else 'OVER TARGET'})")
print(f"scan with it          {b:7.1f} ms, without {a:.1f} ms: +{b - a:.1f} ms (target <= 500 ms more: {'ok' if b - a <= 500 else 'OVER TARGET'})")
PY
