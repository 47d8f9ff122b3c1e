#!/usr/bin/env bash
# User-Agent parsers side by side on ../shared/data/user-agents (crawlers, libraries, real
# browsers): isbot (arkwatch's crawler list), woothee, uaparser (uap-core's regexes) and
# arkwatch's BotList with every User-Agent layer. Prints, for each, the browsers it takes for
# bots, its recall on crawlers and libraries, and the time per User-Agent.
# Usage: scripts/bench-ua.sh
set -euo pipefail
cd "$(dirname "$0")/.."
data=${UA_DIR:-../shared/data/user-agents}
[ -d "$data" ] || { echo "bench-ua: $data is absent (it sits beside the checkout in CI)"; exit 0; }
cd scripts/ua-compare
cargo build --release --quiet
regexes=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -path '*uaparser-0.6*/src/core/regexes.yaml' | head -1)
./target/release/ua-compare "$(cd ../.. && readlink -f "$data")" "$regexes"
