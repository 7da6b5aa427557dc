#!/usr/bin/env bash
# Benchmark: what a community office waits for, side by side with what the
# same server answers on /healthz in the same run. For each database size it
# generates the demo community with N tickets into a fresh database (SQLite
# by default; PostgreSQL when DATABASE_URL is set, whose schema is emptied
# first), starts the release server on loopback without the deadline worker,
# and drives it with wrk (2 threads, 32 connections; 2 s untimed first). It
# prints, per load: requests a second, p50 and p99 latency, the share of
# /healthz, non-2xx answers; and the server's RSS after the read loads.
# Filing is measured twice on SQLite: with synchronous=FULL (the default)
# and NORMAL. At the end, one table puts every load side by side across the
# sizes, with each p99's ratio to its p99 at the first size. Figures only:
# it never fails on a slow answer. Ratios are what compare across runs and
# machines.
#
#   bench/speed.sh                          # SQLite, 10,000 tickets, 10 s per load
#   SIZES="10000 1000000" bench/speed.sh    # also at a million tickets (generation takes a while)
#   DURATION=20 CONNECTIONS=32 bench/speed.sh
#   WARMUP=0 bench/speed.sh                 # no untimed 2 s of each load first
#   DATABASE_URL=postgres://postgres@127.0.0.1:55450/bench bench/speed.sh
#   BIN=/tmp/griddesk-before bench/speed.sh   # another build, for a side-by-side
#   SYNCHRONOUS=normal bench/speed.sh         # SQLite reads with synchronous=NORMAL (default FULL)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-10000}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
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
declare -A RESULT   # "size|label" -> "req/s|p99|share"
LABELS=()           # in the order first measured
CURRENT_SIZE=""
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
    # Warmed up first, as bench/cpu.sh does: the figures are the load's, not
    # its first second's (connections opened, statements prepared, the
    # readers' caches filled).
    if [ "$WARMUP" != 0 ]; then
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s "$script" "$BASE$path" >/dev/null 2>&1
    fi
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$script" "$BASE$path" 2>&1)
    local rps p50 p99 bad
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    bad=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' <<<"$out")
    [ -n "$HEALTHZ_RPS" ] || HEALTHZ_RPS=$rps
    local share
    share=$(awk -v a="$rps" -v b="$HEALTHZ_RPS" 'BEGIN { printf "%.1f%%", 100 * a / b }')
    printf '   %-40s %10s req/s  p50 %8s  p99 %8s  %6s of /healthz%s\n' "$label" "$rps" "$p50" "$p99" \
        "$share" "${bad:+   ($bad non-2xx)}"
    [ -n "${RESULT["$FIRST_SIZE|$label"]+x}" ] || LABELS+=("$label")
    RESULT["$CURRENT_SIZE|$label"]="$rps|$p99|$share"
}
# wrk's latency (e.g. 12.34ms, 1.20s, 850.00us) in milliseconds.
ms() { awk -v t="$1" 'BEGIN { v = t + 0; if (t ~ /us$/) v /= 1000; else if (t ~ /[0-9]s$/ && t !~ /ms$/) v *= 1000; print v }'; }
rss() { awk '/^VmRSS:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$SERVER/status"; }

echo "== griddesk $(git describe --always --dirty 2>/dev/null || echo '?'), $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s"
FIRST_SIZE=${SIZES%% *}
start_server() { # [extra arguments]
    # A server left over from another run would answer in this one's place.
    if curl -s -o /dev/null "$BASE/healthz"; then
        echo "bench: something already answers on port $PORT; stop it first" >&2
        exit 1
    fi
    "$BIN" --database-url "$DB" --bind "127.0.0.1:$PORT" --no-worker "$@" >"$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
    if ! kill -0 "$SERVER" 2>/dev/null; then
        echo "bench: the server did not start:" >&2
        tail -n 5 "$WORK/server.log" >&2
        SERVER=""
        exit 1
    fi
}
stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }
for N in $SIZES; do
    CURRENT_SIZE=$N
    if [ -n "${DATABASE_URL:-}" ]; then
        DB=$DATABASE_URL
        PGOPTIONS='--client-min-messages=warning' psql "$DB" -qc 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' >/dev/null
    else
        DB=$WORK/speed-$N.db
    fi
    echo "== $N tickets on ${DB%%://*}"
    /usr/bin/time -f "   generated in %e s" "$BIN" --database-url "$DB" demo --tickets "$N" 2>&1 >/dev/null | tail -n 1
    start_server ${SYNCHRONOUS:+--sqlite-synchronous "$SYNCHRONOUS"}
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
    RSS_READS=$(rss)
    echo "   server RSS after the reads: $RSS_READS"
    RESULT["$N|RSS after the reads"]="$RSS_READS"
    FILING="{\"category\":\"noise\",\"title\":\"（压测）夜间噪音\",\"description\":\"（压测）\",\"on_behalf_of\":$RESIDENT_ID}"
    if [ -n "${DATABASE_URL:-}" ]; then
        load "POST a complaint (staff, on behalf)" "/api/v1/complaints" "$STAFF" POST "$FILING"
        echo "   server RSS after the writes: $(rss)"
        stop_server
    else
        load "POST a complaint, synchronous=${SYNCHRONOUS:-full}" "/api/v1/complaints" "$STAFF" POST "$FILING"
        echo "   server RSS after the writes: $(rss)"
        if [ -z "${SYNCHRONOUS:-}" ]; then
            stop_server
            start_server --sqlite-synchronous normal
            load "POST a complaint, synchronous=normal" "/api/v1/complaints" "$STAFF" POST "$FILING"
        fi
        stop_server
    fi
done

# Every load side by side: req/s, p99 and share of /healthz per size, and
# each p99 against its p99 at the first size.
echo
echo "== side by side (req/s, p99, share of /healthz; p99 x = p99 / p99 at $FIRST_SIZE tickets)"
printf '   %-40s' "load"
for N in $SIZES; do printf ' | %-34s' "$N tickets"; done
echo
for label in "${LABELS[@]}"; do
    printf '   %-40s' "$label"
    first_p99=""
    for N in $SIZES; do
        IFS='|' read -r rps p99 share <<<"${RESULT["$N|$label"]:-}"
        if [ -z "$rps" ]; then printf ' | %-34s' "-"; continue; fi
        cell="$rps  p99 $p99  $share"
        if [ -z "$first_p99" ]; then
            first_p99=$(ms "$p99")
        else
            cell="$cell  x$(awk -v a="$(ms "$p99")" -v b="$first_p99" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
        fi
        printf ' | %-34s' "$cell"
    done
    echo
done
printf '   %-40s' "RSS after the reads"
for N in $SIZES; do printf ' | %-34s' "${RESULT["$N|RSS after the reads"]:-}"; done
echo
