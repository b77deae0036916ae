"""Reading the trail back: get, query with filters, and the live, resumable
tail, against the real server."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import pytest

import agenttrail
from agenttrail import NotFoundError, Tail
from agenttrail.client import _with_event
from agenttrail.v1 import entry_pb2, event_pb2, query_service_pb2
from agenttrail_server import Server
from conftest import AGENT_ID, Connect


def log_sample(client: agenttrail.Client) -> tuple[agenttrail.Session, list[str]]:
    """Logs a small session: start, llm, two tool calls (one failed),
    output, end."""
    with client.session() as session:
        ids = [session.start_event_id]
        ids.append(session.llm_call(request_model="m"))
        ids.append(session.tool_call(tool_name="search", result="ok"))
        ids.append(session.tool_call(tool_name="fetch", error_message="404"))
        ids.append(session.output(text="done"))
    ids.append(session.last_event_id)
    assert client.flush(30)
    return session, ids


def test_get_by_event_id_and_by_log_index(server: Server, connect: Connect) -> None:
    writer = connect(server)
    reader = connect(server, role="compliance")
    _, ids = log_sample(writer)
    entry = reader.get(ids[1])
    assert isinstance(entry, entry_pb2.Entry)
    assert entry.event.event_id == ids[1]
    assert entry.event.HasField("llm_call")
    assert entry.view.kind == event_pb2.VIEW_KIND_FULL
    again = reader.get(log_index=entry.stamp.log_index)
    assert again == entry
    with pytest.raises(NotFoundError) as info:
        reader.get("0190aaaa-0000-7000-8000-000000000000")
    assert info.value.code.name == "NOT_FOUND"
    with pytest.raises(ValueError, match="exactly one"):
        reader.get()


def test_full_view_events_are_rebuilt_from_their_commitment(server: Server, connect: Connect) -> None:
    """The client asks for the full view without each event
    (event_from_commitment: every content crosses the wire once) and
    rebuilds it from the committed header and content: the entries equal
    those the server sends with their events."""
    writer = connect(server)
    reader = connect(server, role="compliance")
    session, ids = log_sample(writer)
    asked: list[query_service_pb2.QueryRequest] = []
    query = reader._query.Query

    def spy(request: query_service_pb2.QueryRequest, **kwargs: Any) -> Any:
        asked.append(request)
        return query(request, **kwargs)

    reader._query.Query = spy  # type: ignore[assignment]
    got = list(reader.query(session_id=session.session_id))
    assert [r.event_from_commitment for r in asked] == [True]
    sent = [
        r.entry
        for r in query(
            query_service_pb2.QueryRequest(filter=event_pb2.Filter(session_id=session.session_id)),
            metadata=reader._metadata,
        )
        if r.HasField("entry")
    ]
    assert [e.event.event_id for e in got] == ids
    assert len(sent) == len(got)
    for g, want in zip(got, sent):
        assert g.event == want.event, f"log index {g.stamp.log_index}: rebuilt {g.event}, want {want.event}"
        assert g == want
    bare = [
        r.entry
        for r in query(
            query_service_pb2.QueryRequest(
                filter=event_pb2.Filter(session_id=session.session_id), event_from_commitment=True
            ),
            metadata=reader._metadata,
        )
        if r.HasField("entry")
    ]
    assert bare and not any(e.HasField("event") for e in bare), "the server sent events it was asked to leave out"
    broken = entry_pb2.Entry()
    broken.CopyFrom(bare[1])
    broken.commitment.content = b"\xff"
    with pytest.raises(agenttrail.verify.MalformedError, match="does not decode"):
        _with_event(broken)


def test_query_filters_order_limit_and_resume(server: Server, connect: Connect) -> None:
    writer = connect(server)
    reader = connect(server, role="compliance")
    session, ids = log_sample(writer)
    sid = session.session_id

    def query_ids(**kwargs: object) -> list[str]:
        return [e.event.event_id for e in reader.query(session_id=sid, **kwargs)]  # type: ignore[arg-type]

    assert query_ids() == ids
    assert query_ids(kinds=["tool_call"]) == ids[2:4]
    assert query_ids(kinds=[event_pb2.EVENT_KIND_OUTPUT, "session_end"]) == ids[4:]
    assert query_ids(tool_name="fetch") == [ids[3]]
    assert query_ids(errors_only=True) == [ids[3]]
    assert query_ids(order="descending") == ids[::-1]
    assert query_ids(limit=2) == ids[:2]
    first_two = list(reader.query(session_id=sid, limit=2))
    assert query_ids(resume_after=first_two[-1].stamp.log_index) == ids[2:]
    indexes = [e.stamp.log_index for e in reader.query(session_id=sid)]
    assert query_ids(from_index=indexes[1], to_index=indexes[3]) == ids[1:3]
    with pytest.raises(ValueError, match="'sideways'"):
        reader.query(order="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kinds\\[0\\]: 'nothing' is not a EventKind"):
        reader.query(kinds=["nothing"])


class Collector(threading.Thread):
    """Iterates a tail on a thread of its own, into a queue; keeps the
    exception that ended the iteration, if one did."""

    def __init__(self, tail: Tail, into: queue.Queue[entry_pb2.Entry]) -> None:
        super().__init__(daemon=True)
        self.tail, self.into = tail, into
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            for entry in self.tail:
                self.into.put(entry)
        except BaseException as e:
            self.error = e


def collect(tail: Tail, into: queue.Queue[entry_pb2.Entry]) -> Collector:
    return Collector(tail, into)


def take(q: queue.Queue[entry_pb2.Entry], n: int, timeout: float = 20.0) -> list[entry_pb2.Entry]:
    deadline = time.monotonic() + timeout
    out: list[entry_pb2.Entry] = []
    while len(out) < n:
        out.append(q.get(timeout=max(0.01, deadline - time.monotonic())))
    return out


def test_tail_follows_the_log_and_resumes_from_a_saved_index(server: Server, connect: Connect) -> None:
    writer = connect(server)
    reader = connect(server, role="compliance")
    session, ids = log_sample(writer)
    caught_up = threading.Event()
    got: queue.Queue[entry_pb2.Entry] = queue.Queue()
    tail = reader.tail(session_id=session.session_id, on_caught_up=lambda size: caught_up.set())
    thread = collect(tail, got)
    assert [e.event.event_id for e in take(got, len(ids))] == ids
    assert caught_up.wait(20)

    later, later_ids = log_sample(writer)
    assert got.empty(), "the tail follows its session only"
    tail.cancel()
    thread.join(10)
    assert not thread.is_alive() and thread.error is None
    saved = tail.last_index
    assert saved is not None

    # Live: a tail on the new session sees events as they commit.
    got2: queue.Queue[entry_pb2.Entry] = queue.Queue()
    with reader.tail(agent_id=later.agent_id, resume_after=saved) as tail2:
        thread2 = collect(tail2, got2)
        assert [e.event.event_id for e in take(got2, len(later_ids))] == later_ids
        with writer.session(session_id=later.session_id + "-b") as third:
            pass
        assert writer.flush(30)
        assert [e.event.event_id for e in take(got2, 2)] == [third.start_event_id, third.last_event_id]
    thread2.join(10)
    assert not thread2.is_alive() and thread2.error is None


def test_closing_the_client_ends_its_tails(server: Server, connect: Connect) -> None:
    reader = connect(server, role="compliance")
    got: queue.Queue[entry_pb2.Entry] = queue.Queue()
    caught_up = threading.Event()
    tail = reader.tail(session_id="no-such-session", on_caught_up=lambda size: caught_up.set())
    thread = collect(tail, got)
    assert caught_up.wait(20)
    reader.close()
    thread.join(10)
    assert not thread.is_alive() and thread.error is None, "the tail ended, without an error"
    assert got.empty()
    with pytest.raises(agenttrail.ClientClosedError):
        reader.tail()


def test_tail_resumes_by_itself_across_a_server_restart(fresh_server: Server, connect: Connect) -> None:
    writer = connect(fresh_server)
    reader = connect(fresh_server, role="compliance", initial_backoff=0.05, max_backoff=0.5)
    got: queue.Queue[entry_pb2.Entry] = queue.Queue()
    tail = reader.tail(agent_id=AGENT_ID)  # not the server's access records
    thread = collect(tail, got)
    _, first = log_sample(writer)
    assert [e.event.event_id for e in take(got, len(first))] == first

    fresh_server.stop()
    fresh_server.start()
    _, second = log_sample(writer)
    entries = take(got, len(second))
    assert [e.event.event_id for e in entries] == second, "no entry missed or repeated"
    assert tail.reconnects >= 1
    tail.cancel()
    thread.join(10)
    assert not thread.is_alive() and thread.error is None
    indexes = [e.stamp.log_index for e in entries]
    assert indexes == sorted(set(indexes))
