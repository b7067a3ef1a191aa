"""Tables of the web area (migration 0005_webui); they share ``workflow.adapters.orm.metadata``.

No personal data in clear: a TCKN is kept only as an HMAC (``subject_key``) so limits can be counted per
person, OTP codes only as an HMAC, session tokens only as a SHA-256.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from workflow.adapters.orm import BigId, metadata, utc_datetime

# A server-side record per logged-in browser: makes log-out, idle and absolute expiry enforceable even
# though the cookie itself is client-held (a copied cookie dies with its row).
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("subject_kind", String(10), nullable=False),  # muhtar | staff
    Column("subject_id", String(32), nullable=False),
    Column("created_at", utc_datetime(), nullable=False),
    Column("last_seen_at", utc_datetime(), nullable=False),
    Column("ended_at", utc_datetime(), nullable=True),
    Column("end_reason", String(20), nullable=True),
    Column("source_addr", String(64), nullable=True),
    Index("ix_web_sessions_subject", "subject_kind", "subject_id"),
    Index("ix_web_sessions_last_seen", "last_seen_at"),
)

# Single use of an image/audio captcha: the answer travels in the encrypted cookie, this row makes a
# replayed cookie worthless once the captcha was tried.
captcha_challenges = Table(
    "captcha_challenges",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", utc_datetime(), nullable=False),
    Column("used_at", utc_datetime(), nullable=True),
    Index("ix_captcha_challenges_created", "created_at"),
)

# One row per code sent (or pretended to be sent: no account enumeration, see webui/otp.py).
otp_challenges = Table(
    "otp_challenges",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("muhtar_id", String(32), nullable=True),  # NULL: the TCKN/name pair matched nobody
    Column("subject_key", String(64), nullable=False),  # HMAC of the TCKN
    Column("code_hash", String(64), nullable=False),
    Column("created_at", utc_datetime(), nullable=False),
    Column("expires_at", utc_datetime(), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("ended_at", utc_datetime(), nullable=True),
    Column("end_reason", String(20), nullable=True),  # used | too_many_tries | replaced
    Index("ix_otp_challenges_subject", "subject_key", "created_at"),
)

# Sliding-window limits: one row per counted event in a named bucket ("otp:tckn:<hmac>", "otp:ip:<addr>").
rate_limit_events = Table(
    "rate_limit_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("bucket", String(100), nullable=False),
    Column("at", utc_datetime(), nullable=False),
    Index("ix_rate_limit_events_bucket_at", "bucket", "at"),
)

# Files uploaded by muhtars and staff; the bytes live under var/attachments/<sha256[:2]>/<sha256>.
attachments = Table(
    "attachments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(50), nullable=False),
    Column("original_name", String(255), nullable=False),
    Column("uploaded_by_kind", String(10), nullable=False),  # muhtar | staff
    Column("uploaded_by_id", String(32), nullable=False),
    Column("request_id", String(32), nullable=True),
    Column("created_at", utc_datetime(), nullable=False),
    Index("ix_attachments_request", "request_id"),
    Index("ix_attachments_sha256", "sha256"),
)

# A form's one-time submission token: the first POST claims it, a second (double click, back + resend)
# finds the claim and is shown the first one's result instead of filing again.
form_submissions = Table(
    "form_submissions",
    metadata,
    Column("key", String(64), primary_key=True),  # SHA-256 of subject id + form token
    Column("created_at", utc_datetime(), nullable=False),
    Column("result", String(64), nullable=True),  # e.g. the request number; NULL while in progress
)
