#!/usr/bin/env bash
# Proxy throughput on this machine, in one run: the shop directly, a tuned plain
# Go httputil.ReverseProxy, leakguard (body inspection and PII scan on), and
# nginx proxy_pass, all in front of the same upstream, driven by wrk; then
# leakguard and nginx each terminating TLS (a self-signed certificate), where
# leakguard reads every connection's JA4 and young sessions are followed by it;
# then, with requests as people make them (bench/people.lua: 20,000 people,
# sessions, pages and scripts around the calls), the plain Go proxy and
# leakguard with a routes-only config (bench/leakguard-default.yaml: the
# default policy and the whole detector), as a new user runs it, and the
# same without the embedded store (state.persist: false).
# Usage: bench/proxy.sh [seconds per run, default 10] [connections, default 64]
# Needs: go, wrk, nginx (apt-get install wrk nginx-light). Writes bench/out/proxy.md.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
out=bench/out
mkdir -p "$out"
for t in wrk nginx openssl; do
  command -v $t >/dev/null || { echo "bench/proxy.sh needs $t: apt-get install wrk nginx-light openssl" >&2; exit 2; }
done
go build -o "$out/leakguard" ./cmd/leakguard
go build -o "$out/plainproxy" ./bench/plainproxy

# Every run starts from no state: a state file left by the run before
# holds its actors (the same people, with their records) and its shadow
# sanctions, and made the next run's figures depend on how many ran before.
rm -rf "$out/state" "$out/state-default" "$out/state-nostate" "$out/state-tls"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$out/leakguard" shop --listen 127.0.0.1:19000 2>"$out/shop.log" & pids+=($!)
"$out/plainproxy" --listen 127.0.0.1:18081 --upstream http://127.0.0.1:19000 2>"$out/plain.log" & pids+=($!)
LEAKGUARD_ADMIN_TOKEN=bench-token-0123456789 LEAKGUARD_SECRET=bench-secret-0123456789 \
  "$out/leakguard" proxy --config bench/leakguard-bench.yaml 2>"$out/leakguard.log" & pids+=($!)
LEAKGUARD_SECRET=bench-secret-0123456789 \
  "$out/leakguard" proxy --config bench/leakguard-default.yaml 2>"$out/leakguard-default.log" & pids+=($!)
# the same without the embedded store: what writing state to disk costs
sed -e 's/^listen: .*/listen: 127.0.0.1:18084/' -e 's#^  dir: .*#  dir: bench/out/state-nostate\n  persist: false#' \
  -e 's#bench/out/decisions-default.jsonl#bench/out/decisions-nostate.jsonl#' bench/leakguard-default.yaml > "$out/leakguard-nostate.yaml"
LEAKGUARD_SECRET=bench-secret-0123456789 \
  "$out/leakguard" proxy --config "$out/leakguard-nostate.yaml" 2>"$out/leakguard-nostate.log" & pids+=($!)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$out/tls.key" -out "$out/tls.crt" 2>/dev/null
# the same config terminating TLS; no trusted proxy, so the connection's JA4
# is the client's (a trusted peer's handshake would be ignored)
sed -e 's/^listen: .*/listen: 127.0.0.1:18443/' -e 's/^admin: .*/admin: {listen: "off"}/' \
  -e 's/trusted_proxies: .*/trusted_proxies: []/' -e 's#bench/out/state#bench/out/state-tls#' \
  -e 's#bench/out/decisions.jsonl#bench/out/decisions-tls.jsonl#' bench/leakguard-bench.yaml > "$out/leakguard-tls.yaml"
echo "tls: {cert_file: $out/tls.crt, key_file: $out/tls.key}" >> "$out/leakguard-tls.yaml"
LEAKGUARD_SECRET=bench-secret-0123456789 \
  "$out/leakguard" proxy --config "$out/leakguard-tls.yaml" 2>"$out/leakguard-tls.log" & pids+=($!)
cat > "$out/nginx.conf" <<NGX
worker_processes auto;
pid $PWD/$out/nginx.pid;
error_log $PWD/$out/nginx-error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  upstream shop { server 127.0.0.1:19000; keepalive 512; }
  server {
    listen 127.0.0.1:18082;
    location / {
      proxy_pass http://shop;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
  server {
    listen 127.0.0.1:18444 ssl;
    ssl_certificate $PWD/$out/tls.crt;
    ssl_certificate_key $PWD/$out/tls.key;
    location / {
      proxy_pass http://shop;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
NGX
nginx -c "$PWD/$out/nginx.conf" -p "$PWD/$out" & pids+=($!)

for url in http://127.0.0.1:19000 http://127.0.0.1:18081 http://127.0.0.1:18080 http://127.0.0.1:18082 http://127.0.0.1:18083 http://127.0.0.1:18084 https://127.0.0.1:18443 https://127.0.0.1:18444; do
  for i in $(seq 1 100); do
    curl -kfsS -o /dev/null "$url/api/users/1" && break
    sleep 0.1
  done
done

run() { # name port [scheme [script]]
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s "${4:-bench/proxy.lua}" "${3:-http}://127.0.0.1:$2" > "$out/wrk-$1.txt"
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$out/wrk-$1.txt")
  p50=$(awk '$1=="50%" {print $2}' "$out/wrk-$1.txt")
  p99=$(awk '$1=="99%" {print $2}' "$out/wrk-$1.txt")
  echo "$1 $rps $p50 $p99"
}
results=$( {
  run upstream-direct 19000
  run plain-go-proxy 18081
  run leakguard 18080
  run nginx 18082
  run leakguard-tls 18443 https
  run nginx-tls 18444 https
  run plain-go-proxy-people 18081 http bench/people.lua
  run leakguard-default 18083 http bench/people.lua
  run leakguard-default-nostate 18084 http bench/people.lua
} )
plain=$(echo "$results" | awk '$1=="plain-go-proxy" {print $2}')
people=$(echo "$results" | awk '$1=="plain-go-proxy-people" {print $2}')
{
  echo "| target | req/s | p50 | p99 | vs plain Go proxy |"
  echo "|---|---:|---:|---:|---:|"
  echo "$results" | while read -r name rps p50 p99; do
    base=$plain
    case $name in *-people|leakguard-default*) base=$people ;; esac
    printf '| %s | %.0f | %s | %s | %.2f |\n' "$name" "$rps" "$p50" "$p99" "$(echo "$rps / $base" | bc -l)"
  done
  echo
  echo "wrk -t2 -c$conns -d${secs}s on $(nproc) cores, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD); leakguard: body inspection + PII scan on, shadow mode; -tls: terminating TLS (ECDSA P-256, keep-alive connections), leakguard reading each connection's JA4; -people and leakguard-default: bench/people.lua (20,000 people with sessions, pages and scripts), leakguard-default with a routes-only config (the default policy, the whole detector; -nostate: state.persist false), each against plain-go-proxy-people."
} | tee "$out/proxy.md"
