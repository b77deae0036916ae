"""A small agent instrumented with the OpenTelemetry Python SDK and its
OTLP/gRPC exporter, as a user's agent would be: it records one run by the
GenAI semantic conventions (an invoke_agent span holding a chat, a tool call
and a tool call that fails) and exports it to agenttrail. Then it exports
the same spans once more, as an exporter retrying would.

Run by cmd/agenttrail/otlp_test.go with AGENTTRAIL_ADDR (host:port of the
gRPC listener) and AGENTTRAIL_KEY (an agent key) in the environment. It
prints one JSON line: the trace id and the result of each export.
"""

from __future__ import annotations

import json
import os
import sys

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode


def main() -> int:
    addr = os.environ["AGENTTRAIL_ADDR"]
    key = os.environ["AGENTTRAIL_KEY"]
    exporter = OTLPSpanExporter(endpoint=addr, insecure=True, headers=(("authorization", "Bearer " + key),), timeout=10)
    kept = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "py-support-service", "service.version": "0.3.1"}))
    provider.add_span_processor(SimpleSpanProcessor(kept))
    tracer = provider.get_tracer("agenttrail-e2e-agent", "1.0")

    conversation = "py-conv-1"
    with tracer.start_as_current_span("invoke_agent support", attributes={
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "py-agent",
        "gen_ai.conversation.id": conversation,
        "gen_ai.provider.name": "openai",
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Where is order 4411?"}]}]),
    }) as agent:
        with tracer.start_as_current_span("chat gpt-4o", attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.conversation.id": conversation,
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 812,
            "gen_ai.usage.output_tokens": 46,
            "gen_ai.usage.cache_read.input_tokens": 512,
            "gen_ai.response.finish_reasons": ["tool_calls"],
            "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Where is order 4411?"}]}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "finish_reason": "tool_calls", "parts": [
                {"type": "tool_call", "id": "call_1", "name": "lookup_order", "arguments": {"order_id": "4411"}}]}]),
        }):
            pass
        with tracer.start_as_current_span("execute_tool lookup_order", attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.conversation.id": conversation,
            "gen_ai.tool.name": "lookup_order",
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.tool.type": "function",
            "gen_ai.tool.call.arguments": json.dumps({"order_id": "4411"}),
            "gen_ai.tool.call.result": json.dumps({"status": "delayed"}),
        }):
            pass
        try:
            with tracer.start_as_current_span("execute_tool notify", attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.conversation.id": conversation,
                "gen_ai.tool.name": "notify_customer",
            }):
                raise TimeoutError("mail gateway did not answer")
        except TimeoutError:
            pass
        agent.set_attribute("output.value", "Order 4411 is delayed; we could not mail you.")
        agent.set_status(Status(StatusCode.OK))

    provider.force_flush()
    spans = kept.get_finished_spans()
    first = exporter.export(spans)
    again = exporter.export(spans)
    exporter.shutdown()
    provider.shutdown()
    print(json.dumps({
        "trace_id": format(spans[0].context.trace_id, "032x"),
        "spans": len(spans),
        "first": first.name,
        "again": again.name,
    }))
    return 0 if first.name == "SUCCESS" and again.name == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())
