#!/usr/bin/env bash
# Event benchmark against a real Redis (started here on a free loopback port, in a temp dir):
#   - 1,000,000 events over 30 days (examples/genevents.rs, loaded with redis-cli --pipe);
#   - `arkwatch fold-events` from an empty cursor: time (hyperfine) and peak RSS;
#   - a fold of 10,000 new events on top of the folded million.
# Usage: scripts/bench-events.sh [EVENTS]   (default 1000000; installs redis-server, hyperfine
# and time when run as root)
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
work=${BENCH_DIR:-target/bench-events}

. scripts/lib.sh
need redis-server:redis-server redis-cli:redis-tools hyperfine:hyperfine /usr/bin/time:time

cargo build --release --locked --quiet --bin arkwatch --example genevents
bin=$PWD/target/release/arkwatch
gen=$PWD/target/release/examples/genevents
mkdir -p "$work"; work=$(cd "$work" && pwd); cd "$work"
rm -rf redis data
start_redis "$work/redis"
cli() { redis-cli -p "$port" "$@"; }

printf 'data_dir = "%s/data"\ntimezone = "UTC"\n[events]\nstore = "redis://127.0.0.1:%s/0"\n' "$work" "$port" > ev.toml

echo "== loading $events events over 30 days into Redis on port $port"
"$gen" --events "$events" --days 30 > events.resp
cli --pipe < events.resp | tail -1
echo "  XLEN $(cli XLEN arkwatch:events), $(cli MEMORY USAGE arkwatch:events) bytes in Redis"
"$gen" --events 10000 --seed 2 --now-ids > new-10000.resp

echo "== fold from an empty cursor (hyperfine, 5 runs)"
reset="rm -rf $work/data && redis-cli -p $port DEL arkwatch:users arkwatch:users:cursor arkwatch:users:totals >/dev/null"
hyperfine --style basic --warmup 1 --runs 5 --prepare "$reset" --export-json full.json \
  -n "fold $events" "$bin --config ev.toml fold-events --json" >/dev/null 2>&1
eval "$reset"
/usr/bin/time -f "  peak RSS %M KiB (%e s)" "$bin" --config ev.toml fold-events > fold.txt
head -2 fold.txt | sed 's/^/  /'

echo "== fold of 10,000 new events on top (hyperfine, 10 runs; each run finds 10,000 new)"
hyperfine --style basic --warmup 1 --runs 10 --prepare "redis-cli -p $port --pipe < new-10000.resp >/dev/null" \
  --export-json new.json -n "fold 10000 new" "$bin --config ev.toml fold-events --json" >/dev/null 2>&1
python3 - <<'PY'
import json
full = json.load(open("full.json"))["results"][0]
new = json.load(open("new.json"))["results"][0]
print(f"  fold from empty cursor: {full['mean']:.3f} s ± {full['stddev']:.3f} (target ≤ 2 s)")
print(f"  fold of 10,000 new events: {new['mean']*1000:.1f} ms ± {new['stddev']*1000:.1f} (target ≤ 100 ms)")
PY
