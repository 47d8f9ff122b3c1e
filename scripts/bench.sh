#!/usr/bin/env bash
# Ingestion benchmark, arkwatch side by side with its peers on the same generated log:
#   - arkwatch ingest-nginx (fresh data dir each run), GoAccess (--log-format=COMBINED -o
#     out.json) and awk '{c[$7]++}', timed together by hyperfine; ratios and lines/s printed;
#   - arkwatch's peak RSS on a 2M-line log;
#   - `verify` over that ingested log: its time beside a fresh ingestion of the same file
#     (hyperfine), and its peak RSS;
#   - the incremental run: 10,000 lines appended to an ingested 200k- and 2M-line log;
#   - the same three tools on ../shared/data/real-logs/elastic_nginx_logs.log when present.
# With ARKWATCH_BIN="path/to/another/arkwatch [more…]", those builds run beside this one in the
# same hyperfine runs (each with its own data dirs), and the differences are printed: an A/B. A
# build is named by the directory above its release/ (target-abc1234).
# Usage: [ARKWATCH_BIN=old/arkwatch] scripts/bench.sh [LINES]   (default 1000000; installs
# goaccess, hyperfine, time as root)
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-1000000}
work=${BENCH_DIR:-target/bench}

. scripts/lib.sh
need goaccess:goaccess hyperfine:hyperfine /usr/bin/time:time python3:python3

cargo build --release --locked --quiet --bin arkwatch --example genlog
bin=$PWD/target/release/arkwatch
declare -A others=()
add_other_builds others
gen=$PWD/target/release/examples/genlog
mkdir -p "$work"; cd "$work"
awk_bin=$(readlink -f "$(command -v awk)")

config() { # config FILE LOG DATA
  printf 'data_dir = "%s"\ntimezone = "UTC"\nsite_hosts = ["acme.example"]\n[[access_log]]\npath = "%s"\n' "$3" "$2" > "$1"
}

echo "== generating logs"
[ -s "log-$lines.log" ] || "$gen" --lines "$lines" --seed 1 > "log-$lines.log"
[ -s log-2000000.log ] || "$gen" --lines 2000000 --seed 1 --days 14 > log-2000000.log
[ -s log-200000.log ] || "$gen" --lines 200000 --seed 1 --days 14 > log-200000.log
[ -s append-10000.log ] || "$gen" --lines 10000 --seed 2 --days 1 --start 2026-11-15 > append-10000.log
config full.toml "$PWD/log-$lines.log" "$PWD/data-full"
cat "log-$lines.log" > /dev/null  # the page cache holds it for every tool alike

side_by_side() { # side_by_side LOG CONFIG LABEL
  local log=$1 cfg=$2 label=$3 data ab=()
  data=$(sed -n 's/^data_dir = "\(.*\)"/\1/p' "$cfg")
  # Each other build reads the same log into a data dir of its own.
  for name in "${!others[@]}"; do
    sed "s|^data_dir = .*|data_dir = \"$data-$name\"|" "$cfg" > "$cfg.$name"
    ab+=(-n "$name" "${others[$name]} --config $cfg.$name ingest-nginx --json")
  done
  hyperfine --style basic --warmup 1 --runs "${RUNS:-5}" --export-json "$label.json" \
    --prepare "rm -rf $data $data-* && sync" \
    -n arkwatch "$bin --config $cfg ingest-nginx --json" "${ab[@]}" \
    -n goaccess "goaccess $log --log-format=COMBINED -o $PWD/goaccess-out.json" \
    -n awk "$awk_bin '{c[\$7]++}' $log" >/dev/null 2>&1
  python3 - "$label.json" "$(wc -l < "$log")" "$label" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
lines, label = int(sys.argv[2]), sys.argv[3]
a, g, k = (res[n]["mean"] for n in ("arkwatch", "goaccess", "awk"))
print(f"{label}: {lines:,} lines")
for name in ("arkwatch", "goaccess", "awk"):
    r = res[name]
    print(f"  {name:9s} {r['mean']:8.3f} s ± {r['stddev']:.3f}   {lines / r['mean'] / 1e6:6.2f} M lines/s")
print(f"  arkwatch is {g / a:.1f}x faster than GoAccess and {k / a:.2f}x the speed of awk")
for name in sorted(set(res) - {"arkwatch", "goaccess", "awk"}):
    o = res[name]
    print(f"  {name} {o['mean']:8.3f} s ± {o['stddev']:.3f}: this build vs {name} {(a / o['mean'] - 1) * 100:+.1f}%")
PY
}

echo "== side by side (hyperfine, mean of ${RUNS:-5} runs)"
side_by_side "$PWD/log-$lines.log" full.toml "generated"

echo "== peak RSS, 2M-line log"
config rss.toml "$PWD/log-2000000.log" "$PWD/data-rss"
rm -rf data-rss
/usr/bin/time -f "  arkwatch peak RSS %M KiB, %e s" "$bin" --config rss.toml ingest-nginx --json > /dev/null
for name in "${!others[@]}"; do
  config "rss-$name.toml" "$PWD/log-2000000.log" "$PWD/data-rss-$name"
  rm -rf "data-rss-$name"
  /usr/bin/time -f "  $name peak RSS %M KiB, %e s" "${others[$name]}" --config "rss-$name.toml" ingest-nginx --json > /dev/null
done

echo "== verify, 2M-line log (the data dir just ingested)"
# Issue 20's budget: within 1.5x the time of a fresh ingestion, peak RSS at most 64 MiB.
config rss-fresh.toml "$PWD/log-2000000.log" "$PWD/data-rss-fresh"
hyperfine --style basic --warmup 1 --runs "${RUNS:-5}" --export-json verify.json \
  -n verify "$bin --config rss.toml verify --json" \
  -n ingest "$bin --config rss-fresh.toml ingest-nginx --json" \
  --prepare "rm -rf $PWD/data-rss-fresh" >/dev/null 2>&1
/usr/bin/time -f "%M" -o verify-rss.txt "$bin" --config rss.toml verify --json > verify-out.json
python3 - <<'PY'
import json
res = {r["command"]: r for r in json.load(open("verify.json"))["results"]}
v, i = res["verify"]["mean"], res["ingest"]["mean"]
kib = int(open("verify-rss.txt").read().split()[-1])
out = json.load(open("verify-out.json"))
print(f"  verify {v:.3f} s ± {res['verify']['stddev']:.3f}, fresh ingestion {i:.3f} s: {v / i:.2f}x (budget 1.5x)")
print(f"  verify peak RSS {kib} KiB = {kib / 1024:.1f} MiB (budget 64 MiB); verdict {out['verdict']}, {out['matched']} days match")
PY

echo "== incremental: 10,000 lines appended to an ingested log"
# As under cron: each timed run finds 10,000 new lines at the end of the (growing) log; each
# build has a log and a data dir of its own.
for n in 200000 2000000; do
  commands=() prepares=()
  for who in this "${!others[@]}"; do
    b=$bin; [ "$who" != this ] && b=${others[$who]}
    cp "log-$n.log" "grow-$n-$who.log"
    config "grow-$n-$who.toml" "$PWD/grow-$n-$who.log" "$PWD/data-grow-$n-$who"
    rm -rf "data-grow-$n-$who"
    "$b" --config "grow-$n-$who.toml" ingest-nginx --json > /dev/null
    cat append-10000.log >> "grow-$n-$who.log"
    read_bytes=$("$b" --config "grow-$n-$who.toml" ingest-nginx --json | python3 -c 'import json,sys; print(sum(f["bytes_read"] for f in json.load(sys.stdin)["files"]))')
    echo "  $who: $n lines + 10000: bytes_read $read_bytes, appended $(stat -c %s append-10000.log)"
    commands+=(-n "$who" "$b --config grow-$n-$who.toml ingest-nginx --json")
    prepares+=(--prepare "cat $PWD/append-10000.log >> $PWD/grow-$n-$who.log")
  done
  hyperfine --style basic --warmup 2 --runs 20 --export-json "grow-$n.json" \
    "${prepares[@]}" "${commands[@]}" >/dev/null 2>&1
done
python3 - <<'PY'
import json
def results(f):
    return {r["command"]: r["mean"] for r in json.load(open(f))["results"]}
a, b = results("grow-200000.json"), results("grow-2000000.json")
for who in sorted(a):
    print(f"  {who}: next run {a[who]*1000:.1f} ms after 200k lines, {b[who]*1000:.1f} ms after 2M lines ({(b[who]/a[who]-1)*100:+.0f}%)")
for other in sorted(set(a) - {"this"}):
    for label, r in (("200k", a), ("2M", b)):
        print(f"  next run after {label}: this build vs {other} {(r['this']/r[other]-1)*100:+.1f}%")
PY

real=../../../shared/data/real-logs/elastic_nginx_logs.log
if [ -f "$real" ]; then
  echo "== real log: elastic_nginx_logs.log"
  config real.toml "$(readlink -f "$real")" "$PWD/data-real"
  side_by_side "$(readlink -f "$real")" real.toml "elastic_nginx"
else
  echo "== real log not present ($real): row skipped"
fi
