#!/usr/bin/env bash
# Proxy throughput and latency by state backend, in one run: memory only
# (state.persist: false), the embedded bbolt store (the default), and Redis
# shared state, in front of the same shop, driven by wrk from 100,000 client
# addresses; or, with "default" as the third argument, with the README's
# routes-only config (bench/leakguard-default.yaml: the default policy, the
# whole detector) and requests as people make them (bench/people.lua).
# Usage: bench/state.sh [seconds per run, default 10] [connections, default 64] [bench|default]
# Needs: go, wrk, redis-server. Writes bench/out/state.md.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
mode=${3:-bench}
case $mode in
  bench) base=bench/leakguard-bench.yaml lua=bench/state.lua who="100,000 client addresses; body inspection + PII scan on" ;;
  default) base=bench/leakguard-default.yaml lua=bench/people.lua who="bench/people.lua's 20,000 people; the routes-only config (the default policy)" ;;
  *) echo "bench/state.sh: the third argument is bench or default" >&2; exit 2 ;;
esac
out=bench/out
mkdir -p "$out"
for t in wrk redis-server; do
  command -v $t >/dev/null || { echo "bench/state.sh needs $t: apt-get install wrk redis-server" >&2; exit 2; }
done
go build -o "$out/leakguard" ./cmd/leakguard

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$out/leakguard" shop --listen 127.0.0.1:19000 2>"$out/shop.log" & pids+=($!)
redis-server --port 16379 --bind 127.0.0.1 --save "" --appendonly no --dir "$out" >"$out/redis.log" 2>&1 & pids+=($!)

wait_up() { for i in $(seq 1 100); do curl -fsS -o /dev/null "$1" && return; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }
wait_up http://127.0.0.1:19000/api/users/1

run() { # name state-yaml
  local cfg="$out/state-$1.yaml"
  sed -e '/^state:/,$d' -e 's/^listen: .*/listen: 127.0.0.1:18080/' -e 's/^admin: .*/admin: {listen: 127.0.0.1:19090}/' "$base" > "$cfg"
  printf 'state:\n%s\n' "$2" >> "$cfg"
  rm -rf "$out/state-$1"
  LEAKGUARD_ADMIN_TOKEN=bench-token-0123456789 LEAKGUARD_SECRET=bench-secret-0123456789 \
    "$out/leakguard" proxy --config "$cfg" 2>"$out/leakguard-$1.log" &
  local pid=$!
  wait_up http://127.0.0.1:18080/api/users/1
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$lua" "http://127.0.0.1:18080" > "$out/wrk-state-$1.txt"
  local rps p50 p99 rss
  rps=$(awk '/Requests\/sec/ {print $2}' "$out/wrk-state-$1.txt")
  p50=$(awk '$1=="50%" {print $2}' "$out/wrk-state-$1.txt")
  p99=$(awk '$1=="99%" {print $2}' "$out/wrk-state-$1.txt")
  rss=$(awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' /proc/$pid/status)
  kill $pid; wait $pid 2>/dev/null || true
  # A fleet that took Redis for down counted on local state meanwhile: its
  # figures are not the fleet's. Counted before the shutdown's own.
  local down
  down=$(sed '/shutting down/q' "$out/leakguard-$1.log" | grep -c 'redis unreachable' || true)
  echo "$1|$rps|$p50|$p99|$rss|$down"
}
results=$( {
  run memory "  dir: $out/state-memory
  persist: false"
  run embedded "  dir: $out/state-embedded"
  run redis "  dir: $out/state-redis
  redis: redis://127.0.0.1:16379/0"
} )
mem=$(echo "$results" | awk -F'|' '$1=="memory" {print $2}')
{
  echo "| state | req/s | p50 | p99 | RSS after | vs memory only | Redis taken for down |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  echo "$results" | while IFS='|' read -r name rps p50 p99 rss down; do
    printf '| %s | %.0f | %s | %s | %s | %.2f | %s |\n' "$name" "$rps" "$p50" "$p99" "$rss" "$(echo "$rps / $mem" | bc -l)" "$down"
  done
  echo
  echo "wrk -t2 -c$conns -d${secs}s on $(nproc) cores (wrk, proxy, shop and Redis share them), $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD); $who, shadow mode."
} | tee "$out/state.md"
