# Shared by the scripts in this folder: sourced, not run.

# need CMD:PACKAGE... — installs the Debian packages of the commands that are missing (as root,
# with apt-get), or says what to install and exits.
need() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "$(basename "$0") needs: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
}

# start_redis DIR — a redis-server on a free loopback port with its files in DIR, shut down when
# the script exits; sets $port.
start_redis() {
  mkdir -p "$1"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$1" \
    --daemonize yes --pidfile "$1/pid" >/dev/null
  trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true' EXIT
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
}

# add_other_builds ARRAY — adds each build of $ARKWATCH_BIN (paths, space-separated) to the
# associative ARRAY (name -> path), named by the directory above its release/.
add_other_builds() {
  local -n into=$1
  local path name
  for path in ${ARKWATCH_BIN:-}; do
    path=$(readlink -f "$path")
    name=$(basename "$(dirname "$(dirname "$path")")")
    into[$name]=$path
  done
}

# identify_events LOG N — RESP commands (for `redis-cli --pipe`) XADDing one `identify` event
# (address and browser) to arkwatch:events for each of the first N distinct visitors of /pricing
# or /trial in LOG, an hour after their visit, as users 1..N: a links store of about N links.
identify_events() {
  python3 - "$1" "$2" <<'PY'
import re, sys, datetime
log, limit = sys.argv[1], int(sys.argv[2])
seen, out = set(), []
pat = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "GET (/pricing|/trial)\S* [^"]*" \d+ \S+ "[^"]*" "([^"]*)"')
for line in open(log, errors="replace"):
    m = pat.match(line)
    if not m or (m[1], m[4]) in seen:
        continue
    seen.add((m[1], m[4]))
    t = datetime.datetime.strptime(m[2], "%d/%b/%Y:%H:%M:%S %z") + datetime.timedelta(hours=1)
    fields = ["type", "identify", "user", str(len(seen)), "ip", m[1], "user_agent", m[4], "ts", t.isoformat()]
    args = ["XADD", "arkwatch:events", "*"] + fields
    out.append("*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a.encode()), a) for a in args))
    if len(seen) == limit:
        break
sys.stdout.write("".join(out))
PY
}
