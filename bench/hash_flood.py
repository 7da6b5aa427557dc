#!/usr/bin/env python3
"""Password-hashing flood: what 64 clients hammering the unauthenticated
endpoints that run argon2 do to the server's memory, and whether a real
sign-in still gets through. Run by `bench/hash-flood.sh`, which builds the
release binary; standard library only.

Starts the server on a fresh SQLite demo database on loopback, with the
per-address limits raised so every request really hashes (an attacker with
many addresses), then for each flood, (a) sign-ins for unknown users and wrong
passwords and (b) registrations, runs CLIENTS clients for SECONDS seconds,
samples the server's resident memory (VmRSS) every 100 ms, makes one real
sign-in half-way through, waits IDLE seconds and prints the figures.
"""

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

DEMO_PASSWORD = "junmen-demo-2026"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.1)


def post(conn, path, body):
    conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
    res = conn.getresponse()
    data = res.read()
    return res.status, data


def client(port, kind, deadline, counts, lock, seed, building):
    rnd = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    n = 0
    while time.monotonic() < deadline:
        n += 1
        if kind == "logins":
            if n % 4 == 0:  # wrong passwords for demo accounts (soon 429: 5 per account)
                body = {"username": f"resident{rnd.randint(1, 20):02d}", "password": "wrong-password-1"}
            else:  # unknown users
                body = {"username": f"ghost{seed}x{n}", "password": "guess-guess-guess"}
            path = "/api/v1/auth/login"
        else:
            body = {"username": f"flood{seed}x{n}", "password": "flood-password-1", "display_name": "压测",
                    "phone": f"139{rnd.randint(0, 99999999):08d}", "building_id": building, "room": "1-101"}
            path = "/api/v1/auth/register"
        try:
            status, _ = post(conn, path, body)
        except (OSError, http.client.HTTPException):
            status = "error"
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        with lock:
            counts[status] += 1


def real_sign_in(port, result):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start = time.monotonic()
    status, _ = post(conn, "/api/v1/auth/login", {"username": "jm.admin", "password": DEMO_PASSWORD})
    result.append((status, time.monotonic() - start))


def flood(port, pid, kind, clients, seconds, idle, building):
    counts, lock = Counter(), threading.Lock()
    sampler = Sampler(pid)
    sampler.start()
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=client, args=(port, kind, deadline, counts, lock, i, building))
               for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(seconds / 2)
    signed_in = []
    real_sign_in(port, signed_in)
    for t in threads:
        t.join()
    sampler.stop.set()
    sampler.join()
    time.sleep(idle)
    after = rss_kib(pid)
    status, took = signed_in[0]
    by_status = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: str(kv[0])))
    print(f"== {kind}: {clients} clients for {seconds} s")
    print(f"   requests by status: {by_status} (total {sum(counts.values())})")
    print(f"   peak RSS:           {sampler.peak / 1024:8.1f} MiB")
    print(f"   RSS after {idle:>2} s idle: {after / 1024:8.1f} MiB")
    print(f"   real sign-in mid-flood: HTTP {status} in {took * 1000:.0f} ms")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--port", type=int, default=18498)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--idle", type=int, default=10)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="griddesk-hash-flood.")
    db = os.path.join(work, "bench.db")
    subprocess.run([args.bin, "--database-url", db, "demo"], check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ,
               GRIDDESK_LOGIN_FAILURES_PER_ADDRESS="1000000",
               GRIDDESK_REGISTRATIONS_PER_ADDRESS="1000000",
               RUST_LOG="warn")
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen([args.bin, "--database-url", db, "--bind", f"127.0.0.1:{args.port}", "--no-worker"],
                              env=env, stdout=log, stderr=log)
    try:
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
        conn.request("GET", "/api/v1/units?level=building&limit=1")
        building = json.loads(conn.getresponse().read())["items"][0]["id"]
        time.sleep(2)
        print(f"== server pid {server.pid}, {os.cpu_count()} cores, SQLite in {work}")
        print(f"   baseline RSS:       {rss_kib(server.pid) / 1024:8.1f} MiB")
        sys.stdout.flush()
        flood(args.port, server.pid, "logins", args.clients, args.seconds, args.idle, building)
        flood(args.port, server.pid, "registrations", args.clients, args.seconds, args.idle, building)
    finally:
        server.terminate()
        server.wait()
        log.close()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
