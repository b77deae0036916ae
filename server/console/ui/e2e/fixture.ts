// What global-setup.ts started, for the tests: the server's URLs, keys and
// the verifier key, in a file named by E2E_STATE.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "@playwright/test";
import { expect } from "@playwright/test";

export interface State {
  url: string;
  grpc: string;
  bin: string;
  dir: string;
  pid: number;
  verifierKey: string;
  keys: { agent: string; developer: string; compliance: string; admin: string; bulk: string };
}

// One state file per checkout: two checkouts on one machine (several
// worktrees) running their browser tests at once must not read each
// other's server, nor stop it.
const checkout = createHash("sha256").update(import.meta.dirname).digest("hex").slice(0, 12);
export const statePath = join(tmpdir(), `agenttrail-console-e2e-${process.getuid?.() ?? 0}-${checkout}.json`);

export function state(): State {
  return JSON.parse(readFileSync(statePath, "utf8")) as State;
}

/** Appends events (protojson lines) with the agent key through the CLI. */
export function append(lines: object[], key = state().keys.agent): void {
  const s = state();
  execFileSync(s.bin, ["append", "--addr", s.grpc, "-"], {
    input: lines.map((l) => JSON.stringify(l)).join("\n") + "\n",
    env: { ...process.env, AGENTTRAIL_KEY: key },
    stdio: ["pipe", "ignore", "pipe"],
    maxBuffer: 64 << 20,
  });
}

/** Signs in through the page. */
export async function signIn(page: Page, role: keyof State["keys"]): Promise<void> {
  await page.goto(state().url);
  await page.getByLabel("API key").fill(state().keys[role]);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
}

/** Fails the test on any Content-Security-Policy violation or page error. */
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content.Security.Policy|Refused to|Trusted Type/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return problems;
}

/** Where screenshots go: docs/console when CONSOLE_SCREENSHOTS=docs, else a temp directory. */
export function shot(name: string): string {
  const dir = process.env.CONSOLE_SCREENSHOTS === "docs" ? join(import.meta.dirname, "..", "..", "..", "..", "docs", "console") : join(tmpdir(), "agenttrail-console-screenshots");
  return join(dir, `${name}.png`);
}
