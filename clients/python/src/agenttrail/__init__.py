"""agenttrail: the Python client of agenttrail, the tamper-evident audit trail
for AI agents.

Log what an agent does, one call per step, delivered in the background::

    import agenttrail

    with agenttrail.Client("127.0.0.1:7700", api_key=KEY, agent_id="support-agent") as client:
        with client.session(user_message="Where is my order?") as session:
            session.llm_call(request_model="gpt-4o", output_text="Let me check.")
            session.tool_call(tool_name="orders.lookup", arguments={"id": 1234}, result={"status": "shipped"})
            session.output(text="It shipped yesterday.", final=True)

The public API:

- :class:`Client`: connects (API key, TLS), starts sessions, delivers their
  events in the background (:meth:`Client.flush`, :meth:`Client.close`,
  :meth:`Client.stats`, :meth:`Client.rejections`), reads the trail
  (:meth:`Client.query`, :meth:`Client.tail`, :meth:`Client.get`) and
  verifies it (:meth:`Client.verify_entry`, :meth:`Client.verify_entries`,
  and :meth:`Client.verify_log` for a range of the log, entries withheld
  from the caller's view included, as a :class:`LogVerification`).
- :class:`Session`: logs the events of one session (``llm_call``,
  ``tool_call``, ``reasoning``, ``approval``, ``error``, ``output``; start
  and end on entering and leaving its ``with`` block).
- :class:`Tail`: a live, resumable stream of entries.
- :class:`DeliveryStats`, :class:`RejectedEvent`: what delivery did.
- :func:`uuid7`: the UUIDv7 generator behind event ids.
- :mod:`agenttrail.errors`: the exceptions.
- :mod:`agenttrail.verify`: checks log entries, inclusion and consistency
  proofs and signed checkpoints with nothing but the log's verifier key.
- :mod:`agenttrail.v1`: the API generated from proto/agenttrail/v1: messages
  such as ``event_pb2.Event`` and ``entry_pb2.Entry``, and gRPC stubs.
"""

from agenttrail._delivery import DeliveryStats, OnFull, RejectedEvent
from agenttrail._ids import uuid7
from agenttrail.client import Client, LogVerification, Tail
from agenttrail.errors import (
    AgentTrailError,
    BufferFullError,
    ClientClosedError,
    DeliveryError,
    DeliveryTimeoutError,
    NotFoundError,
    RPCError,
    SessionStateError,
)
from agenttrail.session import Session

__all__ = [
    "AgentTrailError",
    "BufferFullError",
    "Client",
    "ClientClosedError",
    "DeliveryError",
    "DeliveryStats",
    "DeliveryTimeoutError",
    "LogVerification",
    "NotFoundError",
    "OnFull",
    "RPCError",
    "RejectedEvent",
    "Session",
    "SessionStateError",
    "Tail",
    "uuid7",
]
