#!/usr/bin/env bash
# Benchmark: what a community office waits for, side by side with what the
# same server answers on /healthz in the same run. For each database size it
# generates the demo community with N tickets into a fresh database (SQLite
# by default; PostgreSQL when DATABASE_URL is set, whose schema is emptied
# first), starts the release server on loopback without the deadline worker,
# and drives it with wrk (2 threads, 32 connections). It prints, per load:
# requests a second, p50 and p99 latency, the share of /healthz, non-2xx
# answers; and the server's RSS after the read loads. Figures only: it never
# fails on a slow answer. Ratios are what compare across runs and machines.
#
#   bench/speed.sh                          # SQLite, 10,000 tickets, 10 s per load
#   SIZES="10000 1000000" bench/speed.sh    # also at a million tickets (generation takes a while)
#   DURATION=20 CONNECTIONS=32 bench/speed.sh
#   DATABASE_URL=postgres://postgres@127.0.0.1:55450/bench bench/speed.sh
#   BIN=/tmp/griddesk-before bench/speed.sh   # another build, for a side-by-side
#   SYNCHRONOUS=normal bench/speed.sh         # SQLite with synchronous=NORMAL (default FULL)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-10000}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/griddesk-target}
command -v wrk >/dev/null || { echo "bench: needs wrk (apt-get install -y wrk)" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN=$CARGO_TARGET_DIR/release/griddesk
fi
WORK=$(mktemp -d /tmp/griddesk-speed.XXXXXX)
PORT=18498
SERVER=""
cleanup() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
BASE="http://127.0.0.1:$PORT"

token() {
    curl -sf -XPOST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"username\":\"$1\",\"password\":\"junmen-demo-2026\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/'
}
user_id() { # id of the account with this username, as the admin sees it
    curl -sf "$BASE/api/v1/users?q=$1&limit=5" -H "authorization: Bearer $ADMIN" |
        grep -o "\"id\":[0-9]*,\"username\":\"$1\"" | head -n 1 | sed 's/"id":\([0-9]*\).*/\1/'
}

# wrk with a request described by a Lua script; prints one line.
HEALTHZ_RPS=""
load() { # label path [token] [method body]
    local label=$1 path=$2 token=${3:-} method=${4:-GET} body=${5:-}
    local script=$WORK/request.lua
    {
        echo "wrk.method = \"$method\""
        [ -n "$token" ] && echo "wrk.headers[\"Authorization\"] = \"Bearer $token\""
        if [ -n "$body" ]; then
            echo 'wrk.headers["Content-Type"] = "application/json"'
            printf 'wrk.body = [[%s]]\n' "$body"
        fi
    } >"$script"
    local out
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$script" "$BASE$path" 2>&1)
    local rps p50 p99 bad
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    bad=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' <<<"$out")
    [ -n "$HEALTHZ_RPS" ] || HEALTHZ_RPS=$rps
    printf '   %-40s %10s req/s  p50 %8s  p99 %8s  %6s of /healthz%s\n' "$label" "$rps" "$p50" "$p99" \
        "$(awk -v a="$rps" -v b="$HEALTHZ_RPS" 'BEGIN { printf "%.1f%%", 100 * a / b }')" \
        "${bad:+   ($bad non-2xx)}"
}
rss() { awk '/^VmRSS:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$SERVER/status"; }

echo "== griddesk $(git describe --always --dirty 2>/dev/null || echo '?'), $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s"
for N in $SIZES; do
    if [ -n "${DATABASE_URL:-}" ]; then
        DB=$DATABASE_URL
        PGOPTIONS='--client-min-messages=warning' psql "$DB" -qc 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' >/dev/null
    else
        DB=$WORK/speed-$N.db
    fi
    echo "== $N tickets on ${DB%%://*}"
    /usr/bin/time -f "   generated in %e s" "$BIN" --database-url "$DB" demo --tickets "$N" 2>&1 >/dev/null | tail -n 1
    "$BIN" --database-url "$DB" --bind "127.0.0.1:$PORT" --no-worker ${SYNCHRONOUS:+--sqlite-synchronous "$SYNCHRONOUS"} \
        >"$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
    ADMIN=$(token jm.admin)
    STAFF=$(token jm.committee)
    TICKET=$(curl -sf "$BASE/api/v1/tickets?limit=1" -H "authorization: Bearer $ADMIN" | grep -o '"id":[0-9]*' | head -n 1 | cut -d: -f2)
    RESIDENT_ID=$(user_id resident01)
    echo "   server RSS at start: $(rss)"
    HEALTHZ_RPS=""
    load "/healthz"                            "/healthz"
    load "GET one ticket (admin)"              "/api/v1/tickets/$TICKET" "$ADMIN"
    load "GET one ticket (committee staff)"    "/api/v1/tickets/$TICKET" "$STAFF"
    load "list of 25 (admin)"                  "/api/v1/tickets?limit=25" "$ADMIN"
    load "list: status=assigned,accepted"      "/api/v1/tickets?limit=25&status=assigned,accepted" "$ADMIN"
    load "list: overdue=true"                  "/api/v1/tickets?limit=25&overdue=true" "$ADMIN"
    load "list: category=noise"                "/api/v1/tickets?limit=25&category=noise" "$ADMIN"
    load "search q=漏水 (hits)"                "/api/v1/tickets?limit=25&q=%E6%BC%8F%E6%B0%B4" "$ADMIN"
    load "search q=zzqx (no match)"            "/api/v1/tickets?limit=25&q=zzqx" "$ADMIN"
    echo "   server RSS after the reads: $(rss)"
    load "POST a complaint (staff, on behalf)" "/api/v1/complaints" "$STAFF" POST \
        "{\"category\":\"noise\",\"title\":\"（压测）夜间噪音\",\"description\":\"（压测）\",\"on_behalf_of\":$RESIDENT_ID}"
    echo "   server RSS after the writes: $(rss)"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
done
