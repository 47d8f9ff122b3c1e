#!/usr/bin/env bash
# metrics and report benchmark: 90 days of rollups from 1,000,000 events in a real Redis (started
# here on a free loopback port) and a 500,000-line access log over the same 90 days, all folded
# and ingested first; then hyperfine times `metrics all --json` and `report monthly` (each run
# also checks the logs and the stream for anything new, as it does in production).
# Targets: each <= 1 s.
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
