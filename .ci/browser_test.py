"""Swagger UI as an admin uses it, in headless Chromium (run by .ci/browser).

Files a complaint as a resident over plain HTTP, then in the browser:
opens /swagger-ui/ under the host name griddesk.test, signs in as jm.admin
through Authorize (the OAuth 2.0 password flow), lists tickets, signs for
the new ticket and resolves it with the bodies Swagger UI fills in (nothing
edited but the path's id), reloads, and reads /me: still signed in.

Every request the page makes is routed here first: one to any other host is
aborted, recorded and fails the run, as does any failed step. Prints one
summary line; exits non-zero on failure.
"""

import json
import os
import sys
import urllib.request
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

PORT = int(os.environ["BROWSER_PORT"])
CHROMIUM = os.environ.get("BROWSER_CHROMIUM", "/usr/bin/chromium")
OUT = os.environ.get("BROWSER_OUT", ".")
HOST = "griddesk.test"
ORIGIN = f"http://{HOST}:{PORT}"
PASSWORD = "junmen-demo-2026"
ADMIN = "jm.admin"
RESIDENT = "resident01"
WAIT_MS = 20_000


def http(method, path, body=None, token=None):
    """A plain request to the server, outside the browser."""
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", method=method)
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read() or b"null")


def file_complaint():
    token = http("POST", "/api/v1/auth/login", {"username": RESIDENT, "password": PASSWORD})["access_token"]
    categories = http("GET", "/api/v1/categories", token=token)
    categories = categories.get("items", categories) if isinstance(categories, dict) else categories
    category = next(c["code"] for c in categories if c["kind"] == "complaint" and c.get("active", True))
    ticket = http(
        "POST",
        "/api/v1/complaints",
        {"category": category, "title": "浏览器测试工单", "description": "由 .ci/browser 提交，用于测试。"},
        token,
    )
    return ticket["id"]


class Failed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failed(message)


def open_operation(page, tag, operation_id):
    block = page.locator(f"#operations-{tag}-{operation_id}")
    block.locator(".opblock-summary").first.click()
    try_out = block.locator("button.try-out__btn")
    try_out.wait_for(timeout=WAIT_MS)
    if "cancel" not in (try_out.get_attribute("class") or ""):
        try_out.click()
    return block


def execute(page, block, method, path_suffix):
    """Presses Execute and returns the API response the page received."""
    def matches(res):
        return res.request.method == method and urlsplit(res.url).path.endswith(path_suffix)

    with page.expect_response(matches, timeout=WAIT_MS) as info:
        block.locator("button.execute").click()
    return info.value


def main():
    ticket_id = file_complaint()
    outside = []  # requests to any host but the server under test
    requests = []
    steps = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--host-resolver-rules=MAP {HOST} 127.0.0.1",
            ],
        )
        context = browser.new_context(locale="zh-CN")

        def route(r):
            url = urlsplit(r.request.url)
            if url.scheme in ("data", "blob") or (url.hostname == HOST and url.port == PORT):
                requests.append(f"{r.request.method} {url.path}")
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        try:
            page.goto(f"{ORIGIN}/swagger-ui/", wait_until="networkidle")
            page.locator("#operations-tickets-list_tickets").wait_for()
            steps.append("opened")

            # Authorize: the password flow, with name and password only.
            page.locator(".auth-wrapper button.authorize").click()
            dialog = page.locator(".dialog-ux")
            dialog.locator("#oauth_username").fill(ADMIN)
            dialog.locator("#oauth_password").fill(PASSWORD)
            oauth = dialog.locator(".auth-container", has=page.locator("#oauth_username"))
            with page.expect_response(lambda r: urlsplit(r.url).path == "/api/v1/auth/token") as token_res:
                oauth.locator("button.authorize").click()
            expect(token_res.value.status == 200, f"sign-in through Authorize answered {token_res.value.status}")
            # Signed in: the form gives way to the name and a Logout button
            # (only the oauth2 scheme is authorized, so there is one).
            dialog.locator("button", has_text="Logout").wait_for()
            dialog.locator("button.btn-done").first.click()
            steps.append("signed in")

            block = open_operation(page, "tickets", "list_tickets")
            res = execute(page, block, "GET", "/api/v1/tickets")
            expect(res.status == 200, f"list tickets answered {res.status}")
            listed = [t["id"] for t in res.json()["items"]]
            expect(ticket_id in listed, f"ticket {ticket_id} not among {listed}")
            steps.append(f"listed {len(listed)} tickets")

            for operation, status in (("accept", "accepted"), ("resolve", "resolved")):
                block = open_operation(page, "lifecycle", f"{operation}_ticket")
                block.locator('tr[data-param-name="id"] input').fill(str(ticket_id))
                res = execute(page, block, "POST", f"/api/v1/tickets/{ticket_id}/{operation}")
                sent = res.request.post_data or ""
                expect(res.status == 200, f"{operation} answered {res.status}: {res.text()} (sent {sent!r})")
                expect("version" not in sent, f"{operation} sent a version: {sent!r}")
                expect(res.json()["status"] == status, f"{operation}: status {res.json()['status']}")
                steps.append(f"{operation} {' '.join(sent.split()) or '(no body)'}")

            page.reload(wait_until="networkidle")
            block = open_operation(page, "me", "get_me")
            res = execute(page, block, "GET", "/api/v1/me")
            expect(res.status == 200, f"after a reload /me answered {res.status}: not signed in")
            expect(res.json()["username"] == ADMIN, f"after a reload signed in as {res.json()['username']}")
            steps.append("still signed in after reload")
        except Exception as error:  # noqa: BLE001 - any failed step fails the run
            page.screenshot(path=os.path.join(OUT, "failure.png"), full_page=True)
            print(f"browser: FAILED after {steps}: {error}", file=sys.stderr)
            if outside:
                print(f"browser: requests to other hosts: {outside}", file=sys.stderr)
            return 1
        finally:
            page.screenshot(path=os.path.join(OUT, "last.png"))
            version = browser.version
            browser.close()
    if outside:
        print(f"browser: FAILED: the page asked other hosts: {outside}", file=sys.stderr)
        return 1
    print(
        f"browser: Swagger UI as {ADMIN} on {HOST}: signed in through Authorize, listed tickets, "
        f"signed for and resolved ticket {ticket_id} with the pre-filled bodies ({'; '.join(steps[3:5])}), "
        f"still signed in after a reload; "
        f"{len(requests)} requests, none to another host (Chromium {version})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
