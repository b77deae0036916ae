// What agenttrail costs the agent that logs to it.
//
// 1. Call overhead: the time an `await session.llmCall(...)` takes in the
//    calling code, for an LLM-call event of about 1.2 KB encoded (two input
//    messages, an output, tokens, cost, latency), measured one call at a
//    time with the event loop free between calls (as in an agent, whose LLM
//    calls are far apart) while delivery runs in the background:
//    p50/p99/p99.9/max over many calls, of the wall-clock time and of the
//    process's CPU time in the call (process.cpuUsage, microsecond
//    resolution): on a busy machine the wall-clock tail is mostly the time
//    the process waited for a core, which the CPU time leaves out; and the
//    wall-clock time again over the calls during which the process was not
//    switched out (no involuntary context switch in process.resourceUsage).
//    The CPU time is the whole process's, V8's background threads included.
// 2. Sustained delivery: events per second one process gets durably into a
//    local server (logged as fast as onFull "block" lets them in, counted
//    until flush confirms the last), and the process's CPU time per event:
//    the client's own cost, which bounds what one process can deliver when
//    the server is not the limit.
//
// Run: npm run bench (builds and starts a server from this checkout, with
// serve's default --checkpoint-interval of 1s), or point it at a running
// server with AGENTTRAIL_ADDR (and AGENTTRAIL_KEY, an agent key).
// BENCH_CALLS and BENCH_EVENTS set the sample sizes.
import { availableParallelism, cpus, loadavg } from "node:os";
import { setImmediate as yieldLoop } from "node:timers/promises";
import { AgentTrailClient } from "@agenttrail/client";
import type { LlmCallInit, Session } from "@agenttrail/client";
import { TestServer } from "../test/harness.js";

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
const WARMUP = 2_000;

const call: LlmCallInit = {
  providerName: "openai",
  requestModel: "gpt-4o",
  responseModel: "gpt-4o-2024-08-06",
  inputMessages: [
    { role: "system", content: "You are a support agent for an online shop. ".repeat(7) },
    { role: "user", content: "Where is my order A-17? It was due last Tuesday and has not arrived. ".repeat(6) },
  ],
  outputText: "Let me look that order up for you. ".repeat(9),
  finishReasons: ["stop"],
  inputTokens: 280,
  outputTokens: 75,
  cost: { currency: "USD", micros: 1825 },
  latencyMs: 912.4,
};

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function callOverhead(session: Session): Promise<{ wall: Float64Array; cpu: Float64Array; unswitched: Float64Array }> {
  for (let i = 0; i < WARMUP; i++) {
    await session.llmCall(call);
    await yieldLoop();
  }
  const wall = new Float64Array(CALLS);
  const cpu = new Float64Array(CALLS);
  const unswitched: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const s0 = process.resourceUsage().involuntaryContextSwitches;
    const c0 = cpuMicros();
    const t0 = process.hrtime.bigint();
    await session.llmCall(call);
    wall[i] = Number(process.hrtime.bigint() - t0) / 1_000;
    cpu[i] = cpuMicros() - c0;
    if (process.resourceUsage().involuntaryContextSwitches === s0) unswitched.push(wall[i]!);
    await yieldLoop();
  }
  return { wall: wall.sort(), cpu: cpu.sort(), unswitched: Float64Array.from(unswitched).sort() };
}

async function sustained(client: AgentTrailClient, session: Session): Promise<{ rate: number; cpuPerEvent: number }> {
  const c0 = cpuMicros();
  const t0 = performance.now();
  for (let i = 0; i < EVENTS; i++) await session.llmCall(call);
  await client.flush();
  const seconds = (performance.now() - t0) / 1000;
  return { rate: EVENTS / seconds, cpuPerEvent: (cpuMicros() - c0) / EVENTS };
}

function summary(sorted: Float64Array): string {
  if (sorted.length === 0) return "(no calls)";
  return (
    `p50 ${percentile(sorted, 50).toFixed(1)}, p99 ${percentile(sorted, 99).toFixed(1)}, ` +
    `p99.9 ${percentile(sorted, 99.9).toFixed(1)}, max ${sorted[sorted.length - 1]!.toFixed(1)}`
  );
}

const own = process.env.AGENTTRAIL_ADDR === undefined ? await TestServer.start({ checkpointInterval: "1s" }) : undefined;
const client = new AgentTrailClient({
  address: own?.address ?? process.env.AGENTTRAIL_ADDR!,
  apiKey: own?.apiKey("agent") ?? process.env.AGENTTRAIL_KEY,
  agentId: "bench",
});
try {
  console.log(
    `node ${process.version}, ${availableParallelism()} x ${cpus()[0]?.model ?? "cpu"}, ` +
      `load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}; server ${own ? `${own.address} (started here)` : process.env.AGENTTRAIL_ADDR}`,
  );
  const session = await client.startSession({ modelId: "gpt-4o" });
  const { wall, cpu, unswitched } = await callOverhead(session);
  await client.flush();
  console.log(`llmCall overhead over ${CALLS} calls (µs): wall ${summary(wall)}`);
  console.log(`  process CPU ${summary(cpu)}`);
  console.log(`  wall, the ${unswitched.length} calls not switched out: ${summary(unswitched)}`);
  const { rate, cpuPerEvent } = await sustained(client, session);
  console.log(
    `sustained delivery: ${EVENTS} LLM-call events, ${rate.toFixed(0)} events/s confirmed durable, ` +
      `${cpuPerEvent.toFixed(1)} µs of process CPU per event`,
  );
  await session.end();
  const s = client.stats();
  console.log(`delivered ${s.delivered}, rejected ${s.rejected}, dropped ${s.dropped}, retries ${s.retries}`);
} finally {
  await client.close({ timeoutMs: 60_000 });
  await own?.dispose();
}
