import { randomUUID } from "node:crypto";

// The sessions the tests read: one with every kind of event an agent
// logs (and personal data and a secret a developer must never see), a
// failed one, an open one, and sessions of another agent and user.
const T0 = Date.parse("2026-11-02T09:30:00Z");
let n = 0;

function id(): string {
  n++;
  return `01963a4e-7c1b-7000-8000-${n.toString(16).padStart(12, "0")}`;
}

function at(s: number): string {
  return new Date(T0 + s * 1000).toISOString();
}

export const SECRET_EMAIL = "jane.doe@example.com";
export const SECRET_CARD = "4242 4242 4242 4242";

/** The session with every kind, s-every-kind. */
export function everyKind(): object[] {
  const sid = "s-every-kind";
  const start = id(), llm = id(), tool = id(), think = id(), ok = id(), out = id();
  const base = { session_id: sid, agent_id: "support-agent", agent_version: "1.4.2", user_id: "customer-42" };
  return [
    { ...base, event_id: start, step: 1, occurred_at: at(1), session_start: { user_message: `Where is my order #4411? Mail me at ${SECRET_EMAIL}`, source_channel: "web" } },
    { ...base, event_id: llm, parent_event_id: start, step: 2, occurred_at: at(2), llm_call: { provider_name: "openai", request_model: "gpt-4.1-mini", input_messages: [{ role: "ROLE_USER", content: "Where is my order #4411?" }], output_text: "Let me look that up.", input_tokens: 812, output_tokens: 46, finish_reasons: ["tool_calls"], latency: "0.640s", cost: { currency_code: "USD", micros: 1500 } } },
    { ...base, event_id: tool, parent_event_id: llm, step: 3, occurred_at: at(3), tool_call: { tool_name: "lookup_order", arguments: '{"order_id":"4411"}', result: '{"status":"shipped"}', outcome: "TOOL_OUTCOME_SUCCESS", duration: "0.085s" } },
    { ...base, event_id: id(), parent_event_id: llm, step: 4, occurred_at: at(4), tool_call: { tool_name: "issue_refund", arguments: `{"order_id":"4411","card":"${SECRET_CARD}"}`, outcome: "TOOL_OUTCOME_TIMEOUT", error_type: "PaymentGatewayTimeout", error_message: "gateway did not answer in 30s" } },
    { ...base, event_id: think, parent_event_id: start, step: 5, occurred_at: at(5), reasoning: { thought: "The refund timed out; a human should approve a retry.", plan_steps: ["ask a supervisor", "retry the refund"], confidence: 0.7 } },
    { ...base, event_id: ok, parent_event_id: think, step: 6, occurred_at: at(6), human_approval: { kind: "HUMAN_ACTION_KIND_APPROVAL", request: "Retry refund of order 4411?", decision: "APPROVAL_DECISION_APPROVED", approver: "supervisor-7", reason: "customer is eligible" } },
    { ...base, event_id: id(), parent_event_id: ok, step: 7, occurred_at: at(7), error: { error_type: "RetryBudgetExceeded", message: "no retries left for issue_refund", stack_trace: "at refund (agent.py:42)\nat main (agent.py:7)", retryable: false } },
    { ...base, event_id: out, parent_event_id: start, step: 8, occurred_at: at(8), output: { text: "Your order shipped; the refund needs a few more minutes. " + "More detail follows. ".repeat(40), final: true } },
    { ...base, event_id: id(), parent_event_id: start, step: 9, occurred_at: at(9), session_end: { reason: "END_REASON_COMPLETED", step_count: 9, llm_call_count: 1, tool_call_count: 2, error_count: 2 } },
  ];
}

/** A failed session of another agent, an open one, and a plain completed one. */
export function others(): object[] {
  const out: object[] = [];
  const f = { session_id: "s-failed", agent_id: "billing-agent", user_id: "customer-7" };
  const fs = id();
  out.push({ ...f, event_id: fs, step: 1, occurred_at: at(20), session_start: { user_message: "Cancel my plan" } });
  out.push({ ...f, event_id: id(), parent_event_id: fs, step: 2, occurred_at: at(21), error: { error_type: "BillingAPIError", message: "503 from billing" } });
  out.push({ ...f, event_id: id(), parent_event_id: fs, step: 3, occurred_at: at(22), session_end: { reason: "END_REASON_FAILED" } });
  const o = { session_id: "s-open", agent_id: "support-agent", user_id: "customer-9" };
  out.push({ ...o, event_id: id(), step: 1, occurred_at: at(30), session_start: { user_message: "Hello?" } });
  const c = { session_id: "s-quiet", agent_id: "support-agent", user_id: "customer-9" };
  const cs = id();
  out.push({ ...c, event_id: cs, step: 1, occurred_at: at(40), session_start: { user_message: "Thanks!" } });
  out.push({ ...c, event_id: id(), parent_event_id: cs, step: 2, occurred_at: at(41), output: { text: "You're welcome.", final: true } });
  out.push({ ...c, event_id: id(), parent_event_id: cs, step: 3, occurred_at: at(42), session_end: { reason: "END_REASON_COMPLETED" } });
  return out;
}

/** A session of count events: tool calls and LLM calls under its start. */
export function big(sessionId: string, count: number): object[] {
  const out: object[] = [];
  const base = { session_id: sessionId, agent_id: "load-agent", user_id: "customer-1" };
  const start = id();
  out.push({ ...base, event_id: start, step: 1, occurred_at: at(100), session_start: { user_message: `A long session of ${count} events` } });
  for (let i = 2; i < count; i++) {
    const ev: Record<string, unknown> = { ...base, event_id: id(), parent_event_id: start, step: i, occurred_at: at(100 + i / 100) };
    if (i % 3 === 0) ev.llm_call = { provider_name: "openai", request_model: "gpt-4o", output_text: `step ${i}: thinking about the next tool`, input_tokens: 300, output_tokens: 20 };
    else ev.tool_call = { tool_name: `tool_${i % 7}`, arguments: `{"step":${i}}`, result: `{"ok":true,"step":${i}}`, outcome: "TOOL_OUTCOME_SUCCESS", duration: "0.010s" };
    out.push(ev);
  }
  out.push({ ...base, event_id: id(), parent_event_id: start, step: count, occurred_at: at(200), session_end: { reason: "END_REASON_COMPLETED" } });
  return out;
}

/** A fresh event id, unique across test processes. */
export function nextId(): string {
  return randomUUID();
}
