#!/usr/bin/env bash
# scan benchmark: the cron tick as production sees it.
#   - a real Redis (started here on a free loopback port) with 1,000,000 events over 30 days, and
#     a 200,000-line access log over 14 days ending today, both ingested by a first scan;
#   - a quiet tick: `scan` with no new line and no new event (target: <= 50 ms);
#   - a tick with 10,000 new lines of today (new visitors, so new hot leads, journeys and a
#     digest written to the outbox every tick; target: <= 150 ms).
# Usage: scripts/bench-scan.sh   (installs redis-server, hyperfine when run as root)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-target/bench-scan}
events=${EVENTS:-1000000}

. scripts/lib.sh
need redis-server:redis-server redis-cli:redis-tools hyperfine:hyperfine

cargo build --release --locked --quiet --bin arkwatch --example genevents --example genlog
bin=${ARKWATCH_BIN:-$PWD/target/release/arkwatch}  # ARKWATCH_BIN: another build, for A/B runs
genevents=$PWD/target/release/examples/genevents
genlog=$PWD/target/release/examples/genlog
mkdir -p "$work"; work=$(cd "$work" && pwd); cd "$work"
rm -rf redis data access.log
start_redis "$work/redis"

today=$(date -u +%F)
first=$(date -u -d "$today - 13 days" +%F)
cat > scan.toml <<TOML
data_dir = "$work/data"
timezone = "UTC"
site_hosts = ["acme.example"]
[[access_log]]
path = "$work/access.log"
[events]
store = "redis://127.0.0.1:$port/0"
[alerts]
# Every tick with new leads writes its digest (the hourly limit would skip the send).
max_emails_per_hour = 100000
TOML

echo "== $events events over 30 days into Redis; 200,000 log lines from $first to $today"
"$genevents" --events "$events" --days 30 | redis-cli -p "$port" --pipe >/dev/null
"$genlog" --lines 200000 --seed 1 --start "$first" --days 14 --tz-offset +0000 > access.log
echo "== first scan (backfill: ingest and fold everything)"
/usr/bin/env time -f "   %e s, peak RSS %M KiB" "$bin" --config scan.toml scan > first.txt
head -1 first.txt

echo "== quiet tick (target <= 50 ms)"
hyperfine --style basic --warmup 3 --runs "${RUNS:-30}" --export-json quiet.json \
  -n quiet "$bin --config scan.toml scan" 2>&1 | grep -E "Time|Range"
echo "== tick with 10,000 new lines (target <= 150 ms)"
hyperfine --style basic --warmup 1 --runs "${RUNS:-15}" --export-json busy.json \
  --prepare "$genlog --lines 10000 --seed \$(date +%N) --start $today --days 1 --tz-offset +0000 >> $work/access.log" \
  -n busy "$bin --config scan.toml scan" 2>&1 | grep -E "Time|Range"
"$bin" --config scan.toml scan --dry-run --json > last.json || true
python3 - <<'PY'
import json
q = json.load(open("quiet.json"))["results"][0]
b = json.load(open("busy.json"))["results"][0]
def line(name, r, target):
    ms = r["mean"] * 1000
    verdict = "ok" if ms <= target else "OVER TARGET"
    print(f"{name:<22} {ms:7.1f} ms ± {r['stddev']*1000:.1f}  (median {r['median']*1000:.1f}, target <= {target} ms: {verdict})")
line("quiet tick", q, 50)
line("10,000-line tick", b, 150)
PY
ls data/outbox | wc -l | xargs echo "digests in the outbox:"
