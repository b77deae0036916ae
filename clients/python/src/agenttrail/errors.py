"""The exceptions of the agenttrail client.

Every exception the client raises on its own account is an
:class:`AgentTrailError`. Wrong arguments raise the built-in TypeError or
ValueError, naming the argument. Verification failures raise the subclasses
of :class:`agenttrail.verify.VerificationError`.

No message ever repeats an API key or the content of an event.
"""

from __future__ import annotations

import grpc

__all__ = [
    "AgentTrailError",
    "BufferFullError",
    "ClientClosedError",
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
