// How each kind of event reads: a one-line summary and the details.
import type { Entry } from "@agenttrail/gen/entry_pb.js";
import { ContentState } from "@agenttrail/gen/entry_pb.js";
import type { Event } from "@agenttrail/gen/event_pb.js";
import { AccessPhase, ViewKind, ApprovalDecision, EndReason, HoldAction, HumanActionKind, KeyChangeAction, Role, ToolOutcome } from "@agenttrail/gen/event_pb.js";
import type { RetentionPolicy } from "@agenttrail/gen/event_pb.js";
import { duration, enumName, money, num, time } from "./format.js";
import { ShowMore } from "./widgets.js";

export type Kind = NonNullable<Event["payload"]["case"]>;

export const KIND_LABEL: Record<Kind, string> = {
  sessionStart: "session start",
  llmCall: "LLM call",
  toolCall: "tool call",
  reasoning: "reasoning",
  humanApproval: "human approval",
  error: "error",
  output: "output",
  sessionEnd: "session end",
  access: "access",
  erasure: "erasure",
  retention: "retention",
  keyChange: "key change",
  legalHold: "legal hold",
  retentionPolicy: "retention policy",
};

/** Whether an event records a failure (as the server's event.IsFailure). */
export function isFailure(ev: Event | undefined): boolean {
  const p = ev?.payload;
  switch (p?.case) {
    case "error":
      return true;
    case "toolCall":
      return (p.value.outcome !== ToolOutcome.SUCCESS && p.value.outcome !== ToolOutcome.UNSPECIFIED) || p.value.errorType !== "";
    case "llmCall":
      return p.value.errorType !== "";
    case "sessionEnd":
      return p.value.reason === EndReason.FAILED || p.value.reason === EndReason.TIMED_OUT;
  }
  return false;
}

/** One line that says what happened. */
export function summary(ev: Event | undefined): string {
  const p = ev?.payload;
  switch (p?.case) {
    case "sessionStart":
      return p.value.userMessage ? `“${oneLine(p.value.userMessage)}”` : `started${p.value.sourceChannel ? ` via ${p.value.sourceChannel}` : ""}`;
    case "llmCall": {
      const v = p.value;
      const model = v.responseModel || v.requestModel || ev?.modelId || "model";
      const tokens = v.inputTokens || v.outputTokens ? ` · ${num(v.inputTokens)} → ${num(v.outputTokens)} tokens` : "";
      return `${v.providerName ? v.providerName + " " : ""}${model}${tokens}${v.latency ? ` · ${duration(v.latency)}` : ""}${v.errorType ? ` · ${v.errorType}` : ""}`;
    }
    case "toolCall": {
      const v = p.value;
      return `${v.toolName} · ${enumName(ToolOutcome, v.outcome)}${v.duration ? ` · ${duration(v.duration)}` : ""}${v.errorType ? ` · ${v.errorType}` : ""}`;
    }
    case "reasoning":
      return oneLine(p.value.thought) || `plan of ${p.value.planSteps.length} steps`;
    case "humanApproval": {
      const v = p.value;
      return `${enumName(ApprovalDecision, v.decision)}${v.approver ? ` by ${v.approver}` : ""}${v.request ? `: ${oneLine(v.request)}` : ""}`;
    }
    case "error":
      return `${p.value.errorType}${p.value.message ? `: ${oneLine(p.value.message)}` : ""}`;
    case "output":
      return `${p.value.final ? "final: " : ""}${oneLine(p.value.text)}`;
    case "sessionEnd":
      return `${enumName(EndReason, p.value.reason)}${p.value.detail ? `: ${p.value.detail}` : ""}`;
    case "access": {
      const v = p.value;
      return `${v.principal} (${v.role}) ${v.rpc.split("/").pop()} · ${num(v.eventsReturned)} returned · ${enumName(ViewKind, v.view)} view${v.phase === AccessPhase.STARTED ? " · tail opened" : ""}`;
    }
    case "erasure":
      return `${erasedCount(p.value)} events erased by ${p.value.principal}`;
    case "retention":
      return `${num(p.value.eventsAffected)} events past ${p.value.policy}`;
    case "keyChange":
      return `${enumName(KeyChangeAction, p.value.action)}: ${p.value.keyPrincipal} (${p.value.keyRole}) by ${p.value.changedBy}`;
    case "legalHold":
      return `hold ${p.value.holdId} ${enumName(HoldAction, p.value.action)} on ${holdScope(p.value)} by ${p.value.principal}`;
    case "retentionPolicy":
      return `retention policies version ${p.value.version}: ${num(p.value.policies.length)} policies, by ${p.value.principal}`;
  }
  return "";
}

/** What a legal hold covers: a subject, a session or an agent. */
function holdScope(h: { userId: string; sessionId: string; agentId: string }): string {
  return h.userId ? `subject ${h.userId}` : h.sessionId ? `session ${h.sessionId}` : `agent ${h.agentId}`;
}

/** A retention policy in one line: what it matches and how long it keeps content. */
function policyLine(r: RetentionPolicy): string {
  const match = [r.agentId && `agent ${r.agentId}`, r.kinds.length > 0 && `${r.kinds.length} kinds`, r.labelKey && `label ${r.labelKey}${r.labelValue ? `=${r.labelValue}` : ""}`].filter(Boolean).join(", ") || "every event";
  const days = r.keepFor ? Number(r.keepFor.seconds) / 86400 : 0;
  return `${r.name}: ${match}, kept ${days % 1 === 0 ? `${days} days` : `${(days * 24).toFixed(0)} hours`}`;
}

/** How many events an erasure names, one by one and in ranges. */
function erasedCount(e: { logIndexes: bigint[]; ranges: { first: bigint; last: bigint }[] }): string {
  return num(e.ranges.reduce((n, r) => n + r.last - r.first + 1n, BigInt(e.logIndexes.length)));
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > 160 ? t.slice(0, 160) + "…" : t;
}

function Field({ name, children }: { name: string; children: preact.ComponentChildren }) {
  if (children === "" || children === undefined || children === null || children === false) return null;
  return (
    <div class="field">
      <dt>{name}</dt>
      <dd>{children}</dd>
    </div>
  );
}

/** What the view shows of the content, when it is not all there. */
export function contentNote(e: Entry): string | undefined {
  if (e.view?.content === ContentState.ERASED) {
    const by = e.view.erasedBy !== undefined ? ` by event ${e.view.erasedBy}` : "";
    return `Content erased${by}: the header and content digest remain, and still verify.`;
  }
  if (e.view?.kind === ViewKind.METADATA) return "Content withheld: your role sees metadata only.";
  if (e.view?.kind === ViewKind.REDACTED) return `Redacted view: personal data and secrets are masked (policy ${e.view?.policyVersion || "default"}).`;
  return undefined;
}

/** Every field worth reading, by kind. */
export function Details({ entry }: { entry: Entry }) {
  const ev = entry.event;
  const p = ev?.payload;
  let body: preact.ComponentChildren = null;
  switch (p?.case) {
    case "sessionStart": {
      const v = p.value;
      body = (
        <>
          <Field name="user message">{v.userMessage && <ShowMore text={v.userMessage} />}</Field>
          <Field name="channel">{v.sourceChannel}</Field>
          <Field name="system prompt">{v.systemPrompt && <ShowMore text={v.systemPrompt} />}</Field>
          <Field name="tools">{v.toolsAvailable.map((t) => t.name).join(", ")}</Field>
          <Field name="client">{[v.clientIp, v.clientUserAgent].filter(Boolean).join(" · ")}</Field>
        </>
      );
      break;
    }
    case "llmCall": {
      const v = p.value;
      body = (
        <>
          <Field name="model">{[v.providerName, v.requestModel, v.responseModel && v.responseModel !== v.requestModel ? `→ ${v.responseModel}` : ""].filter(Boolean).join(" ")}</Field>
          <Field name="tokens">{v.inputTokens || v.outputTokens ? `${num(v.inputTokens)} in · ${num(v.outputTokens)} out${v.cacheReadInputTokens ? ` · ${num(v.cacheReadInputTokens)} cached` : ""}` : ""}</Field>
          <Field name="cost">{v.cost ? money(v.cost.micros, v.cost.currencyCode) : ""}</Field>
          <Field name="latency">{[duration(v.latency), v.timeToFirstToken ? `first token ${duration(v.timeToFirstToken)}` : ""].filter(Boolean).join(" · ")}</Field>
          <Field name="finish">{v.finishReasons.join(", ")}</Field>
          <Field name="error">{v.errorType && <span class="bad">{v.errorType}</span>}</Field>
          <Field name="instructions">{v.systemInstructions && <ShowMore text={v.systemInstructions} />}</Field>
          {v.inputMessages.length > 0 && (
            <Field name="messages in">
              <ol class="messages">
                {v.inputMessages.map((m, i) => (
                  <li key={i}>
                    <span class="role">{enumName(Role, m.role)}</span>
                    <ShowMore text={m.content} />
                    {m.toolCalls.map((t) => <div class="mono small">→ {t.toolName}({t.argumentsJson})</div>)}
                  </li>
                ))}
              </ol>
            </Field>
          )}
          <Field name="output">{v.outputText && <ShowMore text={v.outputText} />}</Field>
          {v.toolCalls.length > 0 && <Field name="tool calls">{v.toolCalls.map((t) => <div class="mono small">{t.toolName}({t.argumentsJson})</div>)}</Field>}
        </>
      );
      break;
    }
    case "toolCall": {
      const v = p.value;
      const failed = isFailure(ev);
      body = (
        <>
          <Field name="tool">{[v.toolName, v.toolType, v.toolCallId].filter(Boolean).join(" · ")}</Field>
          <Field name="outcome"><span class={failed ? "bad" : "good"}>{enumName(ToolOutcome, v.outcome)}</span></Field>
          <Field name="duration">{duration(v.duration)}</Field>
          <Field name="arguments">{v.arguments && <ShowMore text={v.arguments} mono />}</Field>
          <Field name="result">{v.result && <ShowMore text={v.result} mono />}</Field>
          <Field name="error">{(v.errorType || v.errorMessage) && <span class="bad">{v.errorType} {v.errorMessage}</span>}</Field>
          <Field name="approval">{v.approvalRequired ? "required" : ""}</Field>
        </>
      );
      break;
    }
    case "reasoning": {
      const v = p.value;
      body = (
        <>
          <Field name="thought">{v.thought && <ShowMore text={v.thought} />}</Field>
          {v.planSteps.length > 0 && <Field name="plan"><ol>{v.planSteps.map((s, i) => <li key={i}>{s}</li>)}</ol></Field>}
          <Field name="confidence">{v.confidence !== undefined ? v.confidence.toFixed(2) : ""}</Field>
        </>
      );
      break;
    }
    case "humanApproval": {
      const v = p.value;
      body = (
        <>
          <Field name="kind">{enumName(HumanActionKind, v.kind)}</Field>
          <Field name="decision"><span class={v.decision === ApprovalDecision.REJECTED ? "bad" : "good"}>{enumName(ApprovalDecision, v.decision)}</span></Field>
          <Field name="approver">{v.approver}</Field>
          <Field name="request">{v.request && <ShowMore text={v.request} />}</Field>
          <Field name="reason">{v.reason && <ShowMore text={v.reason} />}</Field>
          <Field name="edited to">{v.editedContent && <ShowMore text={v.editedContent} />}</Field>
          <Field name="gates event">{v.gatedEventId}</Field>
          <Field name="waited">{duration(v.waitDuration)}</Field>
        </>
      );
      break;
    }
    case "error": {
      const v = p.value;
      body = (
        <>
          <Field name="type"><span class="bad">{v.errorType}</span></Field>
          <Field name="message">{v.message && <ShowMore text={v.message} />}</Field>
          <Field name="stack">{v.stackTrace && <ShowMore text={v.stackTrace} mono />}</Field>
          <Field name="recovery">{v.recoveryAction}</Field>
          <Field name="retryable">{v.retryable ? "yes" : ""}</Field>
        </>
      );
      break;
    }
    case "output":
      body = (
        <>
          <Field name="text">{p.value.text && <ShowMore text={p.value.text} />}</Field>
          <Field name="final">{p.value.final ? "yes" : ""}</Field>
          <Field name="media type">{p.value.mediaType}</Field>
        </>
      );
      break;
    case "sessionEnd": {
      const v = p.value;
      body = (
        <>
          <Field name="reason"><span class={isFailure(ev) ? "bad" : "good"}>{enumName(EndReason, v.reason)}</span></Field>
          <Field name="detail">{v.detail}</Field>
          <Field name="counts">{`${v.stepCount} steps · ${v.llmCallCount} LLM calls · ${v.toolCallCount} tool calls · ${v.errorCount} errors (as the agent reported)`}</Field>
          <Field name="tokens">{v.inputTokens || v.outputTokens ? `${num(v.inputTokens)} in · ${num(v.outputTokens)} out` : ""}</Field>
        </>
      );
      break;
    }
    case "access": {
      const v = p.value;
      const f = v.filter;
      body = (
        <>
          <Field name="reader">{`${v.principal} (${v.role})`}</Field>
          <Field name="call">{v.rpc}</Field>
          <Field name="filter">{f ? [f.sessionId && `session ${f.sessionId}`, f.agentId && `agent ${f.agentId}`, f.userId && `user ${f.userId}`, f.toolName && `tool ${f.toolName}`, f.errorsOnly && "errors only", f.kinds.length > 0 && `${f.kinds.length} kinds`].filter(Boolean).join(", ") || "everything" : ""}</Field>
          <Field name="asked for">{v.eventId || (v.logIndex !== undefined ? `log index ${v.logIndex}` : "")}</Field>
          <Field name="returned">{`${num(v.eventsReturned)} in the ${enumName(ViewKind, v.view)} view${v.policyVersion ? ` (policy ${v.policyVersion})` : ""}; status ${v.statusCode}`}</Field>
        </>
      );
      break;
    }
    case "erasure":
      body = (
        <>
          <Field name="by">{p.value.principal}</Field>
          <Field name="subject">{p.value.userId}</Field>
          <Field name="events">{[...p.value.logIndexes.map(String), ...p.value.ranges.map((r) => `${r.first}–${r.last}`)].join(", ")}</Field>
          <Field name="reason">{p.value.reason}</Field>
        </>
      );
      break;
    case "retention":
      body = (
        <>
          <Field name="policy">{p.value.policy}</Field>
          <Field name="cutoff">{time(p.value.cutoff)}</Field>
          <Field name="range">{`${p.value.fromIndex} to ${p.value.toIndex}`}</Field>
        </>
      );
      break;
    case "keyChange":
      body = (
        <>
          <Field name="action">{enumName(KeyChangeAction, p.value.action)}</Field>
          <Field name="key">{`${p.value.keyId} · ${p.value.keyPrincipal} (${p.value.keyRole})`}</Field>
          <Field name="by">{p.value.changedBy}</Field>
        </>
      );
      break;
    case "legalHold":
      body = (
        <>
          <Field name="hold">{`${p.value.holdId} ${enumName(HoldAction, p.value.action)}`}</Field>
          <Field name="covers">{holdScope(p.value)}</Field>
          <Field name="by">{p.value.principal}</Field>
          <Field name="reason">{p.value.reason}</Field>
        </>
      );
      break;
    case "retentionPolicy":
      body = (
        <>
          <Field name="version">{String(p.value.version)}</Field>
          <Field name="policies">{p.value.policies.length > 0 ? p.value.policies.map(policyLine).join("; ") : "none: content is kept"}</Field>
          <Field name="by">{p.value.principal}</Field>
        </>
      );
      break;
  }
  const note = contentNote(entry);
  return (
    <dl class="details">
      {note && <div class="content-note">{note}</div>}
      {body}
      <Field name="event id"><span class="mono">{ev?.eventId}</span></Field>
      <Field name="parent">{ev?.parentEventId && <span class="mono">{ev.parentEventId}</span>}</Field>
      <Field name="agent">{[ev?.agentId, ev?.agentVersion].filter(Boolean).join(" ")}</Field>
      <Field name="user">{ev?.userId}</Field>
      <Field name="occurred">{time(ev?.occurredAt)}</Field>
      <Field name="received">{`${time(entry.stamp?.receivedAt)} from ${entry.stamp?.principal}`}</Field>
      <Field name="labels">{ev && Object.keys(ev.labels).length > 0 ? Object.entries(ev.labels).map(([k, v]) => `${k}=${v}`).join(" ") : ""}</Field>
    </dl>
  );
}
