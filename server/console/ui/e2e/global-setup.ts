// Builds the agenttrail binary from this checkout, creates keys offline,
// starts `agenttrail serve` with its HTTP listener on a free port, and
// appends the sessions of seed.ts. The tests find it all in fixture.ts's
// state file; global-teardown.ts stops the server.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { append, statePath } from "./fixture.js";
import type { State } from "./fixture.js";
import { big, everyKind, others } from "./seed.js";

const repo = resolve(import.meta.dirname, "..", "..", "..", "..");

export default async function setup(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "agenttrail-console-e2e-"));
  const bin = join(dir, "agenttrail");
  execFileSync("go", ["build", "-o", bin, "./cmd/agenttrail"], { cwd: repo, stdio: "inherit" });
  const data = join(dir, "data");
  const key = (principal: string, role: string, ...extra: string[]) =>
    execFileSync(bin, ["keys", "create", "--data", data, "--principal", principal, "--role", role, ...extra], { encoding: "utf8" }).split("\n")[0]!.trim();
  const keys = {
    agent: key("support-bot", "agent"),
    developer: key("dev-dana", "developer"),
    compliance: key("auditor-ann", "compliance"),
    admin: key("admin-al", "admin"),
    bulk: key("load-bot", "agent"),
  };
  const proc = spawn(bin, ["serve", "--data", data, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--checkpoint-interval", "0", "--log-level", "warn"], {
    stdio: ["ignore", "pipe", "inherit"],
    detached: false,
  });
  const lines = createInterface({ input: proc.stdout! });
  const got: Record<string, string> = {};
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`agenttrail serve did not start: ${JSON.stringify(got)}`)), 30_000);
    lines.on("line", (l) => {
      const m = /^(agenttrail listening on|web console:|checkpoint verifier key:) (.*)$/.exec(l);
      if (m) got[m[1]!] = m[2]!;
      if (got["checkpoint verifier key:"]) {
        clearTimeout(timer);
        done();
      }
    });
    proc.once("exit", (code) => fail(new Error(`agenttrail serve exited with ${code}`)));
  });
  proc.stdout!.resume();
  const s: State = {
    url: got["web console:"]!,
    grpc: got["agenttrail listening on"]!,
    bin,
    dir,
    pid: proc.pid!,
    verifierKey: got["checkpoint verifier key:"]!,
    keys,
  };
  writeFileSync(statePath, JSON.stringify(s));
  proc.unref();
  append([...everyKind(), ...others()]);
  append(big("s-10k", 10_000), keys.bulk);
}
