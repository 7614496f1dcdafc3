#!/usr/bin/env bash
# Adaptive concurrency against the mock's capacity model, end to end through the real
# binary: a `usersync mock-server` child with the given limits, one `usersync sync` of ROWS
# generated users into an empty ledger, then what the mock saw. With NEXT_ROWS=N, the next
# night follows: the same export with N new users, synced against the same mock from the limit
# the first run learned.
#
#   benches/adaptive.sh ROWS SETTING [MOCK FLAGS...]
#
# SETTING: `auto` (concurrency = "auto"), `rate:N` (a static rate_limit of N/s, concurrency 64)
# or `conc:N` (a static concurrency of N, no rate limit).
# Examples (the BENCHMARKS.md tables; `cargo bench --bench adaptive_rate` runs the first for
# three limits, and the last at a capacity, and judges them against their aims):
#   NEXT_ROWS=2000 benches/adaptive.sh 20000 auto --rate-limit 200
#   benches/adaptive.sh 20000 rate:50  --rate-limit 200
#   benches/adaptive.sh 20000 rate:1000 --rate-limit 200
#   benches/adaptive.sh 4000 auto --capacity 32 --latency-ms 50
#
# Uses $USERSYNC, or target/release/usersync (build it first: cargo build --release).
# Prints: wall time, the sync's summary, writes per second over the whole run (process start to
# exit), requests and 429s the mock saw, the mean rate it saw over the second half of the run,
# the most requests in flight at once, the row latencies, the rate and concurrency it learned
# (where the next night starts); for the next night, the rate the mock
# saw in its first whole second and its median; last, one `summary:` line of all that.
set -euo pipefail
cd "$(dirname "$0")/.."

rows=${1:?ROWS}
setting=${2:?SETTING}
shift 2
next_rows=${NEXT_ROWS:-0}
bin=${USERSYNC:-target/release/usersync}
work=$(mktemp -d)
mock_pid=
cleanup() {
    if [[ -n $mock_pid ]]; then kill "$mock_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# users N: an export of N users, E0000000..
users() {
    python3 - "$1" <<'EOF'
import sys
print("id,email,plan,sex,born")
for i in range(int(sys.argv[1])):
    print(f"E{i:07d},user{i}@example.com,premium,{'MF'[i % 2]},{1 + i % 28:02d}/{1 + i % 12:02d}/19{60 + i % 40}")
EOF
}

case $setting in
auto) limits='concurrency = "auto"' ;;
rate:*) limits="rate_limit = ${setting#rate:}
concurrency = 64" ;;
conc:*) limits="concurrency = ${setting#conc:}" ;;
*) echo "unknown setting $setting" >&2; exit 2 ;;
esac
cat >"$work/usersync.toml" <<EOF
[targets.lawyers]
provider = "meetinglawyers"
base_url = "mock"
credentials = { api_key = "ML_API_KEY", secret_key = "ML_SECRET_KEY" }
key = "user_id"
$limits

[targets.lawyers.fields]
user_id = "id"
email = "email"
status = { column = "plan", map = { premium = 2, free = 0, trial = 4 } }
gender = { column = "sex", map = { M = 0, F = 1 } }
birthdate = { column = "born", date_format = "%d/%m/%Y" }
EOF

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" mock-server --provider meetinglawyers --listen "127.0.0.1:$port" "$@" >"$work/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 100); do
    grep -q listening "$work/mock.log" && break
    sleep 0.1
done
stats="http://127.0.0.1:$port/__mock/stats"
export ML_API_KEY=demo-api-key ML_SECRET_KEY=demo-secret-key

# sync: one `usersync sync` of users.csv into the ledger; sets `wall` (seconds).
sync() {
    local start end status=0
    start=$(date +%s.%N)
    "$bin" sync "$work/users.csv" -c "$work/usersync.toml" --ledger "$work/ledger.db" \
        --base-url "http://127.0.0.1:$port/" ${SYNC_ARGS:-} || status=$?
    end=$(date +%s.%N)
    wall=$(python3 -c "print(f'{$end - $start:.2f}')")
    echo "exit status $status, wall time ${wall}s"
}

users "$rows" >"$work/users.csv"
sync
python3 - "$stats" "$work/ledger.db" "$rows" "$wall" >"$work/first.txt" <<'EOF'
import json, sqlite3, sys, urllib.request
s = json.load(urllib.request.urlopen(sys.argv[1]))
rows, wall = int(sys.argv[3]), float(sys.argv[4])
seconds = [p["requests"] for p in s["per_second"]]
active = [i for i, n in enumerate(seconds) if n]
half = seconds[(active[0] + active[-1]) // 2 : active[-1]] if active else []
mean = sum(half) / len(half) if half else 0
throttled = s["by_status"].get("429", 0)
print(f"{rows / wall:.1f} writes/s over the whole run ({rows} rows in {wall:.1f} s)")
print(f"mock saw {s['requests']} requests, {throttled} answered 429 "
      f"({100 * throttled / max(1, s['requests']):.2f}%), {mean:.0f} requests/s "
      f"over the second half, at most {s['max_in_flight']} in flight")
db = sqlite3.connect(sys.argv[2])
lat = sorted(r[0] for r in db.execute("SELECT latency_ms FROM row_outcomes WHERE latency_ms IS NOT NULL"))
if lat:
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print(f"row latency: median {pick(0.5)} ms, p95 {pick(0.95)} ms, max {lat[-1]} ms")
learned = db.execute("SELECT learned_rate, learned_concurrency FROM target_state").fetchone()
learned_rate, learned_conc = learned if learned else (None, None)
print(f"learned: rate {learned_rate} /s, concurrency {learned_conc}")
print(f"summary: rows={rows} wall={wall:.2f} writes_per_s={rows / wall:.1f} "
      f"requests={s['requests']} throttled={throttled} "
      f"throttled_pct={100 * throttled / max(1, s['requests']):.3f} "
      f"learned_concurrency={learned_conc} max_in_flight={s['max_in_flight']} "
      f"seconds_seen={len(seconds)}",
      end="")
EOF
cat "$work/first.txt"
echo

if (( next_rows > 0 )); then
    seen=$(sed -n 's/.*seconds_seen=\([0-9]*\).*/\1/p' "$work/first.txt")
    users $((rows + next_rows)) >"$work/users.csv"
    echo "next night: $next_rows new users"
    sync
    python3 - "$stats" "$seen" <<'EOF' | tee "$work/next.txt"
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(sys.argv[1]))
seconds = [p["requests"] for p in s["per_second"]][int(sys.argv[2]):]
active = [i for i, n in enumerate(seconds) if n]
# Whole seconds only: the first and the last second the run was active in are partial.
whole = seconds[active[0] + 1 : active[-1]] if len(active) > 2 else []
first = whole[0] if whole else 0
median = sorted(whole)[len(whole) // 2] if whole else 0
throttled = sum(p["throttled"] for p in s["per_second"][int(sys.argv[2]):])
print(f"next night: {first} requests/s in its first whole second, median {median}/s, "
      f"{throttled} answered 429; whole seconds: {whole}")
print(f"summary-next: first_second={first} median={median} throttled={throttled}")
EOF
fi
