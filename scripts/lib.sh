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
