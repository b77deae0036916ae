"""agenttrail.uuid7: RFC 9562 UUIDv7 event ids."""

from __future__ import annotations

import os
import threading
import time
import uuid

from agenttrail import uuid7
from agenttrail._ids import uuid7_str


def test_layout_version_and_variant() -> None:
    u = uuid7()
    assert isinstance(u, uuid.UUID)
    assert u.version == 7
    assert u.variant == uuid.RFC_4122
    assert (u.int >> 76) & 0xF == 7
    assert (u.int >> 62) & 0b11 == 0b10


def test_timestamp_is_unix_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    u = uuid7()
    after = time.time_ns() // 1_000_000
    ms = u.int >> 80
    # The counter may carry the timestamp a millisecond ahead, never more
    # here, where few ids are made.
    assert before <= ms <= after + 1


def test_strictly_increasing_within_a_process() -> None:
    ids = [uuid7().int for _ in range(50_000)]
    assert all(a < b for a, b in zip(ids, ids[1:]))


def test_string_form_is_canonical_and_sorts_like_the_ids() -> None:
    before = time.time_ns() // 1_000_000
    strings = [uuid7_str() for _ in range(1000)]
    after = time.time_ns() // 1_000_000
    for s in strings:
        u = uuid.UUID(s)
        assert str(u) == s
        assert (u.version, u.variant) == (7, uuid.RFC_4122)
        assert before <= u.int >> 80 <= after + 1
    assert strings == sorted(strings)
    mixed = [str(uuid7()), uuid7_str(), str(uuid7()), uuid7_str()]
    assert mixed == sorted(mixed), "both forms come from one sequence"


def test_unique_across_threads() -> None:
    out: list[list[str]] = [[] for _ in range(4)]

    def make(bucket: list[str]) -> None:
        bucket.extend(uuid7_str() for _ in range(10_000))

    threads = [threading.Thread(target=make, args=(b,)) for b in out]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [s for b in out for s in b]
    assert len(set(every)) == len(every)
    for b in out:
        assert b == sorted(b)


def test_a_forked_child_draws_its_own_random_bits() -> None:
    uuid7_str()  # the parent has a pool of random bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write one id and leave at once
        try:
            os.write(write, uuid7_str().encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = uuid7_str()
    assert child and child != parent
    assert uuid.UUID(child).int & 0xFFFF_FFFF != uuid.UUID(parent).int & 0xFFFF_FFFF
