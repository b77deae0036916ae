// End-to-end tests of the console: the real agenttrail binary (built from
// this checkout by e2e/global-setup.ts) and Debian's Chromium, headless.
// Playwright never downloads a browser here.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "e2e",
  globalSetup: "./e2e/global-setup.ts",
  globalTeardown: "./e2e/global-teardown.ts",
  workers: 1, // one server, and a machine with two shared cores
  timeout: 90_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? "line" : "list",
  grepInvert: process.env.CONSOLE_BENCH ? undefined : /@bench/,
  use: {
    browserName: "chromium",
    viewport: { width: 1440, height: 900 },
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    },
    acceptDownloads: true,
  },
});
