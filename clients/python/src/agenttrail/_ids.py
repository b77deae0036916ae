"""UUIDv7 event ids (RFC 9562, section 5.7), which sort by creation time.

Python 3.11 has no uuid7 (3.14 added one, with the layout used here):

    bits  0-47   unix_ts_ms   milliseconds since the Unix epoch
    bits 48-51   ver          0b0111
    bits 52-63   counter_hi   high 12 bits of a 42-bit counter  (rand_a)
    bits 64-65   var          0b10
    bits 66-95   counter_lo   low 30 bits of the counter        (rand_b)
    bits 96-127  random       32 fresh random bits               (rand_b)

The counter is RFC 9562's "fixed bit-length dedicated counter" (section 6.2,
method 1): seeded with 41 random bits (the top bit clear, to leave room to
count) whenever the millisecond changes, and incremented for every further id
in the same millisecond, so ids made by one process are strictly increasing
even within a millisecond and when the clock steps back. Should the counter
overflow, the timestamp is advanced by one millisecond, as the RFC allows.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

__all__ = ["uuid7"]

_COUNTER_BITS = 42
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1
_SEED_MASK = (1 << (_COUNTER_BITS - 1)) - 1
_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62

_POOL_SIZE = 4000  # random bytes read at a time: 400 ids

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_pool = b""
_pool_at = 0


def _reset_after_fork() -> None:
    """Drops the random pool and clock state in a forked child, which must
    never reuse its parent's random bits."""
    global _lock, _pool, _pool_at, _last_ms, _counter
    _lock = threading.Lock()
    _pool, _pool_at, _last_ms, _counter = b"", 0, 0, 0


os.register_at_fork(after_in_child=_reset_after_fork)


def _next() -> tuple[int, int, int]:
    """Returns the next UUIDv7 of this process as its timestamp, counter and
    32 random bits."""
    global _last_ms, _counter, _pool, _pool_at
    ms = time.time_ns() // 1_000_000
    with _lock:
        # The random bits come from os.urandom, read 400 ids' worth at a
        # time: os.urandom releases the interpreter lock, and an agent's
        # thread that released it for every event would wait for the
        # delivery threads to hand it back.
        if _pool_at + 10 > len(_pool):
            _pool, _pool_at = os.urandom(_POOL_SIZE), 0
        rand = int.from_bytes(_pool[_pool_at : _pool_at + 10], "big")  # 80 bits: 41 seed, 32 random
        _pool_at += 10
        if ms > _last_ms:
            _last_ms, _counter = ms, (rand >> 32) & _SEED_MASK
        else:
            # Same millisecond, or the clock went back: keep counting.
            _counter += 1
            if _counter > _COUNTER_MAX:
                _last_ms, _counter = _last_ms + 1, (rand >> 32) & _SEED_MASK
        return _last_ms, _counter, rand & 0xFFFF_FFFF


def uuid7() -> uuid.UUID:
    """Returns a new UUIDv7 (RFC 9562): 48 bits of Unix time in
    milliseconds, then a 42-bit counter and 32 random bits (from
    os.urandom). Ids from one process are strictly increasing, so they sort
    by creation time; the random bits keep ids of different processes apart.
    Thread-safe, and safe across os.fork.

    agenttrail clients use these as event ids (Event.event_id), the
    idempotency key of Append, and as default session ids.
    """
    ms, counter, rand = _next()
    return uuid.UUID(
        int=(ms & 0xFFFF_FFFF_FFFF) << 80
        | _VERSION
        | (counter >> 30) << 64
        | _VARIANT
        | (counter & 0x3FFF_FFFF) << 32
        | rand
    )


def uuid7_str() -> str:
    """Returns :func:`uuid7` as its canonical lowercase string, without the
    cost of building a uuid.UUID."""
    ms, counter, rand = _next()
    # The five groups of the canonical form, from the fields directly.
    return "%08x-%04x-%04x-%04x-%012x" % (
        (ms >> 16) & 0xFFFF_FFFF,
        ms & 0xFFFF,
        0x7000 | counter >> 30,
        0x8000 | (counter >> 16) & 0x3FFF,
        (counter & 0xFFFF) << 32 | rand,
    )
