#!/usr/bin/env bash
# Each scraper class alone among the scoreboard's 3,000 live people (the
# people browse alone for 30 s, then the class runs for 90 s): a rule that
# holds what many sessions do together can hold a class sooner beside the
# others than alone, so the scoreboard's figures, every class at once, are
# not each class's own.
#   bench/alone.sh [class ...]   (default: every class; leakguard demo --help lists them)
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o /tmp/leakguard-alone ./cmd/leakguard
lg=/tmp/leakguard-alone
classes=("$@")
if [ ${#classes[@]} -eq 0 ]; then
  read -r -a classes <<< "$($lg demo --help 2>&1 | sed -n 's/.*default: every one; \(.*\))$/\1/p' | tr -d ,)"
fi
echo "# each class alone, $(date -u +%Y-%m-%d), $(nproc) cores, $(git rev-parse --short HEAD)"
for c in "${classes[@]}"; do
  echo
  echo "## $c"
  $lg demo --duration 120s --scrapers-after 30s --every 1h --shoppers 3000 --nats 10 --classes "$c" | sed -n '/^t=/,$p'
done
