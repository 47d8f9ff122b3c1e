#!/usr/bin/env bash
# The whole test suite: installs what the tests need when it is missing (as root, with apt-get),
# then runs every test. This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests talk to, as "command:package" pairs.
# man and dpkg-deb: the package test (tests/package.rs) renders the man page it installs;
# chromium: the dashboard tests (tests/dashboard.rs) load the page in it; dnsmasq: the
# reverse-DNS tests (tests/geo.rs) ask it for PTR records on a loopback port.
needs=("redis-server:redis-server" "redis-cli:redis-tools" "openssl:openssl" "man:man-db"
       "dpkg-deb:dpkg" "strip:binutils" "chromium:chromium" "dnsmasq:dnsmasq")
missing=()
for pair in "${needs[@]}"; do
  cmd="${pair%%:*}"
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${pair#*:}")
done
# The SMTP server of the mail tests: aiosmtpd for Debian's own python3 (a pyenv or venv python3
# earlier in PATH does not see it).
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || missing+=("python3-aiosmtpd")
# The Prometheus text parser the metrics tests check arkwatch's output with.
/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1 || missing+=("python3-prometheus-client")
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "the tests need: ${missing[*]}; install them (sudo apt-get install ${missing[*]}) and rerun" >&2
    exit 1
  fi
fi

cargo test --locked --all-targets "$@"
