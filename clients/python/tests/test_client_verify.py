"""Client.verify_entry and verify_entries on real proofs and checkpoints of
the real server, with the verifier key it printed at start (obtained out of
band, as a verifier's key must be). The shared vectors of agenttrail.verify
itself run in test_verify.py."""

from __future__ import annotations

import base64
import hashlib
import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import agenttrail
from agenttrail import verify
from agenttrail.v1 import entry_pb2, query_service_pb2
from agenttrail_server import Server
from conftest import Connect


def logged_session(client: agenttrail.Client) -> str:
    with client.session(user_message="check me") as session:
        session.llm_call(request_model="m", output_text="hello", input_tokens=3)
        session.tool_call(tool_name="search", arguments={"q": "x"}, result=["a", "b"])
        session.output(text="done", final=True)
    assert client.flush(30)
    return session.session_id


def test_server_verifier_key_is_the_one_printed_at_start(server: Server, connect: Connect) -> None:
    reader = connect(server, role="compliance")
    assert reader.server_verifier_key() == server.verifier_key


def test_entries_verify_against_real_proofs(server: Server, connect: Connect) -> None:
    writer = connect(server)
    reader = connect(server, role="compliance")
    session_id = logged_session(writer)
    entries = list(reader.query(session_id=session_id))
    assert len(entries) == 5
    assert reader.trusted_head is None
    head = reader.verify_entries(entries)
    assert head.origin == server.origin
    assert head.size > max(e.stamp.log_index for e in entries)
    assert reader.trusted_head == head
    for e in entries:
        assert e.view.content == entry_pb2.CONTENT_STATE_PRESENT, "the full view lets the content be checked"
        one = reader.verify_entry(e)
        assert one.size >= head.size

    # The log grows; the next checkpoint is proven consistent with the one
    # trusted before it.
    logged_session(writer)
    newest = list(reader.query(order="descending", limit=1))
    grown = reader.verify_entries(newest)
    assert grown.size > head.size
    assert reader.trusted_head == grown
    # Reads may add access events to the log, so it may have grown again.
    latest = reader.verify_entries([])
    assert latest.size >= grown.size and reader.trusted_head == latest


def test_tampered_entries_fail(server: Server, connect: Connect) -> None:
    writer = connect(server)
    reader = connect(server, role="compliance")
    session_id = logged_session(writer)
    entries = list(reader.query(session_id=session_id))
    tool = next(e for e in entries if e.event.HasField("tool_call"))

    changed_content = entry_pb2.Entry()
    changed_content.CopyFrom(tool)
    changed_content.event.tool_call.result = '["a","b","c"]'
    with pytest.raises(verify.EventMismatchError):
        reader.verify_entry(changed_content)

    changed_header = entry_pb2.Entry()
    changed_header.CopyFrom(tool)
    changed_header.event.tool_call.tool_name = "delete_everything"
    with pytest.raises(verify.EventMismatchError):
        reader.verify_entry(changed_header)

    changed_bytes = entry_pb2.Entry()
    changed_bytes.CopyFrom(tool)
    changed_bytes.commitment.content = changed_bytes.commitment.content[:-1] + b"!"
    with pytest.raises(verify.DigestMismatchError):
        reader.verify_entry(changed_bytes)

    moved = entry_pb2.Entry()
    moved.CopyFrom(tool)
    moved.stamp.log_index = entries[0].stamp.log_index
    with pytest.raises(verify.BadProofError):
        reader.verify_entry(moved)


def test_a_key_that_did_not_sign_the_log_fails(server: Server, connect: Connect) -> None:
    writer = connect(server)
    session_id = logged_session(writer)
    # A well-formed Ed25519 verifier key with the log's name that is not
    # the log's key: checkpoints carry no signature by it.
    public = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    raw = b"\x01" + public
    key_hash = hashlib.sha256(server.origin.encode() + b"\n" + raw).digest()[:4].hex()
    impostor = f"{server.origin}+{key_hash}+{base64.b64encode(raw).decode()}"
    reader = connect(server, role="compliance", verifier_key=impostor)
    entry = next(iter(reader.query(session_id=session_id)))
    with pytest.raises(verify.NoSignatureError):
        reader.verify_entry(entry)
    assert reader.trusted_head is None

    other_log = connect(server, role="compliance", origin="agenttrail.example/another-log")
    with pytest.raises(verify.OriginMismatchError):
        other_log.verify_entry(entry)


def test_a_forked_log_is_caught(server: Server, connect: Connect) -> None:
    writer = connect(server)
    reader = connect(server, role="compliance")
    session_id = logged_session(writer)
    entry = next(iter(reader.query(session_id=session_id)))
    head = reader.verify_entry(entry)
    # Pretend the client had trusted another tree of the same size: the
    # server's checkpoint of that size must then be refused.
    reader._trusted = verify.TreeHead(origin=head.origin, size=head.size, root=bytes(32))
    with pytest.raises(verify.BadProofError):
        reader.verify_entry(entry)


def test_verifying_needs_a_verifier_key(server: Server, connect: Connect) -> None:
    writer = connect(server)
    session_id = logged_session(writer)
    reader = connect(server, role="compliance", verifier_key=None)
    entry = next(iter(reader.query(session_id=session_id)))
    with pytest.raises(ValueError, match="no verifier key"):
        reader.verify_entry(entry)
    with pytest.raises(verify.MalformedError):
        agenttrail.Client(server.address, verifier_key="not a key")


def test_developer_verifies_the_log_with_entries_withheld(fresh_server: Server, connect: Connect) -> None:
    """A developer may not see other principals' access records; the server
    sends them as withheld leaves, which verify_log proves to be in the log
    and reports as withheld, not missing."""
    writer = connect(fresh_server)
    auditor = connect(fresh_server, role="compliance")
    developer = connect(fresh_server, role="developer")
    session_id = logged_session(writer)
    assert len(list(auditor.query(session_id=session_id))) == 5  # an access record
    assert len(list(developer.query(session_id=session_id))) == 5  # the developer's own
    logged_session(writer)  # so that a checkpoint covers both reads

    full = auditor.verify_log()
    seen = developer.verify_log(to_index=full.head.size)
    assert seen.head.size >= full.head.size  # reads add access records
    assert seen.withheld, "the auditor's access record is withheld from the developer"
    assert seen.entries + len(seen.withheld) == full.head.size
    assert seen.content_checked == 0, "the redacted view withholds content"
    assert full.entries + len(full.withheld) == full.head.size
    assert not full.withheld and full.content_checked == full.entries
    for index in seen.withheld:
        entry = auditor.get(log_index=index)
        assert entry.event.WhichOneof("payload") == "access"
        assert entry.event.access.principal != "test-developer"

    # A withheld entry's leaf hash must be 32 bytes.
    with pytest.raises(verify.MalformedError):
        verify.verify_withheld(query_service_pb2.WithheldEntry(log_index=3, leaf_hash=b"short"))


def test_verify_log_reads_the_range_and_its_proofs_in_one_call(
    fresh_server: Server, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify_log asks the Query for the proofs (proof_tree_size) in batches:
    no inclusion proof is fetched entry by entry; from a server that sends
    none it fetches each; and a proof hash altered in transit fails."""
    writer = connect(fresh_server)
    auditor = connect(fresh_server, role="compliance")
    logged_session(writer)
    logged_session(writer)
    calls: list[str] = []
    unary = auditor._unary

    def counting(name: str, fn: Any, request: Any) -> Any:
        calls.append(name)
        return unary(name, fn, request)

    monkeypatch.setattr(auditor, "_unary", counting)
    report = auditor.verify_log()
    assert report.entries + len(report.withheld) == report.head.size
    assert "LogService/GetInclusionProof" not in calls, calls

    client_module = importlib.import_module("agenttrail.client")
    items = client_module._items

    def without_proofs(call: object) -> Iterator[query_service_pb2.QueryResponse]:
        for item in items(call):
            item.ClearField("inclusion_proof")
            yield item

    monkeypatch.setattr(client_module, "_items", without_proofs)
    calls.clear()
    again = auditor.verify_log(to_index=report.head.size)
    assert calls.count("LogService/GetInclusionProof") == again.entries + len(again.withheld) == report.head.size

    def altered(call: object) -> Iterator[query_service_pb2.QueryResponse]:
        for item in items(call):
            if item.inclusion_proof.hashes:
                item.inclusion_proof.hashes[0] = bytes(32)
            yield item

    monkeypatch.setattr(client_module, "_items", altered)
    with pytest.raises(verify.VerificationError):
        auditor.verify_log(to_index=report.head.size)
