"""Background delivery of events over one AppendService.Append stream.

Logging an event builds and encodes its AppendRequest on the calling thread
and hands the bytes to :meth:`Delivery.put`, which only appends them to an
inbox (a ``queue.SimpleQueue``, whose put never blocks), and the event's id,
session id and payload name to a deque beside it, and, when the inbox was
empty, rings a doorbell (another SimpleQueue). The calling thread never
takes a lock that a background thread holds, so it never waits for one that
grpcio's threads are slow to release; and it leaves in the buffer only
bytes and strings, objects the garbage collector does not track: a
container (a tuple) per event would add one to the collector's count of
new objects for every event waiting, and the calling thread would run a
collection every few hundred events. Everything else happens on background
threads:

- The delivery thread opens an Append stream when there is something to
  send. grpcio's bidirectional streaming takes a request iterator
  (:meth:`Delivery._requests`, run by grpcio's own sending thread) and
  returns a response iterator, which the delivery thread reads.
- Batching: when the request iterator finds fewer than ``batch_size``
  events waiting it first waits ``linger`` seconds for more (not when
  someone flushes or closes), then hands every waiting event to grpcio back
  to back, so a busy agent costs one wake-up per batch, not per event.
- Batched frames: once the server has said, in the response headers of
  the stream (``agenttrail-append-batch``), that it takes several events
  in one request, the request iterator sends what is waiting as one
  request of up to that many events (at most 256, and ``max_message_bytes``)
  instead of one request per event: the encoded requests are joined as
  they are, each event moved from ``event`` to ``events``. The server
  answers such a frame with one response whose results hold one answer per
  event, in order. The header comes with the first response, so the
  request iterator sends a stream's first request alone and then waits for
  its answer (at most ``FIRST_ANSWER_WAIT`` seconds) before it sends more:
  what queues up meanwhile goes out in frames, however late the delivery
  thread gets to read the header. The wait delays no receipt, as the server
  answers in request order: nothing sent after the first request could be
  answered before it. From servers that predate batched frames each event
  goes in its own request.
- The server answers every request with exactly one response, in request
  order, so each response belongs to the oldest request in flight. A receipt
  acknowledges it; a rejection (INVALID_ARGUMENT, ALREADY_EXISTS,
  PERMISSION_DENIED, RESOURCE_EXHAUSTED) is final and is surfaced, never
  retried. A rejection with UNAVAILABLE means the server is shutting down:
  that event and everything after it is resent on a new stream.
- When the stream breaks, every event not yet acknowledged goes back to the
  front of the queue, in its original order, and is sent again on a new
  stream after an exponential backoff with full jitter. Events keep their
  event ids, so the server's idempotency makes a resent event that was
  already committed return its original receipt (duplicate=true) instead of
  being stored twice. A stream that fails with a status no retry can fix
  (UNAUTHENTICATED, PERMISSION_DENIED, UNIMPLEMENTED, INVALID_ARGUMENT,
  FAILED_PRECONDITION, NOT_FOUND, ALREADY_EXISTS, OUT_OF_RANGE) rejects every
  event that was waiting, with that status.
- A stream with nothing to send and nothing in flight for ``idle_timeout``
  seconds is ended (the request iterator returns, half-closing it); the next
  event opens a new one. An idle agent holds nothing on the server, and
  never keeps a server that shuts down waiting for its stream.

The buffer counts every event not yet answered (waiting or in flight); what
happens when it is full is the ``on_full`` policy.
"""

from __future__ import annotations

import collections
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import grpc

from agenttrail.errors import BufferFullError, ClientClosedError, DeliveryError, DeliveryTimeoutError
from agenttrail.v1 import append_service_pb2

__all__ = ["APPEND_METHOD", "Delivery", "DeliveryStats", "OnFull", "RejectedEvent"]

log = logging.getLogger("agenttrail")

#: A count of answers never reached.
_NEVER = 1 << 62

#: What logging an event does when the buffer is full: wait for room
#: ("block") or discard the new event and count it ("drop").
OnFull = Literal["block", "drop"]

#: The full name of the Append method.
APPEND_METHOD = "/agenttrail.v1.AppendService/Append"

#: The response header by which a server says that it takes batched
#: Append frames, and how many events one may hold.
BATCH_HEADER = "agenttrail-append-batch"

#: The most events the client sends in one batched frame.
MAX_FRAME_EVENTS = 256

#: The longest the request iterator waits, after a stream's first request,
#: for its answer (which brings the batch header) before it sends more. It
#: bounds the wait on a server that would hold back that answer.
FIRST_ANSWER_WAIT = 2.0

#: The tags of AppendRequest.event and AppendRequest.events (field 1 and 2,
#: length-delimited): an encoded single-event request starts with the
#: first; the same bytes with the second are one event of a batched frame.
_EVENT_TAG = b"\x0a"
_EVENTS_TAG = b"\x12"

#: How many rejections :meth:`Delivery.rejections` keeps (the most recent).
MAX_KEPT_REJECTIONS = 1000

#: How many rejections a DeliveryError carries.
_RAISED_REJECTIONS = 10

_CODES = {code.value[0]: code for code in grpc.StatusCode}

#: Stream statuses that no retry can fix: they reject the waiting events.
_FATAL = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.OUT_OF_RANGE,
    }
)

#: An event in the delivery thread's hands: (event id, encoded
#: AppendRequest, session id, payload name). Waiting in the inbox and in
#: flight, an event is held as these entries without the tuple (see the
#: module documentation); only events to resend wait as tuples.
_Item = tuple[str, bytes, str, str]

if TYPE_CHECKING:
    #: The Append stream as the delivery uses it: encoded requests in,
    #: decoded responses out.
    AppendCallable = grpc.StreamStreamMultiCallable[bytes, append_service_pb2.AppendResponse]


@dataclass(frozen=True)
class RejectedEvent:
    """An event the server (or the client, for an event too large to send)
    refused. Rejections are final: the event is not in the log and will not
    be retried. Holds no content of the event."""

    #: The rejected event's id.
    event_id: str
    #: Its session id.
    session_id: str
    #: Its payload, such as "llm_call" or "tool_call".
    kind: str
    #: Why, as a gRPC status code: INVALID_ARGUMENT for a malformed event,
    #: ALREADY_EXISTS for an event id reused with different content,
    #: PERMISSION_DENIED for an event outside the API key's scope,
    #: RESOURCE_EXHAUSTED for an event over the size limit, or the status of
    #: a stream no retry can fix (UNAUTHENTICATED for a bad API key).
    code: grpc.StatusCode
    #: What was wrong, from the server (never a repeat of the content).
    message: str
    #: Path of the offending field, such as "event.llm_call.temperature",
    #: when one field is at fault.
    field: str


@dataclass(frozen=True)
class DeliveryStats:
    """Counters of a client's delivery, from when it was created."""

    #: Events accepted into the buffer.
    logged: int
    #: Events acknowledged with a receipt: durably in the log.
    delivered: int
    #: Of those, receipts marked duplicate: the event had been stored by an
    #: earlier attempt whose receipt was lost.
    duplicates: int
    #: Events refused (see :class:`RejectedEvent`).
    rejected: int
    #: Events discarded because the buffer was full (``on_full="drop"``).
    dropped: int
    #: Events logged and not yet acknowledged or rejected: waiting in the
    #: buffer or in flight.
    unacknowledged: int
    #: Append streams opened. More than one means the client reconnected.
    streams: int
    #: Append requests sent: one per event, or one per batched frame of
    #: several events.
    requests: int
    #: The last stream failure, as "STATUS_CODE: message", or None.
    last_error: str | None


class _ProtocolError(Exception):
    """The server broke the Append contract (a response for no event, or
    for another event than the oldest in flight)."""


class _Unavailable(Exception):
    """The server rejected an event with UNAVAILABLE: it is shutting down,
    and the event and those after it must be sent again on a new stream."""


_StreamError = grpc.RpcError | _ProtocolError | _Unavailable


class Delivery:
    """The buffer of events and the thread that delivers them. See the
    module documentation. Thread-safe."""

    def __init__(
        self,
        append: AppendCallable,
        *,
        metadata: Sequence[tuple[str, str]],
        capacity: int,
        on_full: OnFull,
        block_timeout: float | None,
        batch_size: int,
        linger: float,
        initial_backoff: float,
        max_backoff: float,
        max_message_bytes: int,
        idle_timeout: float,
        on_rejection: Callable[[RejectedEvent], None] | None,
        server: str = "the server",
    ) -> None:
        self._append = append
        self._metadata = tuple(metadata)
        self._capacity = capacity
        self._drop = on_full == "drop"
        self._block_timeout = block_timeout
        self._batch_size = batch_size
        self._linger = linger
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._max_message_bytes = max_message_bytes
        self._idle_timeout = idle_timeout
        self._on_rejection = on_rejection
        self._server = server

        # The calling threads' side. _put_lock orders the calling threads
        # among themselves; no background thread ever takes it.
        self._put_lock = threading.Lock()
        self._inbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        # For each request in the inbox, in the same order: its event id,
        # session id and payload name, three entries an event. Appended
        # before the request is put, so a request taken from the inbox
        # always finds them; taken only by _take_inbox, under _lock.
        self._inbox_names: collections.deque[str] = collections.deque()
        self._doorbell: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._issued = 0  # events put, written under _put_lock
        self._dropped = 0  # written under _put_lock
        self._dropping = False
        self._closing = False  # no more events accepted

        # The background side, under _lock: events taken from the inbox
        # and not yet answered, and the counters.
        self._lock = threading.Lock()
        self._progress = threading.Condition(self._lock)  # answers, for flush and full buffers
        # _progress is signalled once _answered reaches _wake_at, the least
        # count that a flush or a caller blocked on a full buffer waits for,
        # rather than on every answer.
        self._wake_at = _NEVER
        self._flushers = 0
        # A caller blocked on a full buffer resumes once this many events
        # have left it, not at the first one: it then logs a run of events
        # before it blocks again, instead of waking once per event.
        self._resume_room = max(1, min(batch_size, capacity // 4))
        self._urgent = threading.Event()  # someone flushes or closes: skip the linger
        self._retry: collections.deque[_Item] = collections.deque()  # to send first on the next stream
        # Sent, awaiting responses: each event as the four entries of its
        # _Item, one after the other, so that an event in flight holds no
        # tuple (see the module documentation: nor does one waiting).
        self._inflight: collections.deque[Any] = collections.deque()
        # The requests in flight, oldest first: 0 for a request of one
        # event, n for a batched frame of n events (of _inflight, in order).
        self._frames: collections.deque[int] = collections.deque()
        # The most events per request on the current stream: 1 until the
        # server's response headers say it takes batched frames.
        self._frame_max = 1
        # Set once the current stream's first response (and with it the
        # headers) has been read, or the stream has ended.
        self._first_answer = threading.Event()
        self._requests_sent = 0
        self._answered = 0
        self._stopping = False  # the thread should end
        self._stream_id = 0
        self._idled = 0  # the id of the last stream ended for being idle
        self._call: grpc.Call | None = None
        self._delivered = 0
        self._duplicates = 0
        self._rejected = 0
        self._streams = 0
        self._last_error: str | None = None
        self._rejections: collections.deque[RejectedEvent] = collections.deque(maxlen=MAX_KEPT_REJECTIONS)
        # Rejections no flush or close has raised yet: how many, and the
        # first few.
        self._unraised = 0
        self._unraised_first: list[RejectedEvent] = []

        self._thread = threading.Thread(target=self._run, name="agenttrail-delivery", daemon=True)
        self._thread.start()

    # --- The calling threads ----------------------------------------------------

    def put(self, event_id: str, request: bytes, session_id: str, kind: str) -> bool:
        """Adds an encoded AppendRequest to the buffer and returns True, or,
        when the buffer is full and the policy is "drop", counts it as
        dropped and returns False. With "block", waits for room (up to the
        block timeout, then raises BufferFullError). Raises
        ClientClosedError once the client is closing. Never touches the
        network, and takes no lock a background thread holds unless the
        buffer is full."""
        if self._closing:
            raise ClientClosedError("the agenttrail client is closed: no more events can be logged")
        with self._put_lock:
            if self._issued - self._answered >= self._capacity:
                if self._drop:
                    self._dropped += 1
                    if self._dropping:
                        return False
                    self._dropping = True
                    dropped = self._dropped
                    # The first drop since the buffer last had room: say so.
                    log.warning(
                        "agenttrail: the delivery buffer is full (%d unanswered events): dropping "
                        "new events (on_full='drop'); %d dropped so far",
                        self._capacity,
                        dropped,
                    )
                    return False
                self._wait_for_room()
            self._dropping = False
            names = self._inbox_names
            names.append(event_id)
            names.append(session_id)
            names.append(kind)
            inbox = self._inbox
            inbox.put(request)
            self._issued += 1
            if inbox.qsize() == 1:
                self._doorbell.put(None)
        return True

    def _wait_for_room(self) -> None:
        """Waits until the buffer has room for a run of events (see
        _resume_room); _put_lock is held, so _issued stays put."""
        deadline = None if self._block_timeout is None else time.monotonic() + self._block_timeout
        resume_at = self._issued - self._capacity + self._resume_room
        with self._lock:
            while self._answered < resume_at:
                if self._closing:
                    raise ClientClosedError("the agenttrail client closed while waiting for room in its buffer")
                self._wake_at = min(self._wake_at, resume_at)
                if deadline is None:
                    self._progress.wait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BufferFullError(
                        f"the delivery buffer stayed full ({self._capacity} unanswered events) for "
                        f"{self._block_timeout}s, so the event was not logged; last stream error: "
                        f"{self._last_error}"
                    )
                self._progress.wait(remaining)

    def flush(self, timeout: float | None) -> bool:
        """Waits until every event put before the call has been answered
        (acknowledged or rejected), and returns True. Raises
        DeliveryTimeoutError if the timeout (seconds; None waits forever)
        passed first, and DeliveryError if events were rejected since the
        last flush or close that raised."""
        # Read without _put_lock, which a caller blocked on a full buffer
        # holds: an int attribute is read atomically.
        target = self._issued
        if not self._wait(target, timeout):
            with self._lock:
                left = target - self._answered
            raise self._error(left, timeout)
        self._raise_rejections()
        return True

    def _wait(self, target: int, timeout: float | None) -> bool:
        """Waits until the first target events put have been answered.
        Returns False if the timeout passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._flushers += 1
            self._urgent.set()
            try:
                while self._answered < target:
                    self._wake_at = min(self._wake_at, target)
                    if deadline is None:
                        self._progress.wait()
                        continue
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._progress.wait(remaining)
                return True
            finally:
                self._flushers -= 1
                if not self._flushers and not self._closing:
                    self._urgent.clear()

    def close(self, timeout: float | None) -> bool:
        """Stops accepting events, waits up to timeout for the buffered ones
        to be answered, then ends the stream and the thread. Returns True
        when every event was acknowledged; raises DeliveryTimeoutError when
        some were left unanswered (they are lost), DeliveryError when some
        were rejected since the last flush or close that raised."""
        self._closing = True
        self._urgent.set()
        with self._lock:
            self._progress.notify_all()  # callers blocked on a full buffer give up
        with self._put_lock:
            pass  # a put under way when closing began has finished: flush waits for it
        answered = self._wait(self._issued, timeout)
        with self._lock:
            self._stopping = True
            call = self._call
        self._ring(2)  # wakes the request iterator (which ends the stream) and the idle thread
        if call is not None and not answered:
            call.cancel()
        # With everything answered, the request iterator ends and the
        # server closes the stream at once; otherwise it was cancelled.
        self._thread.join(5.0)
        if self._thread.is_alive():
            with self._lock:
                call = self._call
            if call is not None:
                call.cancel()
            self._thread.join(5.0)
        left = self.stats().unacknowledged
        if left:
            raise self._error(left, timeout, closed=True)
        self._raise_rejections()
        return True

    def _take_unraised(self) -> tuple[int, list[RejectedEvent]]:
        with self._lock:
            n, first = self._unraised, self._unraised_first
            self._unraised, self._unraised_first = 0, []
        return n, first

    def _raise_rejections(self) -> None:
        """Raises DeliveryError for the rejections no flush or close has
        raised yet, if any."""
        n, first = self._take_unraised()
        if n:
            raise DeliveryError(
                _rejected_text(n, first),
                rejected=n,
                rejections=first,
                last_error=self.stats().last_error,
            )

    def _error(self, left: int, timeout: float | None, closed: bool = False) -> DeliveryTimeoutError:
        """The error of events left unanswered after timeout seconds, with
        the rejections not yet raised."""
        n, first = self._take_unraised()
        last_error = self.stats().last_error
        fate = "they are not in the log" if closed else "delivery goes on"
        text = f"agenttrail: {left} events not acknowledged by {self._server} within {timeout}s ({fate})"
        if last_error is not None:
            text += f"; the last attempt failed: {last_error}"
        if n:
            text += "; " + _rejected_text(n, first).removeprefix("agenttrail: ")
        return DeliveryTimeoutError(text, rejected=n, rejections=first, unacknowledged=left, last_error=last_error)

    def stats(self) -> DeliveryStats:
        """A snapshot of the counters."""
        issued, dropped = self._issued, self._dropped
        with self._lock:
            return DeliveryStats(
                logged=issued,
                delivered=self._delivered,
                duplicates=self._duplicates,
                rejected=self._rejected,
                dropped=dropped,
                unacknowledged=issued - self._answered,
                streams=self._streams,
                requests=self._requests_sent,
                last_error=self._last_error,
            )

    def rejections(self) -> list[RejectedEvent]:
        """The most recent rejections (up to MAX_KEPT_REJECTIONS), oldest
        first."""
        with self._lock:
            return list(self._rejections)

    def _ring(self, times: int = 1) -> None:
        for _ in range(times):
            self._doorbell.put(None)

    # --- The delivery thread --------------------------------------------------------

    def _take_inbox(self) -> _Item:
        """Takes the oldest event from the inbox, which must not be empty;
        _lock is held."""
        request = self._inbox.get_nowait()
        names = self._inbox_names
        event_id = names.popleft()
        session_id = names.popleft()
        return (event_id, request, session_id, names.popleft())

    def _inflight_items(self) -> list[_Item]:
        """The events in flight, oldest first; _lock is held."""
        entries = iter(self._inflight)
        return list(zip(entries, entries, entries, entries))

    def _has_work(self) -> bool:
        """Whether events wait to be sent; _lock is held."""
        return bool(self._retry) or not self._inbox.empty()

    def _run(self) -> None:
        attempt = 0
        while True:
            with self._lock:
                idle = not self._has_work() and not self._stopping
            while idle:
                self._doorbell.get()
                with self._lock:
                    idle = not self._has_work() and not self._stopping
            with self._lock:
                if self._stopping:
                    return
                self._stream_id += 1
                stream_id = self._stream_id
                self._streams += 1
            answered, error = self._stream(stream_id)
            with self._lock:
                if self._stopping:
                    return
            if error is None:  # ended for being idle: wait for the next event
                attempt = 0
                continue
            if answered:
                attempt = 0
            # Back off before the next stream, whether or not events wait:
            # a server that refuses every stream is not asked again at once.
            delay = random.uniform(0, min(self._max_backoff, self._initial_backoff * 2**attempt))
            attempt = min(attempt + 1, 32)
            with self._lock:
                waiting = self._has_work()
                last_error = self._last_error
            if waiting:
                log.info("agenttrail: Append stream ended (%s); reconnecting in %.2fs", last_error, delay)
            deadline = time.monotonic() + delay
            while not self._stopping and (remaining := deadline - time.monotonic()) > 0:
                try:
                    self._doorbell.get(timeout=remaining)
                except queue.Empty:
                    break

    def _stream(self, stream_id: int) -> tuple[int, _StreamError | None]:
        """Runs one Append stream until it ends. Returns how many responses
        it answered and the error that ended it (None when the client ended
        it)."""
        answered = 0
        error: _StreamError | None = None
        with self._lock:
            self._frame_max = 1
            self._first_answer.clear()
        call = self._append(self._requests(stream_id), metadata=self._metadata)
        with self._lock:
            self._call = call
            stopping = self._stopping
        if stopping:
            call.cancel()
        try:
            for response in call:
                if answered == 0:
                    self._read_headers(call)
                    self._first_answer.set()
                self._answer(response)
                answered += 1
        except (grpc.RpcError, _ProtocolError, _Unavailable) as e:
            error = e
        finally:
            call.cancel()
            with self._lock:
                self._call = None
                self._stream_id += 1  # retires this stream's request iterator
                if self._inflight:
                    self._retry.extendleft(reversed(self._inflight_items()))
                    self._inflight.clear()
                self._frames.clear()
                self._frame_max = 1
                stopping = self._stopping
                idled = self._idled == stream_id
            self._first_answer.set()  # wakes the retired iterator, should it wait for the answer
            self._ring()  # or for the doorbell
        if error is None and not stopping and not idled:
            error = _ProtocolError("the server ended the Append stream before the client did")
        if error is not None:
            # Before any rejection, so that whoever a rejection wakes sees why.
            self._last_failure(error)
        if isinstance(error, grpc.RpcError) and _code(error) in _FATAL:
            self._reject_all(error)
        return answered, error

    def _read_headers(self, call: grpc.Call) -> None:
        """Learns from the stream's response headers, which come with its
        first response, whether the server takes batched frames."""
        try:
            headers = call.initial_metadata() or ()
        except grpc.RpcError:
            return
        for key, value in headers:
            if key == BATCH_HEADER:
                try:
                    n = int(value)
                except (TypeError, ValueError):
                    return
                if n > 1:
                    with self._lock:
                        self._frame_max = min(n, MAX_FRAME_EVENTS)
                return

    def _answer(self, response: append_service_pb2.AppendResponse) -> None:
        """Applies one response to the oldest request in flight: one event,
        or each event of a batched frame."""
        rejected: list[RejectedEvent] = []
        try:
            with self._lock:
                if not self._frames:
                    raise _ProtocolError("the server answered more requests than were sent")
                n = self._frames[0]
                if n == 0:
                    self._answer_one(response, rejected)
                    self._frames.popleft()
                    return
                results = response.results
                if len(results) == n:
                    # An UNAVAILABLE result ends the stream there: the
                    # events after it are resent on the next one.
                    for result in results:
                        self._answer_one(result, rejected)
                    self._frames.popleft()
                elif not results and not response.event_id and response.WhichOneof("result") == "rejection":
                    # The server could not read the frame: every event of it
                    # is refused alike.
                    for _ in range(n):
                        copy = append_service_pb2.AppendResponse(
                            event_id=self._inflight[0], rejection=response.rejection
                        )
                        self._answer_one(copy, rejected)
                    self._frames.popleft()
                else:
                    raise _ProtocolError(
                        f"the server answered a batched frame of {n} events with {len(results)} results"
                    )
        finally:
            if rejected:
                self._report(rejected)

    def _answer_one(self, response: append_service_pb2.AppendResponse, rejected: list[RejectedEvent]) -> None:
        """Applies an answer to the oldest event in flight; _lock is held."""
        inflight = self._inflight
        if not inflight:
            raise _ProtocolError("the server answered more requests than were sent")
        if response.event_id != inflight[0]:
            raise _ProtocolError(
                "the server answered out of order: the event ids of a response and its request differ"
            )
        result = response.WhichOneof("result")
        if result == "receipt":
            for _ in range(4):
                inflight.popleft()
            self._delivered += 1
            if response.receipt.duplicate:
                self._duplicates += 1
            self._answered += 1
            if self._answered >= self._wake_at:
                self._wake()
        elif result == "rejection":
            rej = response.rejection
            code = _CODES.get(rej.code, grpc.StatusCode.UNKNOWN)
            if code == grpc.StatusCode.UNAVAILABLE:
                raise _Unavailable(rej.message)
            event_id = inflight.popleft()
            request = inflight.popleft()
            session_id = inflight.popleft()
            item = (event_id, request, session_id, inflight.popleft())
            rejected.append(self._record(item, code, rej.message, rej.field))
        else:
            raise _ProtocolError("the server sent a response with neither a receipt nor a rejection")

    def _requests(self, stream_id: int) -> Iterator[bytes]:
        """The request iterator of one stream, run by grpcio's sending
        thread. It ends (half-closing the stream) when the client stops with
        nothing left to send or the stream has been idle for idle_timeout,
        and as soon as its stream is retired.

        Batching: when it finds fewer than batch_size events waiting, it
        first waits linger seconds for more (not when someone flushes or
        closes), then hands every waiting event to grpcio back to back. It
        takes them one at a time, so that it never holds the interpreter for
        long in one go: an agent's thread waiting for it would wait as
        long.

        After the stream's first request it waits for that request's answer
        (at most FIRST_ANSWER_WAIT) before it sends another, so that what
        queues up meanwhile goes out in the batched frames the answer's
        headers allow."""
        lingered = False
        sent = False  # this stream has sent a request
        await_first = False  # it has sent just one, whose answer is awaited next
        while True:
            if await_first:
                await_first = False
                self._first_answer.wait(FIRST_ANSWER_WAIT)
            with self._lock:
                if self._stream_id != stream_id:
                    # Retired. Pass on the doorbell ring this iterator may
                    # have taken, which was meant for someone else.
                    self._ring()
                    return
                waiting = len(self._retry) + self._inbox.qsize()
                item: _Item | None = None
                too_large: RejectedEvent | None = None
                frame: bytes | None = None
                if waiting and (
                    lingered or waiting >= self._batch_size or self._linger <= 0 or self._urgent.is_set()
                ):
                    item = self._retry.popleft() if self._retry else self._take_inbox()
                    if len(item[1]) > self._max_message_bytes:
                        too_large, item = self._too_large(item), None
                    elif self._frame_max > 1 and waiting > 1 and item[1][:1] == _EVENT_TAG:
                        frame = self._take_frame(item, waiting)
                        item = None
                    else:
                        self._inflight.extend(item)
                        self._frames.append(0)
                        self._requests_sent += 1
                elif not waiting and self._stopping:
                    return
            if frame is not None:
                yield frame
                continue
            if item is not None:
                yield item[1]
                await_first, sent = not sent, True
                continue
            if too_large is not None:
                self._report([too_large])
                continue
            if waiting:
                # Fewer than a batch: give the agent a moment to add more.
                self._urgent.wait(self._linger)
                lingered = True
                continue
            lingered = False
            try:
                self._doorbell.get(timeout=self._idle_timeout)
            except queue.Empty:
                with self._lock:
                    if (
                        self._stream_id == stream_id
                        and not self._inflight
                        and not self._retry
                        and self._inbox.empty()
                    ):
                        self._idled = stream_id
                        return

    def _take_frame(self, first: _Item, waiting: int) -> bytes:
        """Takes first and the events waiting after it, up to the frame's
        bounds, into flight as one batched frame, and returns its encoding;
        _lock is held. Each encoded AppendRequest{event} becomes one element
        of AppendRequest.events by its tag alone."""
        items = [first]
        size = len(first[1])
        limit = min(self._frame_max, waiting)
        while len(items) < limit:
            nxt = self._retry[0] if self._retry else None
            if nxt is None:
                if self._inbox.empty():
                    break
                nxt = self._take_inbox()
                if len(nxt[1]) + size > self._max_message_bytes or nxt[1][:1] != _EVENT_TAG:
                    self._retry.appendleft(nxt)  # it goes first next time
                    break
            elif len(nxt[1]) + size > self._max_message_bytes or nxt[1][:1] != _EVENT_TAG:
                break
            else:
                self._retry.popleft()
            items.append(nxt)
            size += len(nxt[1])
        self._frames.append(len(items))
        self._requests_sent += 1
        # The tag, then the rest of each event's bytes: a slice of bytes
        # costs a copy, but less than a memoryview of it, and it is no
        # object the garbage collector tracks (a frame's views and their
        # buffers would add two to its count for every event).
        parts: list[bytes] = []
        inflight = self._inflight
        for it in items:
            inflight.extend(it)
            parts.append(_EVENTS_TAG)
            parts.append(it[1][1:])
        return b"".join(parts)

    # --- Rejections and failures --------------------------------------------------

    def _too_large(self, item: _Item) -> RejectedEvent:
        """Rejects an event too large to send; _lock is held."""
        return self._record(
            item,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"the event is {len(item[1])} bytes encoded, more than the {self._max_message_bytes} "
            "bytes a request may hold; it was not sent",
            "event",
        )

    def _record(self, item: _Item, code: grpc.StatusCode, message: str, field: str) -> RejectedEvent:
        """Counts and keeps a rejection; _lock is held. The event counts as
        answered once :meth:`_report` has reported it."""
        rejected = RejectedEvent(
            event_id=item[0], session_id=item[2], kind=item[3], code=code, message=message, field=field
        )
        self._rejected += 1
        self._rejections.append(rejected)
        self._unraised += 1
        if len(self._unraised_first) < _RAISED_REJECTIONS:
            self._unraised_first.append(rejected)
        return rejected

    def _report(self, rejected: list[RejectedEvent]) -> None:
        """Reports rejections (log, callback), then counts their events as
        answered: when flush returns, every rejection has been reported.
        _lock is not held."""
        for r in rejected:
            self._notify(r)
        with self._lock:
            self._answered += len(rejected)
            if self._answered >= self._wake_at:
                self._wake()

    def _wake(self) -> None:
        """Wakes every waiter, who each set _wake_at again if they still
        wait; _lock is held."""
        self._wake_at = _NEVER
        self._progress.notify_all()

    def _notify(self, rejected: RejectedEvent) -> None:
        """Logs a rejection and calls the rejection callback; _lock is not
        held."""
        log.warning(
            "agenttrail: event %s (%s) rejected: %s: %s",
            rejected.event_id,
            rejected.kind,
            rejected.code.name,
            rejected.message,
        )
        if self._on_rejection is None:
            return
        try:
            self._on_rejection(rejected)
        except Exception:
            log.exception("agenttrail: the on_rejection callback raised")

    def _reject_all(self, error: grpc.RpcError) -> None:
        """Rejects every waiting event with a stream status no retry can
        fix."""
        code, details = _code(error), _details(error)
        with self._lock:
            items = list(self._retry)
            self._retry.clear()
            while not self._inbox.empty():
                items.append(self._take_inbox())
            rejected = [self._record(item, code, f"the Append stream failed: {details}", "") for item in items]
        if rejected:
            log.error(
                "agenttrail: the server refused the Append stream (%s: %s): %d events rejected",
                code.name,
                details,
                len(rejected),
            )
            self._report(rejected)

    def _last_failure(self, error: _StreamError) -> None:
        if isinstance(error, grpc.RpcError):
            text = f"{_code(error).name}: {_details(error)}"
        elif isinstance(error, _Unavailable):
            text = f"UNAVAILABLE: {error}"
        else:
            text = f"PROTOCOL: {error}"
            log.error("agenttrail: %s", error)
        with self._lock:
            self._last_error = text


def _rejected_text(n: int, first: list[RejectedEvent]) -> str:
    """Says that n events were rejected, and why the first was."""
    r = first[0]
    return (
        f"agenttrail: {n} event{'s were' if n != 1 else ' was'} refused (not in the log); "
        f"the first, event {r.event_id} ({r.kind}): {r.code.name}: {r.message}"
    )


def _code(error: grpc.RpcError) -> grpc.StatusCode:
    code = getattr(error, "code", None)
    result = code() if callable(code) else None
    return result if isinstance(result, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


def _details(error: grpc.RpcError) -> str:
    details = getattr(error, "details", None)
    result = details() if callable(details) else None
    return result if isinstance(result, str) else ""
