#!/usr/bin/env bash
# `concurrency = "auto"` against the mock's token bucket (`--rate-limit R`: R/s holding R/10,
# 429 with `Retry-After: 1` past it) for R = 50, 200 and 1000: for each, benches/adaptive.sh
# syncs R × SECS new users into an empty ledger, then the next night's R × 10 new users from the
# limit learned. Prints one table row per R: writes per second over the whole first run (the
# process, start to exit), the share of its requests answered 429, and the rate the mock saw in
# the next run's first whole second.
#
#   benches/adaptive_rate.sh [SECS] [R...]        (defaults: 100, and 50 200 1000)
#
# Uses $USERSYNC, or target/release/usersync. Takes about (SECS + 12) s per R; run it on a quiet
# machine (the figures are the provider's limit, not CPU, but a starved client misses its pace).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-100}
shift || true
rates=("$@")
(( ${#rates[@]} )) || rates=(50 200 1000)

echo "| limit R | rows | wall | writes/s, whole run | of R | answered 429 | next run, first second | of R |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for r in "${rates[@]}"; do
    out=$(NEXT_ROWS=$((r * 10)) benches/adaptive.sh $((r * secs)) auto --rate-limit "$r" 2>&1)
    first=$(grep '^summary:' <<<"$out")
    next=$(grep '^summary-next:' <<<"$out")
    field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
    python3 - "$r" "$(field rows "$first")" "$(field wall "$first")" \
        "$(field writes_per_s "$first")" "$(field throttled "$first")" \
        "$(field throttled_pct "$first")" "$(field first_second "$next")" <<'EOF'
import sys
r, rows, wall, wps, throttled, pct, first = sys.argv[1:]
r = float(r)
print(f"| {r:.0f}/s | {int(rows):,} | {float(wall):.1f} s | {float(wps):.1f} | "
      f"{100 * float(wps) / r:.1f}% | {throttled} ({float(pct):.2f}%) | {first}/s | "
      f"{100 * float(first) / r:.1f}% |")
EOF
done
