// The package as users get it: the README's quickstart and the agent-loop
// example run against the real server, and the built package ships what it
// should and exports its API without `any`.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ApprovalDecision, EndReason, ToolOutcome } from "../src/index.js";
import type { AgentTrailClient } from "../src/index.js";
import { TestServer, collect } from "./harness.js";

const run = promisify(execFile);
const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");

let server: TestServer;
let reader: AgentTrailClient;

before(async () => {
  server = await TestServer.start();
  reader = server.client("auditor");
});

after(async () => {
  await reader?.close({ timeoutMs: 5_000 });
  await server?.dispose();
});

/** Runs a TypeScript file of the package as an agent against the test server. */
async function runAsAgent(file: string): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, AGENTTRAIL_ADDR: server.address, NODE_NO_WARNINGS: "1" };
  const key = server.apiKey("agent");
  if (key === undefined) delete env.AGENTTRAIL_KEY;
  else env.AGENTTRAIL_KEY = key;
  const { stdout } = await run(process.execPath, ["--import", "tsx", file], { cwd: pkg, env, timeout: 60_000 });
  return stdout;
}

test("the README's quickstart is examples/quickstart.ts, and it runs", async () => {
  const readme = readFileSync(join(pkg, "README.md"), "utf8");
  const marker = readme.indexOf("<!-- The block below is examples/quickstart.ts");
  assert.ok(marker >= 0, "the README lost its quickstart marker");
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(marker));
  assert.ok(block, "no ts block after the quickstart marker");
  assert.equal(block[1], readFileSync(join(pkg, "examples", "quickstart.ts"), "utf8"), "README quickstart and examples/quickstart.ts differ");

  const out = await runAsAgent("examples/quickstart.ts");
  const sessionId = /^session (\S+)$/m.exec(out)?.[1];
  assert.ok(sessionId, `no session id in the output:\n${out}`);
  assert.match(out, /^Order A-17 has shipped\.$/m);
  assert.match(out, /delivered: 5,/);
  const entries = await collect(reader.query({ sessionId }));
  assert.deepEqual(entries.map((e) => e.event!.payload.case), ["sessionStart", "llmCall", "toolCall", "output", "sessionEnd"]);
  for (const e of entries) await reader.verify(e);
});

test("the quickstart exits 1 within the close timeout when no server listens", async () => {
  const { createServer } = await import("node:net");
  const free = createServer();
  await new Promise<void>((resolve) => free.listen(0, "127.0.0.1", resolve));
  const port = (free.address() as { port: number }).port;
  await new Promise<void>((resolve) => free.close(() => resolve()));
  const env: NodeJS.ProcessEnv = { ...process.env, AGENTTRAIL_ADDR: `127.0.0.1:${port}`, NODE_NO_WARNINGS: "1" };
  delete env.AGENTTRAIL_KEY;
  const t0 = performance.now();
  await assert.rejects(run(process.execPath, ["--import", "tsx", "examples/quickstart.ts"], { cwd: pkg, env, timeout: 60_000 }), (e: unknown) => {
    const err = e as { code?: number; stderr?: string };
    assert.equal(err.code, 1, `exit status ${String(err.code)}; stderr: ${err.stderr}`);
    assert.match(err.stderr ?? "", /DeliveryTimeoutError: 5 event\(s\) not acknowledged by the server at 127\.0\.0\.1:\d+ within 10000 ms \(they are not in the log\); the last attempt failed: .*ECONNREFUSED/);
    return true;
  });
  const seconds = (performance.now() - t0) / 1000;
  assert.ok(seconds < 30, `the quickstart took ${seconds.toFixed(1)} s to fail`);
});

test("the quickstart exits 1 when its key may not append for its agent id, naming the id the key may", async () => {
  const other = await TestServer.start({ keys: { "other-bot": { role: "agent", agentId: "other-agent" } } });
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, AGENTTRAIL_ADDR: other.address, AGENTTRAIL_KEY: other.apiKey("other-bot"), NODE_NO_WARNINGS: "1" };
    await assert.rejects(run(process.execPath, ["--import", "tsx", "examples/quickstart.ts"], { cwd: pkg, env, timeout: 60_000 }), (e: unknown) => {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      assert.equal(err.code, 1, `exit status ${String(err.code)}; stderr: ${err.stderr}`);
      assert.doesNotMatch(err.stdout ?? "", /delivered: 5/);
      assert.match(err.stderr ?? "", /DeliveryError: 5 events were refused \(not in the log\)/);
      assert.match(err.stderr ?? "", /may append events of agent_id "other-agent" only/);
      return true;
    });
  } finally {
    await other.dispose();
  }
});

test("the agent-loop example leaves a complete trail", async () => {
  const out = await runAsAgent("examples/agent-loop.ts");
  const sessionId = /^session (\S+):/m.exec(out)?.[1];
  assert.ok(sessionId, `no session id in the output:\n${out}`);
  assert.match(out, /agenttrail query --session /);
  const entries = await collect(reader.query({ sessionId }));
  const kinds = entries.map((e) => e.event!.payload.case);
  assert.deepEqual(kinds, [
    "sessionStart",
    "llmCall", "reasoning", "toolCall", "error",
    "llmCall", "reasoning", "humanApproval", "toolCall",
    "llmCall", "output",
    "sessionEnd",
  ]);
  const byKind = <K extends (typeof kinds)[number]>(k: K, n = 0) =>
    entries.filter((e) => e.event!.payload.case === k)[n]!.event!;
  const failed = byKind("toolCall", 0);
  const refund = byKind("toolCall", 1);
  const approval = byKind("humanApproval");
  const end = byKind("sessionEnd");
  assert.ok(failed.payload.case === "toolCall" && refund.payload.case === "toolCall");
  assert.equal(failed.payload.value.toolName, "lookup_order");
  assert.equal(failed.payload.value.outcome, ToolOutcome.TIMEOUT);
  assert.equal(failed.payload.value.errorType, "OrderServiceTimeout");
  assert.equal(refund.payload.value.toolName, "issue_refund");
  assert.equal(refund.payload.value.outcome, ToolOutcome.SUCCESS);
  assert.equal(refund.payload.value.approvalRequired, true);
  assert.ok(approval.payload.case === "humanApproval");
  assert.equal(approval.payload.value.decision, ApprovalDecision.APPROVED);
  assert.equal(approval.payload.value.gatedEventId, refund.eventId);
  assert.ok(end.payload.case === "sessionEnd");
  assert.equal(end.payload.value.reason, EndReason.COMPLETED);
  assert.equal(end.payload.value.llmCallCount, 3);
  assert.equal(end.payload.value.toolCallCount, 2);
  assert.equal(end.payload.value.errorCount, 2, "the failed tool call and the error event");
  assert.equal(end.payload.value.cost?.currencyCode, "USD");
  assert.deepEqual(entries.map((e) => e.event!.step), entries.map((_, i) => i + 1));
});

test("the built package ships dist and the README, and exports its API", async () => {
  // npm run build, without its copy of gen/ts into src/gen: npm test made
  // that copy already, and other test files, which may run at the same
  // time, import from it.
  if (!existsSync(join(pkg, "src", "gen"))) await run(process.execPath, ["scripts/copy-gen.mjs"], { cwd: pkg });
  await run(process.execPath, ["scripts/clean.mjs", "dist"], { cwd: pkg });
  await run(join(pkg, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.build.json"], { cwd: pkg, timeout: 120_000 });
  const { stdout } = await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: pkg, timeout: 60_000 });
  const [packed] = JSON.parse(stdout) as { files: { path: string }[] }[];
  const files = packed!.files.map((f) => f.path).sort();
  for (const want of [
    "README.md",
    "package.json",
    "dist/index.js",
    "dist/index.d.ts",
    "dist/client.js",
    "dist/delivery.js",
    "dist/session.js",
    "dist/verify.js",
    "dist/gen/agenttrail/v1/event_pb.js",
    "dist/gen/agenttrail/v1/append_service_pb.d.ts",
  ]) {
    assert.ok(files.includes(want), `${want} is not in the package`);
  }
  const stray = files.filter((f) => !(f.startsWith("dist/") || f === "README.md" || f === "package.json"));
  assert.deepEqual(stray, [], "the package ships files other than dist/ and the README");
  assert.deepEqual(files.filter((f) => f.endsWith(".map")), [], "source maps point at sources that are not shipped");

  // The package resolves by its own name through "exports", as an installed one would.
  const probe = `import("@agenttrail/client").then((m) => console.log(JSON.stringify(Object.keys(m).sort())))`;
  const { stdout: names } = await run(process.execPath, ["--input-type=module", "-e", probe], { cwd: pkg });
  const exported = JSON.parse(names) as string[];
  for (const name of ["AgentTrailClient", "uuidv7", "InvalidEventError", "ClientClosedError", "DeliveryTimeoutError", "Code", "ConnectError", "verifyEntry", "verifyCheckpoint", "EventSchema", "EntrySchema", "AppendService"]) {
    assert.ok(exported.includes(name), `${name} is not exported`);
  }

  // No `any` in the declarations of the hand-written code.
  const dist = join(pkg, "dist");
  for (const f of readdirSync(dist).filter((f) => f.endsWith(".d.ts"))) {
    const code = readFileSync(join(dist, f), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    const leaks = code.split("\n").filter((line) => /\bany\b/.test(line));
    assert.deepEqual(leaks, [], `${f} declares any`);
  }
});
