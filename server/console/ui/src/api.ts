// The console's connection to its server: sign-in and sign-out, and the
// agenttrail services over the Connect protocol (binary), with the
// session's CSRF token on every call. The session itself is an HttpOnly
// cookie the page never sees.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client, Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { LifecycleService } from "@agenttrail/gen/lifecycle_service_pb.js";
import { LogService } from "@agenttrail/gen/log_service_pb.js";
import { QueryService } from "@agenttrail/gen/query_service_pb.js";
import { StatsService } from "@agenttrail/gen/stats_service_pb.js";

/** Who is signed in. */
export interface SessionInfo {
  readonly principal: string;
  readonly role: "developer" | "compliance" | "admin";
  readonly csrfToken: string;
  readonly expiresAt: string;
}

let csrfToken = "";
let onSignedOut: (reason: string) => void = () => {};

/** Sets what happens when a call finds the session gone. */
export function whenSignedOut(f: (reason: string) => void): void {
  onSignedOut = f;
}

const csrf: Interceptor = (next) => async (req) => {
  req.header.set("X-CSRF-Token", csrfToken);
  try {
    return await next(req);
  } catch (e) {
    const err = ConnectError.from(e);
    if (err.code === Code.Unauthenticated) onSignedOut(err.rawMessage);
    throw err;
  }
};

const transport = createConnectTransport({
  baseUrl: location.origin,
  useBinaryFormat: true,
  interceptors: [csrf],
});

export const query: Client<typeof QueryService> = createClient(QueryService, transport);
export const log: Client<typeof LogService> = createClient(LogService, transport);
export const lifecycle: Client<typeof LifecycleService> = createClient(LifecycleService, transport);
export const stats: Client<typeof StatsService> = createClient(StatsService, transport);

async function readError(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { message?: string };
    return body.message ?? `${res.status} ${res.statusText}`;
  } catch {
    return `${res.status} ${res.statusText}`;
  }
}

/** Exchanges an API key for a session cookie. The key is not kept. */
export async function signIn(key: string): Promise<SessionInfo> {
  const res = await fetch("/console/signin", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ key }),
    credentials: "same-origin",
  });
  if (!res.ok) throw new Error(await readError(res));
  const info = (await res.json()) as SessionInfo;
  csrfToken = info.csrfToken;
  return info;
}

/** The current session, or undefined when not signed in. */
export async function currentSession(): Promise<SessionInfo | undefined> {
  const res = await fetch("/console/session", { credentials: "same-origin" });
  if (res.status === 401) return undefined;
  if (!res.ok) throw new Error(await readError(res));
  const info = (await res.json()) as SessionInfo;
  csrfToken = info.csrfToken;
  return info;
}

/** Ends the session on the server and clears its cookie. */
export async function signOut(): Promise<void> {
  await fetch("/console/signout", { method: "POST", headers: { "X-CSRF-Token": csrfToken }, credentials: "same-origin" });
  csrfToken = "";
}

/** A message for a failed call that says what to do. */
export function explain(e: unknown): string {
  const err = ConnectError.from(e);
  switch (err.code) {
    case Code.Unauthenticated:
      return "Your session ended. Sign in again.";
    case Code.PermissionDenied:
      return `Your role may not do this: ${err.rawMessage}`;
    case Code.InvalidArgument:
      return `The server refused the request: ${err.rawMessage}. Check the filters.`;
    case Code.ResourceExhausted:
      return "The server is busy (rate limit). Wait a moment and retry.";
    case Code.Unavailable:
      return `The server is unavailable (${err.rawMessage}). Check that agenttrail is running, then retry.`;
    case Code.Canceled:
      return "Cancelled.";
    case Code.DataLoss:
      return "The server found stored data that fails an integrity check. Tell its operator.";
  }
  return err.rawMessage || String(e);
}
