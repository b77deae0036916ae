"""Erased entries on the real server: every view shows them as erased, with
the index of the erasure that names them; they still verify, and so does
the erasure, with agenttrail.verify.verify_erasure and Client.verify_log."""

from __future__ import annotations

import uuid

import grpc
import pytest

import agenttrail
from agenttrail import verify
from agenttrail.v1 import entry_pb2, lifecycle_service_pb2, lifecycle_service_pb2_grpc
from agenttrail_server import Server
from conftest import Connect


def erase(server: Server, user_id: str) -> lifecycle_service_pb2.EraseResponse:
    with grpc.insecure_channel(server.address) as channel:
        stub = lifecycle_service_pb2_grpc.LifecycleServiceStub(channel)
        request = lifecycle_service_pb2.EraseRequest(reason="DSR-7", user_id=user_id)
        response: lifecycle_service_pb2.EraseResponse = stub.Erase(
            request, metadata=(("authorization", f"Bearer {server.keys.compliance}"),), timeout=30
        )
        return response


def logged(client: agenttrail.Client, user_id: str) -> str:
    with client.session(user_message=f"help {user_id}", user_id=user_id) as session:
        session.llm_call(request_model="m", output_text="secret answer", input_tokens=3)
        session.output(text="done", final=True)
    assert client.flush(30)
    return session.session_id


def test_erased_entries_show_and_verify(server: Server, connect: Connect) -> None:
    writer = connect(server)
    user = f"user-{uuid.uuid4().hex[:8]}"
    session_id = logged(writer, user)
    kept = logged(writer, f"other-{uuid.uuid4().hex[:8]}")
    response = erase(server, user_id=user)
    assert response.count >= 3 and response.HasField("erasure_index")

    reader = connect(server, role="compliance")
    developer = connect(server, role="developer")
    erasure = reader.get(log_index=response.erasure_index)
    assert erasure.event.HasField("erasure") and erasure.event.erasure.user_id == user
    for client in (reader, developer):
        entries = list(client.query(session_id=session_id))
        assert entries
        for e in entries:
            assert e.view.content == entry_pb2.CONTENT_STATE_ERASED
            assert verify.erasure_of(e) == response.erasure_index
            assert not e.commitment.content and not e.commitment.salt
            assert b"secret answer" not in e.SerializeToString()
            verify.verify_entry(e)
            verify.verify_erasure(e, erasure)
        client.verify_entries(entries)
    for e in reader.query(session_id=kept):
        assert verify.erasure_of(e) is None and e.view.content == entry_pb2.CONTENT_STATE_PRESENT

    # An entry that is no erasure, or one that does not name the entry, is refused.
    first = list(reader.query(session_id=session_id))[0]
    with pytest.raises(verify.EventMismatchError):
        verify.verify_erasure(first, list(reader.query(session_id=kept))[-1])
    fake = entry_pb2.Entry()
    fake.CopyFrom(erasure)
    del fake.event.erasure.log_indexes[:]
    del fake.event.erasure.ranges[:]
    with pytest.raises(verify.VerificationError):
        verify.verify_erasure(first, fake)

    report = reader.verify_log()
    assert first.stamp.log_index in report.erased
    report = developer.verify_log(from_index=first.stamp.log_index, to_index=first.stamp.log_index + 1)
    assert report.erased == [first.stamp.log_index], "the erasure outside the range is fetched and proven"

    again = erase(server, user_id=user)
    assert again.already_erased and again.erasure_index == response.erasure_index
