"""Schemathesis hooks for `.ci/fuzz` (loaded through SCHEMATHESIS_HOOKS).

Two things the OpenAPI document cannot say, supplied here so that a
schema-valid request is also a meaningful one:

1. Sign-in. The fuzzer signs in as FUZZ_USER itself and signs in again after
   a 401, because the run ends its own sessions (it calls `/auth/logout`). A
   fixed token in a header would leave the rest of the run answering 401.

2. Real data for positive cases. The document says a `category` is a string
   and a `building_id` an integer; which codes and ids exist, which unit may
   be whose parent, and that `from` comes before `to` are facts of the
   database and of other fields. For cases generated as valid, the hooks put
   real values there (read from the demo community through the API); every
   other part of the request stays as generated. Negative cases are not
   touched, so every check still runs on what the generator produced.
"""

import copy
import datetime
import itertools
import os
import random
import threading
import time

import requests
import schemathesis
from schemathesis.core import NotSet

BASE = os.environ["FUZZ_BASE"]
PASSWORD = os.environ.get("FUZZ_PASSWORD", "junmen-demo-2026")
USER = os.environ["FUZZ_USER"]
# Reads the demo's ids; an admin of the demo community sees all of them.
LOOKUP_USER = os.environ.get("FUZZ_LOOKUP_USER", "jm.admin")
LEVELS = ["committee", "branch", "building", "household"]
KEYS = itertools.count(int(time.time()))


def sign_in(username):
    res = requests.post(
        f"{BASE}/api/v1/auth/login",
        json={"username": username, "password": PASSWORD},
        timeout=30,
    )
    res.raise_for_status()
    return res.json()["access_token"]


@schemathesis.auth(refresh_interval=3600)
class SignIn:
    """A fresh token for FUZZ_USER; fetched again after any 401."""

    def get(self, case, ctx):
        return sign_in(USER)

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


class Demo:
    """Ids and codes of the demo community, read once through the API (the
    rules below keep them valid for the whole run)."""

    _lock = threading.Lock()
    _loaded = None
    session = None

    @classmethod
    def get(cls):
        with cls._lock:
            if cls._loaded is None:
                cls.session = requests.Session()
                cls.session.headers["Authorization"] = f"Bearer {sign_in(LOOKUP_USER)}"
                cls._loaded = cls._load()
            return cls._loaded

    @classmethod
    def _all(cls, path, **params):
        items, cursor = [], None
        for _ in range(200):  # bounded: 200 pages of 100
            query = dict(params, limit=100)
            if cursor:
                query["cursor"] = cursor
            res = cls.session.get(f"{BASE}/api/v1/{path}", params=query, timeout=30)
            res.raise_for_status()
            page = res.json()
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return items

    @classmethod
    def _load(cls):
        units = cls._all("units")
        users = cls._all("users")
        categories = cls.session.get(f"{BASE}/api/v1/categories", timeout=30).json()
        categories = categories.get("items", categories) if isinstance(categories, dict) else categories
        me = requests.get(
            f"{BASE}/api/v1/me", headers={"Authorization": f"Bearer {sign_in(USER)}"}, timeout=30
        ).json()
        return {
            "posts": {p["post_id"] for u in users for p in u.get("posts", [])},
            "caller_role": me["role"],
            "caller_id": me["id"],
            "units": {u["id"]: u for u in units},
            "by_level": {level: [u["id"] for u in units if u["level"] == level] for level in LEVELS},
            "users": {u["id"]: u for u in users},
            "residents": [u["id"] for u in users if u["role"] == "resident" and u.get("active")],
            "staff": [u["id"] for u in users if u["role"] in ("staff", "admin") and u.get("active")],
            "categories": {
                kind: [c["code"] for c in categories if c["kind"] == kind and c.get("active", True)]
                for kind in ("complaint", "dispute")
            },
        }

    @classmethod
    def _live(cls, path, **params):
        """A read made now; signs in again when the run has ended the
        lookup session (signing out as the same user ends it too)."""
        res = cls.session.get(f"{BASE}/api/v1/{path}", params=params, timeout=30)
        if res.status_code == 401:
            cls.session.headers["Authorization"] = f"Bearer {sign_in(LOOKUP_USER)}"
            res = cls.session.get(f"{BASE}/api/v1/{path}", params=params, timeout=30)
        return res.json() if res.status_code == 200 else None

    @classmethod
    def ticket(cls, ticket_id):
        """The ticket as an admin sees it now, or None."""
        return cls._live(f"tickets/{ticket_id}")

    @classmethod
    def children(cls, unit_id):
        page = cls._live("units", parent_id=unit_id, limit=100)
        return [u["id"] for u in page["items"]] if page else []

    @classmethod
    def ticket_ids(cls):
        page = cls._live("tickets", limit=100)
        return [t["id"] for t in page["items"]] if page else []


def level_above(level):
    i = LEVELS.index(level)
    return LEVELS[i - 1] if i > 0 else None


def is_positive(case):
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


def rfc3339(moment):
    # `%Y` does not pad years before 1000; RFC 3339 has four digits.
    return f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S.%fZ")


def parse_time(value):
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


# The server reads a date alone as a whole day in its time zone (the
# default, Asia/Shanghai, as `.ci/fuzz` starts it).
DEPLOYMENT_ZONE = datetime.timezone(datetime.timedelta(hours=8))


def bound(value, end=False):
    """A time filter's value as the instant the server reads: a date alone
    is the start of that local day, or (as an `end`) of the next one."""
    if isinstance(value, str) and len(value) == 10:
        try:
            day = datetime.date.fromisoformat(value)
        except ValueError:
            return None
        if end:
            day += datetime.timedelta(days=1)
        return datetime.datetime(day.year, day.month, day.day, tzinfo=DEPLOYMENT_ZONE)
    time = parse_time(value)
    return time if time and time.tzinfo else None


def forwards(query, start, end):
    """Periods are half-open and run forwards: `start` before `end`."""
    a, b = bound(query.get(start)), bound(query.get(end), end=True)
    if a and b and a >= b:
        query[start], query[end] = rfc3339(min(a, b)), rfc3339(max(a, b) + datetime.timedelta(days=1))


def real_data(case):
    """Puts ids, codes and times that exist into a case generated as valid."""
    demo = Demo.get()
    # Cases can share their dicts with the example they came from.
    case.body = copy.deepcopy(case.body)
    # A shallow copy: the query's values are scalars, and a comma-joined
    # list (`status=assigned,accepted`) is schemathesis's DelimitedValue,
    # which deepcopy cannot rebuild.
    case.query = dict(case.query) if isinstance(case.query, dict) else case.query
    case.headers = copy.deepcopy(case.headers)
    case.path_parameters = copy.deepcopy(case.path_parameters)
    pick = random.Random(repr(case.body) + repr(case.path_parameters) + repr(case.query)).choice
    op = f"{case.operation.method.upper()} {case.operation.path}"
    body = case.body if isinstance(case.body, dict) else None
    path_id = (case.path_parameters or {}).get("id")
    if isinstance(path_id, str) and path_id.isdigit():
        path_id = int(path_id)
    staff_caller = demo["caller_role"] in ("staff", "admin", "superadmin")
    now = datetime.datetime.now(datetime.timezone.utc)

    # A key reused for another request is 422 (the IETF draft says so); a
    # valid case uses a key of its own.
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = f"fuzz-{next(KEYS)}"
    # A stale precondition is 412 by RFC 9110; a valid case names any version.
    if case.headers and "If-Match" in case.headers:
        case.headers["If-Match"] = "*"

    # The demo's people and posts are the data the other rules pick from: a
    # valid case may deactivate or remove only what the run itself created.
    if op == "PATCH /api/v1/users/{id}" and body is not None and body.get("active") is False and path_id in demo["users"]:
        body["active"] = True
    if op == "DELETE /api/v1/posts/{id}" and path_id in demo["posts"]:
        case.path_parameters["id"] = 2**62

    if body is not None:
        # A webhook goes to a community the lookup admin manages, at a URL
        # that passes the rules (https, a public name; no request is made:
        # the fuzzed server runs no worker).
        if op == "POST /api/v1/webhooks":
            if "community_id" in body:
                body["community_id"] = pick(demo["by_level"]["committee"])
            if "url" in body:
                body["url"] = f"https://hooks.example.com/fuzz/{next(KEYS)}"
        if op == "PATCH /api/v1/webhooks/{id}" and body.get("url") is not None:
            body["url"] = f"https://hooks.example.com/fuzz/{next(KEYS)}"
        if op in ("POST /api/v1/complaints", "POST /api/v1/disputes"):
            kind = "complaint" if op.endswith("complaints") else "dispute"
            if "category" in body:
                body["category"] = pick(demo["categories"][kind])
            # Staff file for a resident; residents for themselves.
            if staff_caller:
                body["on_behalf_of"] = pick(demo["residents"])
            else:
                body.pop("on_behalf_of", None)
            # Respondents are other residents, each once.
            others = [r for r in demo["residents"] if r != body.get("on_behalf_of") and r != demo["caller_id"]]
            random.Random(repr(body)).shuffle(others)
            for party in body.get("respondents") or []:
                if isinstance(party, dict) and "user_id" in party and others:
                    party["user_id"] = others.pop()
            # Coordinates come in pairs.
            if (body.get("latitude") is None) != (body.get("longitude") is None):
                body.pop("latitude", None)
                body.pop("longitude", None)
        if op == "POST /api/v1/disputes/{id}/parties" and "user_id" in body:
            # Another resident than the one who filed it.
            ticket = Demo.ticket(path_id)
            reporter = ((ticket or {}).get("reporter") or {}).get("id")
            body["user_id"] = pick([r for r in demo["residents"] if r != reporter])
        if op == "POST /api/v1/auth/register" and "building_id" in body:
            body["building_id"] = pick(demo["by_level"]["building"])
        if op == "POST /api/v1/units" and "level" in body:
            above = level_above(body["level"])
            if above is None:
                body.pop("parent_id", None)
            else:
                body["parent_id"] = pick(demo["by_level"][above])
        if op == "PATCH /api/v1/units/{id}" and body.get("parent_id") is not None:
            unit = demo["units"].get(path_id)
            above = unit and level_above(unit["level"])
            if above:
                body["parent_id"] = pick(demo["by_level"][above])
            else:
                body.pop("parent_id")
        if op == "PATCH /api/v1/users/{id}" and body.get("household_id") is not None:
            user = demo["users"].get(path_id)
            serving = [
                u["id"] for u in demo["units"].values() if user and u["parent_id"] == user.get("building_id")
            ]
            if user and user["role"] == "resident" and serving:
                body["household_id"] = pick(serving)
            else:
                body.pop("household_id")
        if op == "POST /api/v1/units/{id}/posts" and "user_id" in body:
            # Staff hold posts anywhere, admins only at committees.
            unit = demo["units"].get(path_id)
            committee = unit is not None and unit["level"] == "committee"
            holders = [u for u in demo["staff"] if committee or demo["users"][u]["role"] == "staff"]
            body["user_id"] = pick(holders)
        if op == "POST /api/v1/disputes/{id}/mediations":
            if "mediator_id" in body:
                body["mediator_id"] = pick(demo["staff"])
            ticket = Demo.ticket(path_id)
            filed = (ticket and parse_time(ticket["created_at"])) or now - datetime.timedelta(minutes=2)
            if "held_at" in body:
                body["held_at"] = rfc3339(filed + (now - filed) / 2)
        if op == "PUT /api/v1/disputes/{id}/agreement" and "performance_deadline" in body:
            body["performance_deadline"] = rfc3339(now + datetime.timedelta(days=30))
        if op == "POST /api/v1/tickets/{id}/dispatch" and "unit_id" in body:
            # Units move during the run: ask which are below the ticket now.
            ticket = Demo.ticket(path_id)
            below = Demo.children(ticket["current_unit_id"]) if ticket else []
            if below:
                body["unit_id"] = pick(below)
        if op == "POST /api/v1/tickets/{id}/merge" and "into_ticket_id" in body:
            others = [t for t in Demo.ticket_ids() if t != path_id]
            if others:
                body["into_ticket_id"] = pick(others)

    query = case.query
    if isinstance(query, dict):
        # Page cursors are opaque: only one the server handed out is valid.
        query.pop("cursor", None)
        # A calendar month names the whole period: never with `from`/`to`.
        if query.get("month") is not None:
            query.pop("from", None)
            query.pop("to", None)
        forwards(query, "from", "to")
        # Without `to` the period ends now, so it must start before now.
        start = bound(query.get("from"))
        if start and "to" not in query and start >= now:
            query["from"] = rfc3339(now - datetime.timedelta(days=30))
        forwards(query, "created_from", "created_to")
        if query.get("category") is not None:
            kind = {"/api/v1/complaints": ["complaint"], "/api/v1/disputes": ["dispute"]}.get(
                case.operation.path, ["complaint", "dispute"]
            )
            query["category"] = pick([c for k in kind for c in demo["categories"][k]])
        if op in ("GET /api/v1/users", "GET /api/v1/tickets", "GET /api/v1/tickets/export", "GET /api/v1/complaints",
                  "GET /api/v1/disputes", "GET /api/v1/follow-ups", "GET /api/v1/units") and query.get("unit_id") is not None:
            query["unit_id"] = pick(list(demo["units"]))
        if op == "GET /api/v1/stats" and "unit_id" in query:
            query["unit_id"] = pick(demo["by_level"]["committee"] + demo["by_level"]["branch"])
        if op == "GET /api/v1/stats/units" and "parent_id" in query:
            query["parent_id"] = pick(demo["by_level"]["committee"] + demo["by_level"]["branch"])
    return case


@schemathesis.hook
def map_case(context, case):
    if is_positive(case):
        real_data(case)
    return case


@schemathesis.hook
def before_add_examples(context, examples):
    # Documented examples are valid requests; they get the same real data.
    for case in examples:
        real_data(case)


@schemathesis.hook
def filter_failure(context, failure, case, response):
    # Schemathesis 4.32 sometimes makes a negative case by leaving out an
    # optional body (accept, approve and deny may be sent without one): the
    # request it sends holds nothing invalid, yet it is labelled negative and
    # a 200 is reported as "schema-violating request accepted". Only that
    # report is dropped (and counted in the run's summary); every other
    # failure stands.
    meta = case.meta
    if type(failure).__name__ != "AcceptedNegativeData" or meta is None or not isinstance(case.body, NotSet):
        return True
    negative = [getattr(location, "value", location) for location, info in meta.components.items() if info.mode.is_negative]
    return negative != ["body"]
