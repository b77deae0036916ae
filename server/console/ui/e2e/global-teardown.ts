// Stops the server global-setup.ts started and removes its directory.
import { rmSync } from "node:fs";
import { state } from "./fixture.js";

export default async function teardown(): Promise<void> {
  const s = state();
  try {
    process.kill(s.pid, "SIGTERM");
  } catch {
    // already gone
  }
  await new Promise((r) => setTimeout(r, 500));
  rmSync(s.dir, { recursive: true, force: true });
}
