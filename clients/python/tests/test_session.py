"""Sessions against the real server: every kind of event logged with plain
Python values comes back from the log as exactly the message it should be;
sessions start and end as documented, exceptions included; bad arguments
fail on the calling thread, naming the argument."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from google.protobuf import duration_pb2, timestamp_pb2

import agenttrail
from agenttrail import RejectedEvent, SessionStateError
from agenttrail.v1 import entry_pb2, event_pb2
from agenttrail_server import Server
from conftest import AGENT_ID, Connect

T0 = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ts(when: datetime) -> timestamp_pb2.Timestamp:
    t = timestamp_pb2.Timestamp()
    t.FromDatetime(when)
    return t


def dur(**kwargs: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromTimedelta(timedelta(**kwargs))
    return d


def session_entries(reader: agenttrail.Client, session_id: str) -> list[entry_pb2.Entry]:
    return list(reader.query(session_id=session_id))


def test_every_event_kind_round_trips(server: Server, connect: Connect) -> None:
    writer = connect(server, agent_version="2.1.0")
    reader = connect(server, role="compliance")
    tools = [
        {
            "name": "orders.lookup",
            "type": "function",
            "description": "Find an order",
            "parameters_schema_json": {"type": "object", "properties": {"id": {"type": "integer"}}},
        },
        event_pb2.ToolDefinition(name="refund", type="function", description="Refund an order"),
    ]
    with writer.session(
        model_id="gpt-4o",
        user_id="user-7f3a",
        labels={"env": "test"},
        user_message="Refund order 1234, please.",
        tools_available=tools,
        source_channel="web",
        client_ip="203.0.113.9",
        client_user_agent="Mozilla/5.0",
        system_prompt="You are a support agent.",
        attributes={"tenant": "acme"},
    ) as session:
        start_id = session.start_event_id
        llm_id = session.llm_call(
            provider_name="openai",
            operation_name="chat",
            request_model="gpt-4o",
            response_model="gpt-4o-2024-08-06",
            response_id="chatcmpl-1",
            input_messages=[
                {"role": "system", "content": "You are a support agent."},
                {"role": "user", "content": "Refund order 1234, please.", "name": "ann"},
                event_pb2.ChatMessage(role=event_pb2.ROLE_TOOL, content="{}", tool_call_id="call-0"),
            ],
            system_instructions="Be brief.",
            output_text="Looking it up.",
            tool_calls=[{"tool_call_id": "call-1", "tool_name": "orders.lookup", "arguments_json": {"id": 1234}}],
            finish_reasons=["tool_calls"],
            input_tokens=120,
            output_tokens=15,
            cache_read_input_tokens=64,
            cache_creation_input_tokens=8,
            cost={"currency_code": "USD", "micros": 1500},
            latency=timedelta(milliseconds=850),
            time_to_first_token=0.25,
            temperature=0.0,
            max_tokens=512,
            occurred_at=at(1),
            labels={"phase": "plan"},
        )
        tool_id = session.tool_call(
            tool_name="orders.lookup",
            tool_call_id="call-1",
            tool_type="function",
            arguments={"id": 1234},
            result={"status": "delivered", "amount": 42.5},
            duration=timedelta(milliseconds=120),
            approval_required=True,
            occurred_at=at(2),
        )
        approval_id = session.approval(
            decision="approved",
            request="Refund 42.50 USD?",
            approver="alice",
            reason="Within policy",
            gated_event_id=tool_id,
            wait_duration=timedelta(seconds=30),
            occurred_at=at(3),
        )
        reasoning_id = session.reasoning(
            thought="The order was delivered; refund it.",
            plan_steps=["look up", "refund", "tell the user"],
            confidence=0.9,
            occurred_at=at(4),
        )
        error_id = session.error(
            error_type="RateLimitError",
            message="429 from provider",
            stack_trace="Traceback: ...",
            recovery_action="retried after 1s",
            retryable=True,
            parent_event_id=llm_id,
            occurred_at=at(5),
        )
        output_id = session.output(text="Your refund is on its way.", final=True, media_type="text/plain", occurred_at=at(6))
        end_id = session.end(reason="completed", detail="all done", occurred_at=at(7))
    assert writer.flush(30)
    assert writer.stats().rejected == 0, writer.rejections()

    entries = session_entries(reader, session.session_id)
    assert [e.event.event_id for e in entries] == [
        start_id, llm_id, tool_id, approval_id, reasoning_id, error_id, output_id, end_id
    ]

    prompt_hash = hashlib.sha256(b"You are a support agent.").hexdigest()

    def envelope(event_id: str, step: int, parent: str, when: datetime | None, **labels: str) -> event_pb2.Event:
        ev = event_pb2.Event(
            event_id=event_id,
            session_id=session.session_id,
            parent_event_id=parent,
            step=step,
            agent_id=AGENT_ID,
            agent_version="2.1.0",
            model_id="gpt-4o",
            system_prompt_hash=prompt_hash,
            user_id="user-7f3a",
            labels={"env": "test", **labels},
        )
        if when is not None:
            ev.occurred_at.CopyFrom(ts(when))
        return ev

    start = envelope(start_id, 1, "", None)
    start.session_start.CopyFrom(
        event_pb2.SessionStart(
            user_message="Refund order 1234, please.",
            tools_available=[
                event_pb2.ToolDefinition(
                    name="orders.lookup",
                    type="function",
                    description="Find an order",
                    parameters_schema_json=json.dumps(
                        {"type": "object", "properties": {"id": {"type": "integer"}}}, separators=(",", ":")
                    ),
                ),
                event_pb2.ToolDefinition(name="refund", type="function", description="Refund an order"),
            ],
            source_channel="web",
            client_ip="203.0.113.9",
            client_user_agent="Mozilla/5.0",
            system_prompt="You are a support agent.",
            attributes={"tenant": "acme"},
        )
    )
    llm = envelope(llm_id, 2, start_id, at(1), phase="plan")
    llm.llm_call.CopyFrom(
        event_pb2.LlmCall(
            provider_name="openai",
            operation_name="chat",
            request_model="gpt-4o",
            response_model="gpt-4o-2024-08-06",
            response_id="chatcmpl-1",
            input_messages=[
                event_pb2.ChatMessage(role=event_pb2.ROLE_SYSTEM, content="You are a support agent."),
                event_pb2.ChatMessage(role=event_pb2.ROLE_USER, content="Refund order 1234, please.", name="ann"),
                event_pb2.ChatMessage(role=event_pb2.ROLE_TOOL, content="{}", tool_call_id="call-0"),
            ],
            system_instructions="Be brief.",
            output_text="Looking it up.",
            tool_calls=[event_pb2.ToolCallRequest(tool_call_id="call-1", tool_name="orders.lookup", arguments_json='{"id":1234}')],
            finish_reasons=["tool_calls"],
            input_tokens=120,
            output_tokens=15,
            cache_read_input_tokens=64,
            cache_creation_input_tokens=8,
            cost=event_pb2.Cost(currency_code="USD", micros=1500),
            latency=dur(milliseconds=850),
            time_to_first_token=dur(milliseconds=250),
            temperature=0.0,
            max_tokens=512,
        )
    )
    tool = envelope(tool_id, 3, start_id, at(2))
    tool.tool_call.CopyFrom(
        event_pb2.ToolCall(
            tool_name="orders.lookup",
            tool_call_id="call-1",
            tool_type="function",
            arguments='{"id":1234}',
            result='{"status":"delivered","amount":42.5}',
            outcome=event_pb2.TOOL_OUTCOME_SUCCESS,
            duration=dur(milliseconds=120),
            approval_required=True,
        )
    )
    approval = envelope(approval_id, 4, start_id, at(3))
    approval.human_approval.CopyFrom(
        event_pb2.HumanApproval(
            kind=event_pb2.HUMAN_ACTION_KIND_APPROVAL,
            request="Refund 42.50 USD?",
            decision=event_pb2.APPROVAL_DECISION_APPROVED,
            approver="alice",
            reason="Within policy",
            gated_event_id=tool_id,
            wait_duration=dur(seconds=30),
        )
    )
    reasoning = envelope(reasoning_id, 5, start_id, at(4))
    reasoning.reasoning.CopyFrom(
        event_pb2.Reasoning(
            thought="The order was delivered; refund it.",
            plan_steps=["look up", "refund", "tell the user"],
            confidence=0.9,
        )
    )
    error = envelope(error_id, 6, llm_id, at(5))
    error.error.CopyFrom(
        event_pb2.AgentError(
            error_type="RateLimitError",
            message="429 from provider",
            stack_trace="Traceback: ...",
            recovery_action="retried after 1s",
            retryable=True,
        )
    )
    output = envelope(output_id, 7, start_id, at(6))
    output.output.CopyFrom(event_pb2.Output(text="Your refund is on its way.", final=True, media_type="text/plain"))
    end = envelope(end_id, 8, start_id, at(7))
    end.session_end.CopyFrom(
        event_pb2.SessionEnd(
            reason=event_pb2.END_REASON_COMPLETED,
            step_count=8,
            llm_call_count=1,
            tool_call_count=1,
            error_count=1,
            input_tokens=120,
            output_tokens=15,
            cost=event_pb2.Cost(currency_code="USD", micros=1500),
            detail="all done",
        )
    )
    # The start's time is the client's clock at entry: check it is recent,
    # then compare the rest exactly.
    got_start = entries[0].event
    assert abs(got_start.occurred_at.ToDatetime(timezone.utc) - datetime.now(timezone.utc)) < timedelta(minutes=5)
    got_start.ClearField("occurred_at")

    for got, want in zip(entries, [start, llm, tool, approval, reasoning, error, output, end]):
        assert got.event == want, f"{want.WhichOneof('payload')} differs"
        assert got.view.kind == event_pb2.VIEW_KIND_FULL
        assert got.view.content == entry_pb2.CONTENT_STATE_PRESENT
        assert got.stamp.principal
    indexes = [e.stamp.log_index for e in entries]
    assert indexes == sorted(indexes)


def test_session_counts_defaults_and_links(server: Server, connect: Connect) -> None:
    writer = connect(server)
    reader = connect(server, role="compliance")
    with writer.session() as session:
        a = session.llm_call(input_tokens=10, output_tokens=1, cost={"currency_code": "EUR", "micros": 100})
        session.llm_call(input_tokens=5, output_tokens=2, error_type="timeout", cost={"currency_code": "EUR", "micros": 50})
        ok = session.tool_call(tool_name="search")
        failed = session.tool_call(tool_name="fetch", exception=TimeoutError("no answer in 10s"))
        orphan = session.reasoning(thought="start over", parent_event_id="")
        session.output(text="done")
    assert writer.flush(30)
    events = {e.event.event_id: e.event for e in session_entries(reader, session.session_id)}
    assert len(events) == 8
    assert events[a].parent_event_id == session.start_event_id
    assert events[session.start_event_id].parent_event_id == ""
    defaults = [e for e in events.values() if e.event_id not in (session.start_event_id, orphan)]
    assert {e.parent_event_id for e in defaults} == {session.start_event_id}, "the default parent is the start"
    assert events[ok].tool_call.outcome == event_pb2.TOOL_OUTCOME_SUCCESS
    f = events[failed].tool_call
    assert (f.outcome, f.error_type, f.error_message) == (event_pb2.TOOL_OUTCOME_ERROR, "TimeoutError", "no answer in 10s")
    assert events[orphan].parent_event_id == ""
    assert sorted(e.step for e in events.values()) == list(range(1, 9))
    end = next(e for e in events.values() if e.HasField("session_end")).session_end
    assert end == event_pb2.SessionEnd(
        reason=event_pb2.END_REASON_COMPLETED,
        step_count=8,
        llm_call_count=2,
        tool_call_count=2,
        error_count=2,
        input_tokens=15,
        output_tokens=3,
        cost=event_pb2.Cost(currency_code="EUR", micros=150),
    )
    assert session.ended and session.step == 8


class Tokens(enum.IntEnum):
    """An int of another type, as some SDKs give token counts."""

    SEVEN = 7


def test_session_counts_add_up_what_the_events_hold(server: Server, connect: Connect) -> None:
    """The counts of the SessionEnd are what the LLM calls' fields hold,
    whatever the types given (an int subclass, bytes for a str)."""
    writer = connect(server)
    reader = connect(server, role="compliance")
    with writer.session() as session:
        session.llm_call(input_tokens=Tokens.SEVEN, output_tokens=2, error_type=b"")  # type: ignore[arg-type]
        session.llm_call(input_tokens=1, output_tokens=Tokens.SEVEN, error_type=b"rate_limited")  # type: ignore[arg-type]
        session.llm_call(error_type="")
    assert writer.flush(30)
    end = next(e.event for e in session_entries(reader, session.session_id) if e.event.HasField("session_end"))
    c = end.session_end
    assert (c.llm_call_count, c.input_tokens, c.output_tokens, c.error_count) == (3, 8, 9, 1)
    assert not c.HasField("cost")


def test_session_cost_adds_up_every_form_of_cost(server: Server, connect: Connect) -> None:
    """The SessionEnd's cost adds up the costs as the events hold them,
    given as a dict, as a Cost, or partly; an empty dict sets none."""
    writer = connect(server)
    reader = connect(server, role="compliance")
    with writer.session() as session:
        session.llm_call(request_model="m", cost={"currency_code": "EUR", "micros": 5})
        session.llm_call(request_model="m", cost=event_pb2.Cost(currency_code="EUR", micros=7))
        session.llm_call(request_model="m", cost={"micros": 11, "currency_code": "EUR"})
        session.llm_call(request_model="m", cost={"currency_code": "EUR"})
        session.llm_call(request_model="m", cost={})
    assert writer.flush(30)
    end = next(e.event for e in session_entries(reader, session.session_id) if e.event.HasField("session_end"))
    assert end.session_end.cost == event_pb2.Cost(currency_code="EUR", micros=23)


class PaymentDeclined(Exception):
    """An agent's own exception, for the FAILED detail."""


def test_event_ids_can_be_made_beforehand(server: Server, connect: Connect) -> None:
    writer = connect(server)
    reader = connect(server, role="compliance")
    with writer.session() as session:
        tool_id = str(agenttrail.uuid7())
        approval_id = session.approval(decision="approved", gated_event_id=tool_id)
        assert session.tool_call(
            tool_name="refund", event_id=tool_id, approval_required=True, parent_event_id=approval_id
        ) == tool_id
        with pytest.raises(ValueError, match="event_id must be a UUID in canonical form"):
            session.output(text="x", event_id="not an id")
        with pytest.raises(ValueError, match="event_id must be a UUID in canonical form"):
            session.output(text="x", event_id="not-a-uuid")
        with pytest.raises(ValueError, match="event_id must be a UUID in canonical form"):
            session.output(text="x", event_id=tool_id.upper())
        with pytest.raises(ValueError, match="parent_event_id must be a UUID in canonical form"):
            session.output(text="x", parent_event_id="not/an/id")
        with pytest.raises(ValueError, match="gated_event_id must be a UUID in canonical form"):
            session.approval(decision="approved", gated_event_id="tool-call-1")
    assert writer.flush(30)
    events = {e.event.event_id: e.event for e in reader.query(session_id=session.session_id)}
    assert events[approval_id].human_approval.gated_event_id == tool_id
    assert events[tool_id].parent_event_id == approval_id
    assert events[tool_id].step == 3


def test_session_ended_by_an_exception_records_failed(server: Server, connect: Connect) -> None:
    writer = connect(server)
    reader = connect(server, role="compliance")
    with pytest.raises(PaymentDeclined, match="card expired"):
        with writer.session(user_message="Pay the invoice") as session:
            session.tool_call(tool_name="pay", arguments={"invoice": 7})
            raise PaymentDeclined("card expired")
    assert writer.flush(30)
    *_, error, end = [e.event for e in session_entries(reader, session.session_id)]
    name = f"{__name__}.PaymentDeclined"
    assert (error.error.error_type, error.error.message) == (name, "card expired")
    assert "raise PaymentDeclined" in error.error.stack_trace
    assert end.WhichOneof("payload") == "session_end"
    assert end.session_end.reason == event_pb2.END_REASON_FAILED
    assert end.session_end.detail == name
    assert (end.session_end.tool_call_count, end.session_end.error_count) == (1, 1)


def test_session_interrupted_records_cancelled(server: Server, connect: Connect) -> None:
    writer = connect(server)
    reader = connect(server, role="compliance")
    with pytest.raises(KeyboardInterrupt):
        with writer.session() as session:
            raise KeyboardInterrupt
    with pytest.raises(ValueError):
        with writer.session() as failed:
            raise ValueError()
    assert writer.flush(30)
    events = [e.event for e in session_entries(reader, session.session_id)]
    assert [e.WhichOneof("payload") for e in events] == ["session_start", "session_end"], "a cancellation is no error"
    end = events[-1].session_end
    assert (end.reason, end.detail) == (event_pb2.END_REASON_CANCELLED, "KeyboardInterrupt")
    events = [e.event for e in session_entries(reader, failed.session_id)]
    assert [e.WhichOneof("payload") for e in events] == ["session_start", "error", "session_end"]
    end = events[-1].session_end
    assert (end.reason, end.detail) == (event_pb2.END_REASON_FAILED, "ValueError")


def test_explicit_end_is_the_only_end(server: Server, connect: Connect) -> None:
    writer = connect(server)
    reader = connect(server, role="compliance")
    with writer.session() as session:
        session.end(reason="max_iterations", detail="hit 20 steps")
    assert writer.flush(30)
    entries = session_entries(reader, session.session_id)
    assert [e.event.WhichOneof("payload") for e in entries] == ["session_start", "session_end"]
    assert entries[-1].event.session_end.reason == event_pb2.END_REASON_MAX_ITERATIONS


def test_session_used_out_of_order(server: Server, connect: Connect) -> None:
    writer = connect(server)
    session = writer.session()
    with pytest.raises(SessionStateError, match="has not started"):
        session.output(text="too early")
    session.start()
    with pytest.raises(SessionStateError, match="already started"):
        session.start()
    session.end()
    with pytest.raises(SessionStateError, match="has ended"):
        session.output(text="too late")
    with pytest.raises(SessionStateError, match="has ended"):
        session.end()
    assert writer.flush(30)
    assert writer.stats().logged == 2


def test_bad_arguments_fail_at_once_naming_the_argument(server: Server, connect: Connect) -> None:
    writer = connect(server)
    with writer.session() as session:
        cases: list[tuple[type[Exception], str, Callable[[], object]]] = [
            (ValueError, "occurred_at must be a timezone-aware", lambda: session.output(text="x", occurred_at=datetime(2026, 1, 1))),
            (ValueError, "tool_call.outcome: 'maybe' is not a ToolOutcome; use one of success, error", lambda: session.tool_call(tool_name="t", outcome="maybe")),
            (TypeError, "tool_call.arguments must be a str or a JSON-serializable value", lambda: session.tool_call(tool_name="t", arguments={1, 2})),
            (TypeError, "llm_call.input_tokens must be an int (64-bit), got str", lambda: session.llm_call(input_tokens="12")),  # type: ignore[arg-type]
            (ValueError, "llm_call.latency must not be negative", lambda: session.llm_call(latency=timedelta(seconds=-1))),
            (TypeError, "llm_call.input_messages[1] has unknown key 'text'", lambda: session.llm_call(input_messages=[{"role": "user"}, {"text": "hi"}])),
            (ValueError, "llm_call.input_messages[0].role: 'robot' is not a Role", lambda: session.llm_call(input_messages=[{"role": "robot"}])),
            (TypeError, "llm_call.finish_reasons must be a list", lambda: session.llm_call(finish_reasons="stop")),
            (TypeError, "llm_call.finish_reasons[1] must be a str, got int", lambda: session.llm_call(finish_reasons=["stop", 3])),  # type: ignore[list-item]
            (TypeError, "llm_call.cost.micros must be an int (64-bit), got str", lambda: session.llm_call(cost={"currency_code": "USD", "micros": "12"})),
            (TypeError, "llm_call.cost has unknown key 'currency'", lambda: session.llm_call(cost={"currency": "USD", "micros": 12})),
            (TypeError, "llm_call.temperature must be a float, got str", lambda: session.llm_call(temperature="hot")),  # type: ignore[arg-type]
            (TypeError, "output.text must be a str, got dict", lambda: session.output(text={"a": 1})),  # type: ignore[arg-type]
            (TypeError, "labels values must be str, got int", lambda: session.output(text="x", labels={"n": 1})),  # type: ignore[dict-item]
            (ValueError, "human_approval.decision: 7 is not a ApprovalDecision value", lambda: session.approval(decision=7)),
            (ValueError, "llm_call.max_tokens must be an int (64-bit): the int given is out of range", lambda: session.llm_call(max_tokens=2**70)),
        ]
        for exc_type, message, call in cases:
            with pytest.raises(exc_type) as info:
                call()
            assert message in str(info.value)
        assert session.step == 1, "a failed call must log nothing"
    with pytest.raises(ValueError, match="session_id must be 1 to 128 characters"):
        writer.session(session_id="has space")
    with pytest.raises(ValueError, match="needs an agent_id"):
        connect(server, agent_id=None).session()
    with pytest.raises(ValueError, match="system_prompt_hash must be 64 hex digits"):
        writer.session(system_prompt_hash="abc")
    with pytest.raises(ValueError, match="api_key must be") as info:
        agenttrail.Client(server.address, api_key="secret with spaces")
    assert "secret" not in str(info.value)
    with pytest.raises(ValueError, match="on_full must be 'block' or 'drop'"):
        agenttrail.Client(server.address, on_full="wait")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cert_file and key_file go together"):
        agenttrail.Client(server.address, cert_file="client.pem")
    with pytest.raises(ValueError, match="is not 'host:port'"):
        agenttrail.Client("no-port")


def test_api_keys_never_travel_in_plaintext_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="plaintext to agenttrail.example") as info:
        agenttrail.Client("agenttrail.example:7700", api_key="secret-key", tls=False)
    assert "secret-key" not in str(info.value)
    # TLS is the default beyond loopback, plaintext on it; without a key,
    # plaintext may be chosen anywhere.
    for address in ("agenttrail.example:7700", "10.0.0.7:7700", "[2001:db8::1]:7700"):
        agenttrail.Client(address, api_key="secret-key").close(0)
    for address in ("127.0.0.1:7700", "localhost:7700", "[::1]:7700", "127.8.9.10:7700"):
        agenttrail.Client(address, api_key="secret-key", tls=False).close(0)
    agenttrail.Client("agenttrail.example:7700", tls=False).close(0)


def test_rejections_are_surfaced_and_not_retried(server: Server, connect: Connect) -> None:
    seen: list[RejectedEvent] = []
    writer = connect(server, on_rejection=seen.append)
    reader = connect(server, role="compliance")
    with writer.session() as session:
        bad = session.llm_call(request_model="gpt-4o", temperature=-1.0)
        huge = session.output(text="x" * (5 << 20))
        good = session.output(text="still delivered", final=True)
    # flush raises the rejections once, naming the first; the next flush
    # has nothing to raise.
    with pytest.raises(agenttrail.DeliveryError, match="2 events were refused") as raised:
        writer.flush(30)
    assert raised.value.rejected == 2 and {r.event_id for r in raised.value.rejections} == {bad, huge}
    assert "INVALID_ARGUMENT: event.llm_call.temperature" in str(raised.value) or "4194304 bytes" in str(raised.value)
    assert writer.flush(30)
    stats = writer.stats()
    assert (stats.logged, stats.delivered, stats.rejected, stats.streams) == (5, 3, 2, 1)
    assert writer.rejections() == seen
    by_id = {r.event_id: r for r in seen}
    r = by_id[bad]
    assert (r.code.name, r.field, r.kind, r.session_id) == ("INVALID_ARGUMENT", "event.llm_call.temperature", "llm_call", session.session_id)
    assert "temperature" in r.message
    r = by_id[huge]
    assert (r.code.name, r.kind) == ("RESOURCE_EXHAUSTED", "output")
    assert "xxxx" not in r.message
    ids = [e.event.event_id for e in session_entries(reader, session.session_id)]
    assert bad not in ids and huge not in ids and good in ids
