#!/usr/bin/env bash
# Benchmark: CPU a request, for comparing two builds side by side. Starts
# the release server (or BIN) on an existing database (one that `griddesk
# demo --tickets N` filled), signs in as USERNAME (default jm.admin), and for
# each PATH runs wrk (2 threads, 32 connections) for DURATION seconds after
# a 2 s warm-up. Prints req/s, p99, and the CPU time a request of the
# server process and of every PostgreSQL process on this machine (from
# /proc; 0 on SQLite). Figures only: it never fails on a slow answer.
# Alternate two builds in one sitting (and drop the page cache first,
# `sync; echo 3 > /proc/sys/vm/drop_caches`): these machines are noisy.
#
# A PATH written `POST:/api/v1/...` is sent as a POST with BODY (JSON).
#
#   bench/cpu.sh DATABASE_URL PATH...
#   BIN=/tmp/griddesk-before USERNAME=jm.committee bench/cpu.sh postgres://postgres@127.0.0.1:5432/bench /healthz /api/v1/tickets/9000
#   USERNAME=jm.committee BODY='{"category":"noise","title":"夜间噪音","description":"（压测）","on_behalf_of":30}' \
#       bench/cpu.sh postgres://postgres@127.0.0.1:5432/bench POST:/api/v1/complaints
# Filing grows the database: give each build a fresh copy of the same one
# (`CREATE DATABASE copy TEMPLATE bench`) to compare them.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: bench/cpu.sh DATABASE_URL PATH..." >&2; exit 2; }
DB=$1
shift
DURATION=${DURATION:-6}
USERNAME=${USERNAME:-jm.admin}
PORT=${PORT:-18497}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/griddesk-target}
command -v wrk >/dev/null || { echo "bench: needs wrk (apt-get install -y wrk)" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN=$CARGO_TARGET_DIR/release/griddesk
fi
WORK=$(mktemp -d /tmp/griddesk-cpu.XXXXXX)
"$BIN" --database-url "$DB" --bind "127.0.0.1:$PORT" --no-worker >"$WORK/server.log" 2>&1 &
SERVER=$!
cleanup() {
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 100); do
    curl -sf "$BASE/healthz" >/dev/null && break
    sleep 0.1
done
TOKEN=$(curl -sf -XPOST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$USERNAME\",\"password\":\"junmen-demo-2026\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
echo "wrk.headers[\"Authorization\"] = \"Bearer $TOKEN\"" >"$WORK/get.lua"
{
    cat "$WORK/get.lua"
    echo 'wrk.method = "POST"'
    echo 'wrk.headers["Content-Type"] = "application/json"'
    printf 'wrk.body = [[%s]]\n' "${BODY:-}"
} >"$WORK/post.lua"
TICK=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
postgres_ticks() {
    local sum=0 pid
    for pid in $(pgrep -x postgres || true); do sum=$((sum + $(ticks "$pid"))); done
    echo "$sum"
}
for path in "$@"; do
    script=$WORK/get.lua
    if [ "${path#POST:}" != "$path" ]; then
        [ -n "${BODY:-}" ] || { echo "bench: $path needs BODY" >&2; exit 2; }
        path=${path#POST:}
        script=$WORK/post.lua
    fi
    wrk -t2 -c32 -d2s -s "$script" "$BASE$path" >/dev/null
    s0=$(ticks "$SERVER")
    p0=$(postgres_ticks)
    out=$(wrk -t2 -c32 -d"${DURATION}s" --latency -s "$script" "$BASE$path")
    s1=$(ticks "$SERVER")
    p1=$(postgres_ticks)
    n=$(awk '/requests in/ { print $1 }' <<<"$out")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    bad=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' <<<"$out")
    [ "$script" = "$WORK/get.lua" ] || path="POST $path"
    printf '%-50s %10s req/s  p99 %8s  server %6.1f µs  PostgreSQL %6.1f µs a request%s\n' "$path" "$rps" "$p99" \
        "$(awk -v a="$s0" -v b="$s1" -v n="$n" -v t="$TICK" 'BEGIN { print (b - a) * 1e6 / t / n }')" \
        "$(awk -v a="$p0" -v b="$p1" -v n="$n" -v t="$TICK" 'BEGIN { print (b - a) * 1e6 / t / n }')" \
        "${bad:+   ($bad non-2xx)}"
done
