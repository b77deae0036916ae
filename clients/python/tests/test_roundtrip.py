"""Every event kind round-trips between Go and Python.

The fixtures in clients/testdata/events are written by the Go suite
(go test ./store/event/eventtest -update): the Go encoding of one sample event
of each kind and its JSON. Python must decode both to the same message and
re-encode it to exactly the bytes Go produced.
"""

import pathlib

import pytest
from google.protobuf import json_format, unknown_fields

from agenttrail.v1 import event_pb2
from conftest import TESTDATA

FIXTURES = sorted((TESTDATA / "events").glob("*.binpb"))

# The payload each fixture must carry, by file name.
EXPECTED_PAYLOAD = {
    "session_start": "session_start",
    "reasoning": "reasoning",
    "llm_call": "llm_call",
    "tool_call": "tool_call",
    "tool_call_failed": "tool_call",
    "human_approval": "human_approval",
    "error": "error",
    "output": "output",
    "session_end": "session_end",
    "access": "access",
    "erasure": "erasure",
    "retention": "retention",
    "key_change": "key_change",
    "legal_hold": "legal_hold",
    "retention_policy": "retention_policy",
}


def test_a_fixture_for_every_payload() -> None:
    names = {p.stem for p in FIXTURES}
    assert names == set(EXPECTED_PAYLOAD), "fixtures and expected payloads differ"
    oneof = event_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"]
    assert {f.name for f in oneof.fields} == set(EXPECTED_PAYLOAD.values())


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_go_bytes_round_trip(path: pathlib.Path) -> None:
    go_bytes = path.read_bytes()
    from_binary = event_pb2.Event.FromString(go_bytes)
    from_json = json_format.Parse(path.with_suffix(".json").read_text(), event_pb2.Event())

    assert from_binary == from_json
    assert from_binary.WhichOneof("payload") == EXPECTED_PAYLOAD[path.stem]
    assert from_binary.event_id, "fixture has no event id"
    assert from_binary.occurred_at.seconds > 0
    # Nothing Go wrote is unknown to Python's generated code.
    assert len(unknown_fields.UnknownFieldSet(from_binary)) == 0

    python_bytes = from_binary.SerializeToString(deterministic=True)
    assert python_bytes == go_bytes, "Python's encoding differs from Go's"

    again = event_pb2.Event.FromString(python_bytes)
    assert again == from_binary
    reparsed = json_format.Parse(json_format.MessageToJson(from_binary), event_pb2.Event())
    assert reparsed == from_binary
