"""The agenttrail client: log sessions of an agent, read the trail back, and
verify what was read.

See :class:`Client`.
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import os
import random
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from agenttrail import _convert as cv
from agenttrail import _ids, verify
from agenttrail._delivery import APPEND_METHOD, Delivery, DeliveryStats, OnFull, RejectedEvent
from agenttrail.errors import AgentTrailError, ClientClosedError, DeliveryError, NotFoundError, RPCError
from agenttrail.session import MessageLike, Session
from agenttrail.session import system_prompt_hash as _hash_prompt
from agenttrail.v1 import (
    append_service_pb2,
    entry_pb2,
    event_pb2,
    log_service_pb2,
    log_service_pb2_grpc,
    query_service_pb2,
    query_service_pb2_grpc,
)

__all__ = ["Client", "LogVerification", "Tail"]

log = logging.getLogger("agenttrail")

_VERSION = "0.1.0"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
#: Largest request the client sends; the server's default limit is 4 MiB.
_MAX_MESSAGE_BYTES = 4 << 20
#: Stream statuses after which a tail reconnects.
_TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    }
)

if TYPE_CHECKING:
    from agenttrail._delivery import AppendCallable

_Req = TypeVar("_Req", bound=Message)
_Resp = TypeVar("_Resp", bound=Message)

_open_clients: weakref.WeakSet[Client] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    """Delivers what open clients still hold when the interpreter exits
    (up to 10 seconds each), and logs what could not be."""
    for client in list(_open_clients):
        try:
            client.close()
        except DeliveryError as e:
            log.error("%s", e)


class Client:
    """A connection to an agenttrail server, for logging and reading.

    ``address`` is "host:port" (an IPv6 host in brackets). ``api_key``, when
    given, is sent with every call as gRPC metadata ``authorization: Bearer
    <api_key>``; it is never logged. ``tls`` chooses TLS (True) or plaintext
    (False); by default, as for the agenttrail CLI and the TypeScript
    client, plaintext to a loopback host (localhost, 127.0.0.0/8, ::1) and
    TLS to any other. ``ca_file`` (PEM roots to trust instead of the
    system's) and ``cert_file`` and ``key_file`` (PEM client certificate and
    key, for mutual TLS; both or neither) imply TLS; ``server_name``
    overrides the name the server's certificate is checked against. An API
    key is refused over plaintext to a host that is not loopback, where it
    would cross the network in the clear.

    Logging (see :meth:`session`): events are built on the calling thread
    and put in a bounded buffer; a background daemon thread delivers them
    over one Append stream, in batches of up to ``batch_size`` events sent
    once a batch is full or its oldest event has waited ``linger``
    seconds. When the stream breaks, every event not yet acknowledged is
    sent again, with the same event id, after an exponential backoff with
    full jitter (a random wait up to ``initial_backoff`` seconds, doubling
    per failed attempt up to ``max_backoff``); the server stores each event
    id once and answers a resent one with its original receipt. Retries go
    on until the client is closed. A stream with nothing to send or await
    for ``idle_timeout`` seconds is ended, and the next event opens another.

    ``buffer_size`` bounds the events logged and not yet acknowledged.
    ``on_full`` says what logging does when they reach it:

    - ``"block"`` (the default): the calling thread waits for room, so that
      no event is lost; after ``block_timeout`` seconds (None: no limit) it
      raises :class:`agenttrail.errors.BufferFullError` instead.
    - ``"drop"``: the new event is discarded at once and counted in
      ``stats().dropped``; the agent never waits.

    Events the server refuses (a malformed event, an event outside the API
    key's scope, one over the size limit, or all waiting events when the
    stream itself is refused, for a bad API key) are never retried: each is
    passed to ``on_rejection`` (called on a background thread; it must
    return quickly and must not call :meth:`flush` or :meth:`close`), logged
    as a warning, counted in ``stats().rejected`` and kept in
    :meth:`rejections`.

    Reading: :meth:`query`, :meth:`tail` and :meth:`get` return
    ``agenttrail.v1.Entry`` messages (:class:`agenttrail.v1.entry_pb2.Entry`)
    in the view the API key's role allows; ``entry.view`` says which.
    Unary calls fail after ``timeout`` seconds. Closing the client ends its
    tails.

    Verifying: :meth:`verify_entry` and :meth:`verify_entries` check entries
    against signed checkpoints with ``verifier_key``, the log's note verifier
    key obtained out of band (``agenttrail serve`` prints it), for the log
    named ``origin`` (by default the key's name, which is the origin of an
    agenttrail log).

    Use the client as a context manager, or call :meth:`close`: closing
    delivers what is buffered (up to a timeout). Clients still open when the
    interpreter exits are closed then. One client serves any number of
    threads and sessions; create it after forking, never before.
    """

    def __init__(
        self,
        address: str,
        *,
        api_key: str | None = None,
        tls: bool | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        cert_file: str | os.PathLike[str] | None = None,
        key_file: str | os.PathLike[str] | None = None,
        server_name: str | None = None,
        agent_id: str | None = None,
        agent_version: str | None = None,
        verifier_key: str | None = None,
        origin: str | None = None,
        buffer_size: int = 10_000,
        on_full: OnFull = "block",
        block_timeout: float | None = None,
        batch_size: int = 256,
        linger: float = 0.005,
        initial_backoff: float = 0.1,
        max_backoff: float = 10.0,
        idle_timeout: float = 2.0,
        on_rejection: Callable[[RejectedEvent], None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not isinstance(address, str) or not address.strip():
            raise ValueError("address must be a non-empty 'host:port' string")
        if on_full not in ("block", "drop"):
            raise ValueError(f"on_full must be 'block' or 'drop', got {on_full!r}")
        _positive_int("buffer_size", buffer_size)
        _positive_int("batch_size", batch_size)
        _non_negative("linger", linger)
        _positive("initial_backoff", initial_backoff)
        _positive("max_backoff", max_backoff)
        _positive("timeout", timeout)
        _positive("idle_timeout", idle_timeout)
        if block_timeout is not None:
            _non_negative("block_timeout", block_timeout)
        if max_backoff < initial_backoff:
            raise ValueError("max_backoff must be at least initial_backoff")
        if agent_id is not None:
            cv.check_id("agent_id", agent_id)
        if agent_version is not None:
            cv.text(agent_version, "agent_version")
        host = _host(address)
        metadata: tuple[tuple[str, str], ...] = ()
        if api_key is not None:
            if not isinstance(api_key, str) or not api_key or not all(" " < ch <= "~" for ch in api_key):
                # Never repeat the key itself.
                raise ValueError("api_key must be a non-empty string of printable ASCII without spaces")
            metadata = (("authorization", f"Bearer {api_key}"),)
        self._verifier_key: verify.VerifierKey | None = None
        self._verifier_key_text = ""
        if verifier_key is not None:
            self._verifier_key = verify.parse_verifier_key(verifier_key)
            self._verifier_key_text = verifier_key
        self._origin = origin if origin is not None else (self._verifier_key.name if self._verifier_key else "")

        options: list[tuple[str, Any]] = [
            ("grpc.primary_user_agent", f"agenttrail-python/{_VERSION}"),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.initial_reconnect_backoff_ms", int(initial_backoff * 1000)),
            ("grpc.min_reconnect_backoff_ms", int(initial_backoff * 1000)),
            ("grpc.max_reconnect_backoff_ms", int(max_backoff * 1000)),
            ("grpc.max_receive_message_length", 64 << 20),
        ]
        files = any(f is not None for f in (ca_file, cert_file, key_file))
        if tls is False and files:
            raise ValueError("ca_file, cert_file and key_file need TLS, but tls=False was given")
        use_tls = files or (tls if tls is not None else not _is_loopback(host))
        if api_key is not None and not use_tls and not _is_loopback(host):
            raise ValueError(
                f"the API key would be sent in plaintext to {host}: use TLS (tls=True, ca_file=...) "
                "or a loopback address"
            )
        if (cert_file is None) != (key_file is None):
            raise ValueError("cert_file and key_file go together: give both for mutual TLS, or neither")
        if use_tls:
            if server_name is not None:
                options.append(("grpc.ssl_target_name_override", server_name))
            creds = grpc.ssl_channel_credentials(
                root_certificates=_read(ca_file),
                private_key=_read(key_file),
                certificate_chain=_read(cert_file),
            )
            self._channel = grpc.secure_channel(address, creds, options=options)
        else:
            if server_name is not None:
                raise ValueError("server_name applies to TLS only")
            self._channel = grpc.insecure_channel(address, options=options)

        self._address = address
        self._metadata = metadata
        self._timeout = timeout
        self._agent_id = agent_id
        self._agent_version = agent_version or ""
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._query = query_service_pb2_grpc.QueryServiceStub(self._channel)
        self._log_service = log_service_pb2_grpc.LogServiceStub(self._channel)
        # The Append stream carries requests the sessions have encoded
        # already (see agenttrail._delivery): no serializer.
        append: AppendCallable = self._channel.stream_stream(
            APPEND_METHOD,
            request_serializer=None,
            response_deserializer=append_service_pb2.AppendResponse.FromString,
        )
        self._delivery = Delivery(
            append,
            metadata=metadata,
            capacity=buffer_size,
            on_full=on_full,
            block_timeout=block_timeout,
            batch_size=batch_size,
            linger=linger,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
            max_message_bytes=_MAX_MESSAGE_BYTES,
            idle_timeout=idle_timeout,
            on_rejection=on_rejection,
            server=f"the server at {address}",
        )
        self._trust_lock = threading.Lock()
        self._trusted: verify.TreeHead | None = None
        self._tails: weakref.WeakSet[Tail] = weakref.WeakSet()
        self._closed = False
        self._close_lock = threading.Lock()
        _open_clients.add(self)

    def __repr__(self) -> str:
        return f"agenttrail.Client({self._address!r})"

    # --- Lifetime --------------------------------------------------------------------

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Closes the client (see :meth:`close`), which raises DeliveryError
        when events were not delivered. When the block is already leaving
        with an exception, that one propagates and the delivery failure is
        logged instead."""
        if exc_type is None:
            self.close()
            return
        try:
            self.close()
        except DeliveryError as e:
            log.error("%s", e)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until every event logged before the call has been answered
        by the server, and returns True. Raises
        :class:`agenttrail.errors.DeliveryTimeoutError` when ``timeout``
        seconds (None: no limit) passed first (delivery goes on), and
        :class:`agenttrail.errors.DeliveryError` when events were rejected
        since the last flush or close that raised (each rejection is raised
        once; :meth:`rejections` keeps them all)."""
        return self._delivery.flush(timeout)

    def close(self, timeout: float | None = 10.0) -> bool:
        """Stops accepting events (logging raises ClientClosedError from now
        on), waits up to ``timeout`` seconds (10 by default; None: no limit)
        for the buffered events to be answered, then ends the stream, the
        delivery thread and the connection. Returns True when every event
        was acknowledged. Raises
        :class:`agenttrail.errors.DeliveryTimeoutError` when some were not
        answered in time (they are lost, and counted in
        ``stats().unacknowledged``; the message says why, such as a server
        that could not be reached), and
        :class:`agenttrail.errors.DeliveryError` when some were rejected
        since the last flush or close that raised. So a program that ends by
        closing its client (or leaving its ``with`` block) exits with status
        1 when its events did not all reach the log. Calling it again does
        nothing and returns whether the buffer is empty."""
        with self._close_lock:
            if self._closed:
                return self._delivery.stats().unacknowledged == 0
            self._closed = True
        for tail in list(self._tails):
            tail.cancel()
        try:
            return self._delivery.close(timeout)
        finally:
            self._channel.close()
            _open_clients.discard(self)

    def stats(self) -> DeliveryStats:
        """Counters of what this client logged and delivered."""
        return self._delivery.stats()

    def rejections(self) -> list[RejectedEvent]:
        """The events the server refused, most recent last (the latest 1000;
        ``stats().rejected`` counts them all)."""
        return self._delivery.rejections()

    # --- Logging ------------------------------------------------------------------------

    def session(
        self,
        *,
        session_id: str | None = None,
        agent_id: str | None = None,
        agent_version: str | None = None,
        model_id: str | None = None,
        user_id: str | None = None,
        system_prompt_hash: str | None = None,
        labels: Mapping[str, str] | None = None,
        user_message: str | None = None,
        tools_available: Iterable[MessageLike] | None = None,
        source_channel: str | None = None,
        client_ip: str | None = None,
        client_user_agent: str | None = None,
        system_prompt: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> Session:
        """Returns a new :class:`agenttrail.session.Session`, to be used as a
        context manager: entering it logs its SessionStart, leaving it logs
        its SessionEnd (see :class:`~agenttrail.session.Session`).

        Envelope fields, shared by every event of the session:

        - session_id: by default a new UUIDv7.
        - agent_id, agent_version: by default the client's; an agent id is
          required.
        - model_id: the model the agent is configured with.
        - user_id: the pseudonymous id of the person the agent acts for
          (never an email address or a name: the header is kept forever).
        - system_prompt_hash: hex SHA-256 of the system prompt; computed
          from system_prompt when that is given.
        - labels: labels of every event (content, like every label).

        SessionStart fields: user_message (the request that started the
        session), tools_available (ToolDefinition messages, or dicts with the
        keys name, type, description and parameters_schema_json: JSON text
        or a JSON-serializable schema), source_channel (such as "web"),
        client_ip, client_user_agent, system_prompt and attributes (a dict
        of str).

        Ids (session_id, agent_id, user_id) are 1 to 128 characters from
        [A-Za-z0-9._:-], starting with a letter or digit.
        """
        if self._closed:
            raise ClientClosedError("the agenttrail client is closed: no session can start")
        if session_id is None:
            session_id = _ids.uuid7_str()
        cv.check_id("session_id", session_id)
        agent_id = agent_id if agent_id is not None else self._agent_id
        if agent_id is None:
            raise ValueError("a session needs an agent_id: give it to Client() or to session()")
        cv.check_id("agent_id", agent_id)
        if user_id is not None and user_id != "":
            cv.check_id("user_id", user_id)
        if system_prompt is not None:
            cv.text(system_prompt, "system_prompt")
            if system_prompt_hash is None:
                system_prompt_hash = _hash_prompt(system_prompt)
        if system_prompt_hash is not None and system_prompt_hash != "" and not _HEX64.fullmatch(system_prompt_hash):
            raise ValueError("system_prompt_hash must be 64 hex digits (the SHA-256 of the system prompt)")
        start = event_pb2.SessionStart()
        cv.assign(
            start,
            "session_start",
            (
                ("user_message", user_message),
                ("source_channel", source_channel),
                ("client_ip", client_ip),
                ("client_user_agent", client_user_agent),
                ("system_prompt", system_prompt),
            ),
        )
        if tools_available is not None:
            for i, t in cv.items(tools_available, "session_start.tools_available"):
                cv.tool_definition(start.tools_available.add(), t, f"session_start.tools_available[{i}]")
        if attributes is not None:
            cv.string_map(start.attributes, attributes, "session_start.attributes")
        envelope_labels: dict[str, str] = {}
        if labels is not None:
            cv.string_map(envelope_labels, labels, "labels")
        return Session(
            self._delivery,
            session_id=session_id,
            agent_id=agent_id,
            agent_version=cv.text(agent_version, "agent_version") if agent_version is not None else self._agent_version,
            model_id=cv.text(model_id, "model_id") if model_id is not None else "",
            user_id=user_id or "",
            system_prompt_hash=system_prompt_hash or "",
            labels=envelope_labels,
            start=start,
        )

    # --- Reading --------------------------------------------------------------------------

    def query(
        self,
        *,
        session_id: str | None = None,
        agent_id: str | None = None,
        user_id: str | None = None,
        kinds: Iterable[int | str] | None = None,
        tool_name: str | None = None,
        occurred_after: datetime | None = None,
        occurred_before: datetime | None = None,
        from_index: int | None = None,
        to_index: int | None = None,
        errors_only: bool = False,
        order: Literal["ascending", "descending"] = "ascending",
        limit: int = 0,
        resume_after: int | None = None,
        timeout: float | None = None,
    ) -> Iterator[entry_pb2.Entry]:
        """Streams the log entries that match a filter, in log order (or
        newest first with ``order="descending"``), as ``agenttrail.v1.Entry``
        messages in the caller's view (``entry.view``).

        Filter: only events of session_id, agent_id or user_id; of the given
        kinds (EventKind names such as "llm_call" or values); tool calls of
        tool_name; that occurred at or after occurred_after and before
        occurred_before (timezone-aware datetimes); at log indexes from
        from_index up to, not including, to_index; or, with errors_only,
        events that record a failure. Unset criteria match everything.

        At most ``limit`` entries (0: all). ``resume_after`` is the last log
        index received by an earlier, broken query: the stream goes on after
        it. ``timeout`` (seconds) bounds the whole stream; None means no
        limit.

        The arguments are checked at once; the stream starts on the first
        iteration. Failures raise :class:`agenttrail.errors.RPCError`.
        Stopping the iteration early (break) cancels the stream.
        """
        request = query_service_pb2.QueryRequest(
            filter=_filter(
                session_id, agent_id, user_id, kinds, tool_name, occurred_after, occurred_before,
                from_index, to_index, errors_only,
            ),
            event_from_commitment=True,
        )
        if order == "descending":
            request.order = query_service_pb2.ORDER_DESCENDING
        elif order != "ascending":
            raise ValueError(f"order must be 'ascending' or 'descending', got {order!r}")
        cv.assign(request, "query", (("limit", limit), ("resume_after", resume_after)))
        return self._stream_query(request, timeout)

    def _stream_query(
        self, request: query_service_pb2.QueryRequest, timeout: float | None
    ) -> Iterator[entry_pb2.Entry]:
        call = self._query.Query(request, metadata=self._metadata, timeout=timeout)
        try:
            for response in call:
                if response.HasField("entry"):
                    yield _with_event(response.entry)
        except grpc.RpcError as e:
            raise _rpc_error("QueryService/Query", e) from None
        finally:
            call.cancel()

    def tail(
        self,
        *,
        session_id: str | None = None,
        agent_id: str | None = None,
        user_id: str | None = None,
        kinds: Iterable[int | str] | None = None,
        tool_name: str | None = None,
        errors_only: bool = False,
        resume_after: int | None = None,
        on_caught_up: Callable[[int], None] | None = None,
    ) -> Tail:
        """Follows the log: returns a :class:`Tail`, an iterator of the
        entries that match the filter (see :meth:`query`), first those
        stored, then new ones as they commit, without end until cancelled.

        The tail resumes by itself: when the stream breaks for a reason a
        retry can fix (the server restarting, for one) it reconnects with
        backoff and goes on after the last entry it yielded, so no entry is
        missed or repeated. ``resume_after`` starts after a log index saved
        from an earlier tail (its :attr:`Tail.last_index`).
        ``on_caught_up`` is called with the log's size each time the tail
        has sent every stored match and turns live.
        """
        base = query_service_pb2.QueryRequest(
            filter=_filter(session_id, agent_id, user_id, kinds, tool_name, None, None, None, None, errors_only),
            follow=True,
            event_from_commitment=True,
        )
        if resume_after is not None:
            cv.assign(base, "tail", (("resume_after", resume_after),))
        if self._closed:
            raise ClientClosedError("the agenttrail client is closed: no tail can start")
        tail = Tail(
            self._query.Query,
            base,
            self._metadata,
            on_caught_up=on_caught_up,
            initial_backoff=self._initial_backoff,
            max_backoff=self._max_backoff,
        )
        self._tails.add(tail)
        return tail

    def get(self, event_id: str | None = None, *, log_index: int | None = None) -> entry_pb2.Entry:
        """Returns one log entry, by event id or by log index (give exactly
        one), in the caller's view. Raises
        :class:`agenttrail.errors.NotFoundError` when there is none."""
        if (event_id is None) == (log_index is None):
            raise ValueError("give exactly one of event_id and log_index")
        request = query_service_pb2.GetEventRequest()
        if event_id is not None:
            request.event_id = cv.text(event_id, "event_id")
        else:
            cv.assign(request, "get", (("log_index", log_index),))
        return self._unary("QueryService/GetEvent", self._query.GetEvent, request).entry

    # --- Verifying ------------------------------------------------------------------------

    @property
    def trusted_head(self) -> verify.TreeHead | None:
        """The largest tree head this client has verified, or None. Every
        newer checkpoint is proven consistent with it before it is
        trusted, so a log that rewrote its history would be caught."""
        with self._trust_lock:
            return self._trusted

    def server_verifier_key(self) -> str:
        """Returns the verifier key the server says it signs with. Compare it
        with a copy obtained out of band before trusting it: a server cannot
        vouch for itself."""
        response = self._unary("LogService/GetVerifierKey", self._log_service.GetVerifierKey, log_service_pb2.GetVerifierKeyRequest())
        return response.verifier_key

    def verify_entry(self, entry: entry_pb2.Entry, *, wait: float = 5.0) -> verify.TreeHead:
        """Checks one entry end to end against the trusted verifier key and
        returns the tree head it was proven in:

        1. :func:`agenttrail.verify.verify_entry`: the entry is what its
           commitment says (leaf hash, content digest when the content is
           shown, header and content against the event).
        2. The latest checkpoint is fetched and its signature checked with
           the verifier key (:func:`agenttrail.verify.verify_checkpoint`);
           it is proven consistent with the previously trusted one
           (:func:`agenttrail.verify.verify_consistency`). A checkpoint that
           does not yet cover the entry is fetched again, for up to
           ``wait`` seconds.
        3. The inclusion proof of the entry's leaf at its log index in that
           checkpoint's tree is fetched and checked
           (:func:`agenttrail.verify.verify_inclusion`).

        Raises a :class:`agenttrail.verify.VerificationError` subclass when
        a check fails, :class:`agenttrail.errors.RPCError` when the server
        cannot be asked, :class:`agenttrail.errors.AgentTrailError` when no
        checkpoint covers the entry in time, and ValueError when the client
        has no verifier key.
        """
        return self.verify_entries([entry], wait=wait)

    def verify_entries(self, entries: Iterable[entry_pb2.Entry], *, wait: float = 5.0) -> verify.TreeHead:
        """Checks entries as :meth:`verify_entry` does, all against one
        checkpoint that covers them, and returns its tree head. For a whole
        session: ``client.verify_entries(client.query(session_id=...))``.
        An empty iterable checks the latest checkpoint only."""
        key, origin = self._trust()
        batch = list(entries)
        for e in batch:
            if not isinstance(e, entry_pb2.Entry):
                raise TypeError(f"entries must be agenttrail.v1.Entry messages, got {type(e).__name__}")
            if not e.HasField("stamp"):
                raise verify.MalformedError("entry has no stamp, so its log index is unknown")
            verify.verify_entry(e)
        need = max((e.stamp.log_index + 1 for e in batch), default=0)
        head = self._checkpoint_covering(need, key, origin, wait)
        for e in batch:
            proof = self._unary(
                "LogService/GetInclusionProof",
                self._log_service.GetInclusionProof,
                log_service_pb2.GetInclusionProofRequest(log_index=e.stamp.log_index, tree_size=head.size),
            )
            verify.verify_inclusion(e.stamp.log_index, head.size, e.commitment.leaf_hash, proof.hashes, head.root)
        return head

    def verify_log(
        self, *, from_index: int = 0, to_index: int | None = None, wait: float = 5.0
    ) -> LogVerification:
        """Verifies the log at indexes ``[from_index, to_index)`` (up to the
        latest checkpoint's size when to_index is None or beyond it) and
        returns what was checked, as ``agenttrail verify`` does:

        1. The latest checkpoint is fetched, its signature checked and
           proven consistent with the trusted head (as in
           :meth:`verify_entries`).
        2. Every index of the range is queried in the caller's view. Each
           entry is checked with :func:`agenttrail.verify.verify_entry`; an
           entry the view may not show (for a developer, other principals'
           access records) comes as a withheld leaf, checked with
           :func:`agenttrail.verify.verify_withheld`.
        3. The inclusion proof of every leaf, shown or withheld, is checked
           against the checkpoint.
        4. Every entry whose content is erased is named by a later erasure
           or retention entry of the log (:class:`agenttrail.verify.ErasureLedger`;
           those beyond the range are read too), or
           :class:`agenttrail.verify.UnprovenErasureError` is raised; and
           the erasure its view names, when the checkpoint covers it, is
           checked with :func:`agenttrail.verify.verify_erasure`.

        An index the server sends neither an entry nor a withheld leaf for
        raises :class:`agenttrail.verify.MissingEntryError`; any other check
        that fails raises its :class:`agenttrail.verify.VerificationError`
        subclass.
        """
        if from_index < 0 or (to_index is not None and to_index <= from_index):
            raise ValueError("want 0 <= from_index < to_index")
        key, origin = self._trust()
        head = self._checkpoint_covering(0, key, origin, wait)
        to = head.size if to_index is None else min(to_index, head.size)
        report = LogVerification(head=head)
        if from_index >= to:
            return report
        request = query_service_pb2.QueryRequest(
            filter=_filter(None, None, None, None, None, None, None, from_index, to, False),
            batch=True,
            proof_tree_size=head.size,
            event_from_commitment=True,
        )
        expected = from_index
        ledger = verify.ErasureLedger()
        erased: list[entry_pb2.Entry] = []
        erasures: dict[int, entry_pb2.Entry] = {}
        call = self._query.Query(request, metadata=self._metadata, timeout=self._timeout)
        try:
            for response in _items(call):
                kind = response.WhichOneof("item")
                if kind == "entry":
                    _with_event(response.entry)
                    index, leaf = response.entry.stamp.log_index, response.entry.commitment.leaf_hash
                elif kind == "withheld":
                    index, leaf = response.withheld.log_index, response.withheld.leaf_hash
                else:
                    continue
                if index != expected:
                    raise verify.MissingEntryError(
                        f"log index {expected}: the server skipped it (the next index it sent is {index})"
                    )
                if kind == "entry":
                    verify.verify_entry(response.entry)
                else:
                    verify.verify_withheld(response.withheld)
                proof = self._proof_of(response, index, head.size)
                verify.verify_inclusion(index, head.size, leaf, proof.hashes, head.root)
                if kind == "entry":
                    report.entries += 1
                    if response.entry.view.content == entry_pb2.CONTENT_STATE_PRESENT:
                        report.content_checked += 1
                    is_erased = response.entry.view.content == entry_pb2.CONTENT_STATE_ERASED
                    ledger.note(index, response.entry.event, is_erased)
                    if is_erased:
                        erased.append(response.entry)
                    if verify.names(response.entry.event, 0) is not None:
                        erasures[index] = response.entry
                else:
                    report.withheld.append(index)
                expected += 1
        except grpc.RpcError as e:
            raise _rpc_error("QueryService/Query", e) from None
        finally:
            call.cancel()
        if expected != to:
            raise verify.MissingEntryError(
                f"log index {expected}: the server sent neither the entry nor a withheld leaf, "
                "although the checkpoint covers it"
            )
        if ledger.unproven() and to < head.size:
            self._note_later_erasures(ledger, to, head, erasures)
        ledger.check()
        # The erasure each erased entry's view names is the one that
        # accounts for it (read above when the range or the later erasures
        # held it; the ledger already proved one names it otherwise).
        for gone in erased:
            by = verify.erasure_of(gone)
            if by is not None and by >= 0 and by in erasures:
                verify.verify_erasure(gone, erasures[by])
            report.erased.append(gone.stamp.log_index)
        return report

    def _note_later_erasures(
        self,
        ledger: verify.ErasureLedger,
        start: int,
        head: verify.TreeHead,
        erasures: dict[int, entry_pb2.Entry],
    ) -> None:
        """Reads the erasure and retention entries in [start, head.size),
        checks each against the checkpoint, notes what they name, and keeps
        each in erasures by its index."""
        request = query_service_pb2.QueryRequest(
            filter=_filter(None, None, None, ["erasure", "retention"], None, None, None, start, head.size, False),
            batch=True,
            proof_tree_size=head.size,
            event_from_commitment=True,
        )
        call = self._query.Query(request, metadata=self._metadata, timeout=self._timeout)
        try:
            for response in _items(call):
                if response.WhichOneof("item") != "entry":
                    continue
                e = _with_event(response.entry)
                verify.verify_entry(e)
                proof = self._proof_of(response, e.stamp.log_index, head.size)
                verify.verify_inclusion(e.stamp.log_index, head.size, e.commitment.leaf_hash, proof.hashes, head.root)
                ledger.note(e.stamp.log_index, e.event, False)
                erasures[e.stamp.log_index] = e
        except grpc.RpcError as err:
            raise _rpc_error("QueryService/Query", err) from None
        finally:
            call.cancel()

    def _proof_of(
        self, item: query_service_pb2.QueryResponse, index: int, size: int
    ) -> log_service_pb2.GetInclusionProofResponse:
        """The inclusion proof of an item of a Query asked with
        proof_tree_size: the one it carries, or, from a server that predates
        the field, one fetched with GetInclusionProof."""
        if item.HasField("inclusion_proof"):
            return item.inclusion_proof
        return self._unary(
            "LogService/GetInclusionProof",
            self._log_service.GetInclusionProof,
            log_service_pb2.GetInclusionProofRequest(log_index=index, tree_size=size),
        )

    def _trust(self) -> tuple[str, str]:
        if self._verifier_key is None:
            raise ValueError(
                "this client has no verifier key: pass verifier_key= (the key `agenttrail serve` prints, "
                "obtained out of band) to Client()"
            )
        return self._verifier_key_text, self._origin

    def _checkpoint_covering(self, size: int, key: str, origin: str, wait: float) -> verify.TreeHead:
        """Returns the latest checkpoint, verified and proven consistent with
        the trusted head, once it covers size leaves."""
        deadline = time.monotonic() + wait
        delay = 0.02
        while True:
            response = self._unary("LogService/GetCheckpoint", self._log_service.GetCheckpoint, log_service_pb2.GetCheckpointRequest())
            head = verify.verify_checkpoint(response.checkpoint.signed_note, key, origin)
            self._advance(head)
            if head.size >= size:
                return head
            if time.monotonic() + delay > deadline:
                raise AgentTrailError(
                    f"no checkpoint covers log index {size - 1} after {wait}s: the latest has tree size {head.size}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _advance(self, head: verify.TreeHead) -> None:
        """Checks a verified tree head against the trusted one and trusts it
        when it is newer."""
        with self._trust_lock:
            old = self._trusted
            if old is None:
                self._trusted = head
                return
            if head.size == old.size:
                if head.root != old.root:
                    raise verify.BadProofError(
                        f"two checkpoints of tree size {head.size} have different roots: the log forked"
                    )
                return
            small, large = (old, head) if old.size < head.size else (head, old)
            if small.size == 0:
                hashes: Sequence[bytes] = []
            else:
                hashes = self._unary(
                    "LogService/GetConsistencyProof",
                    self._log_service.GetConsistencyProof,
                    log_service_pb2.GetConsistencyProofRequest(from_size=small.size, to_size=large.size),
                ).hashes
            verify.verify_consistency(small.size, large.size, small.root, large.root, hashes)
            self._trusted = large

    # --- Calls ------------------------------------------------------------------------------

    def _unary(
        self, method: str, fn: grpc.UnaryUnaryMultiCallable[_Req, _Resp], request: _Req
    ) -> _Resp:
        try:
            return fn(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.RpcError as e:
            raise _rpc_error(method, e) from None


@dataclass
class LogVerification:
    """What :meth:`Client.verify_log` checked."""

    #: The checkpoint every leaf was proven against.
    head: verify.TreeHead
    #: Entries shown to the caller and verified (commitment and inclusion).
    entries: int = 0
    #: How many of those had their content checked against its digest
    #: (the full view); the others' content is withheld or erased.
    content_checked: int = 0
    #: Log indexes of the entries the caller's view may not show: each
    #: leaf was proven to be in the log, and nothing more can be checked.
    withheld: list[int] = field(default_factory=list)
    #: Log indexes of the entries whose content was erased: each header
    #: verified, and each is named by an Erasure or Retention event that
    #: verified too (:func:`agenttrail.verify.verify_erasure`).
    erased: list[int] = field(default_factory=list)


class Tail(Iterator[entry_pb2.Entry]):
    """A live, resumable stream of log entries, from :meth:`Client.tail`.

    Iterate it for entries (``agenttrail.v1.Entry``, in the caller's view);
    the iteration ends only after :meth:`cancel`, which any thread may call,
    or the client's close, or with :class:`agenttrail.errors.RPCError` when
    the server refuses the query for a reason no retry can fix (a bad
    filter, a missing permission). Use it as a context manager to cancel it
    on exit.
    """

    def __init__(
        self,
        query: grpc.UnaryStreamMultiCallable[query_service_pb2.QueryRequest, query_service_pb2.QueryResponse],
        base: query_service_pb2.QueryRequest,
        metadata: Sequence[tuple[str, str]],
        *,
        on_caught_up: Callable[[int], None] | None,
        initial_backoff: float,
        max_backoff: float,
    ) -> None:
        """Made by :meth:`Client.tail`."""
        self._query = query
        self._base = base
        self._metadata = tuple(metadata)
        self._on_caught_up = on_caught_up
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._last: int | None = base.resume_after if base.HasField("resume_after") else None
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._call: grpc._CallIterator[query_service_pb2.QueryResponse] | None = None
        self._attempt = 0
        self._reconnects = 0

    @property
    def last_index(self) -> int | None:
        """The log index of the last entry yielded (or the resume_after the
        tail started from): pass it as resume_after to a later tail to go on
        from here."""
        return self._last

    @property
    def reconnects(self) -> int:
        """How many times the tail reconnected after its stream broke."""
        return self._reconnects

    def cancel(self) -> None:
        """Ends the tail: the iteration stops (now, if it is waiting for an
        entry). Thread-safe and idempotent."""
        self._cancelled.set()
        with self._lock:
            call = self._call
        if call is not None:
            call.cancel()

    def __enter__(self) -> Tail:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()

    def __iter__(self) -> Tail:
        return self

    def __next__(self) -> entry_pb2.Entry:
        while True:
            if self._cancelled.is_set():
                raise StopIteration
            call = self._open()
            try:
                response = next(call)
            except StopIteration:
                error: grpc.RpcError | None = None
            except grpc.RpcError as e:
                error = e
            else:
                kind = response.WhichOneof("item")
                if kind == "caught_up":
                    self._attempt = 0
                    if self._on_caught_up is not None:
                        self._on_caught_up(response.caught_up.tree_size)
                    continue
                if kind == "withheld":
                    # An entry the caller may not see: the tail has passed
                    # it, and resumes after it.
                    self._last = response.withheld.log_index
                    continue
                if kind != "entry":
                    continue
                entry = _with_event(response.entry)
                self._last = entry.stamp.log_index
                self._attempt = 0
                return entry
            # The stream ended: reconnect after the last entry yielded, or
            # give up for good.
            with self._lock:
                self._call = None
            call.cancel()
            if self._cancelled.is_set():
                raise StopIteration
            if error is not None:
                code = _status(error)[0]
                if code not in _TRANSIENT:
                    raise _rpc_error("QueryService/Query", error) from None
            delay = random.uniform(0, min(self._max_backoff, self._initial_backoff * 2**self._attempt))
            self._attempt = min(self._attempt + 1, 32)
            self._reconnects += 1
            log.info("agenttrail: tail stream ended; resuming after log index %s in %.2fs", self._last, delay)
            if self._cancelled.wait(delay):
                raise StopIteration

    def _open(self) -> grpc._CallIterator[query_service_pb2.QueryResponse]:
        with self._lock:
            if self._call is not None:
                return self._call
            request = query_service_pb2.QueryRequest()
            request.CopyFrom(self._base)
            if self._last is not None:
                request.resume_after = self._last
            self._call = self._query(request, metadata=self._metadata)
            call = self._call
        if self._cancelled.is_set():
            call.cancel()
        return call


# --- Helpers ------------------------------------------------------------------------------


def _with_event(entry: entry_pb2.Entry) -> entry_pb2.Entry:
    """Fills in the event of an entry the server sent without it
    (QueryRequest.event_from_commitment, which the full view honours): the
    event of commitment.header, an EventHeader, with commitment.content
    merged into it, which is how the server builds the full view's event.
    An entry that has its event (another view, or a server that predates
    the field), or no header, is returned as it is. Raises
    :class:`agenttrail.verify.MalformedError` when the bytes do not decode."""
    c = entry.commitment
    if entry.HasField("event") or not c.header:
        return entry
    header = entry_pb2.EventHeader()
    try:
        header.ParseFromString(c.header)
        if not header.HasField("event"):
            raise DecodeError("no event")
        event = header.event
        if c.content:
            event.MergeFromString(c.content)
    except DecodeError:
        raise verify.MalformedError(
            f"log index {entry.stamp.log_index}: the event does not decode from the commitment's header and content"
        ) from None
    entry.event.CopyFrom(event)
    return entry


def _items(call: Iterable[query_service_pb2.QueryResponse]) -> Iterator[query_service_pb2.QueryResponse]:
    """The items of a Query asked with batch: each response's batch, in
    order, or the response itself from a server that predates batches."""
    for response in call:
        if len(response.batch):
            yield from response.batch
        else:
            yield response


def _filter(
    session_id: str | None,
    agent_id: str | None,
    user_id: str | None,
    kinds: Iterable[int | str] | None,
    tool_name: str | None,
    occurred_after: datetime | None,
    occurred_before: datetime | None,
    from_index: int | None,
    to_index: int | None,
    errors_only: bool,
) -> event_pb2.Filter:
    f = event_pb2.Filter()
    cv.assign(
        f,
        "filter",
        (
            ("session_id", session_id),
            ("agent_id", agent_id),
            ("user_id", user_id),
            ("tool_name", tool_name),
            ("from_index", from_index),
            ("to_index", to_index),
            ("errors_only", errors_only),
        ),
    )
    if kinds is not None:
        for i, k in cv.items(kinds, "kinds"):
            f.kinds.append(cv.EVENT_KIND(k, f"kinds[{i}]"))  # type: ignore[arg-type]
    if occurred_after is not None:
        cv.set_timestamp(f.occurred_after, occurred_after, "occurred_after")
    if occurred_before is not None:
        cv.set_timestamp(f.occurred_before, occurred_before, "occurred_before")
    return f


def _status(error: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    code = getattr(error, "code", None)
    details = getattr(error, "details", None)
    c = code() if callable(code) else None
    d = details() if callable(details) else None
    return (
        c if isinstance(c, grpc.StatusCode) else grpc.StatusCode.UNKNOWN,
        d if isinstance(d, str) else "",
    )


def _rpc_error(method: str, error: grpc.RpcError) -> RPCError:
    code, details = _status(error)
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFoundError(method, code, details)
    return RPCError(method, code, details)


def _host(address: str) -> str:
    """The host of a "host:port" address ("[v6]:port" for IPv6)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"address {address!r} is not 'host:port', such as '127.0.0.1:7700'")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def _is_loopback(host: str) -> bool:
    """Whether a host is loopback: localhost, 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read(path: str | os.PathLike[str] | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as f:
        return f.read()


def _positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int")


def _positive(name: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds")


def _non_negative(name: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative number of seconds")
