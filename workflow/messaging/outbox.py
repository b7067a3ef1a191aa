"""Writing one message into the ``outbox`` table inside the caller's transaction.

The unit of work writes domain events this way; ``queue_sms`` writes ``sms.outbound`` this way. The relay
(``relay.py``) publishes the rows afterwards.

A row written with ``direct=True`` is published by the writer itself right after its commit
(``relay.DirectPublisher``), which then marks it sent. It carries ``attempts = DIRECT`` so that the relays
leave it alone for a grace period and publish it only if the writer did not (it crashed, the broker refused):
the transactional outbox stays the safety net, without a relay round on the latency path.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from workflow.adapters.orm import outbox
from workflow.messaging.envelope import Envelope

Executor = AsyncConnection | AsyncSession

#: ``attempts`` of a row its writer publishes itself (see the module docstring); relays count from 0.
DIRECT = -1


async def add_to_outbox(db: Executor, topic: str, envelope: Envelope, ordering_key: str) -> None:
    """Insert the row; it is published once the caller's transaction commits (never before)."""
    await db.execute(outbox.insert().values(**outbox_values(topic, envelope, ordering_key)))


def outbox_values(
    topic: str, envelope: Envelope, ordering_key: str, *, direct: bool = False
) -> dict[str, Any]:
    return {
        "message_id": envelope.message_id,
        "topic": topic,
        "schema": envelope.schema,
        "schema_version": envelope.version,
        "payload": json.dumps(envelope.payload, ensure_ascii=False, separators=(",", ":")),
        "correlation_id": envelope.correlation_id,
        "ordering_key": ordering_key,
        "created_at": envelope.created_at,
        "attempts": DIRECT if direct else 0,
    }
