#!/usr/bin/env bash
# analyze next to GoAccess on an API-heavy log (record routes are ~80% of
# the lines), in one run on the same file: bench/genlog writes the log
# (nginx combined with the account and the session appended), GoAccess reads
# it once, leakguard analyze reads it at --workers 1, 2 and one per core.
# Peak RSS from /usr/bin/time -v. The markdown table goes to stdout (and
# bench/out/analyze-api.md).
#
# Usage: bench/analyze-api.sh [LINES] [SEED]    (default 5000000 1)
# Needs: go, /usr/bin/time, and goaccess (apt-get install -y goaccess) for
# its row; without it the table has leakguard's rows alone.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-5000000}
seed=${2:-1}
out=bench/out
mkdir -p "$out"
have_goaccess=1
command -v goaccess >/dev/null || { have_goaccess=0; echo "bench/analyze-api.sh: no goaccess (apt-get install -y goaccess): its row and the ratios are left out" >&2; }
[ -x /usr/bin/time ] || { echo "bench/analyze-api.sh needs /usr/bin/time (apt-get install -y time)" >&2; exit 2; }
go build -o "$out/leakguard" ./cmd/leakguard
go build -o "$out/genlog" ./bench/genlog
log="$out/api-$lines-$seed.log"
[ -f "$log" ] || "$out/genlog" -lines "$lines" -seed "$seed" -o "$log"
fmt=$("$out/genlog" -print-format)
cfg="$out/analyze-api.yaml"
{ "$out/genlog" -print-config; echo "state: {dir: $out/analyze-api-state}"; } > "$cfg"
records=$(awk '$7 ~ /^\/api\/(users|orders)\//' "$log" | wc -l)

# run NAME CMD...: wall seconds and peak RSS (MiB) of CMD, from /usr/bin/time -v
load0=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A secs rss
run() {
  local name=$1; shift
  local tv="$out/time-$name.txt"
  /usr/bin/time -v "$@" >/dev/null 2>"$tv"
  secs[$name]=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for (i=1;i<=n;i++) s=s*60+p[i]; print s}' "$tv")
  rss[$name]=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$tv")
}
[ "$have_goaccess" = 1 ] && run goaccess goaccess "$log" --log-format='%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %^' --date-format=%d/%b/%Y --time-format=%T -o "$out/goaccess-api.html"
cores=$(nproc)
ws="1 2"
[ "$cores" -gt 2 ] && ws="$ws $cores"
for w in $ws; do
  run "analyze-w$w" "$out/leakguard" analyze --config "$cfg" --format nginx --log-format "$fmt" \
    --account-var http_x_account --session-var cookie_sid --workers "$w" "$log"
done
run analyze-combined "$out/leakguard" analyze --config "$cfg" --format combined --workers "$cores" "$log"

{
  echo "| tool | seconds | lines/s | vs GoAccess | peak RSS |"
  echo "|---|---:|---:|---:|---:|"
  row() {
    local ratio=—
    [ "$have_goaccess" = 1 ] && ratio=$(printf '%.1fx' "$(echo "${secs[goaccess]} / ${secs[$2]}" | bc -l)")
    printf '| %s | %.2f | %.0f | %s | %s MiB |\n' "$1" "${secs[$2]}" "$(echo "$lines / ${secs[$2]}" | bc -l)" "$ratio" "${rss[$2]}"
  }
  [ "$have_goaccess" = 1 ] && row "goaccess $(goaccess --version | head -1 | grep -o '[0-9.]*[0-9]') (custom log-format, HTML report)" goaccess
  for w in $ws; do row "leakguard analyze --format nginx --workers $w" "analyze-w$w"; done
  row "leakguard analyze --format combined --workers $cores" analyze-combined
  echo
  echo "$lines lines of bench/genlog -seed $seed ($records record lines, $(du -h "$log" | cut -f1)), $cores cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(date -u +%Y-%m-%d)."
  echo "Load average before the runs $load0, after $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine slows every figure)."
  printf '2 workers vs 1: %.2fx\n' "$(echo "${secs[analyze-w1]} / ${secs[analyze-w2]}" | bc -l)"
} | tee "$out/analyze-api.md"
