// Runs the real agenttrail server for the tests (and the benchmark).
//
// The binary is built from this checkout with `go build -o <cache>/agenttrail
// ./cmd/agenttrail`, where <cache> is a directory under the system's temp
// directory named after the repository's path. Every test file calls
// agenttrailBinary(); the first build of a run links the binary, and the
// others find it current and return in well under a second (go build skips
// relinking an up-to-date output), so a run builds once and never tests a
// stale binary. A lock directory keeps two test processes from writing the
// binary at once.
//
// API keys: TestServer.start creates one key per principal asked for with
// createKey, offline, before the server starts: `agenttrail keys create
// --data DIR --principal NAME --role ROLE [--agent-id ID]`, which prints the
// secret on its first line. Tests ask for keys with the role they need
// (agent to append; compliance to read the full view and proofs).
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { AgentTrailClient } from "../src/index.js";
import type { ClientOptions } from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));

/** The root of the agenttrail repository (the worktree this package is in). */
export const repoRoot = join(here, "..", "..", "..");

const cacheDir = join(tmpdir(), `agenttrail-tsclient-${createHash("sha256").update(repoRoot).digest("hex").slice(0, 12)}`);

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

let built: string | undefined;

/** Builds the agenttrail binary from this checkout (a no-op when it is current) and returns its path. */
export function agenttrailBinary(): string {
  if (built !== undefined) return built;
  mkdirSync(cacheDir, { recursive: true });
  const bin = join(cacheDir, "agenttrail");
  const lock = join(cacheDir, "build.lock");
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a killed build is older than any build takes.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // Gone already.
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${lock}`);
      sleepSync(100);
    }
  }
  try {
    const r = spawnSync("go", ["build", "-o", bin, "./cmd/agenttrail"], { cwd: repoRoot, encoding: "utf8" });
    if (r.error) throw new Error(`go build could not run: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`go build ./cmd/agenttrail failed:\n${r.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  built = bin;
  return bin;
}

/**
 * Creates an API key offline, in the data directory of a stopped server:
 * `agenttrail keys create --data DIR --principal NAME --role ROLE
 * [--agent-id ID]`, which prints the secret alone on its first line.
 * Returns the secret.
 */
export function createKey(dataDir: string, principal: string, spec: KeySpec): string {
  const args = ["keys", "create", "--data", dataDir, "--principal", principal, "--role", spec.role];
  if (spec.agentId !== undefined) args.push("--agent-id", spec.agentId);
  const r = spawnSync(agenttrailBinary(), args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`agenttrail keys create for ${principal} failed:\n${r.stderr}`);
  const key = r.stdout.split("\n")[0]?.trim() ?? "";
  if (key === "") throw new Error(`agenttrail keys create for ${principal} printed no key`);
  return key;
}

/** A principal to create an API key for. */
export interface KeySpec {
  /** agent, developer, compliance or admin. */
  readonly role: string;
  /** Binds an agent key to one agent id. */
  readonly agentId?: string;
}

/** Options of startServer. */
export interface ServerOptions {
  /** --checkpoint-interval. Default "0" (a checkpoint for every batch). */
  readonly checkpointInterval?: string;
  /** Principals to create keys for, by name. Default: "agent" (role agent) and "auditor" (role compliance). */
  readonly keys?: Readonly<Record<string, KeySpec>>;
  /** More flags for serve. */
  readonly args?: readonly string[];
}

const DEFAULT_KEYS: Record<string, KeySpec> = {
  agent: { role: "agent" },
  auditor: { role: "compliance" },
};

/** A running (or stopped) agenttrail server on its own data directory. */
export class TestServer {
  /** "127.0.0.1:PORT". */
  address = "";
  /** The log's origin, from serve's output. */
  origin = "";
  /** The checkpoint verifier key, from serve's output: the out-of-band copy the tests trust. */
  verifierKey = "";
  private proc: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  private stderr = "";

  private constructor(
    readonly dataDir: string,
    private readonly options: ServerOptions,
    private readonly keys: ReadonlyMap<string, string>,
  ) {}

  /** Creates a data directory and its keys, and starts a server on a free port. */
  static async start(options: ServerOptions = {}): Promise<TestServer> {
    // The signing key is kept beside the data directory, never inside it:
    // both go in one temporary directory of their own.
    const dataDir = join(mkdtempSync(join(tmpdir(), "agenttrail-tsclient-")), "data");
    const keys = new Map<string, string>();
    for (const [principal, spec] of Object.entries(options.keys ?? DEFAULT_KEYS)) {
      keys.set(principal, createKey(dataDir, principal, spec));
    }
    const server = new TestServer(dataDir, options, keys);
    await server.launch("127.0.0.1:0");
    return server;
  }

  /** The API key of a principal. */
  apiKey(principal: string): string {
    const key = this.keys.get(principal);
    if (key === undefined) throw new Error(`no key was created for principal ${principal}`);
    return key;
  }

  /** A client of this server as a principal, with quick retries for tests. */
  client(principal: string, options: Partial<ClientOptions> = {}): AgentTrailClient {
    return new AgentTrailClient({
      address: this.address,
      apiKey: this.apiKey(principal),
      verifierKey: this.verifierKey,
      agentId: "test-agent",
      ...options,
      delivery: { retry: { initialDelayMs: 20, maxDelayMs: 200 }, ...options.delivery },
    });
  }

  /** The port the server listens on. */
  get port(): number {
    return Number(this.address.slice(this.address.lastIndexOf(":") + 1));
  }

  private async launch(listen: string): Promise<void> {
    const args = [
      "serve",
      "--data", this.dataDir,
      "--listen", listen,
      "--checkpoint-interval", this.options.checkpointInterval ?? "0",
      "--log-level", "warn",
      "--http-listen", "off", // the web console's listener has a fixed default port
      ...(this.options.args ?? []),
    ];
    this.stderr = "";
    const proc = spawn(agenttrailBinary(), args, { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once("exit", (code) => resolve(code)));
    proc.stderr!.setEncoding("utf8");
    proc.stderr!.on("data", (s: string) => {
      this.stderr = (this.stderr + s).slice(-8192);
    });
    const lines = createInterface({ input: proc.stdout! });
    const wanted = { address: "", origin: "", verifierKey: "" };
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error("the server did not start within 20 s")), 20_000);
      const fail = (e: Error) => {
        clearTimeout(timer);
        reject(new Error(`${e.message}\nserver stderr:\n${this.stderr}`));
      };
      const onExit = (code: number | null) => fail(new Error(`the server exited with status ${code} before it listened`));
      proc.once("exit", onExit);
      proc.once("error", (e) => fail(e));
      lines.on("line", (line) => {
        let m: RegExpMatchArray | null;
        if ((m = /^agenttrail listening on (\S+)$/.exec(line))) wanted.address = m[1]!;
        else if ((m = /^log origin: (\S+)$/.exec(line))) wanted.origin = m[1]!;
        else if ((m = /^checkpoint verifier key: (\S+)$/.exec(line))) wanted.verifierKey = m[1]!;
        if (wanted.address && wanted.origin && wanted.verifierKey) {
          clearTimeout(timer);
          proc.removeListener("exit", onExit);
          resolve();
        }
      });
    });
    if (wanted.address === "") throw new Error("the server printed no address");
    Object.assign(this, wanted);
  }

  /** Stops the server with SIGTERM (a graceful shutdown) and waits for it to exit. */
  async stop(): Promise<void> {
    await this.signal("SIGTERM");
  }

  /** Kills the server with SIGKILL, as a crash, and waits for it to exit. */
  async kill(): Promise<void> {
    await this.signal("SIGKILL");
  }

  /** Starts the server again on the same data directory and port. */
  async restart(): Promise<void> {
    if (this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null) {
      throw new Error("restart: the server is still running");
    }
    await this.launch(this.address);
  }

  /** Stops the server (SIGKILL: its data is thrown away) and removes its data directory. */
  async dispose(): Promise<void> {
    await this.signal("SIGKILL");
    rmSync(dirname(this.dataDir), { recursive: true, force: true });
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(sig);
    await this.exited;
  }
}

/** Collects an async iterable into an array. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
