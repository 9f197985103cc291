#!/usr/bin/env bash
# Proxy throughput while the meter evicts, in one run: leakguard in front of
# the synthetic shop with meter.max_actors lowered (default 20,000), driven
# by wrk from a pool of addresses that fits (no eviction), then from a
# fresh address per request (every request past the first 20,000 evicts
# the least recently seen actor). Peak RSS of the proxy from /proc.
# Usage: bench/flood.sh [seconds per run, default 20] [max_actors, default 20000]
# Needs: go, wrk (apt-get install wrk). Writes bench/out/flood.md.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
max=${2:-20000}
out=bench/out
mkdir -p "$out"
command -v wrk >/dev/null || { echo "bench/flood.sh needs wrk: apt-get install wrk" >&2; exit 2; }
go build -o "$out/leakguard" ./cmd/leakguard

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

cfg="$out/flood.yaml"
rm -rf "$out/flood-state"
cat > "$cfg" <<YAML
listen: 127.0.0.1:18180
upstream: http://127.0.0.1:19100
mode: shadow
admin: {listen: 127.0.0.1:19190}
identity: {trusted_proxies: [127.0.0.1/32]}
records:
  - route: GET /api/users/{id}
    entity: user
meter: {max_actors: $max}
log: {decisions: $out/flood-decisions.jsonl}
state: {dir: $out/flood-state}
YAML
"$out/leakguard" shop --listen 127.0.0.1:19100 2>"$out/flood-shop.log" & pids+=($!)
LEAKGUARD_ADMIN_TOKEN=flood-token-0123456789 LEAKGUARD_SECRET=flood-secret-0123456789 \
  "$out/leakguard" proxy --config "$cfg" 2>"$out/flood-proxy.log" & pids+=($!)
proxy=$!
for _ in $(seq 50); do curl -fs -o /dev/null http://127.0.0.1:18180/api/users/1 && break; sleep 0.2; done

rps() { awk '/Requests\/sec/ {print $2}'; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
pool=$((max / 2))
FLOOD_POOL=$pool wrk -t2 -c32 -d"${secs}s" -s bench/flood.lua http://127.0.0.1:18180/ > "$out/flood-pool.txt"
held=$(rps < "$out/flood-pool.txt")
FLOOD_POOL=0 wrk -t2 -c32 -d"${secs}s" -s bench/flood.lua http://127.0.0.1:18180/ > "$out/flood-fresh.txt"
fresh=$(rps < "$out/flood-fresh.txt")
sent=$(awk '/requests in/ {print $1}' "$out/flood-fresh.txt")
rss=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' /proc/$proxy/status)
db=$(du -m "$out/flood-state/state.db" 2>/dev/null | cut -f1)
{
  echo "| run | requests/s |"
  echo "|---|---:|"
  echo "| $pool addresses in turn (no eviction) | $held |"
  echo "| a fresh address per request ($sent addresses, evicting past $max) | $fresh |"
  echo
  echo "fresh/held: $(awk -v a="$fresh" -v b="$held" 'BEGIN {printf "%.2f", a/b}'); proxy peak RSS ${rss} MiB; state.db ${db:-?} MiB"
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, commit $(git rev-parse --short HEAD), ${secs}s a run, wrk -t2 -c32;"
  echo "load before ${load0}, after $(cut -d' ' -f1-3 /proc/loadavg). wrk, the shop and the proxy share the machine."
} | tee "$out/flood.md"
