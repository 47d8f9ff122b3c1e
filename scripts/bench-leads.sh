#!/usr/bin/env bash
# leads benchmark, on the bench-metrics set: 1,000,000 events in a real Redis (started here on a
# free loopback port) and a 500,000-line access log over 90 days, plus one `identify` event
# (address and browser) for each of 5,000 visitors of /pricing or /trial, an hour after their
# visit, so that the links store holds about 5,000 links; all folded and ingested by a first
# scan. Then hyperfine times `leads --days 30 --json` and `metrics leads --days 30 --json`
# (target: <= 300 ms each; each run also checks the logs and the stream for anything new, as
# in production).
# Usage: scripts/bench-leads.sh   (installs redis-server and hyperfine when run as root)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-target/bench-leads}
events=${EVENTS:-1000000}

. scripts/lib.sh
need redis-server:redis-server redis-cli:redis-tools hyperfine:hyperfine

cargo build --release --locked --quiet --bin arkwatch --example genevents --example genlog
bin=$PWD/target/release/arkwatch
examples=$PWD/target/release/examples
mkdir -p "$work"; work=$(cd "$work" && pwd); cd "$work"
rm -rf redis data
start_redis "$work/redis"

first=$(date -u -d "89 days ago" +%F)
cat > l.toml <<TOML
data_dir = "$work/data"
timezone = "UTC"
site_hosts = ["acme.example"]
[[access_log]]
path = "$work/access.log"
[events]
store = "redis://127.0.0.1:$port/0"
TOML
echo "== $events events over 90 days into Redis; 500,000 log lines from $first; 5,000 identify events"
"$examples/genevents" --events "$events" --days 90 | redis-cli -p "$port" --pipe >/dev/null
[ -s access.log ] || "$examples/genlog" --lines 500000 --seed 3 --start "$first" --days 90 --tz-offset +0000 > access.log
identify_events access.log 5000 > identify.resp
redis-cli -p "$port" --pipe < identify.resp >/dev/null
/usr/bin/env time -f "   first fold and ingest: %e s, peak RSS %M KiB" "$bin" --config l.toml scan --json > first.json || true
python3 -c 'import json; f=json.load(open("first.json"))["fold"]; print("   links made by the first scan:", f["links"])'
echo "== leads --days 30, metrics leads --days 30 (target <= 300 ms each)"
hyperfine --style basic --warmup 1 --runs "${RUNS:-10}" --export-json leads.json \
  -n "leads --days 30 --json" "$bin --config l.toml leads --days 30 --json" \
  -n "metrics leads --days 30 --json" "$bin --config l.toml metrics leads --days 30 --json" 2>&1 | grep -E "Time|Range|^  [a-z]" || true
"$bin" --config l.toml metrics leads --days 30 --json | python3 -c 'import json,sys; l=json.load(sys.stdin)["leads"]; print("check: leads", l["leads"], "linked", l["linked"])'
python3 - <<'PY'
import json
for r in json.load(open("leads.json"))["results"]:
    ms = r["mean"] * 1000
    print(f"{r['command']:<32} {ms:7.1f} ms ± {r['stddev']*1000:.1f}  (target <= 300 ms: {'ok' if ms <= 300 else 'OVER TARGET'})")
PY
