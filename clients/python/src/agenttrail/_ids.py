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

_POOL_SIZE = 16384  # random bytes read at a time (about 4000 ids), kept as hex digits

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_pool = ""  # random hex digits
_pool_at = 0
# The id up to its last group, for _last_ms and the counter's bits above
# the low 16 (None: to make again), and those bits.
_prefix: str | None = None
_prefix_hi = -1
#: Two hex digits for each byte: the counter's low 16 bits in the last
#: group are two lookups, cheaper than formatting an int.
_HEX2 = tuple(f"{i:02x}" for i in range(256))


def _reset_after_fork() -> None:
    """Drops the random pool and clock state in a forked child, which must
    never reuse its parent's random bits."""
    global _lock, _pool, _pool_at, _last_ms, _counter, _prefix
    _lock = threading.Lock()
    _pool, _pool_at, _last_ms, _counter, _prefix = "", 0, 0, 0, None


os.register_at_fork(after_in_child=_reset_after_fork)


def uuid7() -> uuid.UUID:
    """Returns a new UUIDv7 (RFC 9562): 48 bits of Unix time in
    milliseconds, then a 42-bit counter and 32 random bits (from
    os.urandom). Ids from one process are strictly increasing, so they sort
    by creation time; the random bits keep ids of different processes apart.
    Thread-safe, and safe across os.fork.

    agenttrail clients use these as event ids (Event.event_id), the
    idempotency key of Append, and as default session ids.
    """
    return uuid.UUID(uuid7_str())


def uuid7_str() -> str:
    """Returns :func:`uuid7` as its canonical lowercase string, without the
    cost of building a uuid.UUID: the groups before the last change at most
    once a millisecond (and every 65,536 ids within one), so they are
    formatted once and reused."""
    global _last_ms, _counter, _pool, _pool_at, _prefix, _prefix_hi
    ms = time.time_ns() // 1_000_000
    with _lock:
        # The random bits come from os.urandom, read thousands of ids' worth at a
        # time: os.urandom releases the interpreter lock, and an agent's
        # thread that released it for every event would wait for the
        # delivery threads to hand it back.
        at = _pool_at
        if at + 19 > len(_pool):
            _pool, at = os.urandom(_POOL_SIZE).hex(), 0
        rand = _pool[at : at + 8]  # 32 random bits
        if ms > _last_ms:
            _last_ms, _counter, _prefix = ms, int(_pool[at + 8 : at + 19], 16) & _SEED_MASK, None
            at += 19
        else:
            # Same millisecond, or the clock went back: keep counting.
            _counter += 1
            if _counter > _COUNTER_MAX:
                _last_ms, _counter, _prefix = _last_ms + 1, int(_pool[at + 8 : at + 19], 16) & _SEED_MASK, None
                at += 19
            else:
                at += 8
        _pool_at = at
        counter = _counter
        if _prefix is None or counter >> 16 != _prefix_hi:
            _prefix_hi = counter >> 16
            _prefix = "%08x-%04x-%04x-%04x-" % (
                (_last_ms >> 16) & 0xFFFF_FFFF,
                _last_ms & 0xFFFF,
                0x7000 | counter >> 30,
                0x8000 | (counter >> 16) & 0x3FFF,
            )
        return f"{_prefix}{_HEX2[(counter >> 8) & 0xFF]}{_HEX2[counter & 0xFF]}{rand}"
