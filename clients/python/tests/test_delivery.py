"""Background delivery against the real server: exactly-once delivery across
a crash and restart of the server, resending after lost receipts, the
full-buffer policies, timeouts, and streams the server refuses."""

from __future__ import annotations

import collections
import gc
import pathlib
import threading
from collections.abc import Callable
import time
from concurrent import futures

import grpc
import pytest

import agenttrail
from agenttrail import BufferFullError, ClientClosedError, RejectedEvent
from agenttrail_server import Server
from conftest import Connect
from tcp_proxy import Proxy


def wait_until(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_server_killed_and_restarted_mid_session_gets_every_event_exactly_once(
    fresh_server: Server, connect: Connect
) -> None:
    writer = connect(fresh_server, initial_backoff=0.05, max_backoff=0.5)
    logged: list[str] = []
    with writer.session() as session:
        logged.append(session.start_event_id)
        for i in range(100):
            logged.append(session.output(text=f"before {i}"))
        assert writer.flush(30)
        # A burst, then the crash while (very likely) some of it is in
        # flight: committed or not, acknowledged or not.
        for i in range(200):
            logged.append(session.tool_call(tool_name="burst", arguments={"i": i}))
        fresh_server.kill()
        for i in range(100):
            logged.append(session.reasoning(thought=f"while down {i}"))
        time.sleep(0.3)  # the client keeps trying meanwhile
        fresh_server.start()
        for i in range(100):
            logged.append(session.output(text=f"after {i}"))
    logged.append(session.last_event_id)
    assert writer.flush(60), writer.stats()

    stats = writer.stats()
    assert (stats.logged, stats.delivered, stats.rejected, stats.dropped, stats.unacknowledged) == (
        len(logged), len(logged), 0, 0, 0
    )
    assert stats.streams >= 2

    reader = connect(fresh_server, role="compliance")
    entries = list(reader.query(session_id=session.session_id))
    counts = collections.Counter(e.event.event_id for e in entries)
    assert [i for i, n in counts.items() if n != 1] == [], "an event id is in the log more than once"
    assert set(counts) == set(logged), "an event is missing from the log"
    assert sorted(e.event.step for e in entries) == list(range(1, len(logged) + 1))
    everything = [e.stamp.log_index for e in reader.query()]
    assert everything == list(range(len(everything))), "the log has gaps"


def test_lost_receipts_are_resent_and_acknowledged_as_duplicates(fresh_server: Server, connect: Connect) -> None:
    proxy = Proxy(fresh_server.address)
    try:
        writer = connect(fresh_server, address=proxy.address, initial_backoff=0.05, max_backoff=0.2)
        reader = connect(fresh_server, role="compliance")
        session = writer.session()
        session.start()
        assert writer.flush(30)
        proxy.blackhole()  # the server's answers are lost from here
        ids = [session.output(text=f"answer lost {i}") for i in range(20)]
        wait_until(
            lambda: len(list(reader.query(session_id=session.session_id))) == 21,
            what="the server to commit the 20 events",
        )
        assert writer.stats().unacknowledged == 20
        proxy.sever()  # the client reconnects and sends the 20 again
        assert writer.flush(30)
        stats = writer.stats()
        assert (stats.delivered, stats.duplicates, stats.rejected, stats.unacknowledged) == (21, 20, 0, 0)
        assert stats.streams >= 2
        logged = [e.event.event_id for e in reader.query(session_id=session.session_id)]
        assert logged == [session.start_event_id, *ids], "each event is stored once, in order"
    finally:
        proxy.close()


def test_full_buffer_drop_policy_drops_and_counts(fresh_server: Server, connect: Connect) -> None:
    fresh_server.pause()
    writer = connect(fresh_server, buffer_size=10, on_full="drop")
    session = writer.session()
    session.start()
    for i in range(24):
        session.output(text=f"event {i}")
    stats = writer.stats()
    assert (stats.logged, stats.dropped, stats.unacknowledged) == (10, 15, 10)
    assert session.step == 25, "dropped events keep their step numbers"

    fresh_server.resume()
    assert writer.flush(30)
    session.end()
    assert writer.flush(30)
    stats = writer.stats()
    assert (stats.logged, stats.delivered, stats.dropped) == (11, 11, 15)
    reader = connect(fresh_server, role="compliance")
    steps = [e.event.step for e in reader.query(session_id=session.session_id)]
    assert steps == [*range(1, 11), 26], "the gap in the steps shows the drops"


def test_full_buffer_block_policy_waits_for_room(fresh_server: Server, connect: Connect) -> None:
    fresh_server.pause()
    timed = connect(fresh_server, buffer_size=5, block_timeout=0.3)
    session = timed.session()
    session.start()
    for i in range(4):
        session.output(text=f"event {i}")
    started = time.monotonic()
    with pytest.raises(BufferFullError, match="stayed full"):
        session.output(text="no room")
    assert time.monotonic() - started >= 0.3
    assert session.step == 5, "an event that could not be logged takes no step"

    patient = connect(fresh_server, buffer_size=2)
    other = patient.session()
    other.start()
    other.output(text="fills the buffer")
    done = threading.Event()

    def log_one_more() -> None:
        other.output(text="waits for room")
        done.set()

    thread = threading.Thread(target=log_one_more, daemon=True)
    thread.start()
    assert not done.wait(0.5), "with on_full='block' the caller waits while the buffer is full"
    fresh_server.resume()
    assert done.wait(30)
    assert patient.flush(30) and timed.flush(30)
    assert patient.stats().delivered == 3
    assert timed.stats().delivered == 5


def test_pause_freezes_every_thread_of_the_server_before_it_returns(fresh_server: Server) -> None:
    fresh_server.pause()
    tasks = pathlib.Path(f"/proc/{fresh_server.pid}/task")
    if tasks.is_dir():
        states = [(t / "stat").read_text().rsplit(")", 1)[1].split()[0] for t in tasks.iterdir()]
        assert states and all(s in ("T", "t") for s in states), states
    fresh_server.resume()


def test_logging_never_waits_for_the_network(fresh_server: Server, connect: Connect) -> None:
    fresh_server.pause()  # connections hang, as with an unreachable server
    writer = connect(fresh_server)
    started = time.monotonic()
    with writer.session() as session:
        for i in range(1000):
            session.llm_call(request_model="m", output_text=f"reply {i}", input_tokens=i)
    elapsed = time.monotonic() - started
    # A client that waited for the network would take gRPC's 20 s connect
    # timeout at least.
    assert elapsed < 10, f"logging 1002 events took {elapsed:.1f}s with the server frozen"
    assert writer.stats().unacknowledged == 1002
    fresh_server.resume()
    assert writer.flush(30)
    assert writer.stats().delivered == 1002


def test_the_buffer_holds_no_object_the_garbage_collector_tracks(fresh_server: Server, connect: Connect) -> None:
    """What logging leaves in the buffer is bytes and strings: a container
    per waiting event would make the agent's thread run a collection every
    few hundred events."""
    fresh_server.pause()  # nothing is delivered: the events stay in the buffer
    writer = connect(fresh_server)
    with writer.session() as session:
        session.llm_call(request_model="m", output_text="warm-up", input_tokens=1)
        gc.disable()
        try:
            before = gc.get_count()[0]
            for i in range(1000):
                session.llm_call(request_model="m", output_text=f"reply {i}", input_tokens=i)
            added = gc.get_count()[0] - before
        finally:
            gc.enable()
    # The delivery thread may have taken an event or two meanwhile.
    assert added < 100, f"1000 events left {added} objects the garbage collector tracks"
    fresh_server.resume()
    assert writer.flush(30)


def test_flush_and_close_give_up_after_their_timeout(fresh_server: Server, connect: Connect) -> None:
    fresh_server.pause()
    writer = connect(fresh_server)
    with writer.session():
        pass
    started = time.monotonic()
    with pytest.raises(agenttrail.DeliveryTimeoutError, match="2 events not acknowledged .* within 0.3s \\(delivery goes on\\)") as flushed:
        writer.flush(0.3)
    assert flushed.value.unacknowledged == 2
    assert 0.3 <= time.monotonic() - started < 5
    started = time.monotonic()
    with pytest.raises(agenttrail.DeliveryTimeoutError, match="they are not in the log") as closed:
        writer.close(timeout=0.3)
    assert closed.value.unacknowledged == 2
    assert time.monotonic() - started < 8
    assert writer.closed
    assert writer.stats().unacknowledged == 2
    with pytest.raises(ClientClosedError):
        writer.session()
    fresh_server.resume()


def test_a_stream_refused_for_good_rejects_the_waiting_events(connect: Connect, server: Server) -> None:
    # A gRPC server that implements no method: every Append stream fails
    # with UNIMPLEMENTED, which no retry can fix.
    bare = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    port = bare.add_insecure_port("127.0.0.1:0")
    bare.start()
    try:
        seen: list[RejectedEvent] = []
        writer = connect(server, address=f"127.0.0.1:{port}", on_rejection=seen.append, max_backoff=0.2)
        with writer.session() as session:
            session.output(text="nowhere to go")
        with pytest.raises(agenttrail.DeliveryError, match="3 events were refused .* UNIMPLEMENTED"):
            writer.flush(30)
        stats = writer.stats()
        assert (stats.delivered, stats.rejected, stats.unacknowledged) == (0, 3, 0)
        assert stats.last_error is not None and stats.last_error.startswith("UNIMPLEMENTED")
        assert [r.code for r in seen] == [grpc.StatusCode.UNIMPLEMENTED] * 3
        assert [r.kind for r in seen] == ["session_start", "output", "session_end"]
    finally:
        bare.stop(None)


def test_a_wrong_api_key_rejects_the_events(server: Server, connect: Connect) -> None:
    assert server.keys.agent is not None, "the test server has no keys: see agenttrail_server.py"
    writer = connect(server, api_key="not-a-key", max_backoff=0.2)
    with writer.session():
        pass
    with pytest.raises(agenttrail.DeliveryError, match="UNAUTHENTICATED") as raised:
        writer.flush(30)
    assert raised.value.rejected == 2
    rejected = writer.rejections()
    assert [r.code for r in rejected] == [grpc.StatusCode.UNAUTHENTICATED] * 2


def test_an_idle_stream_is_ended_and_reopened(server: Server, connect: Connect) -> None:
    writer = connect(server, idle_timeout=0.2)
    with writer.session():
        pass
    assert writer.flush(30)
    time.sleep(0.6)
    with writer.session():
        pass
    assert writer.flush(30)
    stats = writer.stats()
    assert (stats.delivered, stats.streams, stats.last_error) == (4, 2, None)


def test_closed_client_refuses_events(server: Server, connect: Connect) -> None:
    writer = connect(server)
    session = writer.session()
    session.start()
    assert writer.close()
    with pytest.raises(ClientClosedError):
        session.output(text="after close")
    assert isinstance(writer.stats(), agenttrail.DeliveryStats)


def test_a_burst_goes_out_in_batched_frames_with_an_answer_per_event(server: Server, connect: Connect) -> None:
    seen: list[RejectedEvent] = []
    writer = connect(server, on_rejection=seen.append, linger=0.05)
    reader = connect(server, role="compliance")
    with writer.session() as session:
        for i in range(600):
            session.output(text=f"event {i}")
        bad = session.llm_call(request_model="gpt-4o", temperature=-1.0)
        for i in range(600):
            session.output(text=f"event {600 + i}")
    # flush reports the refusal (once), naming why.
    with pytest.raises(agenttrail.DeliveryError, match="INVALID_ARGUMENT") as flushed:
        writer.flush(30)
    assert flushed.value.rejected == 1
    stats = writer.stats()
    assert (stats.logged, stats.delivered, stats.rejected) == (1203, 1202, 1), stats
    # The first request goes alone (the server's headers come with its
    # answer); what queues up after it goes in frames.
    assert stats.requests <= 1203 // 4, f"{stats.requests} requests for {stats.logged} events: want batched frames"
    assert [(r.event_id, r.code.name, r.field) for r in seen] == [(bad, "INVALID_ARGUMENT", "event.llm_call.temperature")]
    steps = [e.event.step for e in reader.query(session_id=session.session_id)]
    assert steps == [s for s in range(1, 1204) if s != 602], "every event but the bad one, in order"
