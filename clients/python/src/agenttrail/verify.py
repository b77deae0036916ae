"""Checks what an agenttrail server hands to a reader, with nothing but the
bytes it was given and the log's verifier key.

Each event is committed as one RFC 6962 leaf (see message Commitment in
proto/agenttrail/v1/entry.proto)::

    leaf_data      = uint32_be(len(header)) || header || content_digest
    leaf_hash      = SHA-256(0x00 || leaf_data)
    content_digest = SHA-256(salt || content)

where header is the encoded agenttrail.v1.EventHeader, content is the encoded
Event holding only its non-METADATA fields, and salt is 32 random bytes. The
leaves form an RFC 6962 / RFC 9162 Merkle tree whose size and root hash the
log publishes in C2SP tlog-checkpoint notes signed with Ed25519.

To check an entry end to end:

1. :func:`verify_checkpoint` opens a signed checkpoint with the log's verifier
   key and returns the :class:`TreeHead` it states.
2. :func:`verify_entry` checks the entry against its commitment.
3. :func:`verify_inclusion` checks that the entry's leaf is at its log index in
   the checkpoint's tree. An entry the reader may not see comes as a
   withheld leaf (log index and leaf hash only): :func:`verify_withheld`
   checks its form, and its inclusion is proven the same way.
4. :func:`verify_consistency` checks that a newer checkpoint's tree extends
   one trusted before.

Every failure raises a subclass of :class:`VerificationError`. The same
checks, in the same order and with the same error classes, are in the Go
package clients/go/verify (which uses golang.org/x/mod/sumdb/tlog and note)
and in the TypeScript client; clients/testdata/vectors holds the test vectors
all three must pass.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from agenttrail.v1 import entry_pb2, event_pb2, field_class_pb2, query_service_pb2

__all__ = [
    "HASH_SIZE",
    "erasure_of",
    "names",
    "verify_erasure",
    "BadProofError",
    "BadSignatureError",
    "DigestMismatchError",
    "EventMismatchError",
    "LeafMismatchError",
    "MalformedError",
    "MissingEntryError",
    "NoQuorumError",
    "NoSignatureError",
    "OriginMismatchError",
    "Cosignature",
    "ErasureLedger",
    "TreeHead",
    "UnprovenErasureError",
    "VerificationError",
    "VerifierKey",
    "WitnessKey",
    "content_digest",
    "erased_by",
    "leaf_hash",
    "parse_verifier_key",
    "parse_witness_key",
    "verify_checkpoint",
    "verify_cosigned_checkpoint",
    "verify_consistency",
    "verify_entry",
    "verify_inclusion",
    "verify_withheld",
]

#: Size in bytes of every hash, digest and salt of the log.
HASH_SIZE = 32

_MAX_TREE_SIZE = 2**63 - 1
_MAX_UINT64 = 2**64 - 1
_MAX_SIGNATURES = 100
_ALG_ED25519 = 0x01
_EMPTY_ROOT = hashlib.sha256(b"").digest()
_SIG_PREFIX = "— ".encode()


class VerificationError(Exception):
    """Base class of every error this module raises.

    :attr:`code` names the error class as the shared test vectors do
    (``malformed``, ``bad_signature``, ...); the Go verifier's sentinel errors
    are ErrMalformed, ErrBadSignature and so on.
    """

    code: ClassVar[str] = ""


class MalformedError(VerificationError):
    """An input is not in its documented format: a note that breaks the
    signed-note rules, a checkpoint body that is not origin, decimal size and
    base64 root, a verifier key that does not parse, a hash or salt of the
    wrong length, or header or content bytes that do not decode."""

    code = "malformed"


class BadSignatureError(VerificationError):
    """A note carries a signature line with the verifier key's name and key
    hash whose Ed25519 signature does not verify over the note text."""

    code = "bad_signature"


class NoSignatureError(VerificationError):
    """A well-formed note carries no signature line with the verifier key's
    name and key hash. Signatures by other keys are ignored."""

    code = "no_signature"


class OriginMismatchError(VerificationError):
    """A correctly signed checkpoint names a log other than the expected
    origin."""

    code = "origin_mismatch"


class BadProofError(VerificationError):
    """An inclusion or consistency proof does not prove what it is claimed to
    prove: it does not lead to the given root hashes, has too few or too many
    hashes, or is for sizes and indexes that cannot be."""

    code = "bad_proof"


class LeafMismatchError(VerificationError):
    """An entry's leaf hash is not the leaf hash of its header and content
    digest."""

    code = "leaf_mismatch"


class DigestMismatchError(VerificationError):
    """An entry's content and salt do not hash to its content digest."""

    code = "digest_mismatch"


class EventMismatchError(VerificationError):
    """The event or stamp an entry shows disagrees with the header and
    content bytes it commits to."""

    code = "event_mismatch"


class NoQuorumError(VerificationError):
    """A checkpoint the log signed is not cosigned by as many of the trusted
    witnesses as the reader's witness policy demands."""

    code = "no_quorum"


class UnprovenErasureError(VerificationError):
    """An entry's content is said to be erased, but no erasure or retention
    event of the log at a later index, which verified, names its index."""

    code = "unproven_erasure"


class MissingEntryError(VerificationError):
    """The server sent neither an entry nor a withheld leaf for a log index
    that a verified checkpoint covers: an entry was left out without saying
    so. (Raised by Client.verify_log; not part of the shared vectors.)"""

    code = "missing"


@dataclass(frozen=True)
class VerifierKey:
    """A parsed note verifier key for an Ed25519 signing key."""

    #: The key name that signature lines by this key carry; for an agenttrail
    #: log, conventionally its origin.
    name: str
    #: The first 4 bytes, big-endian, of SHA-256(name || "\\n" || 0x01 ||
    #: public key).
    key_hash: int
    #: The 32-byte Ed25519 public key.
    public_key: bytes

    def __str__(self) -> str:
        key = base64.b64encode(bytes([_ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_hash:08x}+{key}"


@dataclass(frozen=True)
class TreeHead:
    """What a verified checkpoint states about the log."""

    #: The log's name, the checkpoint's first line.
    origin: str
    #: The number of leaves in the tree.
    size: int
    #: The 32-byte RFC 6962 root hash of the tree of that size.
    root: bytes


# --- Leaves -----------------------------------------------------------------


def leaf_hash(header: bytes, digest: bytes) -> bytes:
    """Returns the RFC 6962 leaf hash the log commits to for one event:
    SHA-256(0x00 || uint32_be(len(header)) || header || digest), where
    header is the encoded EventHeader exactly as committed and digest is the
    content digest (see :func:`content_digest`).

    Raises ValueError if header is 4 GiB or longer, since its length does not
    fit the 32-bit prefix; :func:`verify_entry` reports such a header as
    :class:`MalformedError`.
    """
    if len(header) > 0xFFFFFFFF:
        raise ValueError(f"header of {len(header)} bytes is too long for a leaf")
    return hashlib.sha256(b"\x00" + struct.pack(">I", len(header)) + header + digest).digest()


def content_digest(salt: bytes, content: bytes) -> bytes:
    """Returns SHA-256(salt || content), the digest through which the log
    commits to an event's content. The salt is 32 bytes chosen by the server;
    content is the encoded Event holding only its non-METADATA fields,
    exactly as committed."""
    return hashlib.sha256(salt + content).digest()


# --- Entries ----------------------------------------------------------------


def verify_entry(entry: entry_pb2.Entry) -> None:
    """Checks that a log entry is what its commitment says, in this order:

    1. The commitment is there; its content digest and leaf hash are 32
       bytes; its salt is empty or 32 bytes; content is never shown without
       its salt; and a view whose content state is CONTENT_STATE_PRESENT
       carries the salt (:class:`MalformedError`).
    2. The leaf hash is :func:`leaf_hash` of the header bytes and the content
       digest (:class:`LeafMismatchError`).
    3. When the salt is present, the digest is :func:`content_digest` of the
       salt and the content bytes (:class:`DigestMismatchError`). Redacted and
       erased views carry no salt: their content cannot be checked, but their
       header can.
    4. The header bytes decode as an EventHeader (:class:`MalformedError`),
       whose received_at and principal equal the entry's stamp, and whose
       event equals the METADATA half of the entry's event
       (:class:`EventMismatchError`). The half is taken as the server splits
       events (store/event.Split in Go): every field whose
       (agenttrail.v1.field_class) is METADATA, going into METADATA fields of
       agenttrail message types field by field; the payload container is
       always kept, so the kind of the event is checked too.
    5. When the salt is present, the content bytes decode as an Event
       (:class:`MalformedError`) equal to the other half of the entry's event
       (:class:`EventMismatchError`).

    Unknown fields are ignored in the comparisons of steps 4 and 5; the bytes
    that hold them are still covered by steps 2 and 3. The entry is not
    modified. It does not check that the leaf is in the log: pass the leaf
    hash and stamp.log_index to :func:`verify_inclusion` for that.
    """
    if not entry.HasField("commitment"):
        raise MalformedError("entry has no commitment")
    c = entry.commitment
    _check_length("content digest", c.content_digest)
    _check_length("leaf hash", c.leaf_hash)
    if len(c.header) > 0xFFFFFFFF:
        raise MalformedError(f"header is {len(c.header)} bytes, more than a leaf's 32-bit length prefix allows")
    salt, content = c.salt, c.content
    if salt and len(salt) != HASH_SIZE:
        raise MalformedError(f"salt is {len(salt)} bytes, want {HASH_SIZE}")
    if not salt and content:
        raise MalformedError("content is shown without its salt, so it cannot be checked")
    if not salt and entry.view.content == entry_pb2.CONTENT_STATE_PRESENT:
        raise MalformedError("view says the content is present, but the salt is missing")

    leaf = leaf_hash(c.header, c.content_digest)
    if leaf != c.leaf_hash:
        raise LeafMismatchError(
            f"leaf hash is {c.leaf_hash.hex()}, but header and content digest hash to {leaf.hex()}"
        )
    if salt:
        digest = content_digest(salt, content)
        if digest != c.content_digest:
            raise DigestMismatchError(
                f"content digest is {c.content_digest.hex()}, but salt and content hash to {digest.hex()}"
            )

    header = entry_pb2.EventHeader()
    try:
        header.ParseFromString(c.header)
    except DecodeError as e:
        raise MalformedError(f"header bytes do not decode as agenttrail.v1.EventHeader: {e}") from None
    header.DiscardUnknownFields()
    stamp = _stamp_of(entry.stamp if entry.HasField("stamp") else None)
    committed_stamp = _stamp_of(header)
    if stamp != committed_stamp:
        raise EventMismatchError(
            f"stamp field {_first_diff(stamp, committed_stamp)} differs from the committed header"
        )

    event = event_pb2.Event()
    event.CopyFrom(entry.event)
    event.DiscardUnknownFields()
    metadata, rest = _split(event)
    if metadata != header.event:
        raise EventMismatchError(
            f"event field {_first_diff(metadata, header.event)} differs from the committed header"
        )

    if salt:
        committed = event_pb2.Event()
        try:
            committed.ParseFromString(content)
        except DecodeError as e:
            raise MalformedError(f"content bytes do not decode as agenttrail.v1.Event: {e}") from None
        committed.DiscardUnknownFields()
        if rest != committed:
            raise EventMismatchError(
                f"event field {_first_diff(rest, committed)} differs from the committed content"
            )


def verify_withheld(withheld: query_service_pb2.WithheldEntry) -> None:
    """Checks a withheld entry, the stand-in a server sends for an entry the
    reader's view may not show: its leaf hash must be 32 bytes
    (:class:`MalformedError`). It carries nothing else to check; pass its
    leaf hash and log index to :func:`verify_inclusion` to prove that the log
    holds that leaf at that index. Report such an entry as withheld, not as
    missing: the log proves it is there, and the server says the reader may
    not see it."""
    _check_length("leaf hash", withheld.leaf_hash)


def erasure_of(entry: entry_pb2.Entry) -> int | None:
    """Returns, for an entry whose content was erased (its view says
    CONTENT_STATE_ERASED), the log index of the Erasure or Retention event
    that erased it, -1 when the view names none; None when the content was
    not erased. An erased entry keeps its header and digest, and passes
    :func:`verify_entry`; :func:`verify_erasure` checks its erasure."""
    if entry.view.content != entry_pb2.CONTENT_STATE_ERASED:
        return None
    return entry.view.erased_by if entry.view.HasField("erased_by") else -1


def names(event: event_pb2.Event, index: int) -> bool | None:
    """Returns whether an Erasure or Retention event names a log index in
    its log_indexes or ranges; None when the event is neither."""
    kind = event.WhichOneof("payload")
    if kind == "erasure":
        if index in event.erasure.log_indexes:
            return True
        ranges = event.erasure.ranges
    elif kind == "retention":
        ranges = event.retention.ranges
    else:
        return None
    return any(r.first <= index <= r.last for r in ranges)


def verify_erasure(erased: entry_pb2.Entry, erasure: entry_pb2.Entry) -> None:
    """Checks that ``erasure`` is the logged event that accounts for the
    missing content of ``erased``, as the Go verifier's CheckErasure does:
    erased's view says its content was erased (and, when it names the
    erasure, names this one); erasure passes :func:`verify_entry`; it is an
    Erasure or Retention event at a later index whose committed header names
    erased's index. Raises :class:`MalformedError` or
    :class:`EventMismatchError`. Check the erasure's inclusion in the log as
    for any entry."""
    index, at = erased.stamp.log_index, erasure.stamp.log_index
    by = erasure_of(erased)
    if by is None:
        raise MalformedError(f"entry {index} is not erased in its view")
    if by >= 0 and by != at:
        raise EventMismatchError(f"entry {index} names erasure {by}, not {at}")
    if at <= index:
        raise EventMismatchError(f"erasure {at} is not later than the entry {index} it would erase")
    verify_entry(erasure)
    # verify_entry proved the event shown carries the committed header's
    # METADATA fields, which hold every index the erasure names.
    named = names(erasure.event, index)
    if named is None:
        raise EventMismatchError(f"entry {at} is neither an Erasure nor a Retention event")
    if not named:
        raise EventMismatchError(f"erasure {at} does not name entry {index}")


def _check_length(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise MalformedError(f"{what} is {len(value)} bytes, want {HASH_SIZE}")


def _stamp_of(source: entry_pb2.Stamp | entry_pb2.EventHeader | None) -> entry_pb2.EventHeader:
    """Returns an EventHeader holding only the received_at and principal of a
    stamp or header, presence included, for comparison."""
    out = entry_pb2.EventHeader()
    if source is not None:
        if source.HasField("received_at"):
            out.received_at.CopyFrom(source.received_at)
        out.principal = source.principal
    return out


_METADATA = field_class_pb2.FIELD_CLASS_METADATA
_MODEL_PACKAGE = event_pb2.DESCRIPTOR.package


def _class_of(fd: FieldDescriptor) -> int:
    """The (agenttrail.v1.field_class) of a field, 0 when it declares none."""
    value: int = fd.GetOptions().Extensions[field_class_pb2.field_class]
    return value


def _is_container(fd: FieldDescriptor) -> bool:
    """A singular METADATA field of an agenttrail message type, whose own
    fields are split one by one (store/event.IsContainer in Go)."""
    return (
        fd.message_type is not None
        and not fd.is_repeated
        and fd.message_type.file.package == _MODEL_PACKAGE
        and _class_of(fd) == _METADATA
    )


def _split(event: event_pb2.Event) -> tuple[event_pb2.Event, event_pb2.Event]:
    """Splits an event into its METADATA half and the rest, as the server
    does (store/event.Split in Go). The event is not modified."""
    header, content = event_pb2.Event(), event_pb2.Event()
    header.CopyFrom(event)
    content.CopyFrom(event)
    _keep(header, metadata=True)
    _keep(content, metadata=False)
    return header, content


def _keep(message: Message, metadata: bool) -> None:
    """Clears every field of the other half. Containers stay in the METADATA
    half even when empty, and leave the other half when empty."""
    for fd, value in message.ListFields():
        if _is_container(fd):
            _keep(value, metadata)
            if not metadata and not value.ListFields():
                message.ClearField(fd.name)
        elif (_class_of(fd) == _METADATA) != metadata:
            message.ClearField(fd.name)


def _first_diff(a: Message, b: Message) -> str:
    """Names the first field, in declaration order and as a dotted path, whose
    presence or value differs between two messages of one type."""
    return _diff_path(a, b) or "(none found)"


def _diff_path(a: Message, b: Message) -> str:
    fields_a = {fd.number: v for fd, v in a.ListFields()}
    fields_b = {fd.number: v for fd, v in b.ListFields()}
    for fd in a.DESCRIPTOR.fields:
        in_a, in_b = fd.number in fields_a, fd.number in fields_b
        if in_a != in_b:
            return fd.name
        if not in_a:
            continue
        va, vb = fields_a[fd.number], fields_b[fd.number]
        if fd.message_type is not None and not fd.is_repeated:
            sub = _diff_path(va, vb)
            if sub:
                return f"{fd.name}.{sub}"
        elif fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            if dict(va) != dict(vb):
                return fd.name
        elif fd.is_repeated:
            if list(va) != list(vb):
                return fd.name
        elif va != vb:
            return fd.name
    return ""


# --- Proofs -----------------------------------------------------------------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _check_size(what: str, value: int) -> None:
    if value < 0:
        raise MalformedError(f"{what} {value} is negative")


def _check_proof(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        if len(h) != HASH_SIZE:
            raise MalformedError(f"proof hash {i} is {len(h)} bytes, want {HASH_SIZE}")


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Checks an RFC 6962 inclusion proof with the algorithm of RFC 9162,
    section 2.1.3.2: that leaf is the leaf hash at index in the tree of the
    given size and root hash. The proof is the audit path from the leaf's
    sibling up, as GetInclusionProofResponse.hashes carries it.

    Raises :class:`MalformedError` when the leaf hash, root or a proof hash is
    not 32 bytes or index or size is negative, and :class:`BadProofError`
    when the size exceeds 2^63-1, the index is not below the size, or the
    proof does not lead from the leaf to the root with exactly the hashes a
    proof for that index and size has.
    """
    _check_length("leaf hash", leaf)
    _check_length("root hash", root)
    _check_size("index", index)
    _check_size("tree size", size)
    _check_proof(proof)
    if size > _MAX_TREE_SIZE:
        raise BadProofError(f"tree size {size} is larger than 2^63-1")
    if index >= size:
        raise BadProofError(f"index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    ok = True
    for p in proof:
        if sn == 0:
            ok = False
            break
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if not ok or sn != 0 or r != root:
        raise BadProofError(
            f"inclusion proof of {len(proof)} hashes does not lead from leaf {leaf.hex()} "
            f"at index {index} to root {root.hex()} of tree size {size}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Checks an RFC 6962 consistency proof with the algorithm of RFC 9162,
    section 2.1.4.2: that the tree of old_size leaves with root old_root is
    a prefix of the tree of new_size leaves with root new_root. The proof is
    as GetConsistencyProofResponse.hashes carries it.

    Equal sizes need an empty proof and equal roots. Every tree extends the
    empty tree, so old_size 0 needs an empty proof and old_root equal to the
    empty tree's root, SHA-256 of nothing (and so does new_root when new_size
    is 0 too).

    Raises :class:`MalformedError` when a root or proof hash is not 32 bytes
    or a size is negative, and :class:`BadProofError` when new_size exceeds
    2^63-1, old_size exceeds new_size, or the proof does not lead to both
    roots with exactly the hashes a proof for those sizes has.
    """
    _check_length("old root hash", old_root)
    _check_length("new root hash", new_root)
    _check_size("old tree size", old_size)
    _check_size("new tree size", new_size)
    _check_proof(proof)
    if new_size > _MAX_TREE_SIZE:
        raise BadProofError(f"tree size {new_size} is larger than 2^63-1")
    if old_size > new_size:
        raise BadProofError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size == 0:
        if proof:
            raise BadProofError(f"a consistency proof from the empty tree has no hashes, got {len(proof)}")
        if old_root != _EMPTY_ROOT:
            raise BadProofError(f"old root {old_root.hex()} is not the empty tree's root {_EMPTY_ROOT.hex()}")
        if new_size == 0 and new_root != _EMPTY_ROOT:
            raise BadProofError(f"new root {new_root.hex()} is not the empty tree's root {_EMPTY_ROOT.hex()}")
        return
    if not _consistent(old_size, new_size, old_root, new_root, proof):
        raise BadProofError(
            f"consistency proof of {len(proof)} hashes does not show tree size {old_size} "
            f"(root {old_root.hex()}) to be a prefix of tree size {new_size} (root {new_root.hex()})"
        )


def _consistent(first: int, second: int, first_hash: bytes, second_hash: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162, section 2.1.4.2, for 0 < first <= second."""
    if first == second:
        return not proof and first_hash == second_hash
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_hash and sr == second_hash and sn == 0


# --- Verifier keys ------------------------------------------------------------

# Exactly the strings that standard, padded base64 (RFC 4648, section 4)
# decodes; the Go and TypeScript verifiers use the same expression.
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_KEY_HASH = re.compile(r"[0-9a-fA-F]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
# Unicode white space as Go's unicode.IsSpace sees it (the White_Space
# property), which the signed-note rules forbid in key names.
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _b64decode(s: str) -> bytes | None:
    """Decodes standard padded base64, or returns None."""
    if not _BASE64.fullmatch(s):
        return None
    return base64.b64decode(s)


def _key_name_error(name: str) -> str | None:
    """Says which signed-note rule for key names a name breaks, if any. ASCII
    control characters, which no signed note may hold, are refused too, so
    that a key that could never match a signature line is rejected at once."""
    if not name:
        return "empty"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return f"{name!r} is not valid UTF-8"
    if any(ch in _WHITE_SPACE for ch in name):
        return f"{name!r} contains white space"
    if any(ch < " " for ch in name):
        return f"{name!r} contains a control character"
    if "+" in name:
        return f"{name!r} contains '+'"
    return None


def _key_hash(name: str, key: bytes) -> int:
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + key).digest()
    return int.from_bytes(digest[:4], "big")


def parse_verifier_key(key: str) -> VerifierKey:
    """Parses a note verifier key ``<name>+<key hash>+<key>``, as
    GetVerifierKeyResponse.verifier_key and golang.org/x/mod/sumdb/note print
    it: name is non-empty valid UTF-8 with neither Unicode white space, nor
    ASCII control characters, nor "+"; key hash is 8 hexadecimal digits; key
    is the standard, padded base64 of the byte 0x01 (Ed25519) followed by the
    32-byte public key; and the key hash is that of the name and key. Raises
    :class:`MalformedError` saying which rule any other input breaks.
    """
    name, sep1, rest = key.partition("+")
    hash16, sep2, key64 = rest.partition("+")
    if not sep1 or not sep2:
        raise MalformedError(f"verifier key {key!r} is not <name>+<key hash>+<base64 key>")
    problem = _key_name_error(name)
    if problem:
        raise MalformedError(f"verifier key name: {problem}")
    if not _KEY_HASH.fullmatch(hash16):
        raise MalformedError(f"verifier key hash {hash16!r} is not 8 hexadecimal digits")
    raw = _b64decode(key64)
    if raw is None:
        raise MalformedError(f"verifier key {key64!r} is not standard padded base64")
    if len(raw) != 33 or raw[0] != _ALG_ED25519:
        first = raw[0] if raw else 0
        raise MalformedError(
            "verifier key must be the byte 0x01 (Ed25519) and a 32-byte public key, "
            f"got {len(raw)} bytes starting 0x{first:02x}"
        )
    key_hash = int(hash16, 16)
    want = _key_hash(name, raw)
    if key_hash != want:
        raise MalformedError(f"verifier key hash is {key_hash:08x}, but name and key hash to {want:08x}")
    return VerifierKey(name=name, key_hash=key_hash, public_key=raw[1:])


# --- Checkpoints ----------------------------------------------------------------


def verify_checkpoint(note: bytes, verifier_key: str, origin: str) -> TreeHead:
    """Opens a C2SP tlog-checkpoint signed note (the bytes of
    Checkpoint.signed_note) with a verifier key in the form
    :func:`parse_verifier_key` accepts, checks that it is the checkpoint of
    the log named origin, and returns the tree head it states. The checks,
    in order, which are those of golang.org/x/mod/sumdb/note's Open:

    1. The verifier key parses (:class:`MalformedError`).
    2. The note follows the signed-note format (:class:`MalformedError`):
       valid UTF-8 without control characters other than newline; a text
       ending in a newline; a blank line; then one to 100 signature lines
       "— <key name> <base64 of key hash and signature>", each ending in a
       newline. The text ends at the last blank line.
    3. Signature lines are taken in order. A line whose key name and key hash
       are not the verifier key's is ignored; the first line that matches
       must verify over the note text, its final newline included
       (:class:`BadSignatureError`), and later repeats of it are ignored. A
       note with no matching line is rejected (:class:`NoSignatureError`).
    4. The text is a checkpoint body (:class:`MalformedError`): at least three
       lines, none empty: the origin, the tree size in decimal without leading
       zeros (at most 2^64-1), and the standard base64 of a 32-byte root hash.
       Extension lines may follow; they are signed, and otherwise ignored.
    5. The origin line equals origin (:class:`OriginMismatchError`).
    """
    key = parse_verifier_key(verifier_key)
    text = _open_note(note, key)
    head = _parse_checkpoint(text.decode("utf-8"))
    if head.origin != origin:
        raise OriginMismatchError(f"checkpoint is for origin {head.origin!r}, want {origin!r}")
    return head


def _open_note(note: bytes, key: VerifierKey) -> bytes:
    """Checks a signed note's format and its signature by key, as
    golang.org/x/mod/sumdb/note's Open does, and returns its text."""
    bad_utf8 = None
    try:
        note.decode("utf-8")
    except UnicodeDecodeError as e:
        bad_utf8 = e.start
    control = re.search(rb"[\x00-\x09\x0b-\x1f]", note)
    if control and (bad_utf8 is None or control.start() < bad_utf8):
        raise MalformedError(
            f"note has control character 0x{note[control.start()]:02x} at byte {control.start()}; "
            "only newline is allowed"
        )
    if bad_utf8 is not None:
        raise MalformedError(f"note is not valid UTF-8 at byte {bad_utf8}")

    split = note.rfind(b"\n\n")
    if split < 0:
        raise MalformedError("note has no blank line between its text and its signatures")
    text, sigs = note[: split + 1], note[split + 2 :]
    if not sigs:
        raise MalformedError("note has no signature lines after its last blank line")
    if not sigs.endswith(b"\n"):
        raise MalformedError("note does not end with a newline")

    verified = seen = False
    others: list[str] = []
    for n, line in enumerate(sigs[:-1].split(b"\n"), start=1):
        if not line.startswith(_SIG_PREFIX):
            raise MalformedError(f"signature line {n} does not start with an em dash (U+2014) and a space")
        name, _, b64 = line[len(_SIG_PREFIX) :].decode("utf-8").partition(" ")
        problem = _key_name_error(name)
        if problem:
            raise MalformedError(f"signature line {n}: key name: {problem}")
        sig = _b64decode(b64)
        if sig is None or not b64:
            raise MalformedError(f"signature line {n}: signature {b64!r} is not standard padded base64")
        if len(sig) < 5:
            raise MalformedError(
                f"signature line {n}: signature is {len(sig)} bytes, want a 4-byte key hash and a signature"
            )
        if n > _MAX_SIGNATURES:
            raise MalformedError(f"note has more than {_MAX_SIGNATURES} signature lines")
        key_hash = int.from_bytes(sig[:4], "big")
        if name != key.name or key_hash != key.key_hash:
            others.append(f"{name}+{key_hash:08x}")
            continue
        if seen:
            continue
        seen = True
        if not _ed25519_verify(key.public_key, text, sig[4:]):
            raise BadSignatureError(
                f"the signature by {key.name}+{key.key_hash:08x} does not verify over the note text"
            )
        verified = True
    if not verified:
        has = "signatures by " + ", ".join(dict.fromkeys(others)) if others else "no other signatures"
        raise NoSignatureError(f"note has no signature by {key.name}+{key.key_hash:08x} (it has {has})")
    return text


def _ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(signature) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _parse_checkpoint(text: str) -> TreeHead:
    """Parses a checkpoint body: a note text, which ends in a newline."""
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedError(
            f"checkpoint has {len(lines)} lines, want at least 3: origin, tree size, root hash"
        )
    for i, line in enumerate(lines, start=1):
        if not line:
            raise MalformedError(f"checkpoint line {i} is empty")
    if not _DECIMAL.fullmatch(lines[1]):
        raise MalformedError(
            f"checkpoint tree size {lines[1]!r} is not a decimal number without leading zeros"
        )
    size = int(lines[1])
    if size > _MAX_UINT64:
        raise MalformedError(f"checkpoint tree size {lines[1]} is larger than 2^64-1")
    root = _b64decode(lines[2])
    if root is None:
        raise MalformedError(f"checkpoint root hash {lines[2]!r} is not standard padded base64")
    if len(root) != HASH_SIZE:
        raise MalformedError(f"checkpoint root hash is {len(root)} bytes, want {HASH_SIZE}")
    return TreeHead(origin=lines[0], size=size, root=root)


# --- Witnesses ----------------------------------------------------------------

_ALG_COSIGNATURE_V1 = 0x04


@dataclass(frozen=True)
class WitnessKey:
    """A parsed witness (cosigner) key: C2SP tlog-cosignature, cosignature/v1
    over Ed25519, the signed-note key type 0x04."""

    #: The witness's name, which its signature lines carry.
    name: str
    #: The first 4 bytes, big-endian, of SHA-256(name || "\n" || 0x04 ||
    #: public key).
    key_hash: int
    #: The 32-byte Ed25519 public key.
    public_key: bytes

    def __str__(self) -> str:
        key = base64.b64encode(bytes([_ALG_COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_hash:08x}+{key}"


@dataclass(frozen=True)
class Cosignature:
    """A witness's cosignature that verified."""

    #: The witness's name and key hash.
    witness: str
    key_hash: int
    #: When the witness cosigned, in POSIX seconds, as it says.
    timestamp: int


def parse_witness_key(key: str) -> WitnessKey:
    """Parses a witness's cosignature/v1 verifier key
    ``<name>+<key hash>+<base64 of 0x04 and the Ed25519 public key>`` with
    the rules of :func:`parse_verifier_key` but the type byte 0x04. Raises
    :class:`MalformedError` saying which rule any other input breaks."""
    name, sep1, rest = key.partition("+")
    hash16, sep2, key64 = rest.partition("+")
    if not sep1 or not sep2:
        raise MalformedError(f"witness key {key!r} is not <name>+<key hash>+<base64 key>")
    problem = _key_name_error(name)
    if problem:
        raise MalformedError(f"witness key name: {problem}")
    if not _KEY_HASH.fullmatch(hash16):
        raise MalformedError(f"witness key hash {hash16!r} is not 8 hexadecimal digits")
    raw = _b64decode(key64)
    if raw is None:
        raise MalformedError(f"witness key {key64!r} is not standard padded base64")
    if len(raw) != 33 or raw[0] != _ALG_COSIGNATURE_V1:
        first = raw[0] if raw else 0
        raise MalformedError(
            "witness key must be the byte 0x04 (cosignature/v1, Ed25519) and a 32-byte public key, "
            f"got {len(raw)} bytes starting 0x{first:02x}"
        )
    key_hash = int(hash16, 16)
    want = _key_hash(name, raw)
    if key_hash != want:
        raise MalformedError(f"witness key hash is {key_hash:08x}, but name and key hash to {want:08x}")
    return WitnessKey(name=name, key_hash=key_hash, public_key=raw[1:])


def verify_cosigned_checkpoint(
    note: bytes, verifier_key: str, origin: str, witness_keys: Sequence[str], quorum: int
) -> tuple[TreeHead, list[Cosignature]]:
    """Opens a checkpoint as :func:`verify_checkpoint` does, and demands that
    a quorum of trusted witnesses cosigned it (C2SP tlog-cosignature,
    cosignature/v1). The checks, in order, as in Go
    (store/commitment.OpenCosignedCheckpoint):

    1. The policy: each witness key parses (:func:`parse_witness_key`), no
       key is given twice, and 1 <= quorum <= len(witness_keys)
       (:class:`MalformedError`).
    2. The checkpoint verifies with the log's key (:func:`verify_checkpoint`).
    3. Signature lines are taken in order; a line whose name and key hash
       are a trusted witness's must verify as a cosignature/v1 over
       "cosignature/v1\ntime <timestamp>\n" and the note text: 8 bytes of
       big-endian timestamp then a 64-byte Ed25519 signature
       (:class:`BadSignatureError`). Repeats of a witness after its first
       line, and lines of other keys, are ignored.
    4. At least quorum distinct trusted witnesses cosigned
       (:class:`NoQuorumError`).

    Returns the tree head and the cosignatures that verified, in line order.
    """
    witnesses: list[WitnessKey] = []
    for k in witness_keys:
        w = parse_witness_key(k)
        if any(o.name == w.name and o.key_hash == w.key_hash for o in witnesses):
            raise MalformedError(f"witness key {w.name}+{w.key_hash:08x} is given twice")
        witnesses.append(w)
    if not witnesses:
        raise MalformedError("a witness policy needs at least one witness key")
    if quorum < 1 or quorum > len(witnesses):
        raise MalformedError(f"quorum {quorum} of {len(witnesses)} witness keys")
    head = verify_checkpoint(note, verifier_key, origin)
    split = note.rfind(b"\n\n")
    text, sigs = note[: split + 1], note[split + 2 :]
    seen: set[tuple[str, int]] = set()
    cosigs: list[Cosignature] = []
    for line in sigs[:-1].split(b"\n"):
        name, _, b64 = line[len(_SIG_PREFIX) :].decode("utf-8").partition(" ")
        sig = _b64decode(b64) or b""
        key_hash = int.from_bytes(sig[:4], "big")
        signer = next((o for o in witnesses if o.name == name and o.key_hash == key_hash), None)
        if signer is None or (name, key_hash) in seen:
            continue
        seen.add((name, key_hash))
        body = sig[4:]
        timestamp = int.from_bytes(body[:8], "big") if len(body) >= 8 else 0
        message = b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + text
        if len(body) != 8 + 64 or not _ed25519_verify(signer.public_key, message, body[8:]):
            raise BadSignatureError(
                f"the cosignature by witness {signer.name}+{signer.key_hash:08x} does not verify over the checkpoint"
            )
        cosigs.append(Cosignature(witness=signer.name, key_hash=signer.key_hash, timestamp=timestamp))
    if len(cosigs) < quorum:
        has = "only " + ", ".join(c.witness for c in cosigs) if cosigs else "none of them"
        raise NoQuorumError(
            f"the checkpoint of size {head.size} needs cosignatures by {quorum} of {len(witnesses)} "
            f"trusted witnesses, it has {has}"
        )
    return head, cosigs


# --- Erasures ---------------------------------------------------------------------


def erased_by(event: event_pb2.Event) -> list[tuple[int, int]]:
    """Returns the index ranges (first, last) whose content an event says it
    destroyed: each of Erasure.log_indexes, and Erasure.ranges; or
    Retention.ranges (from_index and to_index only bound them). A range whose
    last index is below its first names nothing."""
    out: list[tuple[int, int]] = []
    ranges: list[Any] = []
    kind = event.WhichOneof("payload")
    if kind == "erasure":
        out.extend((i, i) for i in event.erasure.log_indexes)
        ranges = list(event.erasure.ranges)
    elif kind == "retention":
        ranges = list(event.retention.ranges)
    out.extend((r.first, r.last) for r in ranges if r.last >= r.first)
    return out


class ErasureLedger:
    """Checks that erased content is accounted for: content may be missing
    only where an erasure or retention event of the same log, at a later
    index, names the index. Note every entry that verified, in any order,
    then call :meth:`check`."""

    def __init__(self) -> None:
        self._erased: list[int] = []
        self._named: list[tuple[int, int, int]] = []

    def note(self, index: int, event: event_pb2.Event, erased: bool) -> None:
        """Records an entry at index that verified: whether its content is
        erased, and what it names if it is an erasure or retention event."""
        if erased:
            self._erased.append(index)
        self._named.extend((first, last, index) for first, last in erased_by(event))

    @property
    def erased(self) -> int:
        """How many erased entries were noted."""
        return len(self._erased)

    def unproven(self) -> list[int]:
        """The erased indexes, in order, that no later erasure or retention
        event noted names."""
        return sorted(
            i for i in self._erased if not any(f <= i <= last and at > i for f, last, at in self._named)
        )

    def check(self) -> None:
        """Raises :class:`UnprovenErasureError` naming the first erased index
        that no later erasure or retention event names."""
        u = self.unproven()
        if u:
            raise UnprovenErasureError(
                f"the content of entry {u[0]} is erased, but no later erasure or retention event "
                f"of the log names index {u[0]} ({len(u)} such entries)"
            )
