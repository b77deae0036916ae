"""Sessions: one run of an agent on one task, logged event by event.

A :class:`Session` comes from :meth:`agenttrail.Client.session` and is used
as a context manager::

    with client.session(user_message="Refund order 1234") as session:
        llm = session.llm_call(request_model="gpt-4o", output_text="...")
        session.tool_call(tool_name="refund", arguments={"order": 1234}, result={"ok": True})
        session.output(text="Done: order 1234 is refunded.", final=True)

Entering the ``with`` block logs the session's SessionStart event; leaving it
logs its SessionEnd, with END_REASON_COMPLETED; or, when an exception
escapes, an AgentError event with the exception (type, message, stack trace)
and a SessionEnd with END_REASON_FAILED and the exception's type as its
detail (END_REASON_CANCELLED, and no error event, for KeyboardInterrupt,
GeneratorExit and asyncio.CancelledError).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from agenttrail import _convert as cv
from agenttrail import _ids
from agenttrail._delivery import Delivery
from agenttrail.errors import AgentTrailError, SessionStateError
from agenttrail.v1 import append_service_pb2, event_pb2

__all__ = ["Session"]

log = logging.getLogger("agenttrail")

#: A duration: a timedelta, or a number of seconds.
Duration = timedelta | float
#: A message given as the generated class or as a dict of its proto fields.
MessageLike = Any

_NEW, _STARTED, _ENDED = "new", "started", "ended"
#: AppendRequest's parser and encoder, looked up once: a method looked up
#: on a message first looks for a field of that name.
_parse_request = append_service_pb2.AppendRequest.FromString
_encode_request = append_service_pb2.AppendRequest.SerializeToString
#: Exceptions that end a session as cancelled rather than failed.
_CANCELLATIONS = (KeyboardInterrupt, GeneratorExit, asyncio.CancelledError)

#: The scalar fields of LlmCall that Session.llm_call sets, in the order of
#: its arguments.
_LLM_CALL_SCALARS = (
    "provider_name",
    "operation_name",
    "request_model",
    "response_model",
    "response_id",
    "system_instructions",
    "output_text",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "temperature",
    "max_tokens",
    "error_type",
)


class Session:
    """One session of an agent: its events share the session id and the
    envelope fields given to :meth:`agenttrail.Client.session`.

    Every logging method takes keyword arguments named like the fields of
    the event's payload message in proto/agenttrail/v1/event.proto, as plain
    Python values (see the method docs); arguments left as None are not set.
    Each also takes:

    - ``parent_event_id``: the event that caused this one, such as the LLM
      call that asked for a tool call. By default the session's start event
      (as in agenttrail's other clients); pass "" for no parent.
    - ``occurred_at``: when the step happened, a timezone-aware datetime.
      By default, now.
    - ``labels``: labels for this event, added to the session's.
    - ``event_id``: the event's id. By default a new UUIDv7; pass one made
      beforehand with :func:`agenttrail.uuid7` when another event must name
      this one before it is logged, such as the approval of a tool call that
      runs (and is logged) after the approval.

    Each method builds the event, gives it a new UUIDv7 event id and the
    session's next step number (from 1), puts it in the client's delivery
    buffer and returns its event id; delivery happens in the background. It
    never waits for the network: when the buffer is full it follows the
    client's ``on_full`` policy. With ``on_full="drop"`` a dropped event
    still takes its step number, so the gap shows in the trail.

    A bad argument raises TypeError or ValueError naming it, and logs
    nothing. An event the server refuses is reported through the client's
    rejection callback and :meth:`agenttrail.Client.rejections`.

    Thread-safe: events of one session may be logged from several threads;
    the step numbers follow the order in which they were logged.
    """

    def __init__(
        self,
        delivery: Delivery,
        *,
        session_id: str,
        agent_id: str,
        agent_version: str,
        model_id: str,
        user_id: str,
        system_prompt_hash: str,
        labels: Mapping[str, str],
        start: event_pb2.SessionStart,
    ) -> None:
        """Made by :meth:`agenttrail.Client.session`, which checks the
        arguments."""
        self._delivery = delivery
        self._session_id = session_id
        self._agent_id = agent_id
        # An AppendRequest whose event holds the session's envelope,
        # encoded: parsing it is cheaper than copying a message.
        self._template = append_service_pb2.AppendRequest(
            event=event_pb2.Event(
                session_id=session_id,
                agent_id=agent_id,
                agent_version=agent_version,
                model_id=model_id,
                user_id=user_id,
                system_prompt_hash=system_prompt_hash,
                labels=labels,
            )
        ).SerializeToString()
        self._start = start
        self._lock = threading.Lock()
        self._state = _NEW
        self._step = 0
        self._last_event_id = ""
        self._start_event_id = ""
        self._llm_calls = 0
        self._tool_calls = 0
        self._errors = 0
        self._input_tokens = 0
        self._output_tokens = 0
        self._currency: str | None = None
        self._cost_micros = 0
        self._mixed_currencies = False

    # --- Properties ---------------------------------------------------------------

    @property
    def session_id(self) -> str:
        """The session id shared by every event of the session."""
        return self._session_id

    @property
    def agent_id(self) -> str:
        """The agent id of every event of the session."""
        return self._agent_id

    @property
    def start_event_id(self) -> str:
        """The event id of the SessionStart event, or "" before the start."""
        return self._start_event_id

    @property
    def last_event_id(self) -> str:
        """The event id of the event logged last, or "" before the start."""
        return self._last_event_id

    @property
    def step(self) -> int:
        """The step number of the event logged last (0 before the start)."""
        return self._step

    @property
    def ended(self) -> bool:
        """Whether the session has logged its SessionEnd."""
        return self._state == _ENDED

    # --- Start and end ------------------------------------------------------------

    def __enter__(self) -> Session:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state == _ENDED:
            return
        if exc is None:
            self.end(reason=event_pb2.END_REASON_COMPLETED)
            return
        try:
            if isinstance(exc, _CANCELLATIONS):
                self.end(reason=event_pb2.END_REASON_CANCELLED, detail=_type_name(type(exc)))
            else:
                self.error(exception=exc)
                self.end(reason=event_pb2.END_REASON_FAILED, detail=_type_name(type(exc)))
        except AgentTrailError as e:
            # Never hide the exception that ended the session behind this one.
            log.warning("agenttrail: session %s: its end could not be logged: %s", self._session_id, e)

    def start(self, *, occurred_at: datetime | None = None, labels: Mapping[str, str] | None = None) -> str:
        """Logs the SessionStart event with what was given to
        :meth:`agenttrail.Client.session` and returns its event id. Entering
        the ``with`` block calls it. Raises SessionStateError if the session
        has started before."""
        req, ev = self._event(occurred_at, labels)
        ev.session_start.CopyFrom(self._start)
        return self._log(req, ev, None, "session_start", None)

    def end(
        self,
        *,
        reason: int | str = "completed",
        detail: str | None = None,
        occurred_at: datetime | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Logs the SessionEnd event and returns its event id. Leaving the
        ``with`` block calls it unless it was called before.

        reason is an EndReason: "completed", "timed_out", "max_iterations",
        "failed" or "cancelled" (or the EndReason value). detail says more,
        such as the exception that ended the session. The counts are the
        session's own: step_count is this event's step number (every event
        of the session, the start and this end included); llm_call_count,
        tool_call_count, input_tokens and output_tokens add up the LLM and
        tool calls logged; error_count counts what the server's errors_only
        filter matches: error events, tool calls whose outcome is not
        success, and LLM calls with an error_type; cost adds up the costs
        given, when they are all in one currency (it is left unset when
        they are not). Raises SessionStateError if the session has not
        started or has ended.
        """
        req, ev = self._event(occurred_at, labels)
        end = ev.session_end
        end.reason = cv.END_REASON(reason, "session_end.reason")  # type: ignore[assignment]
        if detail is not None:
            end.detail = cv.text(detail, "session_end.detail")
        return self._log(req, ev, None, "session_end", None)

    # --- Events ---------------------------------------------------------------------

    def llm_call(
        self,
        *,
        provider_name: str | None = None,
        operation_name: str | None = None,
        request_model: str | None = None,
        response_model: str | None = None,
        response_id: str | None = None,
        input_messages: Iterable[MessageLike] | None = None,
        system_instructions: str | None = None,
        output_text: str | None = None,
        tool_calls: Iterable[MessageLike] | None = None,
        finish_reasons: Sequence[str] | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_input_tokens: int | None = None,
        cache_creation_input_tokens: int | None = None,
        cost: MessageLike | None = None,
        latency: Duration | None = None,
        time_to_first_token: Duration | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        error_type: str | None = None,
        parent_event_id: str | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Logs an LlmCall event: one call to a language model. Returns its
        event id.

        - input_messages: ChatMessage messages or dicts with the keys role
          ("system", "user", "assistant", "tool", "developer"), content,
          name, tool_call_id and tool_calls.
        - tool_calls (the tool calls the model asked for): ToolCallRequest
          messages or dicts with the keys tool_call_id, tool_name and
          arguments_json (JSON text, or a dict or other JSON-serializable
          value, which is encoded).
        - finish_reasons: a list of str, such as ["stop"].
        - cost: a Cost message or a dict {"currency_code": "USD", "micros":
          1500} (millionths of the unit: 1500 is 0.0015 USD).
        - latency, time_to_first_token: a timedelta or seconds.
        - temperature, max_tokens: set only when given (they are optional
          in the proto, so 0 is recorded as 0).

        The other arguments are the LlmCall fields of the same names.
        """
        req, ev = self._event(occurred_at, labels)
        p = ev.llm_call
        # The scalar fields set one by one, the cheapest way for the most
        # frequent event; a value a field cannot hold is named by assign.
        try:
            if provider_name is not None:
                p.provider_name = provider_name
            if operation_name is not None:
                p.operation_name = operation_name
            if request_model is not None:
                p.request_model = request_model
            if response_model is not None:
                p.response_model = response_model
            if response_id is not None:
                p.response_id = response_id
            if system_instructions is not None:
                p.system_instructions = system_instructions
            if output_text is not None:
                p.output_text = output_text
            if input_tokens is not None:
                p.input_tokens = input_tokens
            if output_tokens is not None:
                p.output_tokens = output_tokens
            if cache_read_input_tokens is not None:
                p.cache_read_input_tokens = cache_read_input_tokens
            if cache_creation_input_tokens is not None:
                p.cache_creation_input_tokens = cache_creation_input_tokens
            if temperature is not None:
                p.temperature = temperature
            if max_tokens is not None:
                p.max_tokens = max_tokens
            if error_type is not None:
                p.error_type = error_type
        except (TypeError, ValueError):
            cv.assign(
                p,
                "llm_call",
                zip(
                    _LLM_CALL_SCALARS,
                    (
                        provider_name,
                        operation_name,
                        request_model,
                        response_model,
                        response_id,
                        system_instructions,
                        output_text,
                        input_tokens,
                        output_tokens,
                        cache_read_input_tokens,
                        cache_creation_input_tokens,
                        temperature,
                        max_tokens,
                        error_type,
                    ),
                ),
            )
            raise
        if input_messages is not None:
            cv.chat_messages(p.input_messages, input_messages, "llm_call.input_messages")
        if tool_calls is not None:
            for i, t in cv.items(tool_calls, "llm_call.tool_calls"):
                cv.tool_call_request(p.tool_calls.add(), t, "llm_call.tool_calls", i)
        if finish_reasons is not None:
            p.finish_reasons.extend(cv.strings(finish_reasons, "llm_call.finish_reasons"))
        # The cost, for the session's counts: as set, or read back.
        cost_set: tuple[str, int] | None = None
        if cost is not None:
            cost_set = cv.cost(p.cost, cost, "llm_call.cost")
            if cost_set is None and p.HasField("cost"):
                c = p.cost
                cost_set = (c.currency_code, c.micros)
        if latency is not None:
            cv.set_duration(p.latency, latency, "llm_call.latency")
        if time_to_first_token is not None:
            cv.set_duration(p.time_to_first_token, time_to_first_token, "llm_call.time_to_first_token")
        # The session's counts, from the arguments where they are what the
        # message holds (an int was stored as it is), which saves reading
        # the fields back.
        if input_tokens is None:
            input_tokens = 0
        elif type(input_tokens) is not int:
            input_tokens = p.input_tokens
        if output_tokens is None:
            output_tokens = 0
        elif type(output_tokens) is not int:
            output_tokens = p.output_tokens
        failed = bool(error_type) if type(error_type) is str or error_type is None else bool(p.error_type)
        return self._log(
            req,
            ev,
            parent_event_id,
            "llm_call",
            event_id,
            input_tokens,
            output_tokens,
            failed,
            cost_set,
        )

    def tool_call(
        self,
        *,
        tool_name: str,
        tool_call_id: str | None = None,
        tool_type: str | None = None,
        arguments: Any = None,
        result: Any = None,
        error_type: str | None = None,
        error_message: str | None = None,
        outcome: int | str | None = None,
        duration: Duration | None = None,
        approval_required: bool | None = None,
        exception: BaseException | None = None,
        parent_event_id: str | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Logs a ToolCall event: one call of a tool by the agent. Returns
        its event id.

        - arguments, result: a str is recorded as it is; anything else (a
          dict, a list, a number...) is encoded as JSON.
        - exception: the exception the tool raised, if any; it sets
          error_type (the exception's type) and error_message (its message)
          unless they are given.
        - outcome: a ToolOutcome: "success", "error", "timeout", "denied" or
          "cancelled" (or the value). By default "error" when an error or
          exception is given, and "success" otherwise.
        - duration: a timedelta or seconds.
        - approval_required: whether a human had to approve the call; log
          the decision with :meth:`approval` and gated_event_id set to this
          event's id.
        """
        req, ev = self._event(occurred_at, labels)
        p = ev.tool_call
        if exception is not None:
            if not isinstance(exception, BaseException):
                raise TypeError(f"tool_call.exception must be an exception, got {type(exception).__name__}")
            if error_type is None:
                error_type = _type_name(type(exception))
            if error_message is None:
                error_message = str(exception)
        cv.assign(
            p,
            "tool_call",
            (
                ("tool_name", cv.text(tool_name, "tool_call.tool_name")),
                ("tool_call_id", tool_call_id),
                ("tool_type", tool_type),
                ("error_type", error_type),
                ("error_message", error_message),
                ("approval_required", approval_required),
            ),
        )
        if arguments is not None:
            p.arguments = cv.json_text(arguments, "tool_call.arguments")
        if result is not None:
            p.result = cv.json_text(result, "tool_call.result")
        if outcome is not None:
            p.outcome = cv.TOOL_OUTCOME(outcome, "tool_call.outcome")  # type: ignore[assignment]
        elif error_type or error_message:
            p.outcome = event_pb2.TOOL_OUTCOME_ERROR
        else:
            p.outcome = event_pb2.TOOL_OUTCOME_SUCCESS
        if duration is not None:
            cv.set_duration(p.duration, duration, "tool_call.duration")
        return self._log(req, ev, parent_event_id, "tool_call", event_id)

    def reasoning(
        self,
        *,
        thought: str | None = None,
        plan_steps: Sequence[str] | None = None,
        confidence: float | None = None,
        parent_event_id: str | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Logs a Reasoning event: the agent's thought (str), its plan
        (plan_steps, a list of str, in order) and its confidence (from 0 to
        1, set only when given). Returns its event id."""
        req, ev = self._event(occurred_at, labels)
        p = ev.reasoning
        cv.assign(p, "reasoning", (("thought", thought), ("confidence", confidence)))
        if plan_steps is not None:
            p.plan_steps.extend(cv.strings(plan_steps, "reasoning.plan_steps"))
        return self._log(req, ev, parent_event_id, "reasoning", event_id)

    def approval(
        self,
        *,
        decision: int | str,
        kind: int | str = "approval",
        request: str | None = None,
        approver: str | None = None,
        reason: str | None = None,
        gated_event_id: str | None = None,
        edited_content: str | None = None,
        wait_duration: Duration | None = None,
        parent_event_id: str | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Logs a HumanApproval event: a human deciding on a step, or
        stepping in unasked. Returns its event id.

        - decision: an ApprovalDecision: "pending", "approved", "rejected"
          or "edited" (or the value).
        - kind: a HumanActionKind: "approval" (the agent asked, the default)
          or "intervention" (the human stepped in unasked).
        - gated_event_id: the event the decision gates, such as the tool
          call that needed approval.
        - edited_content: the edited version, for "edited" or an
          intervention with new instructions.
        - wait_duration: how long the agent waited, a timedelta or seconds.
        """
        req, ev = self._event(occurred_at, labels)
        p = ev.human_approval
        p.decision = cv.APPROVAL_DECISION(decision, "human_approval.decision")  # type: ignore[assignment]
        p.kind = cv.HUMAN_ACTION_KIND(kind, "human_approval.kind")  # type: ignore[assignment]
        if gated_event_id:
            cv.check_event_id("gated_event_id", gated_event_id)
        cv.assign(
            p,
            "human_approval",
            (
                ("request", request),
                ("approver", approver),
                ("reason", reason),
                ("gated_event_id", gated_event_id),
                ("edited_content", edited_content),
            ),
        )
        if wait_duration is not None:
            cv.set_duration(p.wait_duration, wait_duration, "human_approval.wait_duration")
        return self._log(req, ev, parent_event_id, "human_approval", event_id)

    def error(
        self,
        *,
        error_type: str | None = None,
        message: str | None = None,
        stack_trace: str | None = None,
        recovery_action: str | None = None,
        retryable: bool | None = None,
        exception: BaseException | None = None,
        parent_event_id: str | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Logs an AgentError event: an error the agent met, whether it
        recovered (say how in recovery_action) or not. Returns its event id.

        exception, when given, sets error_type (the exception's type, with
        its module unless built in), message (its message) and stack_trace
        (its formatted traceback) unless they are given.
        """
        req, ev = self._event(occurred_at, labels)
        if exception is not None:
            if not isinstance(exception, BaseException):
                raise TypeError(f"error.exception must be an exception, got {type(exception).__name__}")
            if error_type is None:
                error_type = _type_name(type(exception))
            if message is None:
                message = str(exception)
            if stack_trace is None:
                stack_trace = "".join(traceback.format_exception(exception))
        cv.assign(
            ev.error,
            "error",
            (
                ("error_type", error_type),
                ("message", message),
                ("stack_trace", stack_trace),
                ("recovery_action", recovery_action),
                ("retryable", retryable),
            ),
        )
        return self._log(req, ev, parent_event_id, "error", event_id)

    def output(
        self,
        *,
        text: str,
        final: bool | None = None,
        media_type: str | None = None,
        parent_event_id: str | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Logs an Output event: a response the agent produced (text), final
        or intermediate (final), of a media type such as "text/markdown"
        (empty means text/plain). Returns its event id."""
        req, ev = self._event(occurred_at, labels)
        cv.assign(
            ev.output,
            "output",
            (("text", cv.text(text, "output.text")), ("final", final), ("media_type", media_type)),
        )
        return self._log(req, ev, parent_event_id, "output", event_id)

    # --- Building and logging -----------------------------------------------------

    def _event(
        self, occurred_at: datetime | None, labels: Mapping[str, str] | None
    ) -> tuple[append_service_pb2.AppendRequest, event_pb2.Event]:
        """A new AppendRequest whose event has the session's envelope, the
        time and the labels; and that event."""
        req = _parse_request(self._template)
        ev = req.event
        ts = ev.occurred_at
        if occurred_at is None:
            ts.seconds, ts.nanos = divmod(time.time_ns(), 1_000_000_000)
        else:
            cv.set_timestamp(ts, occurred_at, "occurred_at")
        if labels is not None:
            cv.string_map(ev.labels, labels, "labels")
        return req, ev

    def _log(
        self,
        req: append_service_pb2.AppendRequest,
        ev: event_pb2.Event,
        parent_event_id: str | None,
        what: str,
        event_id: str | None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        failed: bool = False,
        cost: tuple[str, int] | None = None,
    ) -> str:
        """Numbers, links, encodes and enqueues a built event (ev is
        req.event); updates the session's counts. what is the payload, such
        as "session_start" or "llm_call"; an LLM call gives its tokens,
        whether it failed and its cost (currency code and micros; None when
        not set)."""
        if parent_event_id is not None:
            if parent_event_id:
                cv.check_event_id("parent_event_id", parent_event_id)
            ev.parent_event_id = parent_event_id
        if event_id is not None:
            cv.check_event_id("event_id", event_id)
        with self._lock:
            if self._state is not _STARTED or what == "session_start":
                self._check_state(what)
            if event_id is None:
                event_id = _ids.uuid7_str()
            ev.event_id = event_id
            step = self._step + 1
            ev.step = step
            if parent_event_id is None and self._start_event_id:
                ev.parent_event_id = self._start_event_id
            if what == "session_end":
                self._finish(ev.session_end, step)
            self._delivery.put(event_id, _encode_request(req), self._session_id, what)
            # Only an event that was logged (or dropped by policy) counts.
            self._step = step
            self._last_event_id = event_id
            if what == "llm_call":
                self._llm_calls += 1
                self._input_tokens += input_tokens
                self._output_tokens += output_tokens
                if failed:
                    self._errors += 1
                if cost is not None:
                    self._add_cost(*cost)
            else:
                self._count(ev, what, event_id)
        return event_id

    def _check_state(self, what: str) -> None:
        """Raises SessionStateError unless the session's state lets it log
        what (a payload name); the lock is held."""
        if what == "session_start":
            if self._state != _NEW:
                raise SessionStateError(f"session {self._session_id} has already started")
        elif self._state == _NEW:
            raise SessionStateError(
                f"session {self._session_id} has not started: use it in a with block, or call start()"
            )
        elif self._state == _ENDED:
            raise SessionStateError(f"session {self._session_id} has ended: no more events can be logged")

    def _count(self, ev: event_pb2.Event, what: str, event_id: str) -> None:
        """Updates the session's state and counts for a logged event other
        than an LLM call; the lock is held."""
        if what == "session_start":
            self._state = _STARTED
            self._start_event_id = event_id
        elif what == "session_end":
            self._state = _ENDED
        elif what == "tool_call":
            self._tool_calls += 1
            if ev.tool_call.outcome != event_pb2.TOOL_OUTCOME_SUCCESS:
                self._errors += 1
        elif what == "error":
            self._errors += 1

    def _add_cost(self, currency_code: str, micros: int) -> None:
        if self._currency is None:
            self._currency = currency_code
        elif self._currency != currency_code:
            self._mixed_currencies = True
        self._cost_micros += micros

    def _finish(self, end: event_pb2.SessionEnd, step: int) -> None:
        """Fills the counts of the SessionEnd; the lock is held."""
        end.step_count = step
        end.llm_call_count = self._llm_calls
        end.tool_call_count = self._tool_calls
        end.error_count = self._errors
        end.input_tokens = self._input_tokens
        end.output_tokens = self._output_tokens
        if self._currency is not None and not self._mixed_currencies:
            end.cost.currency_code = self._currency
            end.cost.micros = self._cost_micros


def _type_name(t: type[BaseException]) -> str:
    """The name of an exception type, with its module unless built in."""
    if t.__module__ == "builtins":
        return t.__qualname__
    return f"{t.__module__}.{t.__qualname__}"


def system_prompt_hash(system_prompt: str) -> str:
    """The hex SHA-256 of a system prompt's UTF-8 bytes, as
    Event.system_prompt_hash holds it."""
    return hashlib.sha256(system_prompt.encode("utf-8")).hexdigest()
