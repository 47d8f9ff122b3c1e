#!/usr/bin/env bash
# purge-ip benchmark: arkwatch against `grep -vF ADDRESS` over the same visits files.
#   - ~1 GB of visits (SIZE_MB, default 1024) in 30 day files, written as arkwatch writes them,
#     one line in 1,000 by the address being purged;
#   - hyperfine times `arkwatch purge-ip ADDRESS` (the files restored before each run) and
#     `grep -vhF ADDRESS FILES > out` (writing its output, as purge writes its files);
#   - prints both throughputs and their ratio (target: arkwatch >= 50% of grep).
# Usage: scripts/bench-purge.sh   (installs hyperfine when run as root)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-target/bench-purge}
size_mb=${SIZE_MB:-1024}
address=203.0.113.77

. scripts/lib.sh
need hyperfine:hyperfine
cargo build --release --locked --quiet --bin arkwatch
bin=$PWD/target/release/arkwatch
mkdir -p "$work"; work=$(cd "$work" && pwd); cd "$work"

if [ ! -s pristine/state.json ] || [ "$(cat pristine/size 2>/dev/null)" != "$size_mb" ]; then
  echo "== writing ${size_mb} MB of visits"
  rm -rf pristine; mkdir -p pristine/visits
  python3 - "$size_mb" "$address" <<'PY'
import json, sys, os
size_mb, address = int(sys.argv[1]), sys.argv[2]
days = 30
per_day = size_mb * 1024 * 1024 // days
ua = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
lengths = {}
n = 0
for d in range(days):
    day = f"2026-10-{d + 1:02d}"
    path = f"pristine/visits/{day}.jsonl"
    written = 0
    with open(path, "w") as f:
        while written < per_day:
            n += 1
            ip = address if n % 1000 == 0 else f"198.51.{n // 250 % 250}.{n % 250 + 1}"
            line = json.dumps({
                "time": f"{day}T{n % 24:02d}:{n % 60:02d}:00+01:00", "path": "/pricing",
                "tier": "hot", "ip": ip, "user_agent": ua,
                "referrer": "https://www.linkedin.com/feed/",
                "query": {"utm_source": "linkedin"}, "status": 200,
                "source": "/var/log/nginx/access.log", "offset": n * 300,
            }, separators=(",", ":")) + "\n"
            f.write(line)
            written += len(line)
    lengths[day] = os.path.getsize(path)
state = {"version": 2, "generation": 0, "visits": lengths}
json.dump(state, open("pristine/state.json", "w"))
PY
  head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > pristine/secret.key; echo >> pristine/secret.key
  echo "$size_mb" > pristine/size
fi
bytes=$(cat pristine/visits/*.jsonl | wc -c)
printf 'data_dir = "%s/data"\n' "$work" > purge.toml

restore='rm -rf data && cp -a pristine data'
hyperfine --style basic --runs "${RUNS:-3}" --export-json purge.json \
  --prepare "$restore && sync" \
  -n arkwatch "$bin --config purge.toml purge-ip $address" \
  -n grep "grep -vhF $address data/visits/*.jsonl > grep-out.jsonl" 2>&1 | grep -E "Time|Range|^  [a-z]"
python3 - "$bytes" <<'PY'
import json, sys
size = int(sys.argv[1])
res = {r["command"]: r for r in json.load(open("purge.json"))["results"]}
a, g = res["arkwatch"]["mean"], res["grep"]["mean"]
mb = size / 1e6
print(f"visits: {mb:,.0f} MB")
print(f"arkwatch purge-ip  {a:6.2f} s  {mb / a:7.0f} MB/s")
print(f"grep -vF           {g:6.2f} s  {mb / g:7.0f} MB/s")
print(f"arkwatch runs at {100 * g / a:.0f}% of grep's throughput (target >= 50%)")
PY
rm -rf data && cp -a pristine data
first=$("$bin" --config purge.toml purge-ip $address --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["visits"]["records"])')
second=$("$bin" --config purge.toml purge-ip $address --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["visits"]["records"])')
grep -qF "$address" data/visits/*.jsonl && { echo "FAIL: the address is still in the visits" >&2; exit 1; }
echo "check: the purge removed $first visits, a second one found $second, and grep finds none left"
rm -f grep-out.jsonl
