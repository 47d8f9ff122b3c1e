#!/usr/bin/env bash
# Event benchmark against a real Redis (started here on a free loopback port, in a temp dir):
#   - 1,000,000 events over 30 days (examples/genevents.rs, loaded with redis-cli --pipe);
#   - `arkwatch fold-events` from an empty cursor: time (hyperfine) and peak RSS;
#   - a fold of 10,000 new events on top of the folded million.
# With ARKWATCH_BIN="path/to/another/arkwatch [more…]", those builds are timed beside this one
# in the same hyperfine runs (each with its own data dir and Redis db), and the differences are printed:
# an A/B. A build is named by the directory above its release/ (target-abc1234).
# Usage: [ARKWATCH_BIN=old/arkwatch] scripts/bench-events.sh [EVENTS]   (default 1000000;
# installs redis-server, hyperfine and time when run as root)
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
work=${BENCH_DIR:-target/bench-events}

. scripts/lib.sh
need redis-server:redis-server redis-cli:redis-tools hyperfine:hyperfine /usr/bin/time:time

cargo build --release --locked --quiet --bin arkwatch --example genevents
declare -A bins=([this]=$PWD/target/release/arkwatch)
add_other_builds bins
gen=$PWD/target/release/examples/genevents
mkdir -p "$work"; work=$(cd "$work" && pwd); cd "$work"
rm -rf redis data-*
start_redis "$work/redis"

"$gen" --events "$events" --days 30 > events.resp
"$gen" --events 10000 --seed 2 --now-ids > new-10000.resp
full=() new=() resets=() adds=() db=0
for name in "${!bins[@]}"; do
  printf 'data_dir = "%s/data-%s"\ntimezone = "UTC"\n[events]\nstore = "redis://127.0.0.1:%s/%s"\n' \
    "$work" "$name" "$port" "$db" > "ev-$name.toml"
  echo "== $name (${bins[$name]}): loading $events events over 30 days into Redis db $db"
  redis-cli -p "$port" -n "$db" --pipe < events.resp | tail -1
  reset="rm -rf $work/data-$name && redis-cli -p $port -n $db DEL arkwatch:users arkwatch:users:cursor arkwatch:users:totals arkwatch:marker >/dev/null"
  resets+=(--prepare "$reset")
  adds+=(--prepare "redis-cli -p $port -n $db --pipe < new-10000.resp >/dev/null")
  full+=(-n "$name" "${bins[$name]} --config ev-$name.toml fold-events --json")
  eval "$reset"
  /usr/bin/time -f "  peak RSS %M KiB (%e s)" "${bins[$name]}" --config "ev-$name.toml" fold-events > "fold-$name.txt"
  head -2 "fold-$name.txt" | sed 's/^/  /'
  db=$((db + 1))
done
echo "  XLEN $(redis-cli -p "$port" XLEN arkwatch:events), $(redis-cli -p "$port" MEMORY USAGE arkwatch:events) bytes in Redis (db 0)"

echo "== fold from an empty cursor (hyperfine, 5 runs)"
hyperfine --style basic --warmup 1 --runs 5 "${resets[@]}" --export-json full.json "${full[@]}" >/dev/null 2>&1

echo "== fold of 10,000 new events on top (hyperfine, 10 runs; each run finds 10,000 new)"
hyperfine --style basic --warmup 1 --runs 10 "${adds[@]}" --export-json new.json "${full[@]}" >/dev/null 2>&1
python3 - <<'PY'
import json
def results(f):
    return {r["command"]: r for r in json.load(open(f))["results"]}
full, new = results("full.json"), results("new.json")
for name in sorted(full):
    f, n = full[name], new[name]
    print(f"  {name:<6} fold from empty cursor: {f['mean']:.3f} s ± {f['stddev']:.3f} (target ≤ 2 s)")
    print(f"  {name:<6} fold of 10,000 new events: {n['mean']*1000:.1f} ms ± {n['stddev']*1000:.1f} (target ≤ 100 ms)")
for other in sorted(n for n in full if n != "this"):
    for label, res in (("fold from empty cursor", full), ("fold of 10,000 new", new)):
        d = res["this"]["mean"] / res[other]["mean"] - 1
        print(f"  {label}: this build vs {other} {d*100:+.1f}%")
PY
