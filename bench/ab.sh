#!/usr/bin/env bash
# Two commits of leakguard, A and B, under the same load in turns: the
# README's routes-only config (bench/leakguard-default.yaml) and requests
# as people make them (bench/people.lua), one proxy at a time in front of
# the synthetic shop, wrk on the same two cores. Each round runs A and B
# once each, in alternating order, every proxy from no state. It prints
# each run's requests a second, p99 and the proxy's own CPU a request
# (user + system, from /proc), then the means and B against A.
#
# This machine's swing from one run to the next (±10%) is larger than most
# changes worth making: a single run of bench/proxy.sh before and one after
# cannot tell them apart. Rounds taken in turns can, given enough of them;
# the proxy's CPU a request swings less than its throughput.
#
# Usage: bench/ab.sh REV_A REV_B [rounds, default 3] [seconds, default 12] [embedded|memory|redis, default embedded]
# Needs: go, git, wrk, curl, Linux's /proc (redis-server for redis). Writes bench/out/ab.md.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 's/^# Usage: //p' "$0" >&2; exit 2; }
revs=("$1" "$2")
rounds=${3:-3}
secs=${4:-12}
state=${5:-embedded}
case $state in embedded | memory | redis) ;; *) echo "bench/ab.sh: state is embedded, memory or redis, not $state" >&2; exit 2 ;; esac
for t in wrk curl git; do
  command -v $t >/dev/null || { echo "bench/ab.sh needs $t: apt-get install wrk curl git" >&2; exit 2; }
done
[ "$state" != redis ] || command -v redis-server >/dev/null || { echo "bench/ab.sh needs redis-server: apt-get install redis-server" >&2; exit 2; }
out=bench/out/ab
rm -rf "$out"
mkdir -p "$out"

# Each revision built from a worktree of its own, removed after.
names=(A B)
for i in 0 1; do
  src=$(mktemp -d)
  git worktree add --detach --quiet "$src" "${revs[$i]}"
  (cd "$src" && go build -o "$OLDPWD/$out/leakguard-${names[$i]}" ./cmd/leakguard)
  git worktree remove --force "$src"
  revs[$i]=$(git rev-parse --short "${revs[$i]}")
done

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_up() { for _ in $(seq 1 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }

"$out/leakguard-A" shop --listen 127.0.0.1:19000 2>"$out/shop.log" & pids+=($!)
wait_up http://127.0.0.1:19000/api/users/1

run() { # name, index in revs
  local bin="$out/leakguard-$1" dir="$out/state-$1" cfg="$out/$1.yaml" lines
  rm -rf "$dir"
  case $state in
    embedded) lines="  dir: $dir" ;;
    memory) lines="  dir: $dir
  persist: false" ;;
    redis)
      redis-server --port 16379 --bind 127.0.0.1 --save "" --appendonly no --dir "$out" >"$out/redis.log" 2>&1 &
      local redis=$!
      for _ in $(seq 1 50); do redis-cli -p 16379 ping >/dev/null 2>&1 && break; sleep 0.1; done
      lines="  dir: $dir
  redis: redis://127.0.0.1:16379/0" ;;
  esac
  sed -e '/^state:/,$d' -e "s#bench/out/decisions-default.jsonl#$out/decisions-$1.jsonl#" bench/leakguard-default.yaml > "$cfg"
  printf 'state:\n%s\n' "$lines" >> "$cfg"
  LEAKGUARD_SECRET=bench-secret-0123456789 "$bin" proxy --config "$cfg" 2>"$out/proxy-$1.log" &
  local proxy=$!
  wait_up http://127.0.0.1:18083/static/app.js
  wrk -t2 -c64 -d"${secs}s" --latency -s bench/people.lua http://127.0.0.1:18083 > "$out/wrk-$1.txt"
  local ticks
  ticks=$(awk '{print $14 + $15}' "/proc/$proxy/stat")
  kill "$proxy"
  wait "$proxy" 2>/dev/null || true
  if [ "$state" = redis ]; then kill "$redis"; wait "$redis" 2>/dev/null || true; fi
  local reqs rps p99
  reqs=$(awk '/requests in/ {print $1}' "$out/wrk-$1.txt")
  rps=$(awk '/Requests\/sec/ {print $2}' "$out/wrk-$1.txt")
  # wrk writes 850.00us, 24.24ms or 1.02s
  p99=$(awk '$1=="99%" { v = $2 + 0; if ($2 ~ /us$/) v /= 1000; else if ($2 !~ /ms$/) v *= 1000; print v }' "$out/wrk-$1.txt")
  awk -v n="$1" -v rev="${revs[$2]}" -v rps="$rps" -v p99="$p99" -v t="$ticks" -v r="$reqs" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "| %s | %s | %.0f | %.1f | %.1f |\n", n, rev, rps, p99, t / hz * 1e6 / r }'
}

rows=""
for round in $(seq 1 "$rounds"); do
  order="A B"
  [ $((round % 2)) -eq 0 ] && order="B A"
  for n in $order; do
    row=$(run "$n" "$([ "$n" = A ] && echo 0 || echo 1)")
    echo "$row"
    rows+="$row"$'\n'
  done
done

{
  echo "| | commit | req/s | p99 (ms) | proxy CPU a request (µs) |"
  echo "|---|---|---:|---:|---:|"
  printf '%s' "$rows"
  echo
  printf '%s' "$rows" | awk -F'|' '
    { n = $2; gsub(/ /, "", n); rps[n] += $4; p99[n] += $5; cpu[n] += $6; c[n]++ }
    END {
      for (n in c) printf "%s: mean %.0f req/s, p99 %.1f ms, %.1f µs of CPU a request (%d runs)\n", n, rps[n]/c[n], p99[n]/c[n], cpu[n]/c[n], c[n]
      if (c["A"] && c["B"]) printf "B against A: %.3f of the throughput, %.3f of the CPU a request\n", (rps["B"]/c["B"]) / (rps["A"]/c["A"]), (cpu["B"]/c["B"]) / (cpu["A"]/c["A"])
    }'
  echo
  echo "bench/ab.sh, $(date -u +%Y-%m-%d), A=${revs[0]} B=${revs[1]}, $rounds rounds of ${secs}s, state $state; wrk -t2 -c64 under bench/people.lua on $(nproc) cores; the routes-only config in shadow mode."
} | tee "$out/../ab.md"
