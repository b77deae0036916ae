// Client options, and what the client puts on the wire, without a server of
// agenttrail: a bare HTTP/2 endpoint records the request and refuses it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http2";
import type { IncomingHttpHeaders } from "node:http2";
import type { AddressInfo } from "node:net";
import { AgentTrailClient, Code, ConnectError, InvalidEventError } from "../src/index.js";

test("options that cannot work are refused with what is wrong, never echoing the key", () => {
  const cases: [string, () => unknown, RegExp][] = [
    ["no port", () => new AgentTrailClient({ address: "127.0.0.1" }), /has no port/],
    ["empty", () => new AgentTrailClient({ address: "" }), /host:port/],
    ["other scheme", () => new AgentTrailClient({ address: "ftp://127.0.0.1:7700" }), /http:\/\/ or https:\/\//],
    ["path", () => new AgentTrailClient({ address: "http://127.0.0.1:7700/api" }), /only a scheme, host and port/],
    ["scheme and tls disagree", () => new AgentTrailClient({ address: "http://127.0.0.1:7700", tls: true }), /says http:\/\//],
    ["key with a newline", () => new AgentTrailClient({ address: "127.0.0.1:7700", apiKey: "secret\nx" }), /printable ASCII/],
    [
      "key in plaintext to another host",
      () => new AgentTrailClient({ address: "trail.example.com:7700", tls: false, apiKey: "secret-key-1" }),
      /apiKey would be sent in plaintext to trail\.example\.com:7700/,
    ],
    ["bad verifier key", () => new AgentTrailClient({ address: "127.0.0.1:7700", verifierKey: "nonsense" }), /verifier key/],
    ["bad timeout", () => new AgentTrailClient({ address: "127.0.0.1:7700", callTimeoutMs: 0 }), /callTimeoutMs/],
    ["bad buffer", () => new AgentTrailClient({ address: "127.0.0.1:7700", delivery: { bufferSize: 0 } }), /delivery\.bufferSize/],
    [
      "bad policy",
      () => new AgentTrailClient({ address: "127.0.0.1:7700", delivery: { onFull: "wait" as "block" } }),
      /delivery\.onFull must be "block" or "drop"/,
    ],
    ["bad jitter", () => new AgentTrailClient({ address: "127.0.0.1:7700", delivery: { retry: { jitter: 2 } } }), /retry\.jitter/],
  ];
  for (const [name, make, message] of cases) {
    assert.throws(make, (e: unknown) => {
      assert.ok(e instanceof Error, name);
      assert.match(e.message, message, name);
      assert.ok(!e.message.includes("secret"), `${name}: the error repeats the key`);
      return true;
    });
  }
  // Allowed: a key over TLS, or in plaintext to loopback.
  new AgentTrailClient({ address: "trail.example.com:7700", apiKey: "k" });
  new AgentTrailClient({ address: "https://trail.example.com", apiKey: "k" });
  new AgentTrailClient({ address: "localhost:7700", apiKey: "k" });
  new AgentTrailClient({ address: "[::1]:7700", apiKey: "k" });
});

/** A plaintext HTTP/2 server that records each request's headers and answers UNIMPLEMENTED. */
async function recordingServer(): Promise<{ address: string; requests: IncomingHttpHeaders[]; close: () => Promise<void> }> {
  const requests: IncomingHttpHeaders[] = [];
  const server = createServer();
  server.on("stream", (stream, headers) => {
    requests.push(headers);
    stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12", "grpc-message": "nope" }, { endStream: true });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test("the API key goes in the authorization header of every call, as a bearer token", async () => {
  const srv = await recordingServer();
  const client = new AgentTrailClient({ address: srv.address, apiKey: "at_test_key.123" });
  try {
    await assert.rejects(client.getEvent("some-event"), (e: unknown) => e instanceof ConnectError && e.code === Code.Unimplemented);
    await assert.rejects(client.checkpoint({ verifierKey: undefined }), /no trusted verifier key/);
    await assert.rejects(client.getVerifierKey(), ConnectError);
    assert.equal(srv.requests.length, 2);
    for (const h of srv.requests) {
      assert.equal(h.authorization, "Bearer at_test_key.123");
      assert.equal(h["content-type"], "application/grpc+proto");
    }
    assert.equal(srv.requests[0]![":path"], "/agenttrail.v1.QueryService/GetEvent");
    assert.equal(srv.requests[1]![":path"], "/agenttrail.v1.LogService/GetVerifierKey");
  } finally {
    await client.close();
    await srv.close();
  }
  const anonymous = new AgentTrailClient({ address: srv.address });
  const srv2 = await recordingServer();
  const client2 = new AgentTrailClient({ address: srv2.address });
  try {
    await assert.rejects(client2.getEvent(0n), ConnectError);
    assert.equal(srv2.requests[0]!.authorization, undefined, "a key was sent though none was configured");
  } finally {
    await client2.close();
    await anonymous.close();
    await srv2.close();
  }
});

test("read arguments are checked before anything is sent", async () => {
  const client = new AgentTrailClient({ address: "127.0.0.1:1" });
  try {
    await assert.rejects(client.getEvent("not an id"), InvalidEventError);
    await assert.rejects(client.getEvent(-1), /logIndex: must be a non-negative integer/);
    const q = client.query({ kinds: ["llmCall", "nonsense" as "llmCall"] });
    await assert.rejects(q.next(), /filter\.kinds\[1\]: must be one of/);
    await assert.rejects(client.query({}, { limit: -1 }).next(), /limit: must be an integer/);
    await assert.rejects(client.query({ sessionId: "a b" }).next(), /filter\.sessionId/);
  } finally {
    await client.close();
  }
  await assert.rejects(client.getEvent("x"), /client is closed/);
  await assert.rejects(client.query().next(), /client is closed/);
});
