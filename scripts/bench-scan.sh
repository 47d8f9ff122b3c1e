#!/usr/bin/env bash
# scan benchmark: the cron tick as production sees it.
#   - a real Redis (started here on a free loopback port) with 1,000,000 events over 30 days, and
#     a 200,000-line access log over 14 days ending today, and an `identify` event for each of
#     up to LINKS (5,000) visitors of /pricing or /trial (so a links store exists, as where the
#     app sends them; a build before links counts them as events of an unknown type), all
#     ingested by a first scan;
#   - a quiet tick: `scan` with no new line and no new event (target: <= 50 ms);
#   - a tick with 10,000 new lines of today (new visitors, so new hot leads, journeys and a
#     digest written to the outbox every tick; target: <= 150 ms);
#   - [geo] A/B on this build: the same 10,000-line tick (about 50 new leads) with enrichment off
#     and on (country, city and ASN files of GeoLite2's size written by examples/genmmdb, reverse
#     DNS asking a real dnsmasq on loopback that names every address); target: on within 10%
#     of off. GEO_ONLY=1 runs only this part.
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
need redis-server:redis-server redis-cli:redis-tools hyperfine:hyperfine dnsmasq:dnsmasq

cargo build --release --locked --quiet --bin arkwatch --example genevents --example genlog --example genmmdb
declare -A bins=([this]=$PWD/target/release/arkwatch)
add_other_builds bins
genevents=$PWD/target/release/examples/genevents
genlog=$PWD/target/release/examples/genlog
genmmdb=$PWD/target/release/examples/genmmdb
mkdir -p "$work"; work=$(cd "$work" && pwd); cd "$work"
rm -rf redis data-* access-*.log
start_redis "$work/redis"

today=$(date -u +%F)
first=$(date -u -d "$today - 13 days" +%F)
"$genevents" --events "$events" --days 30 > events.resp
"$genlog" --lines 200000 --seed 1 --start "$first" --days 14 --tz-offset +0000 > base.log
identify_events base.log "${LINKS:-5000}" > identify.resp
if [ "${GEO_ONLY:-0}" != 1 ]; then
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
  redis-cli -p "$port" -n "$db" --pipe < identify.resp >/dev/null
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
fi

echo "== [geo] the same tick with enrichment off and on (this build; target: on within 10% of off)"
mkdir -p geo
"$genmmdb" --dir "$work/geo" 2>&1 | sed 's/^/   /'
dns_port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces \
  --listen-address=127.0.0.1 --port="$dns_port" --conf-file=/dev/null --pid-file= --user= \
  --log-facility=/dev/null --synth-domain=isp.example,1.0.0.0,223.255.255.255 &
dns_pid=$!
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; kill "$dns_pid" 2>/dev/null || true' EXIT
this=${bins[this]}
for v in off on; do
  cat > "geo-$v.toml" <<TOML
data_dir = "$work/data-geo-$v"
timezone = "UTC"
site_hosts = ["acme.example"]
[[access_log]]
path = "$work/access-geo-$v.log"
[alerts]
max_emails_per_hour = 100000
TOML
  if [ "$v" = on ]; then
    cat >> "geo-$v.toml" <<TOML
[geo]
country_db = "$work/geo/country.mmdb"
city_db = "$work/geo/city.mmdb"
asn_db = "$work/geo/asn.mmdb"
reverse_dns = true
nameserver = "127.0.0.1:$dns_port"
TOML
  fi
  rm -rf "data-geo-$v"; cp base.log "access-geo-$v.log"
  "$this" --config "geo-$v.toml" scan > /dev/null
done
# A tick: 10,000 new lines of today whose tracked pages are read by 66 addresses (genlog's
# other readers of /pricing and /trial read /blog instead), so about 50 new leads.
cat > tick.sh <<SH
#!/bin/sh
"$genlog" --lines 10000 --seed "\$2" --start $today --days 1 --tz-offset +0000 |
  awk '/"GET \/(pricing|trial)/ { if (!(\$1 in keep)) { if (n < 66) { keep[\$1]; n++ } else sub(/"GET \/(pricing|trial)/, "\"GET /blog") } } { print }' >> "\$1"
SH
chmod +x tick.sh
commands=() prepares=()
for v in off on; do
  commands+=(-n "geo-$v" "$this --config geo-$v.toml scan")
  prepares+=(--prepare "$work/tick.sh $work/access-geo-$v.log \$(date +%N)")
done
hyperfine --style basic --warmup 1 --runs "${RUNS:-15}" --export-json geo.json "${prepares[@]}" "${commands[@]}" 2>&1 | grep -E "Time|Range|±"
# One more tick of each, to count what it did.
for v in off on; do
  ./tick.sh "access-geo-$v.log" 77
  "$this" --config "geo-$v.toml" scan --json > "geo-$v.json"
done
python3 - <<'PY'
import json
r = {x["command"]: x for x in json.load(open("geo.json"))["results"]}
for v in ("off", "on"):
    x = r["geo-" + v]
    print(f"10,000-line tick, enrichment {v:<3} {x['mean']*1000:7.1f} ms ± {x['stddev']*1000:.1f}  (median {x['median']*1000:.1f})")
d = r["geo-on"]["mean"] / r["geo-off"]["mean"] - 1
print(f"enrichment on vs off: {d*100:+.1f}% (target within +10%: {'ok' if d <= 0.10 else 'OVER TARGET'})")
for v in ("off", "on"):
    s = json.load(open(f"geo-{v}.json"))
    leads = s["leads"]
    named = sum(1 for l in leads if "origin" in l and l["origin"].get("city"))
    ptr = sum(1 for l in leads if "origin" in l and l["origin"].get("ptr"))
    print(f"a tick's leads, enrichment {v}: {len(leads)} ({named} with a city, {ptr} with a PTR name); problems: {s.get('geo_problems', [])}")
PY
