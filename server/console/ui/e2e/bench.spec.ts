// Page load of a 10,000-event session, measured (not asserted): run with
// CONSOLE_BENCH=1 npx playwright test bench. Prints the time to the first
// rows, to every event loaded, and to every event verified, as the page
// measures them from navigation start.
import { expect, test } from "@playwright/test";
import { signIn, state } from "./fixture.js";

test("page load of a 10,000-event session @bench", async ({ page }) => {
  await signIn(page, "compliance");
  const runs: number[][] = [];
  for (let i = 0; i < 3; i++) {
    await page.goto(`${state().url}#/sessions`);
    await expect(page.locator("table.sessions")).toBeVisible();
    const t0 = Date.now();
    await page.goto(`${state().url}#/session/s-10k`);
    await expect(page.locator(".event").first()).toBeVisible({ timeout: 60_000 });
    const first = Date.now() - t0;
    await expect(page.locator("body[data-timeline-loaded='10000']")).toHaveCount(1, { timeout: 60_000 });
    const loaded = Date.now() - t0;
    await expect(page.locator("body[data-timeline-verified]")).toHaveCount(1, { timeout: 120_000 });
    const verified = Date.now() - t0;
    runs.push([first, loaded, verified]);
    await page.evaluate(() => { delete document.body.dataset.timelineLoaded; delete document.body.dataset.timelineVerified; });
  }
  console.log(`10,000-event session, 3 runs (ms): first rows ${runs.map((r) => r[0]).join(", ")}; all loaded ${runs.map((r) => r[1]).join(", ")}; all verified ${runs.map((r) => r[2]).join(", ")}`);
});
