"""The e-mail area's tables (migration 0007_mail), on the shared ``metadata``.

- ``mail_addresses``: every address ever issued, never deleted, so none is issued twice (``local_part`` is
  the key whatever the domain). ``retired_at`` is set once its muhtar no longer holds it.
- ``mail_preferences``: which notifications a muhtar wants by e-mail; no row means the defaults.
- ``mail_digest_subscriptions``: staff users who asked for the daily digest of their unit's tasks.
- ``mail_messages``: every e-mail queued, as rendered, with its delivery state: ``queued`` → ``sent``, or
  ``deferred`` (a temporary failure; retried) → ``sent`` / ``failed`` (a permanent refusal or too old).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from workflow.adapters.orm import metadata, utc_datetime

mail_addresses = Table(
    "mail_addresses",
    metadata,
    Column("local_part", String(64), primary_key=True),
    Column("address", String(254), nullable=False, unique=True),
    Column("muhtar_id", String(32), ForeignKey("muhtars.id"), nullable=False),
    Column("issued_at", utc_datetime(), nullable=False),
    Column("retired_at", utc_datetime(), nullable=True),
    Index("ix_mail_addresses_issued_at", "issued_at"),
    Index("ix_mail_addresses_muhtar", "muhtar_id"),
)

mail_preferences = Table(
    "mail_preferences",
    metadata,
    Column("muhtar_id", String(32), ForeignKey("muhtars.id"), primary_key=True),
    Column("request_received", Boolean, nullable=False),
    Column("request_concluded", Boolean, nullable=False),
    Column("routing_steps", Boolean, nullable=False),
    Column("updated_at", utc_datetime(), nullable=False),
)

mail_digest_subscriptions = Table(
    "mail_digest_subscriptions",
    metadata,
    Column("staff_user_id", String(32), ForeignKey("staff_users.id"), primary_key=True),
    Column("email", String(254), nullable=False),
    Column("enabled", Boolean, nullable=False),
    # The Europe/Istanbul day (YYYY-MM-DD) of the last digest queued, so a day gets one digest.
    Column("last_sent_on", String(10), nullable=True),
    Column("updated_at", utc_datetime(), nullable=False),
)

mail_messages = Table(
    "mail_messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("purpose", String(20), nullable=False),
    Column("to_address", String(254), nullable=False),
    Column("to_name", String(200), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text, nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("request_id", String(32), ForeignKey("requests.id"), nullable=True),
    Column("muhtar_id", String(32), ForeignKey("muhtars.id"), nullable=True),
    Column("staff_user_id", String(32), ForeignKey("staff_users.id"), nullable=True),
    # What caused the mail ("request.filed:<event message id>", "digest:<user>:<day>"): queued once.
    Column("dedupe_key", String(120), nullable=True, unique=True),
    Column("created_at", utc_datetime(), nullable=False),
    Column("updated_at", utc_datetime(), nullable=False),
    Column("sent_at", utc_datetime(), nullable=True),
    Index("ix_mail_messages_state_created", "state", "created_at"),
    Index("ix_mail_messages_request", "request_id"),
)
