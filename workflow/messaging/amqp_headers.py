"""The headers the RabbitMQ bus puts on retried and parked messages, and how a parked message is read back.

A retry carries ``x-muhtar-attempt``; a message the consumer parks carries its queue, reason and original topic.
A message the broker parked itself (``x-delivery-limit`` exceeded) has only RabbitMQ's ``x-death`` list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow.messaging.bus import DeadLetter

H_ATTEMPT = "x-muhtar-attempt"
H_QUEUE = "x-muhtar-queue"
H_REASON = "x-muhtar-reason"
H_TOPIC = "x-muhtar-topic"


def dead_letter_from(headers: Mapping[str, Any], body: bytes) -> DeadLetter:
    return DeadLetter(
        queue=str_header(headers, H_QUEUE) or _death_queue(headers) or "?",
        body=body,
        reason=str_header(headers, H_REASON) or f"broker: {_death_reason(headers)}",
        attempts=int_header(headers, H_ATTEMPT, 0) or int_header(headers, "x-delivery-count", 0),
        topic=str_header(headers, H_TOPIC) or None,
    )


def int_header(headers: Mapping[str, Any] | None, name: str, default: int) -> int:
    value = (headers or {}).get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def str_header(headers: Mapping[str, Any], name: str) -> str:
    value = headers.get(name)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def original_topic(headers: Mapping[str, Any] | None, routing_key: str | None) -> str:
    """The topic a message was first published under: kept in a header when it was re-sent for a retry."""
    return str_header(headers or {}, H_TOPIC) or (routing_key or "")


def _first_death(headers: Mapping[str, Any]) -> Mapping[str, Any]:
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping):
        return deaths[0]
    return {}


def _death_queue(headers: Mapping[str, Any]) -> str:
    return str_header(_first_death(headers), "queue")


def _death_reason(headers: Mapping[str, Any]) -> str:
    return str_header(_first_death(headers), "reason") or "dead-lettered"
