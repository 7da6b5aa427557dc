// The mobile team's scenario, through a client generated from the committed
// OpenAPI document (openapi-typescript + openapi-fetch) and compiled under
// `tsc --strict`: register, sign in, file with an Idempotency-Key and retry
// it, sign for with If-Match, resolve, close, register a phone for push and
// read what it was told, and two refreshes sent at the same moment. Run by .ci/client against the release binary serving the
// demo community; exits non-zero at the first step that does not answer as
// the document says.

import createClient from "openapi-fetch";
import type { paths } from "./generated/schema.js";

const base = process.argv[2];
if (!base) {
  throw new Error("usage: node dist/scenario.js BASE_URL");
}
const password = "junmen-demo-2026";
const client = createClient<paths>({ baseUrl: base });

function check(condition: boolean, step: string, detail?: unknown): asserts condition {
  if (!condition) {
    throw new Error(`${step}: ${JSON.stringify(detail)}`);
  }
}

function bearer(token: string): { Authorization: string } {
  return { Authorization: `Bearer ${token}` };
}

async function signIn(username: string, pass: string) {
  const { data, error, response } = await client.POST("/api/v1/auth/login", {
    body: { username, password: pass },
  });
  check(data !== undefined, `sign in as ${username} (${response.status})`, error);
  check(data.token_type === "Bearer" && data.expires_in > 0, "token shape", data);
  return data;
}

async function main(): Promise<void> {
  const steps: string[] = [];

  // A building to live in, as the registration form lists them.
  const units = await client.GET("/api/v1/units", { params: { query: { level: "building", limit: 5 } } });
  check(units.data !== undefined, "list buildings", units.error);
  const building = units.data.items[0];
  check(building !== undefined, "a building exists", units.data);

  const username = `app.${Date.now().toString(36)}`;
  const registered = await client.POST("/api/v1/auth/register", {
    body: {
      username,
      password: "app-scenario-password",
      display_name: "应用测试居民",
      phone: "13812345678",
      building_id: building.id,
      room: "9-901",
    },
  });
  check(registered.response.status === 201 && registered.data !== undefined, "register", registered.error);
  check(registered.data.username === username && registered.data.role === "resident", "registered account", registered.data);
  steps.push("register 201");

  const resident = await signIn(username, "app-scenario-password");
  steps.push("sign in 200");

  // File, then retry as a phone would after losing the answer.
  const key = `scenario-${username}`;
  const filing = {
    params: { header: { "Idempotency-Key": key } },
    headers: bearer(resident.access_token),
    body: { category: "noise", title: "楼上夜间噪音", description: "每晚十一点后有敲击声。" },
  };
  const filed = await client.POST("/api/v1/complaints", filing);
  check(filed.response.status === 201 && filed.data !== undefined, "file", filed.error);
  const ticketId = filed.data.id;
  const retried = await client.POST("/api/v1/complaints", filing);
  check(retried.response.status === 201 && retried.data !== undefined, "retry the filing", retried.error);
  check(retried.data.id === ticketId, "the retry names the same ticket", { first: ticketId, retry: retried.data.id });
  check(retried.response.headers.get("Idempotent-Replayed") === "true", "the retry is marked as replayed");
  steps.push(`file 201, retry replayed #${ticketId}`);

  // The community admin signs for it with the ETag they read, then resolves it.
  const admin = await signIn("jm.admin", password);
  const read = await client.GET("/api/v1/tickets/{id}", {
    params: { path: { id: ticketId } },
    headers: bearer(admin.access_token),
  });
  check(read.data !== undefined, "staff read the ticket", read.error);
  const etag = read.response.headers.get("ETag");
  check(etag !== null, "the ticket carries an ETag");
  const accepted = await client.POST("/api/v1/tickets/{id}/accept", {
    params: { path: { id: ticketId }, header: { "If-Match": etag } },
    headers: bearer(admin.access_token),
    body: {},
  });
  check(accepted.data !== undefined, "sign for with If-Match", accepted.error);
  check(accepted.data.status === "accepted", "signed for", accepted.data.status);
  // The admin's work list: open tickets in either status, the list typed
  // as an array, sent both as the document says (comma form) and as
  // openapi-fetch sends arrays by default (the parameter repeated).
  for (const explode of [false, true]) {
    const open = await client.GET("/api/v1/tickets", {
      params: { query: { status: ["assigned", "accepted"], limit: 100 } },
      querySerializer: { array: { style: "form", explode } },
      headers: bearer(admin.access_token),
    });
    check(open.data !== undefined, `list open tickets (explode ${explode})`, open.error);
    check(
      open.data.items.some((t) => t.id === ticketId && t.status === "accepted"),
      "the signed-for ticket is in the open list",
      open.data.items.map((t) => [t.id, t.status]),
    );
  }
  const stale = await client.POST("/api/v1/tickets/{id}/accept", {
    params: { path: { id: ticketId }, header: { "If-Match": etag } },
    headers: bearer(admin.access_token),
    body: {},
  });
  check(stale.response.status === 412, "a stale If-Match answers 412", stale.response.status);
  const next = accepted.response.headers.get("ETag");
  check(next !== null && next !== etag, "a new ETag after the change", next);
  const resolved = await client.POST("/api/v1/tickets/{id}/resolve", {
    params: { path: { id: ticketId }, header: { "If-Match": next } },
    headers: bearer(admin.access_token),
    body: { note: "已与楼上住户沟通，夜间不再施工。" },
  });
  check(resolved.data !== undefined, "resolve", resolved.error);
  check(resolved.data.status === "resolved", "resolved", resolved.data.status);
  steps.push("sign for 200 (stale If-Match 412), open list by two statuses, resolve 200");

  const closed = await client.POST("/api/v1/tickets/{id}/close", {
    params: { path: { id: ticketId } },
    headers: bearer(resident.access_token),
    body: { rating: 5 },
  });
  check(closed.data !== undefined, "close", closed.error);
  check(closed.data.status === "closed", "closed", closed.data.status);
  steps.push("close 200");

  // Push: the app registers its token, reads what it was told, marks it
  // read, and forgets the token as it signs out.
  const device = { platform: "fcm" as const, token: `fcm:scenario-${username}` };
  const registeredDevice = await client.POST("/api/v1/me/devices", {
    headers: bearer(resident.access_token),
    body: device,
  });
  check(registeredDevice.response.status === 201 && registeredDevice.data !== undefined, "register the device", registeredDevice.error);
  const told = await client.GET("/api/v1/notifications", {
    params: { query: { limit: 20 } },
    headers: bearer(resident.access_token),
  });
  check(told.data !== undefined, "read the notifications", told.error);
  const kinds = told.data.items.filter((n) => n.ticket_id === ticketId).map((n) => n.kind);
  check(kinds.includes("accepted") && kinds.includes("resolved"), "told of the sign-for and the resolution", kinds);
  const newest = told.data.items[0];
  check(newest !== undefined, "a notification", told.data);
  const marked = await client.POST("/api/v1/notifications/read", {
    headers: bearer(resident.access_token),
    body: { up_to: newest.id },
  });
  check(marked.data !== undefined && marked.data.unread === 0, "mark everything read", marked.error ?? marked.data);
  const forgotten = await client.DELETE("/api/v1/me/devices", {
    headers: bearer(resident.access_token),
    body: device,
  });
  check(forgotten.response.status === 204, "forget the device", forgotten.response.status);
  steps.push("device 201, told of sign-for and resolution, marked read, device forgotten 204");

  // Two refreshes at the same moment (both saw token_expired): both get a
  // token pair and the session lives on.
  const refresh = () => client.POST("/api/v1/auth/refresh", { body: { refresh_token: resident.refresh_token } });
  const [one, two] = await Promise.all([refresh(), refresh()]);
  check(one.data !== undefined, "first parallel refresh", one.error);
  check(two.data !== undefined, "second parallel refresh", two.error);
  for (const pair of [one.data, two.data]) {
    const me = await client.GET("/api/v1/me", { headers: bearer(pair.access_token) });
    check(me.data !== undefined && me.data.username === username, "the session lives on after both refreshes", me.error);
  }
  steps.push("two parallel refreshes 200, 200");

  console.log(`client scenario: ${steps.length} steps passed (${steps.join("; ")})`);
}

main().catch((error: unknown) => {
  console.error(`client scenario failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
