#!/usr/bin/env bash
# analyze throughput next to GoAccess on the same 1M-line combined log, in
# one run: the real Apache log in ../shared/data repeated 100 times.
# Usage: bench/analyze.sh   Needs: go, goaccess (apt-get install goaccess).
# Writes bench/out/analyze.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"
command -v goaccess >/dev/null || { echo "bench/analyze.sh needs goaccess: apt-get install goaccess" >&2; exit 2; }
src=../shared/data/access-logs/elastic-examples-apache_logs.log
[ -f "$src" ] || { echo "missing $src" >&2; exit 2; }
go build -o "$out/leakguard" ./cmd/leakguard
log="$out/1m.log"
[ -f "$log" ] || for i in $(seq 1 100); do cat "$src"; done > "$log"
cat > "$out/analyze.yaml" <<YAML
upstream: http://127.0.0.1:1
records:
  - route: GET /presentations/{id}
    entity: user
budgets:
  - {entity: user, per: ip, window: 1h, limit: 300, action: block}
state: {dir: $out/analyze-state}
YAML
lines=$(wc -l < "$log")
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
t_ga=$(secs goaccess "$log" --log-format=COMBINED -o "$out/goaccess.html")
t_lg=$(secs "$out/leakguard" analyze --config "$out/analyze.yaml" "$log")
t_lg_html=$(secs "$out/leakguard" analyze --config "$out/analyze.yaml" --html "$out/analyze.html" --suggest-budgets "$log")
{
  echo "| tool | seconds | lines/s | vs GoAccess |"
  echo "|---|---:|---:|---:|"
  for row in "goaccess 1.7 (COMBINED, HTML report)|$t_ga" "leakguard analyze|$t_lg" "leakguard analyze --html --suggest-budgets|$t_lg_html"; do
    name=${row%|*}; t=${row#*|}
    printf '| %s | %.2f | %.0f | %.1fx |\n' "$name" "$t" "$(echo "$lines / $t" | bc -l)" "$(echo "$t_ga / $t" | bc -l)"
  done
  echo
  echo "$lines lines (the real Apache log in ../shared/data x100), $(nproc) cores, $(date -u +%Y-%m-%d)."
} | tee "$out/analyze.md"
