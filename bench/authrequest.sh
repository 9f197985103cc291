#!/usr/bin/env bash
# The auth endpoint's overhead on this machine, in one run: nginx alone in
# front of the shop, nginx with leakguard inline (proxy_pass to the proxy
# listener), and nginx asking leakguard per request (auth_request, with
# deploy/nginx/leakguard-auth-request.conf as shipped but for its addresses),
# all driven by wrk with bench/proxy.lua (half user profiles, half review
# pages). Not run in CI.
# Usage: bench/authrequest.sh [seconds per run, default 10] [connections, default 64]
# Needs: go, wrk, nginx (apt-get install wrk nginx). Writes bench/out/authrequest.md.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
out=bench/out
mkdir -p "$out"
for t in wrk nginx curl bc; do
  command -v $t >/dev/null || { echo "bench/authrequest.sh needs $t: apt-get install wrk nginx curl bc" >&2; exit 2; }
done
go build -o "$out/leakguard" ./cmd/leakguard

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# leakguard as bench/leakguard-bench.yaml has it (every inspection on, shadow
# mode so wrk's one address keeps being served), with the auth endpoint on.
cat > "$out/leakguard-auth.yaml" <<YAML
listen: 127.0.0.1:19202
upstream: http://127.0.0.1:19200
mode: shadow
admin: {listen: "off"}
auth: {listen: 127.0.0.1:19201}
identity:
  trusted_proxies: [127.0.0.1/32]
  account: {header: X-Account}
  session: {cookie: sid}
records:
  - route: GET /api/users/{id}
    entity: user
  - route: GET /api/items/{id}/reviews
    entity: user
    body: \$.reviews[*].user.id
pii:
  scan: all
budgets:
  - {entity: user, per: ip, window: 1h, limit: 300, action: block}
  - {entity: user, per: net, window: 1d, limit: 20000, action: throttle}
  - {entity: phone, per: fingerprint, window: 1h, limit: 5000, action: log}
log:
  decisions: $out/decisions-auth.jsonl
state:
  dir: $out/state-auth
YAML

"$out/leakguard" shop --listen 127.0.0.1:19200 2>"$out/shop-auth.log" & pids+=($!)
LEAKGUARD_SECRET=bench-secret-0123456789 \
  "$out/leakguard" proxy --config "$out/leakguard-auth.yaml" 2>"$out/leakguard-auth.log" & pids+=($!)

authconf=$(sed -e 's/server 127.0.0.1:8000;/server 127.0.0.1:19200;/' \
               -e 's/server 127.0.0.1:9100;/server 127.0.0.1:19201;/' \
               -e 's/listen 80;/listen 127.0.0.1:19212;/' deploy/nginx/leakguard-auth-request.conf)
cat > "$out/nginx-auth.conf" <<NGX
worker_processes auto;
pid $PWD/$out/nginx-auth.pid;
error_log $PWD/$out/nginx-auth-error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  upstream shop { server 127.0.0.1:19200; keepalive 512; }
  upstream leakguard_inline { server 127.0.0.1:19202; keepalive 512; }
  server { # nginx alone
    listen 127.0.0.1:19210;
    location / {
      proxy_pass http://shop;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
  server { # nginx, then leakguard inline as the reverse proxy
    listen 127.0.0.1:19211;
    location / {
      proxy_pass http://leakguard_inline;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
  # nginx asking leakguard (auth_request), as shipped
$authconf
}
NGX
nginx -c "$PWD/$out/nginx-auth.conf" -p "$PWD/$out" & pids+=($!)

for port in 19200 19202 19210 19211 19212; do
  for i in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/api/users/1" && break
    sleep 0.1
  done
done

run() { # name port
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/proxy.lua "http://127.0.0.1:$2" > "$out/wrk-$1.txt"
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$out/wrk-$1.txt")
  p50=$(awk '$1=="50%" {print $2}' "$out/wrk-$1.txt")
  p99=$(awk '$1=="99%" {print $2}' "$out/wrk-$1.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$out/wrk-$1.txt")
  echo "$1 $rps $p50 $p99 ${non2xx:-0}"
}
results=$( {
  run nginx-alone 19210
  run nginx+leakguard-inline 19211
  run nginx+auth_request 19212
} )
alone=$(echo "$results" | awk '$1=="nginx-alone" {print $2}')
{
  echo "| target | req/s | p50 | p99 | non-2xx | vs nginx alone |"
  echo "|---|---:|---:|---:|---:|---:|"
  echo "$results" | while read -r name rps p50 p99 non2xx; do
    printf '| %s | %.0f | %s | %s | %s | %.2f |\n' "$name" "$rps" "$p50" "$p99" "$non2xx" "$(echo "$rps / $alone" | bc -l)"
  done
  echo
  echo "wrk -t2 -c$conns -d${secs}s on $(nproc) cores, $(date -u +%Y-%m-%d); nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), worker_processes auto; leakguard in shadow mode, body inspection + PII scan on (inline only: the auth endpoint sees no bodies)."
} | tee "$out/authrequest.md"
