"""agenttrail.verify passes every shared test vector.

The vectors in clients/testdata/vectors are written by the Go suite
(go test ./clients/go/verify -run TestVectors -update) and documented in
their README.md. Every good vector must verify, and every broken one must
fail with the error class it names, exactly as in Go and TypeScript.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from agenttrail import verify
from agenttrail.v1 import entry_pb2, event_pb2
from conftest import TESTDATA

VECTORS = TESTDATA / "vectors"

ERROR_CLASSES: dict[str, type[verify.VerificationError]] = {
    "malformed": verify.MalformedError,
    "bad_signature": verify.BadSignatureError,
    "no_signature": verify.NoSignatureError,
    "origin_mismatch": verify.OriginMismatchError,
    "bad_proof": verify.BadProofError,
    "leaf_mismatch": verify.LeafMismatchError,
    "digest_mismatch": verify.DigestMismatchError,
    "event_mismatch": verify.EventMismatchError,
    "no_quorum": verify.NoQuorumError,
    "unproven_erasure": verify.UnprovenErasureError,
}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


def b64(s: str) -> bytes:
    return base64.b64decode(s, validate=True)


def cases(name: str, kind: str) -> list[Any]:
    return [pytest.param(v, id=v["name"]) for v in load(name)[kind]]


def expect_error(call: Callable[[], object], vector: dict[str, Any]) -> None:
    """Fails unless call raises the error class the vector names, with a
    message that says what is wrong."""
    want = ERROR_CLASSES[vector["error"]]
    with pytest.raises(verify.VerificationError) as info:
        call()
    assert type(info.value) is want, f"got {type(info.value).__name__}: {info.value}, want {want.__name__}"
    assert info.value.code == vector["error"]
    assert str(info.value), "error does not say what is wrong"


def decode_entry(s: str) -> entry_pb2.Entry:
    entry = entry_pb2.Entry()
    entry.ParseFromString(b64(s))
    return entry


def test_error_codes_are_distinct() -> None:
    assert {cls.code for cls in ERROR_CLASSES.values()} == set(ERROR_CLASSES)
    for cls in ERROR_CLASSES.values():
        assert issubclass(cls, verify.VerificationError)


def test_every_file_has_vectors() -> None:
    for name in ["entries.json", "inclusion.json", "consistency.json", "checkpoints.json", "verifier_keys.json", "cosigned.json"]:
        data = load(name)
        assert data["good"] and data["broken"], f"{name} has no good or no broken vectors"
        for v in data["broken"]:
            assert v["error"] in ERROR_CLASSES, f"{name}: {v['name']}: unknown error class {v['error']}"


# --- Entries -----------------------------------------------------------------


@pytest.mark.parametrize("v", cases("entries.json", "good"))
def test_good_entry(v: dict[str, Any]) -> None:
    header, content, salt = b64(v["header"]), b64(v["content"]), b64(v["salt"])
    digest, leaf = b64(v["content_digest"]), b64(v["leaf_hash"])
    if salt:
        assert verify.content_digest(salt, content) == digest
    assert verify.leaf_hash(header, digest) == leaf
    entry = decode_entry(v["entry"])
    c = entry.commitment
    assert (c.header, c.content, c.salt, c.content_digest, c.leaf_hash) == (header, content, salt, digest, leaf)
    before = entry.SerializeToString(deterministic=True)
    verify.verify_entry(entry)
    assert entry.SerializeToString(deterministic=True) == before, "verify_entry modified the entry"


@pytest.mark.parametrize("v", cases("entries.json", "broken"))
def test_broken_entry(v: dict[str, Any]) -> None:
    entry = decode_entry(v["entry"])
    expect_error(lambda: verify.verify_entry(entry), v)


def test_split_keeps_payload_container() -> None:
    # An output whose only field is content still shows its kind in the
    # header half, as store/event.Split does.
    event = event_pb2.Event(event_id="e", output=event_pb2.Output(text="secret answer"))
    header, content = verify._split(event)
    assert header.WhichOneof("payload") == "output"
    assert header.output.text == ""
    assert content.output.text == "secret answer"
    assert content.event_id == ""
    assert event.output.text == "secret answer", "_split modified its argument"


# --- Trees and proofs ------------------------------------------------------------


def merkle_root(leaves: list[bytes]) -> bytes:
    """The RFC 6962 Merkle tree hash of leaf hashes, by its definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:])).digest()


def test_tree_roots() -> None:
    data = load("trees.json")
    leaves = [b64(h) for h in data["leaves"]]
    assert len(leaves) == 100
    for tree in data["trees"]:
        assert merkle_root(leaves[: int(tree["size"])]) == b64(tree["root"]), f"root of size {tree['size']}"


def run_inclusion(v: dict[str, Any]) -> None:
    verify.verify_inclusion(
        int(v["index"]), int(v["size"]), b64(v["leaf_hash"]), [b64(h) for h in v["proof"]], b64(v["root"])
    )


@pytest.mark.parametrize("v", cases("inclusion.json", "good"))
def test_good_inclusion(v: dict[str, Any]) -> None:
    run_inclusion(v)


@pytest.mark.parametrize("v", cases("inclusion.json", "broken"))
def test_broken_inclusion(v: dict[str, Any]) -> None:
    expect_error(lambda: run_inclusion(v), v)


def run_consistency(v: dict[str, Any]) -> None:
    verify.verify_consistency(
        int(v["old_size"]),
        int(v["new_size"]),
        b64(v["old_root"]),
        b64(v["new_root"]),
        [b64(h) for h in v["proof"]],
    )


@pytest.mark.parametrize("v", cases("consistency.json", "good"))
def test_good_consistency(v: dict[str, Any]) -> None:
    run_consistency(v)


@pytest.mark.parametrize("v", cases("consistency.json", "broken"))
def test_broken_consistency(v: dict[str, Any]) -> None:
    expect_error(lambda: run_consistency(v), v)


@pytest.mark.parametrize(
    ("call", "want"),
    [
        pytest.param(lambda: verify.verify_inclusion(0, 2**63, b"\0" * 32, [], b"\0" * 32), verify.BadProofError, id="size 2^63"),
        pytest.param(lambda: verify.verify_inclusion(-1, 2, b"\0" * 32, [], b"\0" * 32), verify.MalformedError, id="negative index"),
        pytest.param(lambda: verify.verify_inclusion(0, 2, b"\0" * 31, [], b"\0" * 32), verify.MalformedError, id="short leaf"),
        pytest.param(lambda: verify.verify_inclusion(0, 2, b"\0" * 32, [], b"\0" * 33), verify.MalformedError, id="long root"),
        pytest.param(lambda: verify.verify_consistency(1, 2**63, b"\0" * 32, b"\0" * 32, []), verify.BadProofError, id="new size 2^63"),
        pytest.param(lambda: verify.verify_consistency(-1, 2, b"\0" * 32, b"\0" * 32, []), verify.MalformedError, id="negative size"),
        pytest.param(lambda: verify.verify_consistency(1, 2, b"", b"\0" * 32, []), verify.MalformedError, id="empty old root"),
    ],
)
def test_proof_inputs(call: Callable[[], None], want: type[verify.VerificationError]) -> None:
    with pytest.raises(want):
        call()


# --- Checkpoints and keys ----------------------------------------------------------


@pytest.mark.parametrize("v", cases("checkpoints.json", "good"))
def test_good_checkpoint(v: dict[str, Any]) -> None:
    head = verify.verify_checkpoint(b64(v["note"]), v["verifier_key"], v["origin"])
    assert head == verify.TreeHead(origin=v["origin"], size=int(v["size"]), root=b64(v["root"]))


@pytest.mark.parametrize("v", cases("checkpoints.json", "broken"))
def test_broken_checkpoint(v: dict[str, Any]) -> None:
    expect_error(lambda: verify.verify_checkpoint(b64(v["note"]), v["verifier_key"], v["origin"]), v)


@pytest.mark.parametrize("v", cases("verifier_keys.json", "good"))
def test_good_verifier_key(v: dict[str, Any]) -> None:
    key = verify.parse_verifier_key(v["verifier_key"])
    assert key == verify.VerifierKey(name=v["key_name"], key_hash=v["key_hash"], public_key=b64(v["public_key"]))
    assert str(key) == v["verifier_key"] or str(key).lower() == v["verifier_key"].lower()


@pytest.mark.parametrize("v", cases("verifier_keys.json", "broken"))
def test_broken_verifier_key(v: dict[str, Any]) -> None:
    expect_error(lambda: verify.parse_verifier_key(v["verifier_key"]), v)


def test_verifier_key_with_lone_surrogate() -> None:
    with pytest.raises(verify.MalformedError, match="UTF-8"):
        verify.parse_verifier_key("log\ud800+00000000+AQ==")


def open_cosigned(v: dict[str, Any]) -> tuple[verify.TreeHead, list[verify.Cosignature]]:
    return verify.verify_cosigned_checkpoint(b64(v["note"]), v["verifier_key"], v["origin"], v["witness_keys"], v["quorum"])


@pytest.mark.parametrize("v", cases("cosigned.json", "good"))
def test_good_cosigned_checkpoint(v: dict[str, Any]) -> None:
    head, cosigs = open_cosigned(v)
    assert head == verify.TreeHead(origin=v["origin"], size=int(v["size"]), root=b64(v["root"]))
    assert [c.witness for c in cosigs] == v["cosigners"]


@pytest.mark.parametrize("v", cases("cosigned.json", "broken"))
def test_broken_cosigned_checkpoint(v: dict[str, Any]) -> None:
    expect_error(lambda: open_cosigned(v), v)


@pytest.mark.parametrize("c", [pytest.param(c, id=c["name"]) for c in load("erasures.json")["cases"]])
def test_erasures(c: dict[str, Any]) -> None:
    ledger = verify.ErasureLedger()
    for e in c["entries"]:
        event = event_pb2.Event()
        event.ParseFromString(b64(e["event"]))
        ledger.note(int(e["index"]), event, e["erased"])
    if "error" not in c:
        ledger.check()
        return
    expect_error(ledger.check, c)
    assert ledger.unproven()[0] == int(c["first_unproven"])
