"""The message envelope: the one JSON shape every message on the bus has, validated at the boundary.

```
{"schema": "sms.status", "version": 1, "message_id": "…", "correlation_id": "…",
 "created_at": "2026-11-25T18:00:00+00:00", "payload": {…}}
```

``decode`` is strict: a body that is not this shape, or whose (schema, version) is not in ``SCHEMAS``, or
whose payload does not match the registered field table raises ``MalformedMessage`` with an English reason.
The bus dead-letters such a message with that reason and keeps consuming.
"""

from __future__ import annotations

import dataclasses
import json
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from workflow.domain.events import EVENT_TYPES, Event

ENVELOPE_KEYS = frozenset({"schema", "version", "message_id", "correlation_id", "created_at", "payload"})
MAX_ID_LENGTH = 64


class MalformedMessage(ValueError):
    """The body is not a valid envelope; ``str(exc)`` is the reason recorded with the dead letter."""


@dataclass(frozen=True)
class Field:
    """One payload field: the JSON types it may have, whether it must be present, whether null is allowed."""

    types: tuple[type, ...]
    required: bool = True
    nullable: bool = False
    # A list whose elements are JSON objects of this spec (1 to ``max_items`` of them).
    items: PayloadSpec | None = None
    max_items: int = 1000


@dataclass(frozen=True)
class PayloadSpec:
    fields: Mapping[str, Field]
    # Domain events mirror dataclasses owned by the domain; extra fields there must not poison messages.
    allow_extra: bool = False


STR = Field((str,))
OPT_STR = Field((str,), nullable=True)
INT = Field((int,))
OPT_INT = Field((int,), nullable=True)

SMS_OUTBOUND_V1 = PayloadSpec({"sms_id": STR, "to": STR, "text": STR})
SMS_STATUS_V1 = PayloadSpec(
    {
        "sms_id": OPT_STR,
        "kind": STR,
        "part_index": OPT_INT,
        "part_count": OPT_INT,
        "smsc_message_id": OPT_STR,
        "smpp_status": Field((str,), required=False, nullable=True),
        "dlr_state": Field((str,), required=False, nullable=True),
        "error": Field((str,), required=False, nullable=True),
        "at": STR,
    }
)
# Several status items in one message: the gateway sends one per batch of submit results and receipts
# (one message per SMS cost the broker, both processes and the database more than the SMS itself).
# Version 1 stays accepted: messages already queued when a deployment upgrades must still be recorded.
SMS_STATUS_V2 = PayloadSpec({"items": Field((list,), items=SMS_STATUS_V1)})
SMS_INBOUND_V1 = PayloadSpec(
    {
        "mo_id": STR,
        "from": STR,
        "to": STR,
        "text": STR,
        "data_coding": Field((int,), required=False, nullable=True),
        "received_at": STR,
    }
)
# Several MOs in one message: the gateway sends the MOs read in one event-loop turn together (one message
# and one publisher confirm per MO cost the broker and both processes more than the MO itself). Each item
# is a version 1 payload. Version 1 stays: a single MO still travels as one, and messages already queued
# when a deployment upgrades must still be answered.
SMS_INBOUND_V2 = PayloadSpec({"items": Field((list,), items=SMS_INBOUND_V1)})
# How a domain-event dataclass field travels in JSON (tuples as lists, datetimes as ISO strings).
JSON_TYPES: dict[Any, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    bool: (bool,),
    datetime: (str,),
}


def event_spec(cls: type[Event]) -> PayloadSpec:
    """The payload spec of a domain event, read from its dataclass so the two cannot drift apart."""
    hints = typing.get_type_hints(cls)
    specs: dict[str, Field] = {}
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        nullable = type(None) in typing.get_args(tp)
        base = next((a for a in typing.get_args(tp) if a is not type(None)), tp) if nullable else tp
        types = (list,) if typing.get_origin(base) is tuple else JSON_TYPES.get(base, (object,))
        specs[f.name] = Field(types, nullable=nullable)
    return PayloadSpec(specs)


# (schema, version) -> payload spec. A consumer only ever sees messages listed here.
SCHEMAS: dict[tuple[str, int], PayloadSpec] = {
    ("sms.outbound", 1): SMS_OUTBOUND_V1,
    ("sms.status", 1): SMS_STATUS_V1,
    ("sms.status", 2): SMS_STATUS_V2,
    ("sms.inbound", 1): SMS_INBOUND_V1,
    ("sms.inbound", 2): SMS_INBOUND_V2,
    **{(cls.schema, cls.version): event_spec(cls) for cls in EVENT_TYPES.values()},
}


def register_schema(schema: str, version: int, spec: PayloadSpec) -> None:
    """Add a schema (used by areas that introduce their own messages, and by tests)."""
    SCHEMAS[(schema, version)] = spec


@dataclass(frozen=True)
class Envelope:
    schema: str
    version: int
    message_id: str
    correlation_id: str
    created_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(
        cls,
        schema: str,
        payload: dict[str, Any],
        *,
        version: int = 1,
        correlation_id: str | None = None,
        message_id: str | None = None,
        now: datetime | None = None,
    ) -> Envelope:
        message_id = message_id or uuid.uuid4().hex
        return cls(
            schema=schema,
            version=version,
            message_id=message_id,
            correlation_id=correlation_id or message_id,
            created_at=now or datetime.now(UTC),
            payload=payload,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "version": self.version,
            "message_id": self.message_id,
            "correlation_id": self.correlation_id,
            "created_at": self.created_at.isoformat(),
            "payload": self.payload,
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sms_status_items(envelope: Envelope) -> list[dict[str, Any]]:
    """The status items an ``sms.status`` message carries: one (version 1) or a batch (version 2)."""
    if envelope.version >= 2:
        return list(envelope.payload["items"])
    return [envelope.payload]


def decode(body: bytes) -> Envelope:
    """Parse and validate a message body; raise ``MalformedMessage`` with the reason otherwise."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedMessage(f"body is not UTF-8 JSON: {exc.__class__.__name__}") from None
    return from_dict(data)


def from_dict(data: Any) -> Envelope:
    if not isinstance(data, dict):
        raise MalformedMessage("envelope is not a JSON object")
    missing = sorted(ENVELOPE_KEYS - data.keys())
    if missing:
        raise MalformedMessage(f"envelope lacks {', '.join(missing)}")
    extra = sorted(data.keys() - ENVELOPE_KEYS)
    if extra:
        raise MalformedMessage(f"envelope has unknown keys {', '.join(extra)}")
    schema, version = data["schema"], data["version"]
    if not isinstance(schema, str) or not _is_int(version):
        raise MalformedMessage("schema must be a string and version an integer")
    message_id = _identifier(data["message_id"], "message_id")
    correlation_id = _identifier(data["correlation_id"], "correlation_id")
    created_at = _timestamp(data["created_at"], "created_at")
    spec = SCHEMAS.get((schema, version))
    if spec is None:
        raise MalformedMessage(f"unknown schema {schema!r} version {version}")
    payload = data["payload"]
    check_payload(spec, payload, f"{schema} v{version}")
    return Envelope(schema, version, message_id, correlation_id, created_at, payload)


def check_payload(spec: PayloadSpec, payload: Any, what: str) -> None:
    if not isinstance(payload, dict):
        raise MalformedMessage(f"{what}: payload is not a JSON object")
    for name, rule in spec.fields.items():
        if name not in payload:
            if rule.required:
                raise MalformedMessage(f"{what}: payload lacks {name}")
            continue
        value = payload[name]
        if value is None:
            if not rule.nullable:
                raise MalformedMessage(f"{what}: payload field {name} must not be null")
            continue
        if not _has_type(value, rule.types):
            raise MalformedMessage(f"{what}: payload field {name} has the wrong type")
        if rule.items is not None:
            if not 1 <= len(value) <= rule.max_items:
                raise MalformedMessage(f"{what}: payload field {name} needs 1 to {rule.max_items} items")
            for index, item in enumerate(value):
                check_payload(rule.items, item, f"{what} {name}[{index}]")
    if not spec.allow_extra:
        extra = sorted(payload.keys() - spec.fields.keys())
        if extra:
            raise MalformedMessage(f"{what}: payload has unknown fields {', '.join(extra)}")


def _has_type(value: Any, types: tuple[type, ...]) -> bool:
    # bool is an int in Python but not in a message contract.
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _identifier(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise MalformedMessage(f"{name} must be a non-empty string of at most {MAX_ID_LENGTH} characters")
    return value


def _timestamp(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise MalformedMessage(f"{name} must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedMessage(f"{name} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise MalformedMessage(f"{name} has no time zone")
    return parsed.astimezone(UTC)


def peek_ids(body: bytes) -> tuple[str | None, str | None]:
    """Best-effort (message_id, schema) of a body that may be malformed, for dead-letter records."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    message_id, schema = data.get("message_id"), data.get("schema")
    return (
        message_id[:MAX_ID_LENGTH] if isinstance(message_id, str) else None,
        schema[:100] if isinstance(schema, str) else None,
    )
