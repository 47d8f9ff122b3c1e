#!/usr/bin/env bash
# scan benchmark: the cron tick as production sees it.
#   - a real Redis (started here on a free loopback port) with 1,000,000 events over 30 days, and
#     a 200,000-line access log over 14 days ending today, both ingested by a first scan;
#   - a quiet tick: `scan` with no new line and no new event (target: <= 50 ms);
#   - a tick with 10,000 new lines of today (new visitors, so new hot leads, journeys and a
#     digest written to the outbox every tick; target: <= 150 ms).
# With ARKWATCH_BIN="path/to/another/arkwatch [more…]", those builds are timed beside this one
# in the same hyperfine runs (each with its own data dir, log and Redis db), and the differences are
# printed: an A/B. A build is named by the directory above its release/ (target-abc1234).
# Usage: [ARKWATCH_BIN=old/arkwatch] scripts/bench-scan.sh   (installs redis-server, hyperfine
# when run as root)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-target/bench-scan}
events=${EVENTS:-1000000}

. scripts/lib.sh
need redis-server:redis-server redis-cli:redis-tools hyperfine:hyperfine

cargo build --release --locked --quiet --bin arkwatch --example genevents --example genlog
declare -A bins=([this]=$PWD/target/release/arkwatch)
add_other_builds bins
genevents=$PWD/target/release/examples/genevents
genlog=$PWD/target/release/examples/genlog
mkdir -p "$work"; work=$(cd "$work" && pwd); cd "$work"
rm -rf redis data-* access-*.log
start_redis "$work/redis"

today=$(date -u +%F)
first=$(date -u -d "$today - 13 days" +%F)
"$genevents" --events "$events" --days 30 > events.resp
"$genlog" --lines 200000 --seed 1 --start "$first" --days 14 --tz-offset +0000 > base.log
db=0
for name in "${!bins[@]}"; do
  cat > "scan-$name.toml" <<TOML
data_dir = "$work/data-$name"
timezone = "UTC"
site_hosts = ["acme.example"]
[[access_log]]
path = "$work/access-$name.log"
[events]
store = "redis://127.0.0.1:$port/$db"
[alerts]
# Every tick with new leads writes its digest (the hourly limit would skip the send).
max_emails_per_hour = 100000
TOML
  echo "== $name (${bins[$name]}): $events events into Redis db $db; 200,000 log lines from $first to $today"
  redis-cli -p "$port" -n "$db" --pipe < events.resp >/dev/null
  cp base.log "access-$name.log"
  echo "   first scan (backfill: ingest and fold everything)"
  /usr/bin/env time -f "   %e s, peak RSS %M KiB" "${bins[$name]}" --config "scan-$name.toml" scan > "first-$name.txt"
  head -1 "first-$name.txt" | sed 's/^/   /'
  db=$((db + 1))
done

commands=() prepares=()
for name in "${!bins[@]}"; do
  commands+=(-n "$name" "${bins[$name]} --config scan-$name.toml scan")
  prepares+=(--prepare "$genlog --lines 10000 --seed \$(date +%N) --start $today --days 1 --tz-offset +0000 >> $work/access-$name.log")
done
echo "== quiet tick (target <= 50 ms)"
hyperfine --style basic --warmup 3 --runs "${RUNS:-30}" --export-json quiet.json "${commands[@]}" 2>&1 | grep -E "Time|Range|±"
echo "== tick with 10,000 new lines (target <= 150 ms)"
hyperfine --style basic --warmup 1 --runs "${RUNS:-15}" --export-json busy.json "${prepares[@]}" "${commands[@]}" 2>&1 | grep -E "Time|Range|±"
python3 - <<'PY'
import json
def results(f):
    return {r["command"]: r for r in json.load(open(f))["results"]}
q, b = results("quiet.json"), results("busy.json")
def line(label, res, target):
    for name, r in sorted(res.items()):
        ms = r["mean"] * 1000
        verdict = "ok" if ms <= target else "OVER TARGET"
        print(f"{label:<18} {name:<6} {ms:7.1f} ms ± {r['stddev']*1000:.1f}  (median {r['median']*1000:.1f}, target <= {target} ms: {verdict})")
    for name in sorted(n for n in res if n != "this"):
        d = res["this"]["mean"] / res[name]["mean"] - 1
        print(f"{label:<18} this build vs {name}: {d*100:+.1f}%")
line("quiet tick", q, 50)
line("10,000-line tick", b, 150)
PY
for name in "${!bins[@]}"; do
  ls "data-$name/outbox" | grep -c '\.eml$' | xargs echo "digests in the outbox of $name:"
done
