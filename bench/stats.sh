#!/usr/bin/env bash
# Benchmark: statistics at scale. Generates N tickets into a fresh database
# (SQLite by default; PostgreSQL when DATABASE_URL is set, whose database is
# emptied first), starts the release server on loopback, and prints the median
# and worst of 7 timed requests for each statistics call.
#
#   bench/stats.sh [N]                      # SQLite, default N = 1000000
#   DATABASE_URL=postgres://... bench/stats.sh 1000000
#   BENCH_REUSE=1 DATABASE_URL=... bench/stats.sh   # measure a database filled before
#                                                    # (SQLite: DATABASE_URL=path/to/file.db)
#   BENCH_KEEP=path/to/file.db bench/stats.sh       # SQLite: keep the generated file there
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/griddesk-target}
cargo build --release --quiet
BIN=$CARGO_TARGET_DIR/release/griddesk
WORK=$(mktemp -d /tmp/griddesk-bench.XXXXXX)
if [ -n "${BENCH_REUSE:-}" ]; then
    DB=${DATABASE_URL:?BENCH_REUSE needs DATABASE_URL}
elif [ -n "${DATABASE_URL:-}" ]; then
    DB=$DATABASE_URL
    psql "$DB" -qc 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' >/dev/null
else
    DB=${BENCH_KEEP:-$WORK/bench.db}
    rm -f "$DB" "$DB-wal" "$DB-shm"
fi
PORT=18498
cleanup() { [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

if [ -z "${BENCH_REUSE:-}" ]; then
    echo "== generating $N tickets into ${DB%%\?*}"
    /usr/bin/time -f "   generation: %e s wall, %M KiB max RSS" "$BIN" --database-url "$DB" demo --tickets "$N" | tail -n 1
fi
# Pending migrations (e.g. new indexes on a reused database) before timing;
# on PostgreSQL refresh statistics and the visibility map as autovacuum would.
# (A reused database gets the derived statistics table built here: timed.)
/usr/bin/time -f "   migrate: %e s wall" "$BIN" --database-url "$DB" migrate >/dev/null
case "$DB" in postgres*) psql "$DB" -qc 'VACUUM ANALYZE' >/dev/null ;; esac
# No deadline worker: its first pass over two years of generated, never
# flagged tickets is a backlog of writes that would skew the figures.
"$BIN" --database-url "$DB" --bind "127.0.0.1:$PORT" --no-worker >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

token() {
    curl -sf -XPOST "127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"username\":\"$1\",\"password\":\"junmen-demo-2026\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/'
}
unit() { # id of the unit with this code
    curl -sf "127.0.0.1:$PORT/api/v1/units?q=$1&limit=100" -H "authorization: Bearer $ADMIN" |
        grep -o "\"id\":[0-9]*,\"parent_id\":[0-9null]*,\"level\":\"[a-z]*\",\"name\":\"[^\"]*\",\"code\":\"$1\"" | head -n 1 | sed 's/"id":\([0-9]*\).*/\1/'
}
ADMIN=$(token jm.admin)
BRANCH=$(token jm.branch1)
COMMITTEE_ID=$(unit JM)
BRANCH_ID=$(unit JM-B1)
YEAR=$(date -u -d '-365 days' +%Y-%m-%dT%H:%M:%SZ)
LONG_AGO=$(date -u -d '-800 days' +%Y-%m-%dT%H:%M:%SZ)

measure() { # label token query
    local times=()
    for _ in 1 2 3 4 5 6 7; do
        times+=("$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "127.0.0.1:$PORT/api/v1/$3" -H "authorization: Bearer $2")")
    done
    printf '%s\n' "${times[@]}" | sort -k2 -n | awk -v label="$1" '
        { if ($1 != 200) bad = $1; t[NR] = $2 * 1000 }
        END { printf "   %-40s median %7.1f ms   max %7.1f ms%s\n", label, t[int((NR + 1) / 2)], t[NR], (bad ? "   (HTTP " bad ")" : "") }'
}

echo "== statistics (7 runs each)"
measure "stats: community, last 30 days"        "$ADMIN"  "stats?unit_id=$COMMITTEE_ID"
measure "stats: community, last 365 days"       "$ADMIN"  "stats?unit_id=$COMMITTEE_ID&from=$YEAR"
measure "stats: community, all tickets"         "$ADMIN"  "stats?unit_id=$COMMITTEE_ID&from=$LONG_AGO"
measure "stats: branch, last 365 days"          "$BRANCH" "stats?unit_id=$BRANCH_ID&from=$YEAR"
measure "stats/units: community, 30 days"       "$ADMIN"  "stats/units?parent_id=$COMMITTEE_ID"
measure "stats/units: community, 365 days"      "$ADMIN"  "stats/units?parent_id=$COMMITTEE_ID&from=$YEAR"
measure "stats/units: community, all tickets"   "$ADMIN"  "stats/units?parent_id=$COMMITTEE_ID&from=$LONG_AGO"
measure "stats/units: branch, 365 days"         "$BRANCH" "stats/units?parent_id=$BRANCH_ID&from=$YEAR"
