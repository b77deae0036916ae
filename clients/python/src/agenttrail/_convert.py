"""Plain Python values into agenttrail.v1 messages.

The session methods accept keyword arguments named like the proto fields and
holding plain Python types: str, int, float, bool, datetime (timezone-aware)
for timestamps, timedelta or seconds for durations, dicts with the proto
field names for nested messages, enum names such as "error" or
"TOOL_OUTCOME_ERROR" for enums, and any JSON-serializable value for the
fields that hold JSON text. The helpers here convert them, and raise
TypeError or ValueError naming the field at fault when a value does not fit.
No message repeats the value itself, which may be content.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from agenttrail.v1 import event_pb2

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _type_name(value: object) -> str:
    return type(value).__name__


_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
#: An event id as the server accepts it (store/event.IsEventID): an RFC 9562
#: UUID of version 1 to 8 in canonical lower-case form.
_EVENT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def check_id(field: str, value: object) -> str:
    """Returns value if it is an agenttrail id: 1 to 128 characters from
    [A-Za-z0-9._:-], starting with a letter or digit (as the server
    requires of event, session, agent and user ids)."""
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, got {_type_name(value)}")
    if not _ID.fullmatch(value):
        raise ValueError(
            f"{field} must be 1 to 128 characters from [A-Za-z0-9._:-], starting with a letter or digit"
        )
    return value


def check_event_id(field: str, value: object) -> str:
    """Returns value if it is an event id the server accepts: a UUID (RFC
    9562, version 1 to 8) in canonical form, 36 characters of lower-case hex
    in groups of 8-4-4-4-12, such as agenttrail.uuid7() makes."""
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, got {_type_name(value)}")
    if not _EVENT_ID.fullmatch(value):
        raise ValueError(
            f"{field} must be a UUID in canonical form (RFC 9562, version 1 to 8, lower-case 8-4-4-4-12 hex), "
            "such as agenttrail.uuid7() makes"
        )
    return value


def text(value: object, field: str) -> str:
    """Returns value if it is a str; raises TypeError naming field if not."""
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, got {_type_name(value)}")
    return value


def assign(msg: Message, path: str, fields: Iterable[tuple[str, object]]) -> None:
    """Sets the scalar fields of msg from (name, value) pairs, skipping the
    pairs whose value is None (not given). A value the field cannot hold
    raises TypeError or ValueError naming path.name and the expected type."""
    for name, value in fields:
        if value is None:
            continue
        try:
            setattr(msg, name, value)
        except (TypeError, ValueError) as e:
            fd = msg.DESCRIPTOR.fields_by_name[name]
            want = _EXPECTED.get(fd.cpp_type, "a scalar")
            if isinstance(value, int) and not isinstance(value, bool) and fd.cpp_type in _INTEGERS:
                raise ValueError(f"{path}.{name} must be {want}: the int given is out of range") from None
            if isinstance(e, ValueError):
                raise ValueError(f"{path}.{name} must be {want}: the value given cannot be encoded") from None
            raise TypeError(f"{path}.{name} must be {want}, got {_type_name(value)}") from None


_INTEGERS = {
    FieldDescriptor.CPPTYPE_INT32,
    FieldDescriptor.CPPTYPE_INT64,
    FieldDescriptor.CPPTYPE_UINT32,
    FieldDescriptor.CPPTYPE_UINT64,
}
_EXPECTED = {
    FieldDescriptor.CPPTYPE_STRING: "a str",
    FieldDescriptor.CPPTYPE_INT32: "an int (32-bit)",
    FieldDescriptor.CPPTYPE_INT64: "an int (64-bit)",
    FieldDescriptor.CPPTYPE_UINT32: "a non-negative int (32-bit)",
    FieldDescriptor.CPPTYPE_UINT64: "a non-negative int (64-bit)",
    FieldDescriptor.CPPTYPE_DOUBLE: "a float",
    FieldDescriptor.CPPTYPE_FLOAT: "a float",
    FieldDescriptor.CPPTYPE_BOOL: "a bool",
}


def items(value: object, field: str) -> Iterator[tuple[int, Any]]:
    """Enumerates a sequence argument. A str, bytes or mapping, which would
    iterate over characters or keys, raises TypeError instead."""
    if type(value) is list or type(value) is tuple:  # the common case, without ABC checks
        return enumerate(value)
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"{field} must be a list (or other iterable) of items, got {_type_name(value)}")
    return enumerate(value)


def strings(value: object, field: str) -> Sequence[str]:
    """Returns the str items of a sequence argument, checking each: a list
    or tuple of str as it is (not to be changed), anything else as a new
    list."""
    if type(value) is list or type(value) is tuple:  # the common case: no copy, no field paths
        for v in value:
            if type(v) is not str:
                break
        else:
            return value
    return [text(v, f"{field}[{i}]") for i, v in items(value, field)]


def string_map(dst: Any, value: object, field: str) -> None:
    """Copies a mapping of str to str into a protobuf map field."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{field} must be a dict of str to str, got {_type_name(value)}")
    for k, v in value.items():
        if not isinstance(k, str):
            raise TypeError(f"{field} keys must be str, got {_type_name(k)}")
        if not isinstance(v, str):
            raise TypeError(f"{field} values must be str, got {_type_name(v)}")
        dst[k] = v


def json_text(value: object, field: str) -> str:
    """Returns value if it is a str (taken to be JSON text or plain text
    already), and otherwise its compact JSON encoding (UTF-8 kept as is,
    keys in their given order). NaN and infinity are refused, since JSON has
    no such numbers."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{field} must be a str or a JSON-serializable value: {e}") from None


def set_timestamp(dst: timestamp_pb2.Timestamp, value: object, field: str) -> None:
    """Sets a Timestamp from a timezone-aware datetime, exactly to the
    microsecond. A naive datetime is refused: its time zone is unknown."""
    if not isinstance(value, datetime):
        raise TypeError(f"{field} must be a datetime, got {_type_name(value)}")
    if value.utcoffset() is None:
        raise ValueError(
            f"{field} must be a timezone-aware datetime (a naive one's time zone is unknown), "
            "such as datetime.now(timezone.utc)"
        )
    delta = value - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    seconds, us = divmod(micros, 1_000_000)
    dst.seconds = seconds
    dst.nanos = us * 1000


def set_duration(dst: duration_pb2.Duration, value: object, field: str) -> None:
    """Sets a Duration from a timedelta, or from a number of seconds (int or
    float). Negative, NaN and infinite durations are refused."""
    if isinstance(value, timedelta):
        # A timedelta is normalized: 0 <= seconds < 86400 and 0 <=
        # microseconds < 1000000, so only days can make it negative.
        days = value.days
        if days < 0:
            raise ValueError(f"{field} must not be negative")
        seconds = days * 86_400 + value.seconds
        nanos = value.microseconds * 1000
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{field} must be a finite, non-negative number of seconds")
        seconds, nanos = divmod(round(value * 1_000_000_000), 1_000_000_000)
    else:
        raise TypeError(f"{field} must be a timedelta or a number of seconds, got {_type_name(value)}")
    dst.seconds = seconds
    dst.nanos = nanos


class Enum:
    """Reads one proto enum from an int value or a name: the full name
    ("TOOL_OUTCOME_ERROR") or the part after the enum's prefix ("error"),
    in any case, with dashes or spaces for underscores."""

    def __init__(self, descriptor: EnumDescriptor, prefix: str) -> None:
        self.name = descriptor.name
        self._values = {v.number for v in descriptor.values}
        self._by_name: dict[str, int] = {}
        self._short: list[str] = []
        for v in descriptor.values:
            self._by_name[v.name] = v.number
            if v.name.startswith(prefix):
                short = v.name[len(prefix) :]
                self._by_name[short] = v.number
                if v.number != 0:
                    self._short.append(short.lower())
        # The spellings met most, looked up before any normalizing.
        self._exact = dict(self._by_name)
        self._exact.update((k.lower(), n) for k, n in self._by_name.items())

    def fast(self, value: object) -> int | None:
        """The value of one of the usual spellings, or None (then call the
        Enum for the general case and its errors)."""
        if type(value) is str:
            return self._exact.get(value)
        if type(value) is int and value in self._values:
            return value
        return None

    def __call__(self, value: object, field: str) -> int:
        if type(value) is str:
            number = self._exact.get(value)
            if number is not None:
                return number
        if isinstance(value, bool):
            raise TypeError(f"{field} must be a {self.name} name or value, got bool")
        if isinstance(value, int):
            if value not in self._values:
                raise ValueError(f"{field}: {value} is not a {self.name} value")
            return value
        if isinstance(value, str):
            key = value.strip().upper().replace("-", "_").replace(" ", "_")
            number = self._by_name.get(key)
            if number is None:
                raise ValueError(
                    f"{field}: {value!r} is not a {self.name}; use one of {', '.join(self._short)}"
                )
            return number
        raise TypeError(f"{field} must be a {self.name} name (str) or value (int), got {_type_name(value)}")


ROLE = Enum(event_pb2.Role.DESCRIPTOR, "ROLE_")
TOOL_OUTCOME = Enum(event_pb2.ToolOutcome.DESCRIPTOR, "TOOL_OUTCOME_")
HUMAN_ACTION_KIND = Enum(event_pb2.HumanActionKind.DESCRIPTOR, "HUMAN_ACTION_KIND_")
APPROVAL_DECISION = Enum(event_pb2.ApprovalDecision.DESCRIPTOR, "APPROVAL_DECISION_")
END_REASON = Enum(event_pb2.EndReason.DESCRIPTOR, "END_REASON_")
EVENT_KIND = Enum(event_pb2.EventKind.DESCRIPTOR, "EVENT_KIND_")
#: ROLE's usual spellings, for chat messages, which are many.
_ROLE_EXACT = ROLE._exact


def _mapping(value: object, cls: type[Message], field: str) -> Mapping[str, Any] | None:
    """Returns value as a mapping, or None when it is already a cls message
    (the caller copies it); raises TypeError for anything else."""
    if type(value) is dict:  # the common case, without ABC checks
        return value
    if isinstance(value, cls):
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{field} must be a {cls.__name__} or a dict, got {_type_name(value)}")
    return value


def _unknown(field: str, key: object, cls: type[Message]) -> TypeError:
    names = ", ".join(f.name for f in cls.DESCRIPTOR.fields)
    return TypeError(f"{field} has unknown key {key!r}; a {cls.__name__} has {names}")


def _fast_tool_call_request(dst: event_pb2.ToolCallRequest, value: dict[str, Any]) -> bool:
    """Fills dst from a dict of the usual types, without building a field
    path for errors; returns False (dst half filled) on anything else."""
    for key, v in value.items():
        if key == "tool_name" and type(v) is str:
            dst.tool_name = v
        elif key == "tool_call_id" and type(v) is str:
            dst.tool_call_id = v
        elif key == "arguments_json" and type(v) is str:
            dst.arguments_json = v
        else:
            return False
    return True


def _fast_chat_message(dst: event_pb2.ChatMessage, value: dict[str, Any]) -> bool:
    """Fills dst from a dict of the usual types, without building a field
    path for errors; returns False (dst half filled) on anything else."""
    if len(value) == 2:
        # The most usual message of all: a role and its text.
        role = value.get("role")
        content = value.get("content")
        if type(role) is str and type(content) is str:
            number = _ROLE_EXACT.get(role)
            if number is not None:
                dst.role = number  # type: ignore[assignment]
                if content:
                    dst.content = content
                return True
    for key, v in value.items():
        if key == "content" and (type(v) is str or v is None):
            if v:
                dst.content = v
        elif key == "role":
            role = _ROLE_EXACT.get(v) if type(v) is str else ROLE.fast(v)
            if role is None:
                return False
            dst.role = role  # type: ignore[assignment]
        elif key == "name" and type(v) is str:
            dst.name = v
        elif key == "tool_call_id" and type(v) is str:
            dst.tool_call_id = v
        elif key == "tool_calls" and (type(v) is list or type(v) is tuple):
            for tc in v:
                if type(tc) is not dict or not _fast_tool_call_request(dst.tool_calls.add(), tc):
                    return False
        else:
            return False
    return True


def chat_messages(dst: Any, value: object, field: str) -> None:
    """Adds ChatMessages to a repeated field from a sequence argument of
    messages or dicts (see :func:`chat_message`)."""
    add = dst.add
    if type(value) is list or type(value) is tuple:  # the common case, without enumerate
        for m in value:
            msg = add()
            if type(m) is not dict or not _fast_chat_message(msg, m):
                chat_message(msg, m, field, len(dst) - 1)
        return
    for i, m in items(value, field):
        chat_message(add(), m, field, i)


def tool_call_request(dst: event_pb2.ToolCallRequest, value: object, field: str, index: int | None = None) -> None:
    """Fills a ToolCallRequest from one, or from a dict with the keys
    tool_call_id, tool_name and arguments_json (JSON text, or any
    JSON-serializable value). The field path for errors is field, or
    field[index]."""
    if type(value) is dict and _fast_tool_call_request(dst, value):
        return
    dst.Clear()
    if index is not None:
        field = f"{field}[{index}]"
    m = _mapping(value, event_pb2.ToolCallRequest, field)
    if m is None:
        dst.CopyFrom(value)  # type: ignore[arg-type]
        return
    for key, v in m.items():
        if key == "tool_call_id":
            dst.tool_call_id = text(v, f"{field}.tool_call_id")
        elif key == "tool_name":
            dst.tool_name = text(v, f"{field}.tool_name")
        elif key == "arguments_json":
            dst.arguments_json = json_text(v, f"{field}.arguments_json")
        else:
            raise _unknown(field, key, event_pb2.ToolCallRequest)


def chat_message(dst: event_pb2.ChatMessage, value: object, field: str, index: int | None = None) -> None:
    """Fills a ChatMessage from one, or from a dict with the keys role (a
    Role name such as "user", or value), content (None is taken as empty),
    name, tool_call_id and tool_calls (a list, see
    :func:`tool_call_request`). The field path for errors is field, or
    field[index]."""
    if type(value) is dict and _fast_chat_message(dst, value):
        return
    # Anything else, or a mistake: the general way, which names it.
    dst.Clear()
    if index is not None:
        field = f"{field}[{index}]"
    m = _mapping(value, event_pb2.ChatMessage, field)
    if m is None:
        dst.CopyFrom(value)  # type: ignore[arg-type]
        return
    for key, v in m.items():
        if key == "role":
            dst.role = ROLE(v, f"{field}.role")  # type: ignore[assignment]
        elif key == "content":
            dst.content = "" if v is None else text(v, f"{field}.content")
        elif key == "name":
            dst.name = text(v, f"{field}.name")
        elif key == "tool_call_id":
            dst.tool_call_id = text(v, f"{field}.tool_call_id")
        elif key == "tool_calls":
            for i, tc in items(v, f"{field}.tool_calls"):
                tool_call_request(dst.tool_calls.add(), tc, f"{field}.tool_calls", i)
        else:
            raise _unknown(field, key, event_pb2.ChatMessage)


def tool_definition(dst: event_pb2.ToolDefinition, value: object, field: str) -> None:
    """Fills a ToolDefinition from one, or from a dict with the keys name,
    type, description and parameters_schema_json (JSON text, or a
    JSON-serializable schema such as a dict)."""
    m = _mapping(value, event_pb2.ToolDefinition, field)
    if m is None:
        dst.CopyFrom(value)  # type: ignore[arg-type]
        return
    for key, v in m.items():
        if key == "name":
            dst.name = text(v, f"{field}.name")
        elif key == "type":
            dst.type = text(v, f"{field}.type")
        elif key == "description":
            dst.description = text(v, f"{field}.description")
        elif key == "parameters_schema_json":
            dst.parameters_schema_json = json_text(v, f"{field}.parameters_schema_json")
        else:
            raise _unknown(field, key, event_pb2.ToolDefinition)


def cost(dst: event_pb2.Cost, value: object, field: str) -> tuple[str, int] | None:
    """Fills a Cost from one, or from a dict with the keys currency_code
    (such as "USD") and micros (an int: millionths of the currency unit).
    Returns the currency code and micros set when the value was the usual
    dict, and None otherwise (then read dst, which may be left unset)."""
    if type(value) is dict and len(value) == 2:
        # The common case: both keys, of the usual types.
        code, micros = value.get("currency_code"), value.get("micros")
        if type(code) is str and type(micros) is int and 0 <= micros < 1 << 63:
            try:
                dst.currency_code = code
                dst.micros = micros
                return code, micros
            except ValueError:
                pass  # a str that cannot be encoded: the general way names it
    m = _mapping(value, event_pb2.Cost, field)
    if m is None:
        dst.CopyFrom(value)  # type: ignore[arg-type]
        return None
    for key in m:
        if key not in ("currency_code", "micros"):
            raise _unknown(field, key, event_pb2.Cost)
    assign(dst, field, (("currency_code", m.get("currency_code")), ("micros", m.get("micros"))))
    return None
