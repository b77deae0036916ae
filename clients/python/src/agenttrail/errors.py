"""The exceptions of the agenttrail client.

Every exception the client raises on its own account is an
:class:`AgentTrailError`. Wrong arguments raise the built-in TypeError or
ValueError, naming the argument. Verification failures raise the subclasses
of :class:`agenttrail.verify.VerificationError`.

No message ever repeats an API key or the content of an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import grpc

if TYPE_CHECKING:
    from agenttrail._delivery import RejectedEvent

__all__ = [
    "AgentTrailError",
    "BufferFullError",
    "ClientClosedError",
    "DeliveryError",
    "DeliveryTimeoutError",
    "NotFoundError",
    "RPCError",
    "SessionStateError",
]


class AgentTrailError(Exception):
    """Base class of the exceptions of the agenttrail client."""


class ClientClosedError(AgentTrailError):
    """An event was logged, or a session started, on a client that has been
    closed (or is closing)."""


class BufferFullError(AgentTrailError):
    """With ``on_full="block"`` and a ``block_timeout``, the delivery buffer
    stayed full for longer than the timeout, so the event was not logged.
    The server is unreachable or slower than the agent."""


class DeliveryError(AgentTrailError):
    """Events are not in the log: the server refused some (or the client
    did, for an event too large to send), or some were not acknowledged in
    time. :meth:`agenttrail.Client.flush` and :meth:`agenttrail.Client.close`
    raise it, so that a program that logged events it could not deliver
    does not end as if it had: uncaught, it exits with status 1.

    Each rejection is raised once: by the first flush or close after it."""

    def __init__(
        self,
        message: str,
        *,
        rejected: int = 0,
        rejections: Sequence[RejectedEvent] = (),
        unacknowledged: int = 0,
        last_error: str | None = None,
    ) -> None:
        super().__init__(message)
        #: How many events were refused since the last flush or close that
        #: raised.
        self.rejected = rejected
        #: The first of them (up to 10), oldest first.
        self.rejections = list(rejections)
        #: How many events were still waiting for the server's answer.
        self.unacknowledged = unacknowledged
        #: The last stream failure, as "STATUS_CODE: message", or None.
        self.last_error = last_error


class DeliveryTimeoutError(DeliveryError):
    """flush or close ran out of time before the server answered every
    event: :attr:`unacknowledged` says how many were left. After flush,
    delivery goes on; after close, those events are lost."""


class SessionStateError(AgentTrailError):
    """A session was used out of order: an event logged before the session
    started or after it ended, or a session started twice."""


class RPCError(AgentTrailError):
    """A call to the server failed. :attr:`code` is the gRPC status code and
    :attr:`details` the server's message, which never repeats event
    content."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{method} failed: {code.name}: {details}")
        #: The RPC that failed, such as "QueryService/GetEvent".
        self.method = method
        #: The gRPC status code.
        self.code = code
        #: The status message.
        self.details = details


class NotFoundError(RPCError):
    """The event or log entry asked for does not exist (status NOT_FOUND)."""
