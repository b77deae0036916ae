// The console end to end: the real binary, Debian's Chromium.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { append, shot, signIn, state, watchPage } from "./fixture.js";
import { SECRET_CARD, SECRET_EMAIL, nextId } from "./seed.js";

let problems: string[] = [];
test.beforeEach(({ page }) => {
  problems = watchPage(page);
});
test.afterEach(() => {
  expect(problems, "CSP violations or page errors").toEqual([]);
});

test("the page is served with a strict CSP and security headers", async ({ request }) => {
  const res = await request.get(state().url);
  expect(res.status()).toBe(200);
  const h = res.headers();
  expect(h["content-security-policy"]).toContain("script-src 'self'");
  expect(h["content-security-policy"]).toContain("frame-ancestors 'none'");
  expect(h["content-security-policy"]).not.toContain("unsafe-inline");
  expect(h["x-content-type-options"]).toBe("nosniff");
  expect(h["x-frame-options"]).toBe("DENY");
  expect(h["referrer-policy"]).toBe("no-referrer");
  const html = await res.text();
  expect(html).not.toMatch(/<script>(?!<\/script>)|<script [^>]*>[^<]/); // no inline script
});

test("an agent key is refused", async ({ page }) => {
  await page.goto(state().url);
  await page.getByLabel("API key").fill(state().keys.agent);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("agent key");
  await expect(page.getByRole("button", { name: "Sign out" })).toHaveCount(0);
  await page.getByLabel("API key").fill("at_not-a-key");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("not valid");
  await page.screenshot({ path: shot("signin") });
});

test("the session cookie is HttpOnly and SameSite=Strict, and the key is not stored in the browser", async ({ page, context }) => {
  await signIn(page, "developer");
  const cookies = await context.cookies();
  expect(cookies).toHaveLength(1);
  expect(cookies[0]!.httpOnly).toBe(true);
  expect(cookies[0]!.sameSite).toBe("Strict");
  expect(cookies[0]!.value).not.toContain(state().keys.developer);
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
  expect(stored).not.toContain(state().keys.developer.slice(3));
});

test("sessions list with counts, and its filters", async ({ page }) => {
  await signIn(page, "compliance");
  const table = page.locator("table.sessions");
  await expect(table).toContainText("s-every-kind");
  await expect(table).toContainText("s-failed");
  const row = table.locator("tr", { hasText: "s-every-kind" });
  await expect(row).toContainText("completed");
  await expect(row.locator("td").nth(5)).toHaveText("9"); // events
  await expect(row.locator("td").nth(8)).toHaveText("2"); // errors
  await page.screenshot({ path: shot("sessions") });

  await page.getByLabel("Agent").fill("billing-agent");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(table.locator("tbody tr")).toHaveCount(1);
  await expect(table).toContainText("s-failed");

  await page.getByRole("button", { name: "Clear" }).click();
  await page.getByLabel("Outcome").selectOption({ label: "open" });
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(table.locator("tbody tr")).toHaveCount(1);
  await expect(table).toContainText("s-open");

  await page.getByRole("button", { name: "Clear" }).click();
  await page.getByLabel("User").fill("customer-9");
  await page.getByLabel("Errors").selectOption({ label: "without errors" });
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(table.locator("tbody tr")).toHaveCount(2); // s-open, s-quiet

  await page.getByRole("button", { name: "Clear" }).click();
  await page.getByLabel("Started after").fill("2030-01-01T00:00");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByText("No session matches these filters")).toBeVisible();

  // Keyboard: the first row takes focus and Enter opens it.
  await page.getByRole("button", { name: "Clear" }).click();
  await expect(table).toContainText("s-every-kind");
  await table.locator("tbody tr").first().focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/#\/session\//);
});

test("a timeline with every kind of event, nested, each verified in the browser", async ({ page }) => {
  await signIn(page, "compliance");
  await page.goto(`${state().url}#/session/s-every-kind`);
  const badge = page.getByTestId("session-badge");
  await expect(badge).toContainText("all 9 events verified");
  for (const kind of ["session start", "LLM call", "tool call", "reasoning", "human approval", "error", "output", "session end"]) {
    await expect(page.locator(".event .kind", { hasText: new RegExp(`^${kind}$`, "i") }).first()).toBeVisible();
  }
  // The tool call nests under the LLM call that asked for it.
  const pad = async (text: string) => Number.parseFloat(await page.locator(".event", { hasText: text }).first().evaluate((el) => getComputedStyle(el).paddingLeft));
  expect(await pad("lookup_order")).toBeGreaterThan(await pad("gpt-4.1-mini"));
  // Failures stand out; long content is collapsed.
  await expect(page.locator(".event.kind-toolCall.failed", { hasText: "issue_refund" })).toBeVisible();
  await page.locator(".event-line", { hasText: "final:" }).click();
  await expect(page.getByRole("button", { name: /show more/ })).toBeVisible();
  await page.getByRole("button", { name: /show more/ }).click();
  await expect(page.getByRole("button", { name: "show less" })).toBeVisible();
  // Compliance sees the content.
  await page.locator(".event-line", { hasText: "session start" }).click();
  await expect(page.locator(".details").first()).toContainText(SECRET_EMAIL);
  await page.screenshot({ path: shot("timeline") });
  // The proof behind a badge.
  await page.locator(".event", { hasText: "lookup_order" }).locator(".badge").click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("Verified in this browser");
  await expect(dialog).toContainText("inclusion proof");
  await page.screenshot({ path: shot("proof") });
  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
});

test("a developer sees masks, never the personal data or the secret", async ({ page }) => {
  const bodies: Buffer[] = [];
  page.on("response", async (r) => {
    if (r.url().includes("/agenttrail.v1.")) bodies.push(await r.body().catch(() => Buffer.alloc(0)));
  });
  await signIn(page, "developer");
  await page.goto(`${state().url}#/session/s-every-kind`);
  await expect(page.getByTestId("session-badge")).toContainText("all 9 events verified");
  await page.locator(".event-line", { hasText: "session start" }).click();
  await page.locator(".kind-toolCall .event-line", { hasText: "issue_refund" }).click();
  await expect(page.locator(".details").first()).toContainText("[EMAIL]");
  await expect(page.locator(".kind-toolCall .details", { hasText: "issue_refund" })).toContainText("[CARD");
  const html = await page.content();
  expect(html).not.toContain(SECRET_EMAIL);
  expect(html).not.toContain(SECRET_CARD);
  const all = Buffer.concat(bodies).toString("latin1");
  expect(all).not.toContain(SECRET_EMAIL);
  expect(all).not.toContain(SECRET_CARD);
  await expect(page.getByRole("link", { name: "Access log" })).toHaveCount(0);
  await page.screenshot({ path: shot("developer") });
});

test("an admin sees metadata and no content", async ({ page }) => {
  await signIn(page, "admin");
  await page.goto(`${state().url}#/session/s-every-kind`);
  await expect(page.getByTestId("session-badge")).toContainText("all 9 events verified");
  await page.locator(".event-line", { hasText: "session start" }).click();
  await expect(page.locator(".details").first()).toContainText("Content withheld");
  const html = await page.content();
  expect(html).not.toContain("Where is my order");
  expect(html).not.toContain("Let me look that up");
  await expect(page.locator(".event", { hasText: "lookup_order" })).toBeVisible(); // metadata stays
});

test("the access log shows who read what", async ({ page }) => {
  await signIn(page, "compliance");
  await page.goto(`${state().url}#/session/s-quiet`);
  await expect(page.getByTestId("session-badge")).toContainText("verified");
  await page.getByRole("link", { name: "Access log" }).click();
  await expect(page.locator("table.access")).toContainText("auditor-ann (compliance) Query");
  await expect(page.locator("table.access")).toContainText("ListSessions");
  await page.screenshot({ path: shot("access-log") });
});

test("stats: counts, failures, tokens, cost and durations by tool, model and hour, for a developer", async ({ page }) => {
  await signIn(page, "developer");
  await page.getByRole("link", { name: "Stats" }).click();
  const table = page.locator("table.stats");
  await expect(table.locator("tbody tr", { hasText: "llm call" })).toHaveCount(1); // by kind, over everything
  const form = page.getByRole("form", { name: "Statistics" });
  // The seeded sessions' hour, one agent, by tool: s-every-kind (9
  // events), s-open (1) and s-quiet (3).
  await form.getByLabel("From (UTC)").fill("2026-11-02T09:00");
  await form.getByLabel("To (UTC)").fill("2026-11-02T10:00");
  await form.getByRole("textbox", { name: "Agent" }).fill("support-agent");
  await form.getByRole("checkbox", { name: "Kind" }).uncheck();
  await form.getByRole("checkbox", { name: "Tool" }).check();
  await form.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByLabel("Totals")).toContainText("13events");
  await expect(page.locator(".counts")).toContainText("answered from the aggregates");
  await expect(table.locator("tbody tr")).toHaveCount(3); // none, issue_refund, lookup_order
  const refund = table.locator("tbody tr", { hasText: "issue_refund" });
  await expect(refund.locator("td").nth(1)).toHaveText("1"); // events
  await expect(refund.locator("td").nth(2)).toHaveText("1"); // failures
  await expect(refund.locator("td").nth(3)).toHaveText("100.0%");
  const lookup = table.locator("tbody tr", { hasText: "lookup_order" });
  await expect(lookup.locator("td").nth(2)).toHaveText("0");
  await expect(lookup.locator("td").nth(10)).toHaveText(/^8[4-6] ms \/ 8[4-6] ms \/ 8[4-6] ms$/); // 85 ms, within the sketch's 1%
  await page.screenshot({ path: shot("stats") });

  // LLM calls by model, per hour.
  await form.getByRole("checkbox", { name: "Tool" }).uncheck();
  await form.getByRole("checkbox", { name: "Model" }).check();
  await form.getByRole("combobox", { name: "Kind" }).selectOption({ label: "llm call" });
  await form.getByLabel("Per").selectOption({ label: "hour" });
  await form.getByRole("button", { name: "Apply" }).click();
  const model = table.locator("tbody tr");
  await expect(model).toHaveCount(1);
  await expect(model.locator("td").nth(0)).toHaveText("2026-11-02 09:00Z");
  await expect(model.locator("td").nth(1)).toHaveText("gpt-4.1-mini");
  await expect(model.locator("td").nth(5)).toHaveText("812");
  await expect(model.locator("td").nth(6)).toHaveText("46");
  await expect(model.locator("td").nth(7)).toHaveText("0.0015 USD");
  await expect(model.locator("td").nth(9)).toHaveText(/^6[3-4]\d ms /); // 640 ms, within 1%

  // Within the hour, the same answer, counted from the headers.
  await form.getByLabel("From (UTC)").fill("2026-11-02T09:30");
  await form.getByRole("button", { name: "Apply" }).click();
  await expect(page.locator(".counts")).toContainText("counted from the events' headers");
  await expect(model.locator("td").nth(5)).toHaveText("812");
});

test("the live tail receives a new event", async ({ page }) => {
  await signIn(page, "compliance");
  await page.getByRole("link", { name: "Live tail" }).click();
  await page.getByLabel("Session", { exact: true }).fill("s-live");
  await page.getByRole("button", { name: "Follow" }).click();
  await expect(page.locator("body[data-tail-live]")).toHaveCount(1);
  await expect(page.getByText("No matching events yet")).toBeVisible();
  append([{ event_id: nextId(), session_id: "s-live", agent_id: "support-agent", step: 1, occurred_at: new Date().toISOString(), tool_call: { tool_name: "live_probe", outcome: "TOOL_OUTCOME_SUCCESS" } }]);
  await expect(page.locator(".event", { hasText: "live_probe" })).toBeVisible();
  await page.screenshot({ path: shot("live-tail") });
});

test("the verify badge turns red when the server sends a tampered entry", async ({ page }) => {
  await signIn(page, "compliance");
  // A server that changes what an event says: the tool's result, in the
  // event it sends, but not in the bytes the log committed to.
  await page.route("**/agenttrail.v1.QueryService/Query", async (route) => {
    const res = await route.fetch();
    const body = await res.body();
    const at = body.indexOf(Buffer.from('"status":"shipped"'));
    if (at >= 0) body.write('"status":"LOSTxxx"', at, "latin1");
    await route.fulfill({ response: res, body });
  });
  await page.goto(`${state().url}#/session/s-every-kind`);
  const badge = page.getByTestId("session-badge");
  await expect(badge).toContainText("1 of 9 events fail verification");
  const row = page.locator(".event", { hasText: "lookup_order" });
  await expect(row.locator(".badge")).toHaveText("✗ failed");
  await row.locator(".badge").click();
  await expect(page.getByRole("dialog")).toContainText("event_mismatch");
  await page.screenshot({ path: shot("tampered") });
});

test("export downloads a bundle that agenttrail verify --export accepts", async ({ page }) => {
  await signIn(page, "compliance");
  await page.goto(`${state().url}#/session/s-every-kind`);
  await expect(page.getByTestId("session-badge")).toContainText("all 9 events verified");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export evidence" }).click()]);
  const file = await download.path();
  expect(readFileSync(file, "utf8").split("\n")[0]).toContain("agenttrail-export-v1");
  const out = execFileSync(state().bin, ["verify", "--export", file, "--verifier-key", state().verifierKey], { encoding: "utf8" });
  expect(out).toContain("export verified: 9 events");
});

test("a session of 10,000 events renders a window of rows and scrolls to its end", async ({ page }) => {
  // Patience for a loaded machine, not a speed target (the page load is
  // measured by bench.spec.ts).
  test.setTimeout(300_000);
  await signIn(page, "compliance");
  await page.goto(`${state().url}#/session/s-10k`);
  await expect(page.locator("body[data-timeline-loaded='10000']")).toHaveCount(1, { timeout: 120_000 });
  expect(await page.locator(".event").count()).toBeLessThan(100);
  await page.locator(".vlist").focus();
  await page.keyboard.press("End");
  await expect(page.locator(".event", { hasText: "session end" })).toBeVisible();
  await expect(page.getByTestId("session-badge")).toContainText("all 10000 events verified", { timeout: 150_000 });
});

test("sign-out ends the session on the server too", async ({ page, context, request }) => {
  await signIn(page, "compliance");
  const csrf = await page.evaluate(async () => ((await (await fetch("/console/session")).json()) as { csrfToken: string }).csrfToken);
  const cookie = (await context.cookies())[0]!;
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByLabel("API key")).toBeVisible();
  expect(await context.cookies()).toHaveLength(0);
  const res = await request.post(`${state().url}agenttrail.v1.LogService/GetCheckpoint`, {
    headers: { Cookie: `${cookie.name}=${cookie.value}`, "X-CSRF-Token": csrf, "Content-Type": "application/json", "Connect-Protocol-Version": "1", Origin: state().url.replace(/\/$/, "") },
    data: "{}",
  });
  expect(res.status()).toBe(401);
});

test("personal data: an admin holds a subject, an erasure that meets the hold is refused, then erases and every view shows it", async ({ page }) => {
  // A subject of its own, so that the other tests' sessions stay as they are.
  const user = `customer-erase-${nextId().slice(0, 8)}`;
  const sid = `s-erase-${nextId().slice(0, 8)}`;
  const start = nextId();
  const at = (s: number) => new Date(Date.parse("2026-11-03T10:00:00Z") + s * 1000).toISOString();
  append([
    { event_id: start, session_id: sid, agent_id: "support-agent", user_id: user, step: 1, occurred_at: at(1), session_start: { user_message: "Please forget me: erase-marker-71" } },
    { event_id: nextId(), parent_event_id: start, session_id: sid, agent_id: "support-agent", user_id: user, step: 2, occurred_at: at(2), output: { text: "erase-marker-72", final: true } },
  ]);

  // The admin places a hold on the subject.
  await signIn(page, "admin");
  await page.getByRole("link", { name: "Personal data" }).click();
  await expect(page.getByText("No legal hold is in force").or(page.locator("table.holds"))).toBeVisible();
  await page.getByLabel("Covers").selectOption("user");
  await page.getByLabel("Id", { exact: true }).fill(user);
  await page.getByLabel("Hold reason").fill("case 12");
  await page.getByRole("button", { name: "Place hold" }).click();
  const row = page.locator("table.holds tr", { hasText: user });
  await expect(row).toContainText("case 12");
  await expect(row).toContainText("admin-al");
  await page.getByRole("button", { name: "Sign out" }).click();

  // Compliance sees the hold and may not change it; the erasure is refused, naming the hold.
  await signIn(page, "compliance");
  await page.goto(`${state().url}#/privacy`);
  await expect(page.locator("table.holds tr", { hasText: user })).toBeVisible();
  await expect(page.getByRole("button", { name: "Release" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Place hold" })).toHaveCount(0);
  await page.getByLabel("Data subject (user id)").fill(user);
  await page.getByLabel("Reason", { exact: true }).fill("DSR-2026-118");
  await page.getByRole("button", { name: "Erase" }).click();
  await expect(page.getByRole("alert")).toContainText("cannot be undone"); // not confirmed yet
  await page.getByLabel("I understand that erasure cannot be undone").check();
  await page.getByRole("button", { name: "Erase" }).click();
  await expect(page.getByRole("alert")).toContainText(/hold/i);
  await page.getByRole("button", { name: "Sign out" }).click();

  // The admin releases the hold.
  await signIn(page, "admin");
  await page.goto(`${state().url}#/privacy`);
  await page.locator("table.holds tr", { hasText: user }).getByRole("button", { name: "Release" }).click();
  await page.getByLabel("Release reason").fill("case 12 closed");
  await page.getByRole("button", { name: "Confirm release" }).click();
  await expect(page.locator("table.holds tr", { hasText: user })).toHaveCount(0);
  await page.getByRole("button", { name: "Sign out" }).click();

  // Compliance erases the subject from the timeline's link; then again, which is a no-op.
  await signIn(page, "compliance");
  await page.goto(`${state().url}#/session/${sid}`);
  await expect(page.getByTestId("session-badge")).toContainText("all 2 events verified");
  await page.getByRole("link", { name: "Erase…" }).click();
  await expect(page.getByLabel("Session id")).toHaveValue(sid);
  await page.getByLabel("a data subject").check();
  await page.getByLabel("Data subject (user id)").fill(user);
  await page.getByLabel("Reason", { exact: true }).fill("DSR-2026-118");
  await page.getByLabel("I understand that erasure cannot be undone").check();
  await page.getByRole("button", { name: "Erase" }).click();
  const done = page.getByRole("status").filter({ hasText: "Erased the content of" });
  await expect(done).toContainText("2 events");
  const erasure = /log index (\d+)/.exec((await done.textContent()) ?? "")?.[1];
  expect(erasure).toBeTruthy();
  await page.getByLabel("I understand that erasure cannot be undone").check();
  await page.getByRole("button", { name: "Erase" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Already erased" })).toContainText(`log index ${erasure}`);
  await page.screenshot({ path: shot("personal-data") });

  // Every view shows the events erased, and they still verify in the browser.
  for (const role of ["compliance", "developer"] as const) {
    if (role === "developer") {
      await page.getByRole("button", { name: "Sign out" }).click();
      await signIn(page, role);
    }
    await page.goto(`${state().url}#/session/${sid}`);
    await expect(page.getByTestId("session-badge")).toContainText("all 2 events verified");
    await expect(page.locator(".event .erased-chip")).toHaveCount(2);
    await page.locator(".event-line", { hasText: "session start" }).click();
    await expect(page.locator(".details").first()).toContainText(`Content erased by event ${erasure}`);
    const html = await page.content();
    expect(html).not.toContain("erase-marker-7");
  }
  await expect(page.getByRole("link", { name: "Erase…" })).toHaveCount(0); // developers do not erase
});
