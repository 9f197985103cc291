#!/usr/bin/env bash
# The README's scoreboard, from one run: the routes-only config (no budgets:
# the default policy decides) next to the budgets-only baseline, in
# simulated time (leakguard bench), then live over loopback HTTP (leakguard
# demo: 3,000 people, 270 behind each carrier-NAT address and 300 in an
# office /24, the scrapers for 90 s after 30 s of people alone, as on a
# proxy that has been running: scrapers that start with the proxy meet a
# shop where everything is cold, which flatters every rule that looks for
# cold records).
# Then the same, simulated and live, where the TLS edge passes each client's
# JA4.
#   bench/scoreboard.sh [days] [live-seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-1}
live=${2:-90}
warm=30
go build -o /tmp/leakguard-scoreboard ./cmd/leakguard
lg=/tmp/leakguard-scoreboard
echo "# scoreboard, $(date -u +%Y-%m-%d), $(nproc) cores, $(git rev-parse --short HEAD)"
echo
echo "## simulated, routes-only config (the default policy), ${days} day(s) per scenario"
$lg bench --days "$days" 2>/dev/null
echo
echo "## simulated, budgets-only baseline (300 users/h per address, no detection, no default policy)"
$lg bench --days "$days" --baseline 2>/dev/null
echo
echo "## simulated, routes-only config, where the TLS edge passes each client's JA4 (people's browser builds theirs, each campaign a TLS client of its own), ${days} day(s) per scenario"
$lg bench --days "$days" --edge-ja4 2>/dev/null
echo
echo "## live over loopback, routes-only config, 3,000 people (2,700 shoppers on 10 NAT addresses, an office /24 of 300 shoppers and 10 clerks), ${warm}s alone, then the scrapers for ${live}s"
$lg demo --duration "$((warm + live))s" --scrapers-after "${warm}s" --every 1h --shoppers 3000 --nats 10 | sed -n '/^final/,$p'
echo
echo "## live over loopback, the same with the edge's JA4 (identity.tls_fingerprint_header; people's browsers Chrome's, each scraper class a TLS client of its own), the same 3,000 people, ${warm}s alone, then the scrapers for ${live}s"
$lg demo --duration "$((warm + live))s" --scrapers-after "${warm}s" --every 1h --shoppers 3000 --nats 10 --edge-ja4 | sed -n '/^final/,$p'
