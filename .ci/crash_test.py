#!/usr/bin/env python3
"""Crash-safety test for griddesk (run through `.ci/crash-test`).

Each round: concurrent clients file complaints over loopback (as the demo
admin, on behalf of residents, each with its own Idempotency-Key); after a
seeded random delay the server gets SIGKILL (on PostgreSQL, in some rounds the
database gets `pg_ctl -m immediate stop` first). Then the database (if
stopped) and griddesk are started again, filings whose outcome is unknown are
retried with their key, and EVERY ticket acknowledged so far (201, all rounds)
is checked over HTTP (ticket readable, first timeline event `filed`) and in
SQL, with the audit trail (a filing by staff is a change the trail records in
the change's own transaction: the answer that acknowledged each ticket has
exactly one entry, filed under the ticket's community, and no ticket was
committed without the entry of its filing); then the database's consistency
and integrity are checked.

Webhooks: before the first round the demo admin registers an endpoint
served by a receiver in this script (127.0.0.1), for `arrived` (what each
filing tells its unit). The server runs its delivery worker, so kills land
between commits and deliveries too. After the last round the server runs
until the outbox is empty, and every acknowledged ticket must have reached
the receiver, signed (a repeat after a kill is allowed: delivery is at least
once; the count of repeats is reported), and every ticket in the database
must have its outbox row (written in the filing's transaction).

Python standard library only; PostgreSQL is reached through `psql`.
"""

import argparse
import hashlib
import hmac
import http.client
import http.server
import json
import os
import random
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

PASSWORD = "junmen-demo-2026"
ADMIN = "jm.admin"
CATEGORIES = ["noise", "sanitation", "leak", "parking", "public_facilities", "other"]
HTTP_TIMEOUT = 10  # seconds, every request
READY_TIMEOUT = 30  # seconds for /readyz after a start
PAUSE = 0.1  # seconds, at most, a client waits between filings (keeps the ticket count moderate)
CLIENT_GRACE = 15  # seconds a client may run past the kill before it is abandoned
WEBHOOK_TIMEOUT = 2  # --webhook-timeout: a killed server's leases run out after 3x this
DRAIN_TIMEOUT = 90  # seconds the last server has to empty the outbox


def log(msg):
    print(msg, flush=True)


class Failure(Exception):
    pass


# ---------------------------------------------------------------- HTTP


class Http:
    def __init__(self, port, token=None):
        self.port = port
        self.token = token
        self.conn = None
        self.replayed = False  # the last answer carried Idempotent-Replayed: true
        self.request_id = None  # the last answer's X-Request-Id

    def request(self, method, path, body=None, headers=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body).encode()
        h.update(headers or {})
        try:
            self.conn.request(method, path, body=body, headers=h)
            resp = self.conn.getresponse()
            raw = resp.read()
        except Exception:
            self.close()
            raise
        self.replayed = resp.getheader("Idempotent-Replayed", "") == "true"
        self.request_id = resp.getheader("X-Request-Id")
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return resp.status, data

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- griddesk


class Receiver:
    """A webhook receiver on 127.0.0.1: checks each request's signature and
    records (delivery id, ticket id); answers 204."""

    def __init__(self):
        self.secret = None
        self.lock = threading.Lock()
        self.deliveries = {}  # delivery id -> ticket id
        self.repeats = 0
        self.bad = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.record(self.headers, body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, headers, body):
        parts = dict(p.split("=", 1) for p in headers.get("Griddesk-Signature", "").split(",") if "=" in p)
        expected = hmac.new((self.secret or "").encode(), parts.get("t", "").encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        with self.lock:
            if not hmac.compare_digest(expected, parts.get("v1", "")):
                self.bad.append(headers.get("Griddesk-Delivery"))
                return
            delivery = int(headers.get("Griddesk-Delivery", "0"))
            if delivery in self.deliveries:
                self.repeats += 1
            self.deliveries[delivery] = json.loads(body).get("ticket_id")

    def tickets(self):
        with self.lock:
            return set(self.deliveries.values())

    def close(self):
        self.server.shutdown()


class Server:
    def __init__(self, binary, url, workdir):
        self.binary = binary
        self.url = url
        self.log_path = os.path.join(workdir, "griddesk.log")
        self.proc = None
        self.port = None
        self.starts = 0

    def run(self, *args):
        with open(self.log_path, "ab") as out:
            r = subprocess.run([self.binary, "--database-url", self.url, *args], stdout=out, env=dict(os.environ, NO_COLOR="1"),
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=300)
        if r.returncode != 0:
            raise Failure(f"griddesk {' '.join(args)} failed (exit {r.returncode}); see {self.log_path}")

    def start(self):
        self.port = free_port()
        self.starts += 1
        out = open(self.log_path, "ab")
        out.write(f"\n===== crash-test: start #{self.starts} on 127.0.0.1:{self.port}\n".encode())
        out.flush()
        self.proc = subprocess.Popen(
            [self.binary, "--database-url", self.url, "--bind", f"127.0.0.1:{self.port}",
             "--webhook-allow-http", "--webhook-allow-private", "--webhook-timeout", str(WEBHOOK_TIMEOUT)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env=dict(os.environ, NO_COLOR="1"))
        out.close()
        deadline = time.monotonic() + READY_TIMEOUT
        http_ = Http(self.port)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f"griddesk exited with {self.proc.returncode} at start; see {self.log_path}")
            try:
                status, _ = http_.request("GET", "/readyz")
                if status == 200:
                    http_.close()
                    return
            except OSError:
                pass
            http_.close()
            time.sleep(0.05)
        raise Failure(f"griddesk not ready within {READY_TIMEOUT}s; see {self.log_path}")

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def login(self):
        status, data = Http(self.port).request("POST", "/api/v1/auth/login",
                                                {"username": ADMIN, "password": PASSWORD})
        if status != 200 or not data or "access_token" not in data:
            raise Failure(f"login as {ADMIN} answered {status}: {data}")
        return data["access_token"]


# ---------------------------------------------------------------- databases


class SqliteDb:
    name = "sqlite"

    def __init__(self, workdir):
        self.path = os.path.join(workdir, "crash.db")
        self.url = self.path
        self.crash_every = 0

    def setup(self):
        pass

    def after_demo(self):
        pass

    def query(self, sql):
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            return [tuple("" if v is None else str(v) for v in row) for row in conn.execute(sql)]
        finally:
            conn.close()

    def integrity(self):
        problems = []
        rows = self.query("PRAGMA integrity_check")
        if rows != [("ok",)]:
            problems.append(f"PRAGMA integrity_check: {rows[:5]}")
        rows = self.query("PRAGMA foreign_key_check")
        if rows:
            problems.append(f"PRAGMA foreign_key_check: {len(rows)} rows, e.g. {rows[:3]}")
        return problems, "integrity_check ok, foreign_key_check empty"

    def crash(self):
        pass

    def recover(self):
        pass

    def teardown(self):
        pass


class PgDb:
    name = "postgres"

    def __init__(self, env):
        def need(var):
            v = env.get(var)
            if not v:
                raise Failure(f"postgres mode needs {var} (see .ci/crash-test)")
            return v

        self.admin_url = need("CRASH_PG_URL")
        self.bin = need("CRASH_PG_BIN")
        self.data = need("CRASH_PG_DATA")
        self.db = env.get("CRASH_PG_DB", "griddesk_crash")
        self.pg_user = env.get("CRASH_PG_USER", "postgres")
        self.log = env.get("CRASH_PG_LOG") or os.path.join(self.data, "crash-test-postgres.log")
        self.start_opts = env.get("CRASH_PG_START_OPTS")
        self.crash_every = int(env.get("CRASH_PG_CRASH_EVERY", "3"))
        self.psql_bin = os.path.join(self.bin, "psql")
        if not os.path.exists(self.psql_bin):
            self.psql_bin = shutil.which("psql") or self.psql_bin
        u = urllib.parse.urlsplit(self.admin_url)
        self.url = urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + self.db, u.query, u.fragment))
        self.down = False
        self.amcheck = False

    def psql(self, url, sql, check=True):
        r = subprocess.run([self.psql_bin, "-XAtq", "-v", "ON_ERROR_STOP=1", "-F", "\t", "-d", url, "-c", sql],
                           capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise Failure(f"psql failed: {r.stderr.strip()} (SQL: {sql[:200]})")
        return r

    def query(self, sql):
        out = self.psql(self.url, sql).stdout
        return [tuple(line.split("\t")) for line in out.splitlines()]

    def pg_ctl(self, args):
        cmd = f"{shlex.quote(os.path.join(self.bin, 'pg_ctl'))} -D {shlex.quote(self.data)} {args}"
        # The same rule as `as_pg` in .ci/run: root runs it as the postgres user.
        argv = ["su", self.pg_user, "-s", "/bin/sh", "-c", cmd] if os.geteuid() == 0 else ["sh", "-c", cmd]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=150, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise Failure(f"pg_ctl {args} failed ({r.returncode}): {(r.stdout + r.stderr).strip()}")

    def setup(self):
        if not self.start_opts and not os.path.exists(os.path.join(self.data, "postmaster.opts")):
            raise Failure(f"no {self.data}/postmaster.opts to restart PostgreSQL with; set CRASH_PG_START_OPTS")
        ident = '"' + self.db.replace('"', '""') + '"'
        self.psql(self.admin_url, f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)")
        self.psql(self.admin_url, f"CREATE DATABASE {ident}")

    def after_demo(self):
        r = self.psql(self.url, "CREATE EXTENSION IF NOT EXISTS amcheck", check=False)
        self.amcheck = r.returncode == 0
        if not self.amcheck:
            log(f"note: amcheck unavailable ({r.stderr.strip()}); index and heap checks skipped")

    def integrity(self):
        if not self.amcheck:
            return [], "amcheck unavailable"
        problems = []
        tables = "('tickets', 'ticket_events', 'ticket_visits', 'idempotency_keys')"
        # As in the amcheck documentation: the check in the select list, one row per index checked.
        r = self.psql(self.url, f"""
            SELECT c.relname, bt_index_check(index => c.oid, heapallindexed => true)
              FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
              JOIN pg_class t ON t.oid = i.indrelid
             WHERE a.amname = 'btree' AND t.relname IN {tables} AND t.relnamespace = 'public'::regnamespace""",
                      check=False)
        indexes = len(r.stdout.splitlines())
        if r.returncode != 0 or indexes == 0:
            problems.append(f"bt_index_check: {r.stderr.strip() or 'no index checked'}")
        r = self.psql(self.url, """
            SELECT 'tickets', * FROM verify_heapam('tickets') UNION ALL
            SELECT 'ticket_events', * FROM verify_heapam('ticket_events') UNION ALL
            SELECT 'ticket_visits', * FROM verify_heapam('ticket_visits') UNION ALL
            SELECT 'idempotency_keys', * FROM verify_heapam('idempotency_keys')""", check=False)
        if r.returncode != 0 or r.stdout.strip():
            problems.append(f"verify_heapam: {(r.stdout + r.stderr).strip()[:500]}")
        return problems, f"amcheck: {indexes} btree indexes (heapallindexed) and 4 heaps ok"

    def crash(self):
        self.down = True
        self.pg_ctl("-m immediate -w -t 60 stop")

    def recover(self):
        if not self.down:
            return
        log_opt = "-l " + shlex.quote(self.log)
        if self.start_opts:
            self.pg_ctl(f"{log_opt} -w -t 60 -o {shlex.quote(self.start_opts)} start")
        else:
            # Not running: `restart` starts it with the options in postmaster.opts.
            self.pg_ctl(f"{log_opt} -w -t 60 restart")
        deadline = time.monotonic() + 60
        while self.psql(self.url, "SELECT 1", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise Failure("PostgreSQL does not answer 60 s after its restart")
            time.sleep(0.2)
        self.down = False

    def teardown(self):
        self.recover()
        ident = '"' + self.db.replace('"', '""') + '"'
        self.psql(self.admin_url, f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)", check=False)


# ---------------------------------------------------------------- the test


class Ledger:
    """What the clients saw: acknowledged keys (-> ticket id) and keys whose outcome is unknown."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}  # key -> ticket id
        self.answers = {}  # key -> X-Request-Id of the answer that acknowledged it
        self.replays = 0  # acknowledgements that replayed an earlier answer
        self.pending = {}  # key -> body
        self.errors = []

    def outcome(self, key, body, status, data, request_id=None, replayed=False):
        with self.lock:
            if status == 201:
                tid = data.get("id") if isinstance(data, dict) else None
                if not isinstance(tid, int):
                    self.errors.append(f"{key}: 201 without an id: {data}")
                elif data.get("title") != body["title"]:
                    self.errors.append(f"{key}: 201 for another filing: {data.get('title')!r}")
                elif key in self.acked and self.acked[key] != tid:
                    self.errors.append(f"{key}: acknowledged as {self.acked[key]}, now as {tid}")
                elif not request_id:
                    self.errors.append(f"{key}: 201 without an X-Request-Id")
                else:
                    if key not in self.acked:
                        self.replays += replayed
                    self.acked[key] = tid
                    self.answers.setdefault(key, request_id)
                    self.pending.pop(key, None)
                    return True
            elif status >= 500 or status == 408:
                self.pending[key] = body  # outcome unknown: retry with the key later
            else:
                self.pending.pop(key, None)
                self.errors.append(f"{key}: unexpected {status}: {data}")
            return False


def filer(idx, seed, port, token, residents, prefix, ledger, stop, hard_deadline):
    rng = random.Random(seed)
    http_ = Http(port, token)
    n = 0
    while not stop.is_set() and time.monotonic() < hard_deadline:
        key = f"{prefix}-c{idx}-{n}"
        n += 1
        body = {"category": rng.choice(CATEGORIES), "title": f"crash {key}",
                "description": "Filed by the crash-safety test.", "on_behalf_of": rng.choice(residents)}
        with ledger.lock:
            ledger.pending[key] = body
        try:
            status, data = http_.request("POST", "/api/v1/complaints", body, {"Idempotency-Key": key})
        except (OSError, http.client.HTTPException):
            # Killed mid-request (or not yet restarted): the outcome is unknown.
            if stop.wait(0.05):
                break
            continue
        ledger.outcome(key, body, status, data, http_.request_id, http_.replayed)
        if ledger.errors or stop.wait(rng.uniform(0, PAUSE)):
            break
    http_.close()


def verify_http(port, token, items, workers=8):
    """items: [(key, id)]. Returns a list of (key, id, reason) for tickets that fail."""
    lost = []
    lock = threading.Lock()
    chunks = [items[i::workers] for i in range(workers)]

    def work(chunk):
        http_ = Http(port, token)
        for key, tid in chunk:
            reason = None
            for attempt in range(3):
                try:
                    status, data = http_.request("GET", f"/api/v1/tickets/{tid}")
                    data = data if isinstance(data, dict) else {}
                    if status != 200:
                        reason = f"GET ticket answered {status}"
                    elif data.get("id") != tid or data.get("title") != f"crash {key}":
                        reason = f"GET ticket shows another ticket: {data.get('id')} {data.get('title')!r}"
                    else:
                        status, data = http_.request("GET", f"/api/v1/tickets/{tid}/events")
                        items_ = (data if isinstance(data, dict) else {}).get("items") or []
                        if status != 200:
                            reason = f"GET events answered {status}"
                        elif not items_ or items_[0].get("kind") != "filed":
                            reason = f"first event is {items_[0].get('kind') if items_ else 'missing'}"
                        else:
                            reason = None
                    break
                except (OSError, http.client.HTTPException) as e:
                    reason = f"request failed: {e}"
                    time.sleep(0.1)
            if reason:
                with lock:
                    lost.append((key, tid, reason))
        http_.close()

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in chunks if c]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
        if t.is_alive():
            raise Failure("HTTP verification did not finish within 600 s")
    return lost


def verify_sql(db, acked, answers, replays):
    """Returns (lost, problems, summary): lost as in verify_http, problems: consistency failures.

    answers: key -> X-Request-Id of the acknowledging answer; replays: how
    many acknowledgements replayed an earlier answer."""
    lost, problems = [], []
    tickets = {int(r[0]): r[1] for r in db.query("SELECT id, title FROM tickets")}
    communities = {int(r[0]): r[1] for r in db.query("SELECT id, community_id FROM tickets")}
    # The audit entries of filings (jm.admin's, all on behalf of residents).
    entries = {}
    for request_id, status, community in db.query(
            "SELECT request_id, status, community_id FROM audit_log "
            "WHERE kind = 'write' AND method = 'POST' AND route = '/api/v1/complaints'"):
        entries.setdefault(request_id, []).append((status, community))
    first_kind, filed = {}, {}
    for tid, kind in db.query("SELECT ticket_id, kind FROM ticket_events ORDER BY ticket_id, id"):
        tid = int(tid)
        first_kind.setdefault(tid, kind)
        if kind == "filed":
            filed[tid] = filed.get(tid, 0) + 1
    visited = {int(r[0]) for r in db.query("SELECT DISTINCT ticket_id FROM ticket_visits")}
    keys = {r[0]: r[1] for r in db.query("SELECT key, location FROM idempotency_keys WHERE key LIKE 'crash-%'")}

    unaudited = []
    for key, tid in acked.items():
        if tickets.get(tid) != f"crash {key}":
            lost.append((key, tid, "not in the tickets table" if tid not in tickets else
                         f"row holds {tickets[tid]!r}"))
        elif keys.get(key) != f"/api/v1/tickets/{tid}":
            problems.append(f"acknowledged {key} -> {tid}, but its idempotency record says {keys.get(key)!r}")
        # The answer that acknowledged the ticket has one entry: 201, filed
        # under the ticket's community.
        found = entries.get(answers.get(key), [])
        if found != [("201", communities.get(tid))]:
            unaudited.append((key, tid, answers.get(key), found))
    if unaudited:
        problems.append(f"acknowledged filings whose answer has not exactly one audit entry (201, the ticket's "
                        f"community): {len(unaudited)}, e.g. {unaudited[:3]}")

    def sample(xs):
        xs = sorted(xs)
        return f"{len(xs)} (e.g. {xs[:5]})"

    bad = [t for t in tickets if first_kind.get(t) != "filed"]
    if bad:
        problems.append(f"tickets whose first event is not `filed`: {sample(bad)}")
    bad = [t for t in tickets if filed.get(t, 0) != 1]
    if bad:
        problems.append(f"tickets without exactly one `filed` event: {sample(bad)}")
    bad = [t for t in tickets if t not in visited]
    if bad:
        problems.append(f"tickets without a ticket_visits row: {sample(bad)}")
    bad = [t for t in set(first_kind) | visited if t not in tickets]
    if bad:
        problems.append(f"events or visits of missing tickets: {sample(bad)}")
    by_title = {}
    for tid, title in tickets.items():
        if title.startswith("crash "):
            by_title.setdefault(title, []).append(tid)
    dups = {t: ids for t, ids in by_title.items() if len(ids) > 1}
    if dups:
        problems.append(f"one idempotency key, several tickets: {len(dups)} keys, e.g. {list(dups.items())[:3]}")
    # The ticket and its idempotency record are written in one transaction.
    for title, ids in by_title.items():
        key = title[len("crash "):]
        if keys.get(key) not in {f"/api/v1/tickets/{i}" for i in ids}:
            problems.append(f"ticket {ids} ({key}) has no matching idempotency record ({keys.get(key)!r})")
            break
    for key, location in keys.items():
        if by_title.get(f"crash {key}") is None or location not in {f"/api/v1/tickets/{i}" for i in by_title[f"crash {key}"]}:
            problems.append(f"idempotency record {key} -> {location} without its ticket")
            break
    # Each filing's entry commits with its ticket, and each replayed answer
    # has one of its own: at least as many 201 entries as both (more only if
    # a replay committed but its answer was lost on the way to the client).
    crash_tickets = sum(len(ids) for ids in by_title.values())
    created = sum(1 for found in entries.values() for status, _ in found if status == "201")
    if created < crash_tickets + replays:
        problems.append(f"{crash_tickets} crash-test tickets and {replays} replayed answers, but only {created} "
                        f"audit entries of filings answered 201: a filing was committed without its entry")
    summary = (f"{len(tickets)} tickets, {sum(1 for t in tickets if filed.get(t) == 1)} with one `filed` event, "
               f"{len(by_title)} crash-test tickets, {len(keys)} keys, {created} audit entries of filings")
    return lost, problems, summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("backend", choices=["sqlite", "postgres"])
    ap.add_argument("rounds", type=int)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("CRASH_SEED", "0")) or None)
    ap.add_argument("--clients", type=int, default=int(os.environ.get("CRASH_CLIENTS", "6")))
    ap.add_argument("--min-delay", type=float, default=0.2)
    ap.add_argument("--max-delay", type=float, default=2.0)
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("ROUNDS must be at least 1")
    seed = args.seed or random.SystemRandom().randrange(1, 2**31)
    master = random.Random(seed)
    began = time.monotonic()

    try:
        pg = PgDb(os.environ) if args.backend == "postgres" else None
    except Failure as e:
        log(f"crash-test {args.backend}: {e}")
        return 2
    workdir = tempfile.mkdtemp(prefix=f"griddesk-crash-{args.backend}.")
    db = pg or SqliteDb(workdir)
    server = Server(args.binary, db.url, workdir)
    receiver = Receiver()
    ok = False
    ledger = Ledger()
    stop = threading.Event()
    clients = []

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    log(f"crash-test {args.backend}: {args.rounds} rounds, {args.clients} clients, seed {seed} "
        f"(rerun with CRASH_SEED={seed}), work dir {workdir}")
    checked = 0
    db_crashes = 0
    total_lost = 0
    total_retried = 0
    total_replayed = 0
    try:
        db.setup()
        server.run("demo")
        db.after_demo()
        server.start()
        token = server.login()
        status, data = Http(server.port, token).request("GET", "/api/v1/users?role=resident&limit=100")
        residents = [u["id"] for u in (data or {}).get("items", [])]
        if status != 200 or not residents:
            raise Failure(f"listing residents answered {status}: {data}")
        status, data = Http(server.port, token).request("GET", "/api/v1/units?level=committee")
        committee = next((u["id"] for u in (data or {}).get("items", []) if u.get("code") == "JM"), None)
        status, data = Http(server.port, token).request(
            "POST", "/api/v1/webhooks", {"community_id": committee, "url": receiver.url, "kinds": ["arrived"]})
        if status != 201:
            raise Failure(f"registering the webhook answered {status}: {data}")
        receiver.secret = data["secret"]
        # The demo's sample tickets came before the endpoint: not its business.
        demo_tickets = int(db.query("SELECT COALESCE(max(id), 0) FROM tickets")[0][0] or 0)

        for rnd in range(1, args.rounds + 1):
            rseed = master.randrange(2**31)
            rng = random.Random(rseed)
            delay = rng.uniform(args.min_delay, args.max_delay)
            crash_db = db.crash_every > 0 and rnd % db.crash_every == 0
            before = len(ledger.acked)
            stop.clear()
            hard_deadline = time.monotonic() + delay + CLIENT_GRACE
            clients = [threading.Thread(target=filer, daemon=True, args=(
                i, rng.randrange(2**31), server.port, token, residents, f"crash-{seed}-r{rnd}", ledger, stop,
                hard_deadline)) for i in range(args.clients)]
            for t in clients:
                t.start()
            time.sleep(delay)
            if crash_db:
                db.crash()
                db_crashes += 1
                time.sleep(rng.uniform(0, 0.3))  # griddesk meets the dead database for a moment
            server.kill9()
            stop.set()
            for t in clients:
                t.join(timeout=max(0.1, hard_deadline + 5 - time.monotonic()))
                if t.is_alive():
                    raise Failure("a client did not stop")
            clients = []
            if ledger.errors:
                raise Failure("unexpected answers: " + "; ".join(ledger.errors[:5]))
            filed_now = len(ledger.acked) - before

            db.recover()
            server.start()
            token = server.login()
            # Retry the filings whose outcome is unknown, with the same key and body.
            retried = replayed = 0
            http_ = Http(server.port, token)
            for key, body in sorted(ledger.pending.copy().items()):
                try:
                    status, data = http_.request("POST", "/api/v1/complaints", body, {"Idempotency-Key": key})
                except (OSError, http.client.HTTPException) as e:
                    log(f"  retry of {key} failed: {e}")
                    continue
                if ledger.outcome(key, body, status, data, http_.request_id, http_.replayed):
                    retried += 1
                    replayed += http_.replayed
            http_.close()
            if ledger.errors:
                raise Failure("unexpected answers on retry: " + "; ".join(ledger.errors[:5]))
            total_retried += retried
            total_replayed += replayed

            acked = dict(ledger.acked)
            lost = verify_http(server.port, token, sorted(acked.items(), key=lambda kv: kv[1]))
            sql_lost, problems, sql_summary = verify_sql(db, acked, dict(ledger.answers), ledger.replays)
            integ_problems, integ_summary = db.integrity()
            problems += integ_problems
            lost_keys = {k for k, _, _ in lost} | {k for k, _, _ in sql_lost}
            checked += len(acked)
            log(f"round {rnd:>3}/{args.rounds}  seed {rseed:>10}  kill after {delay:4.2f}s"
                f"{'  +pg immediate stop' if crash_db else ''}  acknowledged {filed_now:>3} (+{retried} on retry, {replayed} replayed)"
                f"  pending {len(ledger.pending)}  checked {len(acked):>5}  lost {len(lost_keys)}"
                f"  integrity {'ok' if not problems else 'FAILED'}")
            for key, tid, reason in (lost + sql_lost)[:20]:
                log(f"  LOST {key} (ticket {tid}): {reason}")
            for p in problems:
                log(f"  INTEGRITY {p}")
            total_lost += len(lost_keys)
            if lost_keys or problems:
                raise Failure(f"round {rnd}: {len(lost_keys)} acknowledged tickets lost, "
                              f"{len(problems)} integrity problems ({sql_summary})")

        last = f"{sql_summary}; {integ_summary}"
        # The outbox: every ticket has its delivery row, and the last server
        # delivers every one of them.
        missing_rows = int(db.query(f"SELECT count(*) FROM tickets t WHERE t.id > {demo_tickets} AND NOT EXISTS "
                                    "(SELECT 1 FROM webhook_deliveries d WHERE d.ticket_id = t.id)")[0][0])
        if missing_rows:
            raise Failure(f"{missing_rows} tickets were committed without their webhook outbox row")
        acked_tickets = set(ledger.acked.values())
        drain_deadline = time.monotonic() + DRAIN_TIMEOUT
        while time.monotonic() < drain_deadline and not acked_tickets <= receiver.tickets():
            time.sleep(0.5)
        undelivered = sorted(acked_tickets - receiver.tickets())
        pending = db.query("SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'")[0][0]
        if undelivered or receiver.bad:
            raise Failure(f"webhooks: {len(undelivered)} acknowledged tickets never delivered "
                          f"(e.g. {undelivered[:5]}), {len(receiver.bad)} bad signatures, {pending} not delivered")
        log(f"  webhooks: {len(receiver.deliveries)} deliveries received, every acknowledged ticket's among them, "
            f"signatures valid, {receiver.repeats} sent again after a kill (at least once), {pending} still pending")
        server.kill9()
        ok = True
        elapsed = time.monotonic() - began
        extra = f" ({db_crashes} with PostgreSQL immediate stop)" if args.backend == "postgres" else ""
        log(f"  final state: {last}; {total_retried} filings of unknown outcome acknowledged on retry "
            f"({total_replayed} of them had been committed before the kill and were replayed); "
            f"{checked} ticket checks in all; {elapsed:.0f}s")
        log(f"crash-test {args.backend}: {args.rounds} rounds{extra}, {len(ledger.acked)} acknowledged tickets "
            f"checked, 0 lost, integrity ok")
    except (Failure, KeyboardInterrupt) as e:
        log(f"crash-test {args.backend}: FAILED: {e}")
        log(f"  seed {seed}; kept {workdir}")
        try:
            with open(server.log_path, "rb") as f:
                tail = f.read()[-3000:].decode(errors="replace")
            log("  last lines of griddesk.log:\n" + "\n".join("    " + x for x in tail.splitlines()[-20:]))
        except OSError:
            pass
    finally:
        stop.set()
        receiver.close()
        try:
            server.kill9()
        except Exception as e:  # keep cleaning up
            log(f"  could not stop griddesk: {e}")
        try:
            db.teardown()
        except Exception as e:
            log(f"  cleanup of the database failed: {e}")
            ok = False
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
