// Sessions: one run of an agent on one task, and the events it logs.
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import {
  ApprovalDecision,
  CostSchema,
  EndReason,
  EventSchema,
  HumanActionKind,
  Role,
  ToolDefinitionSchema,
  ToolOutcome,
} from "./gen/agenttrail/v1/event_pb.js";
import type { ChatMessage, Cost, Event, LlmCall, ToolCallRequest, ToolDefinition } from "./gen/agenttrail/v1/event_pb.js";
import {
  checkEventId,
  checkId,
  errorMessage,
  errorType,
  toCount,
  toDuration,
  toJsonText,
  toNumber,
  toStringMap,
  toTimestamp,
  toUint32,
} from "./convert.js";
import type { TimeInput } from "./convert.js";
import { InvalidEventError, SessionEndedError } from "./errors.js";
import { uuidv7 } from "./uuid.js";

export type { TimeInput } from "./convert.js";

/** What every event method of a session accepts besides its payload. */
export interface EventOptions {
  /**
   * Id of the event that caused this one, such as the LLM call that asked
   * for a tool call. Default: the session's start event.
   */
  readonly parentId?: string;
  /** When the step happened. Default: now. */
  readonly occurredAt?: TimeInput;
  /** Free-form labels of this event (stored as content). */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * The event's id. Default: a new UUIDv7. Give one only to make the event
   * idempotent across processes: the server stores one event per id.
   */
  readonly eventId?: string;
}

/** A tool the agent could call, for SessionOptions.tools. */
export interface ToolDefinitionInit {
  /** Name of the tool (gen_ai.tool.name). */
  readonly name: string;
  /** "function", "extension" or "datastore" (gen_ai.tool.type). Default "function". */
  readonly type?: string;
  /** What the tool does, as told to the model. */
  readonly description?: string;
  /** JSON Schema of the arguments: an object (serialized to JSON) or JSON text. */
  readonly parameters?: unknown;
}

/** How a session starts: the envelope every event of it carries, and its start event. */
export interface SessionOptions {
  /** The session's id. Default: a new UUIDv7. */
  readonly sessionId?: string;
  /** Stable id of the agent (gen_ai.agent.id). Default: the client's agentId; one of the two is required. */
  readonly agentId?: string;
  /** Version of the agent's code or configuration. Default: the client's agentVersion. */
  readonly agentVersion?: string;
  /** The model the agent is configured with, when one model drives the session. Also the default requestModel of LLM calls. */
  readonly modelId?: string;
  /** Pseudonymous id of the person the agent acts for. Never an email address or a name. */
  readonly userId?: string;
  /**
   * The system prompt in force. It is recorded (as content) in the start
   * event, and its SHA-256 goes into every event's systemPromptHash.
   */
  readonly systemPrompt?: string;
  /** Hex SHA-256 of the system prompt, when the prompt itself is not to be recorded. */
  readonly systemPromptHash?: string;
  /** The user's request that started the session. */
  readonly userMessage?: string;
  /** The tools the agent can call in this session. */
  readonly tools?: readonly ToolDefinitionInit[];
  /** Channel the request came through, such as "web", "slack" or "api". */
  readonly sourceChannel?: string;
  /** IP address of the requesting client (personal data). */
  readonly clientIp?: string;
  /** User agent of the requesting client. */
  readonly clientUserAgent?: string;
  /** Any other facts about the session to keep on record. */
  readonly attributes?: Readonly<Record<string, string>>;
  /** Labels of the start event. */
  readonly labels?: Readonly<Record<string, string>>;
  /** When the session started. Default: now. */
  readonly occurredAt?: TimeInput;
}

/** Author of a chat message. */
export type ChatRole = "system" | "user" | "assistant" | "tool" | "developer";

/** A tool call a model asked for. */
export interface ToolCallRequestInit {
  /** The model's id of the call (gen_ai.tool.call.id). */
  readonly id?: string;
  /** The tool asked for. */
  readonly name: string;
  /** The arguments: an object (serialized to JSON) or JSON text. */
  readonly arguments?: unknown;
}

/** One message sent to a model. */
export interface ChatMessageInit {
  /** Who wrote it. */
  readonly role: ChatRole;
  /** Its text. */
  readonly content?: string;
  /** Name of the participant, when the provider supports names. */
  readonly name?: string;
  /** For a "tool" message: the id of the tool call it answers. */
  readonly toolCallId?: string;
  /** For an "assistant" message: the tool calls it asked for. */
  readonly toolCalls?: readonly ToolCallRequestInit[];
}

/** An amount of money. */
export interface CostInit {
  /** ISO 4217 code, such as "USD". */
  readonly currency: string;
  /** Millionths of the currency's unit: 1500 is 0.0015 USD. */
  readonly micros: number | bigint;
}

/** A call to a language model. Names follow the OpenTelemetry gen_ai.* attributes. */
export interface LlmCallInit extends EventOptions {
  /** Provider, such as "openai", "anthropic" or "aws.bedrock" (gen_ai.provider.name). */
  readonly providerName?: string;
  /** Operation, such as "chat" or "embeddings" (gen_ai.operation.name). Default "chat". */
  readonly operationName?: string;
  /** Model asked for. Default: the session's modelId. */
  readonly requestModel?: string;
  /** Model that answered. */
  readonly responseModel?: string;
  /** The provider's id of the response. */
  readonly responseId?: string;
  /** The messages sent, in order. */
  readonly inputMessages?: readonly ChatMessageInit[];
  /** The system prompt sent, when it is not one of inputMessages. */
  readonly systemInstructions?: string;
  /** The text the model produced. */
  readonly outputText?: string;
  /** The tool calls the model asked for. */
  readonly toolCalls?: readonly ToolCallRequestInit[];
  /** Why the model stopped, one per choice, such as "stop" or "tool_calls". */
  readonly finishReasons?: readonly string[];
  /** Prompt tokens. */
  readonly inputTokens?: number | bigint;
  /** Response tokens. */
  readonly outputTokens?: number | bigint;
  /** Prompt tokens read from the provider's cache. */
  readonly cacheReadInputTokens?: number | bigint;
  /** Prompt tokens written to the provider's cache. */
  readonly cacheCreationInputTokens?: number | bigint;
  /** What the call cost. */
  readonly cost?: CostInit;
  /** Time from request to the whole response, in milliseconds. */
  readonly latencyMs?: number;
  /** Time from request to the first token of a streamed response, in milliseconds. */
  readonly timeToFirstTokenMs?: number;
  /** Sampling temperature asked for. */
  readonly temperature?: number;
  /** Most tokens the model was allowed to produce. */
  readonly maxTokens?: number | bigint;
  /** Error class when the call failed, such as "timeout" or "429". */
  readonly errorType?: string;
}

/** How a tool call ended. */
export type ToolOutcomeName = "success" | "error" | "timeout" | "denied" | "cancelled";

/** A call of a tool by the agent. */
export interface ToolCallInit extends EventOptions {
  /** Name of the tool. */
  readonly toolName: string;
  /** Id of the call, matching the id in the LLM call that asked for it. */
  readonly toolCallId?: string;
  /** "function", "extension" or "datastore". Default "function". */
  readonly toolType?: string;
  /** The input: an object (serialized to JSON) or text. */
  readonly arguments?: unknown;
  /** The output: an object (serialized to JSON) or text. */
  readonly result?: unknown;
  /** What the tool threw, when it failed: sets errorType and errorMessage unless they are given. */
  readonly error?: unknown;
  /** Error class when the call failed. */
  readonly errorType?: string;
  /** Error message when the call failed. */
  readonly errorMessage?: string;
  /** How the call ended. Default: "error" when an error is given, else "success". */
  readonly outcome?: ToolOutcomeName;
  /** How long the call took, in milliseconds. */
  readonly durationMs?: number;
  /** Whether a human had to approve the call; log the approval with approval({ gatedEventId }). */
  readonly approvalRequired?: boolean;
}

/** The agent's reasoning or plan at a step. */
export interface ReasoningInit extends EventOptions {
  /** The thought, in the agent's words. */
  readonly thought?: string;
  /** The plan, one step per entry. */
  readonly planSteps?: readonly string[];
  /** Confidence from 0 to 1. */
  readonly confidence?: number;
}

/** What a human decided. */
export type ApprovalDecisionName = "pending" | "approved" | "rejected" | "edited";

/** A human deciding on a step, or stepping in unasked. */
export interface ApprovalInit extends EventOptions {
  /** "approval" when the agent asked, "intervention" when the human stepped in unasked. Default "approval". */
  readonly kind?: "approval" | "intervention";
  /** The decision. */
  readonly decision: ApprovalDecisionName;
  /** What the human was asked. */
  readonly request?: string;
  /** Who decided (personal data). */
  readonly approver?: string;
  /** Why, in the approver's words. */
  readonly reason?: string;
  /**
   * Id of the event the decision gates, such as a tool call. The approval
   * usually comes first: make the tool call's id with uuidv7() and pass it
   * here and as the tool call's eventId.
   */
  readonly gatedEventId?: string;
  /** The edited version, for "edited" or an intervention. */
  readonly editedContent?: string;
  /** How long the agent waited for the decision, in milliseconds. */
  readonly waitMs?: number;
}

/** Details of an error event beyond the error itself. */
export interface ErrorInit extends EventOptions {
  /** Error class. Default: the thrown value's name, such as "TypeError". */
  readonly errorType?: string;
  /** The message. Default: the thrown value's message. */
  readonly message?: string;
  /** The stack trace. Default: the thrown value's stack, when it is an Error. */
  readonly stackTrace?: string;
  /** What the agent did about it, such as "retried". */
  readonly recoveryAction?: string;
  /** Whether trying again could succeed. */
  readonly retryable?: boolean;
}

/** A response the agent produced. */
export interface OutputInit extends EventOptions {
  /** The response: text, or an object serialized to JSON (with mediaType application/json). */
  readonly text: unknown;
  /** True for the final response of the session. */
  readonly final?: boolean;
  /** Media type of text. Default: text/plain for strings, application/json for objects. */
  readonly mediaType?: string;
}

/** Why a session ended. */
export type EndReasonName = "completed" | "timed_out" | "max_iterations" | "failed" | "cancelled";

/** Details of the end of a session. */
export interface EndOptions extends EventOptions {
  /** More detail on the reason, such as the error that ended it. */
  readonly detail?: string;
}

/**
 * One run of an agent on one task, made by AgentTrailClient.startSession.
 *
 * Each method records one event and resolves with its id once the event is
 * buffered for delivery: it never waits on the network, only, with
 * onFull "block", for room in a full buffer. Await every call. Steps count
 * from 1 (the start event) in call order. A method rejects with
 * InvalidEventError when its argument cannot make a valid event (naming the
 * field), with SessionEndedError after end, and with ClientClosedError
 * after the client is closed.
 */
export interface Session {
  /** The session's id. */
  readonly id: string;
  /** Id of the session's start event, the default parent of its events. */
  readonly startEventId: string;
  /** The step number of the last event recorded (the start event is step 1). */
  readonly step: number;
  /** Whether end has been called. */
  readonly ended: boolean;
  /** Records a call to a language model. */
  llmCall(call: LlmCallInit): Promise<string>;
  /** Records a call of a tool. */
  toolCall(call: ToolCallInit): Promise<string>;
  /** Records the agent's reasoning or plan. */
  reasoning(reasoning: ReasoningInit): Promise<string>;
  /** Records a human's decision on a step, or an intervention. */
  approval(approval: ApprovalInit): Promise<string>;
  /** Records an error the agent met (a thrown value, or a description in details). */
  error(error: unknown, details?: ErrorInit): Promise<string>;
  /** Records a response of the agent. */
  output(output: OutputInit): Promise<string>;
  /**
   * Ends the session (default reason "completed") with its totals: steps,
   * LLM and tool calls, errors (error events, failed tool calls and LLM
   * calls with an errorType), tokens, and cost when every call's cost is in
   * one currency. No event can be recorded after it.
   */
  end(reason?: EndReasonName, options?: EndOptions): Promise<string>;
}

/** What a session hands its events to. */
/**
 * Hands an event to delivery: undefined when it was taken at once, or a
 * promise that resolves once it is (onFull "block") or rejects.
 */
export type Submit = (event: Event) => Promise<void> | undefined;

const ROLES: Record<ChatRole, Role> = {
  system: Role.SYSTEM,
  user: Role.USER,
  assistant: Role.ASSISTANT,
  tool: Role.TOOL,
  developer: Role.DEVELOPER,
};
const OUTCOMES: Record<ToolOutcomeName, ToolOutcome> = {
  success: ToolOutcome.SUCCESS,
  error: ToolOutcome.ERROR,
  timeout: ToolOutcome.TIMEOUT,
  denied: ToolOutcome.DENIED,
  cancelled: ToolOutcome.CANCELLED,
};
const ACTION_KINDS: Record<"approval" | "intervention", HumanActionKind> = {
  approval: HumanActionKind.APPROVAL,
  intervention: HumanActionKind.INTERVENTION,
};
const DECISIONS: Record<ApprovalDecisionName, ApprovalDecision> = {
  pending: ApprovalDecision.PENDING,
  approved: ApprovalDecision.APPROVED,
  rejected: ApprovalDecision.REJECTED,
  edited: ApprovalDecision.EDITED,
};
const END_REASONS: Record<EndReasonName, EndReason> = {
  completed: EndReason.COMPLETED,
  timed_out: EndReason.TIMED_OUT,
  max_iterations: EndReason.MAX_ITERATIONS,
  failed: EndReason.FAILED,
  cancelled: EndReason.CANCELLED,
};

function pick<K extends string, V>(field: string, table: Record<K, V>, key: K): V {
  if (!Object.hasOwn(table, key)) {
    throw new InvalidEventError(field, `must be one of ${Object.keys(table).map((k) => JSON.stringify(k)).join(", ")}`);
  }
  return table[key];
}

function str(field: string, v: string | undefined): string {
  if (v === undefined) return "";
  if (typeof v !== "string") throw new InvalidEventError(field, "must be a string");
  return v;
}

function optionalId(field: string, v: string | undefined): string {
  return v === undefined || v === "" ? "" : checkId(field, v);
}

function optionalEventId(field: string, v: string | undefined): string {
  return v === undefined || v === "" ? "" : checkEventId(field, v);
}

/**
 * str for the key of the i-th item of an array field: the field's path is
 * made only for the error, not for every item logged.
 */
function strAt(field: string, i: number, key: string, v: string | undefined): string {
  if (typeof v === "string") return v;
  return str(`${field}[${i}].${key}`, v);
}

function strings(field: string, v: readonly string[] | undefined): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new InvalidEventError(field, "must be an array of strings");
  return v.map((s, i) => (typeof s === "string" ? s : str(`${field}[${i}]`, s)));
}

function toolRequests(field: string, v: readonly ToolCallRequestInit[] | undefined): ToolCallRequest[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new InvalidEventError(field, "must be an array");
  return v.map(
    (t, i): ToolCallRequest => ({
      $typeName: "agenttrail.v1.ToolCallRequest",
      toolCallId: strAt(field, i, "id", t.id),
      toolName: strAt(field, i, "name", t.name),
      argumentsJson: toJsonText(`${field}[${i}].arguments`, t.arguments),
    }),
  );
}

function chatMessages(field: string, v: readonly ChatMessageInit[] | undefined): ChatMessage[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new InvalidEventError(field, "must be an array");
  // Field paths are made only for an error, not for every message logged.
  return v.map(
    (m, i): ChatMessage => ({
      $typeName: "agenttrail.v1.ChatMessage",
      role: Object.hasOwn(ROLES, m.role) ? ROLES[m.role as ChatRole] : pick(`${field}[${i}].role`, ROLES, m.role),
      content: strAt(field, i, "content", m.content),
      name: strAt(field, i, "name", m.name),
      toolCallId: strAt(field, i, "toolCallId", m.toolCallId),
      toolCalls: m.toolCalls === undefined ? [] : toolRequests(`${field}[${i}].toolCalls`, m.toolCalls),
    }),
  );
}

function cost(field: string, c: CostInit | undefined): Cost | undefined {
  if (c === undefined) return undefined;
  if (typeof c.currency !== "string" || !/^[A-Z]{3}$/.test(c.currency)) {
    throw new InvalidEventError(`${field}.currency`, "must be an ISO 4217 code of three capital letters, such as USD");
  }
  return { $typeName: "agenttrail.v1.Cost", currencyCode: c.currency, micros: toCount(`${field}.micros`, c.micros) };
}

function toolDefinitions(v: readonly ToolDefinitionInit[] | undefined): ToolDefinition[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new InvalidEventError("tools", "must be an array");
  return v.map((t, i) =>
    create(ToolDefinitionSchema, {
      name: str(`tools[${i}].name`, t.name),
      type: str(`tools[${i}].type`, t.type ?? "function"),
      description: str(`tools[${i}].description`, t.description),
      parametersSchemaJson: toJsonText(`tools[${i}].parameters`, t.parameters),
    }),
  );
}

type Payload = MessageInitShape<typeof EventSchema>["payload"];

/** The message schema of each payload of an Event, by its case. */
const PAYLOADS = new Map<string, DescMessage>(
  EventSchema.fields.flatMap((f) => (f.oneof?.name === "payload" && f.fieldKind === "message" ? [[f.localName, f.message]] : [])),
);

/** A payload as the Event holds it: its value as a message (made from an init, unless it is one already). */
function payloadMessage(p: Payload): Event["payload"] {
  if (p === undefined || p.case === undefined) return { case: undefined };
  const value = p.value as { $typeName?: string };
  const schema = PAYLOADS.get(p.case)!;
  if (value.$typeName === schema.typeName) return p as Event["payload"];
  return { case: p.case, value: create(schema, value) } as Event["payload"];
}

/** The envelope fields every event of one session shares. */
interface Envelope {
  readonly sessionId: string;
  readonly agentId: string;
  readonly agentVersion: string;
  readonly modelId: string;
  readonly userId: string;
  readonly systemPromptHash: string;
}

/** The client's defaults for sessions. */
export interface SessionDefaults {
  readonly agentId?: string;
  readonly agentVersion?: string;
}

/** Session totals for the end event. */
interface Totals {
  llmCalls: number;
  toolCalls: number;
  errors: number;
  inputTokens: bigint;
  outputTokens: bigint;
  currency: string | undefined | null; // undefined: no cost yet; null: more than one currency
  micros: bigint;
}

class SessionImpl implements Session {
  readonly id: string;
  readonly startEventId: string;
  private stepNo = 0;
  private isEnded = false;
  private readonly totals: Totals = {
    llmCalls: 0,
    toolCalls: 0,
    errors: 0,
    inputTokens: 0n,
    outputTokens: 0n,
    currency: undefined,
    micros: 0n,
  };

  constructor(
    private readonly envelope: Envelope,
    private readonly submit: Submit,
    startEventId: string,
  ) {
    this.id = envelope.sessionId;
    this.startEventId = startEventId;
  }

  get step(): number {
    return this.stepNo;
  }

  get ended(): boolean {
    return this.isEnded;
  }

  /** Builds and submits one event; the payload is built first, so a bad argument uses no step. */
  record(options: EventOptions, defaultParent: string, build: () => Payload, after?: () => void): Promise<string> {
    try {
      if (this.isEnded) {
        throw new SessionEndedError(`session ${this.id} has ended: no more events can be recorded`);
      }
      const payload = build();
      const eventId = options.eventId === undefined ? uuidv7() : checkEventId("eventId", options.eventId);
      const parentEventId = options.parentId === undefined ? defaultParent : optionalEventId("parentId", options.parentId);
      const occurredAt = toTimestamp("occurredAt", options.occurredAt ?? Date.now());
      const labels = options.labels === undefined ? {} : toStringMap("labels", options.labels);
      after?.();
      // A complete Event (the compiler checks that every field is here)
      // rather than create(EventSchema, ...), which was about a third of
      // an LLM call's cost to the caller.
      const event: Event = {
        $typeName: "agenttrail.v1.Event",
        ...this.envelope,
        eventId,
        parentEventId: parentEventId === eventId ? "" : parentEventId,
        step: ++this.stepNo,
        occurredAt,
        labels,
        payload: payloadMessage(payload),
        attributes: {},
      };
      const waiting = this.submit(event);
      return waiting === undefined ? Promise.resolve(eventId) : waiting.then(() => eventId);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  llmCall(c: LlmCallInit): Promise<string> {
    let input = 0n;
    let output = 0n;
    let callCost: Cost | undefined;
    return this.record(
      c,
      this.startEventId,
      () => {
        input = c.inputTokens === undefined ? 0n : toCount("llmCall.inputTokens", c.inputTokens);
        output = c.outputTokens === undefined ? 0n : toCount("llmCall.outputTokens", c.outputTokens);
        callCost = cost("llmCall.cost", c.cost);
        return {
          case: "llmCall",
          value: {
            $typeName: "agenttrail.v1.LlmCall",
            providerName: str("llmCall.providerName", c.providerName),
            operationName: str("llmCall.operationName", c.operationName ?? "chat"),
            requestModel: str("llmCall.requestModel", c.requestModel ?? this.envelope.modelId),
            responseModel: str("llmCall.responseModel", c.responseModel),
            responseId: str("llmCall.responseId", c.responseId),
            inputMessages: chatMessages("llmCall.inputMessages", c.inputMessages),
            systemInstructions: str("llmCall.systemInstructions", c.systemInstructions),
            outputText: str("llmCall.outputText", c.outputText),
            toolCalls: toolRequests("llmCall.toolCalls", c.toolCalls),
            finishReasons: strings("llmCall.finishReasons", c.finishReasons),
            inputTokens: input,
            outputTokens: output,
            cacheReadInputTokens:
              c.cacheReadInputTokens === undefined ? 0n : toCount("llmCall.cacheReadInputTokens", c.cacheReadInputTokens),
            cacheCreationInputTokens:
              c.cacheCreationInputTokens === undefined
                ? 0n
                : toCount("llmCall.cacheCreationInputTokens", c.cacheCreationInputTokens),
            cost: callCost,
            latency: c.latencyMs === undefined ? undefined : toDuration("llmCall.latencyMs", c.latencyMs),
            timeToFirstToken:
              c.timeToFirstTokenMs === undefined ? undefined : toDuration("llmCall.timeToFirstTokenMs", c.timeToFirstTokenMs),
            temperature: c.temperature === undefined ? undefined : toNumber("llmCall.temperature", c.temperature, 0, Number.MAX_VALUE),
            maxTokens: c.maxTokens === undefined ? undefined : toCount("llmCall.maxTokens", c.maxTokens),
            errorType: str("llmCall.errorType", c.errorType),
            reasoningOutputTokens: 0n,
          } satisfies LlmCall,
        };
      },
      () => {
        const t = this.totals;
        t.llmCalls++;
        if (c.errorType) t.errors++;
        t.inputTokens += input;
        t.outputTokens += output;
        if (callCost !== undefined) this.addCost(callCost);
      },
    );
  }

  toolCall(c: ToolCallInit): Promise<string> {
    let outcome = ToolOutcome.SUCCESS;
    return this.record(
      c,
      this.startEventId,
      () => {
        const failed = c.error !== undefined || (c.errorType !== undefined && c.errorType !== "");
        outcome = c.outcome === undefined ? (failed ? ToolOutcome.ERROR : ToolOutcome.SUCCESS) : pick("toolCall.outcome", OUTCOMES, c.outcome);
        return {
          case: "toolCall",
          value: {
            toolName: str("toolCall.toolName", c.toolName),
            toolCallId: str("toolCall.toolCallId", c.toolCallId),
            toolType: str("toolCall.toolType", c.toolType ?? "function"),
            arguments: toJsonText("toolCall.arguments", c.arguments),
            result: toJsonText("toolCall.result", c.result),
            errorType: str("toolCall.errorType", c.errorType ?? (c.error === undefined ? undefined : errorType(c.error))),
            errorMessage: str("toolCall.errorMessage", c.errorMessage ?? (c.error === undefined ? undefined : errorMessage(c.error))),
            outcome,
            duration: c.durationMs === undefined ? undefined : toDuration("toolCall.durationMs", c.durationMs),
            approvalRequired: c.approvalRequired === true,
          },
        };
      },
      () => {
        this.totals.toolCalls++;
        if (outcome !== ToolOutcome.SUCCESS) this.totals.errors++;
      },
    );
  }

  reasoning(r: ReasoningInit): Promise<string> {
    return this.record(r, this.startEventId, () => ({
      case: "reasoning",
      value: {
        thought: str("reasoning.thought", r.thought),
        planSteps: strings("reasoning.planSteps", r.planSteps),
        confidence: r.confidence === undefined ? undefined : toNumber("reasoning.confidence", r.confidence, 0, 1),
      },
    }));
  }

  approval(a: ApprovalInit): Promise<string> {
    return this.record(a, this.startEventId, () => ({
      case: "humanApproval",
      value: {
        kind: pick("approval.kind", ACTION_KINDS, a.kind ?? "approval"),
        request: str("approval.request", a.request),
        decision: pick("approval.decision", DECISIONS, a.decision),
        approver: str("approval.approver", a.approver),
        reason: str("approval.reason", a.reason),
        gatedEventId: optionalEventId("approval.gatedEventId", a.gatedEventId),
        editedContent: str("approval.editedContent", a.editedContent),
        waitDuration: a.waitMs === undefined ? undefined : toDuration("approval.waitMs", a.waitMs),
      },
    }));
  }

  error(err: unknown, d: ErrorInit = {}): Promise<string> {
    return this.record(
      d,
      this.startEventId,
      () => ({
        case: "error",
        value: {
          errorType: str("error.errorType", d.errorType ?? (err === undefined ? "" : errorType(err))),
          message: str("error.message", d.message ?? (err === undefined ? "" : errorMessage(err))),
          stackTrace: str("error.stackTrace", d.stackTrace ?? (err instanceof Error ? err.stack : undefined)),
          recoveryAction: str("error.recoveryAction", d.recoveryAction),
          retryable: d.retryable === true,
        },
      }),
      () => {
        this.totals.errors++;
      },
    );
  }

  output(o: OutputInit): Promise<string> {
    return this.record(o, this.startEventId, () => {
      const isText = typeof o.text === "string";
      return {
        case: "output",
        value: {
          text: toJsonText("output.text", o.text),
          final: o.final === true,
          mediaType: str("output.mediaType", o.mediaType ?? (isText ? "" : "application/json")),
        },
      };
    });
  }

  end(reason: EndReasonName = "completed", o: EndOptions = {}): Promise<string> {
    const t = this.totals;
    const p = this.record(
      o,
      this.startEventId,
      () => ({
        case: "sessionEnd",
        value: {
          reason: pick("end.reason", END_REASONS, reason),
          stepCount: toUint32("end.stepCount", this.stepNo + 1),
          llmCallCount: t.llmCalls,
          toolCallCount: t.toolCalls,
          errorCount: t.errors,
          inputTokens: t.inputTokens,
          outputTokens: t.outputTokens,
          cost: typeof t.currency === "string" ? create(CostSchema, { currencyCode: t.currency, micros: t.micros }) : undefined,
          detail: str("end.detail", o.detail),
        },
      }),
      () => {
        this.isEnded = true;
      },
    );
    return p;
  }

  private addCost(c: Cost): void {
    const t = this.totals;
    if (t.currency === undefined) t.currency = c.currencyCode;
    if (t.currency !== c.currencyCode) {
      t.currency = null;
      return;
    }
    t.micros += c.micros;
  }
}

/**
 * Starts a session: checks its options, records its start event (step 1),
 * and returns it once the start event is buffered.
 */
export async function startSession(options: SessionOptions, defaults: SessionDefaults, submit: Submit): Promise<Session> {
  const agentId = options.agentId ?? defaults.agentId;
  if (agentId === undefined || agentId === "") {
    throw new InvalidEventError("agentId", "is required: set it in the session options or the client options");
  }
  let systemPromptHash = options.systemPromptHash ?? "";
  if (options.systemPrompt !== undefined) {
    const hash = createHash("sha256").update(str("systemPrompt", options.systemPrompt), "utf8").digest("hex");
    if (systemPromptHash !== "" && systemPromptHash.toLowerCase() !== hash) {
      throw new InvalidEventError("systemPromptHash", "is not the SHA-256 of systemPrompt; give one or the other");
    }
    systemPromptHash = hash;
  } else if (systemPromptHash !== "" && !/^[0-9a-fA-F]{64}$/.test(systemPromptHash)) {
    throw new InvalidEventError("systemPromptHash", "must be 64 hex digits (a SHA-256)");
  }
  const envelope: Envelope = {
    sessionId: options.sessionId === undefined ? uuidv7() : checkId("sessionId", options.sessionId),
    agentId: checkId("agentId", agentId),
    agentVersion: str("agentVersion", options.agentVersion ?? defaults.agentVersion),
    modelId: str("modelId", options.modelId),
    userId: optionalId("userId", options.userId),
    systemPromptHash,
  };
  const startEventId = uuidv7();
  const session = new SessionImpl(envelope, submit, startEventId);
  await session.record({ eventId: startEventId, occurredAt: options.occurredAt, labels: options.labels }, "", () => ({
    case: "sessionStart",
    value: {
      userMessage: str("userMessage", options.userMessage),
      toolsAvailable: toolDefinitions(options.tools),
      sourceChannel: str("sourceChannel", options.sourceChannel),
      clientIp: str("clientIp", options.clientIp),
      clientUserAgent: str("clientUserAgent", options.clientUserAgent),
      systemPrompt: options.systemPrompt ?? "",
      attributes: options.attributes === undefined ? {} : toStringMap("attributes", options.attributes),
    },
  }));
  return session;
}
