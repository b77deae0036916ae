"""An agent loop whose every step is logged to agenttrail.

A support agent handles "Please refund order 1234". Its model is a scripted
fake (no API key, no network), so the run is the same every time:

1. The model asks for the tool orders.lookup, which fails: the order service
   times out. The agent logs the failed tool call and the error, and tells
   the model.
2. The model reasons that the user's message has what a refund needs, and
   asks for payments.refund, a tool that needs a human's approval. A
   scripted approver approves it; the agent logs the approval and then the
   refund it gates.
3. The model answers the user; the agent logs the output and ends the
   session.

The trail has one event of every kind an agent logs: session start and end,
LLM calls, tool calls (one failed, one approved), reasoning, an approval, an
error and the output.

Run it against a local server (see the package README), then read the trail
back with ``agenttrail query`` and check it with ``agenttrail verify``::

    python examples/agent_loop.py --address 127.0.0.1:7700 \\
        --verifier-key "$AGENTTRAIL_VERIFIER_KEY"

It prints the session id on its first line. With --verifier-key it also
reads the session back and verifies every entry itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import agenttrail

SYSTEM_PROMPT = "You are Acme Shop's support agent. Refunds over 20 USD need a human's approval."

TOOLS: list[dict[str, Any]] = [
    {
        "name": "orders.lookup",
        "type": "function",
        "description": "Look up an order by its number.",
        "parameters_schema_json": {"type": "object", "properties": {"order_id": {"type": "integer"}}},
    },
    {
        "name": "payments.refund",
        "type": "function",
        "description": "Refund an amount to the card that paid for an order.",
        "parameters_schema_json": {
            "type": "object",
            "properties": {"order_id": {"type": "integer"}, "amount": {"type": "number"}},
        },
    },
]

#: Tools that only run once a human approves the call.
NEEDS_APPROVAL = {"payments.refund"}


@dataclass
class ToolRequest:
    """A tool call the model asks for."""

    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class Reply:
    """What the model answered."""

    text: str = ""
    thought: str = ""
    tool_calls: list[ToolRequest] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0


class ScriptedModel:
    """A fake language model that plays a fixed script, one reply per call."""

    name = "acme-support-model-1"

    def __init__(self) -> None:
        self._script = [
            Reply(
                tool_calls=[ToolRequest("call-1", "orders.lookup", {"order_id": 1234})],
                input_tokens=180,
                output_tokens=22,
            ),
            Reply(
                thought="The lookup timed out, but the user gave the order number and the receipt shows "
                "42.50 USD. A refund of that size needs approval.",
                tool_calls=[ToolRequest("call-2", "payments.refund", {"order_id": 1234, "amount": 42.5})],
                input_tokens=240,
                output_tokens=31,
            ),
            Reply(
                text="Your refund of 42.50 USD for order 1234 is on its way; it should reach your card in 3 to "
                "5 days.",
                input_tokens=300,
                output_tokens=28,
            ),
        ]

    def complete(self, messages: list[dict[str, Any]]) -> Reply:
        time.sleep(0.01)  # a model takes a while
        return self._script.pop(0)


def lookup_order(order_id: int) -> dict[str, Any]:
    """The order service, which is down today."""
    raise TimeoutError(f"the order service did not answer in 5s (order {order_id})")


def refund(order_id: int, amount: float) -> dict[str, Any]:
    """The payment service."""
    return {"order_id": order_id, "refunded": amount, "currency": "USD", "refund_id": "rf_0001"}


RUN: dict[str, Callable[..., dict[str, Any]]] = {"orders.lookup": lookup_order, "payments.refund": refund}


def ask_approval(request: ToolRequest) -> tuple[str, str]:
    """The human in the loop, scripted: approves refunds up to 100 USD."""
    if request.arguments.get("amount", 0) <= 100:
        return "approved", "within the refund policy"
    return "rejected", "over the refund limit"


def run_agent(client: agenttrail.Client, user_message: str, max_steps: int = 10) -> str:
    """Handles one request, logging every step; returns the session id."""
    model = ScriptedModel()
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_message},
    ]
    with client.session(
        user_id="customer-5521",
        model_id=model.name,
        user_message=user_message,
        tools_available=TOOLS,
        source_channel="chat",
        system_prompt=SYSTEM_PROMPT,
    ) as session:
        for _ in range(max_steps):
            started = time.monotonic()
            reply = model.complete(messages)
            llm_id = session.llm_call(
                provider_name="scripted",
                operation_name="chat",
                request_model=model.name,
                response_model=model.name,
                input_messages=messages,
                output_text=reply.text,
                tool_calls=[
                    {"tool_call_id": t.call_id, "tool_name": t.name, "arguments_json": t.arguments}
                    for t in reply.tool_calls
                ],
                finish_reasons=["tool_calls" if reply.tool_calls else "stop"],
                input_tokens=reply.input_tokens,
                output_tokens=reply.output_tokens,
                cost={"currency_code": "USD", "micros": 3 * reply.input_tokens + 15 * reply.output_tokens},
                latency=timedelta(seconds=time.monotonic() - started),
            )
            if reply.thought:
                session.reasoning(thought=reply.thought, plan_steps=["refund 42.50 USD", "tell the user"])
            if not reply.tool_calls:
                session.output(text=reply.text, final=True)
                return session.session_id
            messages.append(
                {
                    "role": "assistant",
                    "content": reply.text,
                    "tool_calls": [
                        {"tool_call_id": t.call_id, "tool_name": t.name, "arguments_json": t.arguments}
                        for t in reply.tool_calls
                    ],
                }
            )
            for request in reply.tool_calls:
                messages.append(call_tool(session, request, llm_id))
        session.end(reason="max_iterations", detail=f"no answer after {max_steps} model calls")
    return session.session_id


def call_tool(session: agenttrail.Session, request: ToolRequest, llm_id: str) -> dict[str, Any]:
    """Runs one tool call the model asked for, after approval when the tool
    needs it, logging each step. Returns the tool message for the model."""
    tool_event_id = str(agenttrail.uuid7())  # so the approval can name the call before it runs
    approval_required = request.name in NEEDS_APPROVAL
    if approval_required:
        asked = time.monotonic()
        decision, reason = ask_approval(request)
        session.approval(
            decision=decision,
            request=f"{request.name}({json.dumps(request.arguments)})",
            approver="support-lead",
            reason=reason,
            gated_event_id=tool_event_id,
            wait_duration=timedelta(seconds=time.monotonic() - asked),
            parent_event_id=llm_id,
        )
        if decision != "approved":
            session.tool_call(
                event_id=tool_event_id,
                tool_name=request.name,
                tool_call_id=request.call_id,
                arguments=request.arguments,
                outcome="denied",
                approval_required=True,
            )
            return {"role": "tool", "tool_call_id": request.call_id, "content": f"denied: {reason}"}
    started = time.monotonic()
    try:
        result = RUN[request.name](**request.arguments)
    except Exception as e:
        session.tool_call(
            event_id=tool_event_id,
            tool_name=request.name,
            tool_call_id=request.call_id,
            tool_type="function",
            arguments=request.arguments,
            exception=e,
            outcome="timeout" if isinstance(e, TimeoutError) else "error",
            duration=timedelta(seconds=time.monotonic() - started),
            approval_required=approval_required,
            parent_event_id=llm_id,
        )
        session.error(exception=e, recovery_action="told the model the tool failed", retryable=True)
        return {"role": "tool", "tool_call_id": request.call_id, "content": f"error: {e}"}
    session.tool_call(
        event_id=tool_event_id,
        tool_name=request.name,
        tool_call_id=request.call_id,
        tool_type="function",
        arguments=request.arguments,
        result=result,
        duration=timedelta(seconds=time.monotonic() - started),
        approval_required=approval_required,
        parent_event_id=llm_id,
    )
    return {"role": "tool", "tool_call_id": request.call_id, "content": json.dumps(result)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--address", default=os.environ.get("AGENTTRAIL_ADDR", "127.0.0.1:7700"))
    parser.add_argument("--api-key", default=os.environ.get("AGENTTRAIL_KEY"), help="an agent key")
    parser.add_argument(
        "--verifier-key",
        default=os.environ.get("AGENTTRAIL_VERIFIER_KEY"),
        help="the log's verifier key, to read the trail back and verify it (needs a compliance key "
        "in --reader-key when the server checks keys)",
    )
    parser.add_argument("--reader-key", default=os.environ.get("AGENTTRAIL_READER_KEY"), help="a compliance key")
    args = parser.parse_args(argv)

    with agenttrail.Client(args.address, api_key=args.api_key, agent_id="acme-support-agent", agent_version="1.4.0") as client:
        session_id = run_agent(client, "Please refund order 1234, it arrived broken.")
        print(f"session: {session_id}", flush=True)
        try:
            client.flush(30)  # raises when events were refused or not acknowledged in time
        except agenttrail.DeliveryError as failed:
            print(failed, file=sys.stderr)
            for r in client.rejections():
                print(f"rejected {r.event_id} ({r.kind}): {r.code.name}: {r.message}", file=sys.stderr)
            return 1
        stats = client.stats()
        print(f"events: {stats.delivered} delivered, {stats.rejected} rejected", flush=True)

    if args.verifier_key:
        with agenttrail.Client(args.address, api_key=args.reader_key, verifier_key=args.verifier_key) as reader:
            entries = list(reader.query(session_id=session_id))
            for e in entries:
                print(f"  {e.stamp.log_index:>6}  step {e.event.step:>2}  {e.event.WhichOneof('payload')}")
            head = reader.verify_entries(entries)
            print(f"verified {len(entries)} entries against the signed checkpoint of tree size {head.size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
