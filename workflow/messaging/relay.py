"""The outbox relay: publishes committed ``outbox`` rows to the bus, in order per ``ordering_key``, then marks them sent.

One round: claim up to ``batch`` unsent rows in id order; publish them in waves where each wave holds the next
row of every ordering key (so keys run in parallel and each key stays in order); stamp ``sent_at`` on the rows
the bus confirmed. A failed publish stops that key for this round and is retried with back-off: during a
broker outage rows simply wait. A crash between confirm and stamp republishes rows; consumers are idempotent.

PostgreSQL: any number of relays; rows are claimed ``FOR UPDATE SKIP LOCKED`` and a row is only published when
no earlier unsent row of its key is held by another relay. Relays wake on ``NOTIFY muhtar_outbox`` (a trigger
on ``outbox``, migration 0002). SQLite: exactly one relay per database file (an advisory file lock; a second
one stands by), woken by commits in this process that inserted outbox rows.
Every relay also wakes on ``notify_new_outbox()`` and polls every ``poll_s`` as a safety net; dead letters an
operator asked to replay are republished by the next round at most ``poll_s`` later.

Direct publishing (``DirectPublisher``): a writer on the latency path (the MO consumer's replies) publishes its
own rows right after committing them and marks them sent; those rows carry ``attempts = outbox.DIRECT`` and the
relays skip them until they are ``direct_grace_s`` old, then publish whatever is still unsent (the writer
crashed between commit and publish, the broker refused it, marking it failed). A row may then go out twice
(a confirmed publish whose mark was lost): consumers are idempotent, as for the relay's own crash window.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
from collections import Counter, deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import asyncpg
from sqlalchemy import event, or_, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from workflow.adapters.orm import outbox
from workflow.cancellation import reraise_if_stopping
from workflow.messaging.bus import Bus, PublishFailed
from workflow.messaging.deadletters import replay_requested
from workflow.messaging.envelope import Envelope

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "muhtar_outbox"
STANDBY_RETRY_S = 5.0
#: How long relays leave a directly published row to its writer (longer than a publish may take).
DIRECT_GRACE_S = 30.0
#: How long confirmed direct publishes wait for their writer's next transaction to mark them sent.
MARK_LINGER_S = 0.2
_wakeups: set[Callable[[], None]] = set()
_relays: set[OutboxRelay] = set()  # started in this process (for ``DirectPublisher.expect_commit``)


def notify_new_outbox() -> None:
    """Wake every relay in this process; the unit of work calls it after committing outbox rows."""
    for wakeup in list(_wakeups):
        wakeup()


def watch_engine(engine: AsyncEngine) -> None:
    """Call ``notify_new_outbox`` on every commit, made through ``engine``, that inserted outbox rows."""
    sync_engine = engine.sync_engine
    if getattr(sync_engine, "_muhtar_outbox_watched", False):
        return
    sync_engine._muhtar_outbox_watched = True  # type: ignore[attr-defined]

    def after_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip()[:18].upper() == "INSERT INTO OUTBOX":
            conn.info["muhtar_outbox_dirty"] = True

    def on_commit(conn: Any) -> None:
        # Fires just before the database commit; a woken relay's BEGIN (IMMEDIATE on SQLite) waits for it.
        if conn.info.pop("muhtar_outbox_dirty", False):
            notify_new_outbox()

    def on_rollback(conn: Any) -> None:
        conn.info.pop("muhtar_outbox_dirty", None)

    event.listen(sync_engine, "after_cursor_execute", after_execute)
    event.listen(sync_engine, "commit", on_commit)
    event.listen(sync_engine, "rollback", on_rollback)


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: Bus,
        *,
        batch: int = 500,
        poll_s: float = 1.0,
        max_backoff_s: float = 10.0,
        standby_s: float = STANDBY_RETRY_S,
        direct_grace_s: float = DIRECT_GRACE_S,
    ) -> None:
        self._standby_s = standby_s
        self._direct_grace = timedelta(seconds=direct_grace_s)
        self._engine = engine
        self._bus = bus
        self._batch = batch
        self._poll_s = poll_s
        self._max_backoff_s = max_backoff_s
        self._postgres = engine.dialect.name == "postgresql"
        self._wakeup = asyncio.Event()
        # Backend pid -> NOTIFYs to come from commits whose rows their writer publishes (no round for them).
        self._ignore: Counter[int] = Counter()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._listener: Any = None
        self._lock_file: IO[str] | None = None
        self._serving = False

    @property
    def serving(self) -> bool:
        """True while this relay is the one publishing (always, on PostgreSQL, once started)."""
        return self._serving

    # --- life cycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        _wakeups.add(self._local_wakeup)
        _relays.add(self)
        watch_engine(self._engine)
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        _wakeups.discard(self._local_wakeup)
        _relays.discard(self)
        await self._unlisten()
        self._serving = False
        if self._lock_file is not None:
            self._lock_file.close()  # releases the SQLite relay lock
            self._lock_file = None

    async def _run(self) -> None:
        while not self._stopping and not self._take_sqlite_lock():
            await self._sleep(self._standby_s)
        self._serving = not self._stopping
        backoff = 0.0
        loop = asyncio.get_running_loop()
        replays_checked = -self._poll_s
        while not self._stopping:
            await self._listen()
            try:
                count = await self.publish_pending()
                # Operator replays are rare: look for them once per poll interval, not on every wake-up
                # (a relay wakes on every commit that wrote outbox rows, hundreds a second under load).
                if loop.time() - replays_checked >= self._poll_s:
                    replays_checked = loop.time()
                    count += await replay_requested(self._engine, self._bus)
            except PublishFailed as exc:
                backoff = min(self._max_backoff_s, max(0.5, backoff * 2))
                logger.warning("outbox relay: bus unavailable (%s); retrying in %.1fs", exc, backoff)
                await self._sleep(backoff)
                continue
            except Exception:
                backoff = min(self._max_backoff_s, max(0.5, backoff * 2))
                logger.exception("outbox relay: round failed; retrying in %.1fs", backoff)
                await self._sleep(backoff)
                continue
            backoff = 0.0
            if count < self._batch:
                await self._sleep(self._poll_s)

    def _on_notify(self, _conn: Any, pid: int, _channel: str, _payload: str) -> None:
        if self._ignore[pid] > 0:  # a commit of direct rows only: nothing for this relay to claim
            self._ignore[pid] -= 1
            if not self._ignore[pid]:
                del self._ignore[pid]
            return
        self._wakeup.set()

    def _local_wakeup(self) -> None:
        """A commit in this process wrote outbox rows. On PostgreSQL with LISTEN working, the NOTIFY of that
        commit wakes this relay anyway, and only after the commit, when the rows can be claimed (the local
        signal can come just before it): waking on both made an empty round per commit under load."""
        if not (self._postgres and self._listener is not None and not self._listener.is_closed()):
            self._wakeup.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)
        self._wakeup.clear()

    # --- one round ----------------------------------------------------------------------------------

    async def publish_pending(self) -> int:
        """Publish one batch; return how many rows were marked sent. Raises ``PublishFailed`` if none could be."""
        if self._postgres:
            async with self._engine.begin() as conn:
                rows = await self._claim(conn)
                sent, failed = await self._publish(rows)
                await self._mark(conn, sent, failed)
        else:
            # SQLite: never hold the (single) write lock while talking to the broker.
            async with self._engine.begin() as conn:
                rows = list((await conn.execute(self._unsent())).all())
            sent, failed = await self._publish(rows)
            async with self._engine.begin() as conn:
                await self._mark(conn, sent, failed)
        if failed and not sent:
            raise PublishFailed(next(iter(failed.values())))
        return len(sent)

    def _unsent(self) -> Any:
        # Rows a writer publishes itself (attempts = DIRECT) are theirs until the grace period is over.
        mine = or_(outbox.c.attempts >= 0, outbox.c.created_at < datetime.now(UTC) - self._direct_grace)
        return select(outbox).where(outbox.c.sent_at.is_(None), mine).order_by(outbox.c.id).limit(self._batch)

    async def _claim(self, conn: AsyncConnection) -> list[Row[Any]]:
        rows = list((await conn.execute(self._unsent().with_for_update(skip_locked=True))).all())
        if not rows:
            return rows
        # Another relay may hold an earlier row of the same key: such keys wait for the next round.
        mine = {row.id for row in rows}
        keys = {row.ordering_key for row in rows}
        earlier = await conn.execute(
            select(outbox.c.ordering_key, outbox.c.id).where(
                outbox.c.sent_at.is_(None), outbox.c.ordering_key.in_(keys), outbox.c.id <= max(mine)
            )
        )
        first_foreign: dict[str, int] = {}
        for key, row_id in earlier:
            if row_id not in mine and row_id < first_foreign.get(key, row_id + 1):
                first_foreign[key] = row_id
        return [row for row in rows if row.id < first_foreign.get(row.ordering_key, row.id + 1)]

    async def _publish(self, rows: Sequence[Row[Any]]) -> tuple[list[int], dict[int, str]]:
        by_key: dict[str, deque[Row[Any]]] = {}
        for row in rows:
            by_key.setdefault(row.ordering_key, deque()).append(row)
        sent: list[int] = []
        failed: dict[int, str] = {}
        while by_key:
            wave = [(key, queue.popleft()) for key, queue in by_key.items()]
            results = await asyncio.gather(
                *(self._publish_row(row) for _, row in wave), return_exceptions=True
            )
            for (key, row), result in zip(wave, results, strict=True):
                if isinstance(result, BaseException):
                    failed[row.id] = f"{result.__class__.__name__}: {result}"[:500]
                    del by_key[key]  # later rows of this key wait: order per key is the promise
                else:
                    sent.append(row.id)
            by_key = {key: queue for key, queue in by_key.items() if queue}
        return sent, failed

    async def _publish_row(self, row: Row[Any]) -> None:
        envelope = Envelope(
            schema=row.schema,
            version=row.schema_version,
            message_id=row.message_id,
            correlation_id=row.correlation_id,
            created_at=_aware(row.created_at),
            payload=_payload(row.payload),
        )
        await self._bus.publish(row.topic, envelope)

    async def _mark(self, conn: AsyncConnection, sent: list[int], failed: dict[int, str]) -> None:
        if sent:
            await conn.execute(update(outbox).where(outbox.c.id.in_(sent)).values(sent_at=datetime.now(UTC)))
        for row_id, error in failed.items():
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == row_id)
                .values(attempts=outbox.c.attempts + 1, last_error=error)
            )

    # --- waking and locking -------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Keep a LISTEN connection on PostgreSQL (re-opened after it drops); a no-op on SQLite."""
        if not self._postgres or (self._listener is not None and not self._listener.is_closed()):
            return
        url = self._engine.url.set(drivername="postgresql")
        try:
            self._listener = await asyncpg.connect(url.render_as_string(hide_password=False))
            await self._listener.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError) as exc:
            logger.warning("outbox relay: LISTEN unavailable (%s); polling", exc.__class__.__name__)
            self._listener = None

    async def _unlisten(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()
        self._listener = None

    def _take_sqlite_lock(self) -> bool:
        database = self._engine.url.database
        if self._postgres or not database or database == ":memory:":
            return True
        handle = open(f"{database}.relay-lock", "a", encoding="ascii")  # held until stop()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            logger.info("outbox relay: another relay serves %s; standing by", Path(database).name)
            return False
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_file = handle
        return True


MARK_DIRECT_PG = text(
    """
UPDATE outbox SET sent_at = v.at
FROM unnest(CAST(:ids AS varchar[]), CAST(:ats AS timestamptz[])) AS v(message_id, at)
WHERE outbox.message_id = v.message_id AND outbox.sent_at IS NULL
"""
)


class DirectPublisher:
    """Publishes outbox rows its owner has just committed (written with ``direct=True``) and marks them sent.

    ``await publish(messages)`` publishes them all at once and waits for the broker's confirms; it never
    raises (what failed stays unsent and the relays send it after the grace period). The confirmed rows are
    marked sent by the owner's next transaction (``mark_within``: no transaction of their own while work
    keeps coming) or, after ``linger_s`` without one, in a transaction of their own; ``drain()`` marks
    what is left at once and waits for it."""

    def __init__(self, engine: AsyncEngine, bus: Bus, *, linger_s: float = MARK_LINGER_S) -> None:
        self._engine = engine
        self._bus = bus
        self._linger_s = linger_s
        self._postgres = engine.dialect.name == "postgresql"
        self._confirmed: list[tuple[str, datetime]] = []  # (message id, confirmed at), not yet marked
        self._marker: asyncio.Task[None] | None = None
        self._now = asyncio.Event()  # drain(): stop lingering

    async def publish(self, messages: Sequence[tuple[str, Envelope]]) -> None:
        if not messages:
            return
        results = await asyncio.gather(
            *(self._bus.publish(topic, envelope) for topic, envelope in messages), return_exceptions=True
        )
        failed = 0
        confirmed_at = datetime.now(UTC)  # sent_at: when the broker confirmed, however late the marking
        for (_, envelope), result in zip(messages, results, strict=True):
            if isinstance(result, BaseException):
                failed += 1
            else:
                self._confirmed.append((envelope.message_id, confirmed_at))
        if failed:
            first = next(r for r in results if isinstance(r, BaseException))
            logger.warning(
                "outbox: %d of %d direct publishes failed (%s); the relay sends them later",
                failed,
                len(messages),
                first.__class__.__name__,
            )
        self._schedule()

    def take_marks(self) -> list[tuple[str, datetime]]:
        """The rows confirmed so far, (message id, confirmed at), for the caller to mark sent in its own
        transaction (``mark_within`` does it in one statement); pass them to ``unmark`` if that
        transaction does not commit."""
        marks, self._confirmed = self._confirmed, []
        return marks

    async def mark_within(self, conn: AsyncConnection) -> list[tuple[str, datetime]]:
        """Mark the rows confirmed so far in the caller's transaction (one statement). Returns them: pass
        them to ``unmark`` if that transaction does not commit."""
        marks = self.take_marks()
        if marks:
            try:
                await self._execute(conn, marks)
            except BaseException:
                self.unmark(marks)
                raise
        return marks

    def unmark(self, marks: Sequence[tuple[str, datetime]]) -> None:
        """The transaction given to ``mark_within`` did not commit: these rows are still to be marked."""
        if marks:
            self._confirmed.extend(marks)
            self._schedule()

    async def expect_commit(self, conn: AsyncConnection) -> int | None:
        """Call inside a transaction whose only outbox rows are direct ones, just before its commit: the
        NOTIFY of that commit will not wake this process's relays (an empty round each, under load one per
        MO batch and relay). Returns a token for ``forget_commit`` if the commit fails. A NOTIFY wrongly
        ignored only delays a relay until its next poll (``poll_s``)."""
        if not self._postgres:
            return None
        raw = await conn.get_raw_connection()
        pid = int(raw.driver_connection.get_server_pid())  # type: ignore[union-attr]
        for relay in _relays:
            relay._ignore[pid] += 1
        return pid

    def forget_commit(self, pid: int | None) -> None:
        """The transaction ``expect_commit`` was called in did not commit: no NOTIFY is coming."""
        if pid is None:
            return
        for relay in _relays:
            if relay._ignore[pid] > 0:
                relay._ignore[pid] -= 1

    async def drain(self) -> None:
        """Mark every confirmed publish now and wait for it (or for the failure to be logged)."""
        self._now.set()
        try:
            self._schedule()
            while self._marker is not None and not self._marker.done():
                await asyncio.shield(self._marker)
        finally:
            self._now.clear()

    def _schedule(self) -> None:
        if self._confirmed and (self._marker is None or self._marker.done()):
            self._marker = asyncio.create_task(self._mark(), name="outbox-direct-mark")

    async def _mark(self) -> None:
        """After ``linger_s`` (an owner's transaction may take them meanwhile), mark what is left."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._now.wait(), self._linger_s)
        while self._confirmed:
            marks, self._confirmed = self._confirmed, []
            try:
                async with self._engine.begin() as conn:
                    await self._execute(conn, marks)
            except Exception as exc:
                reraise_if_stopping(exc)
                # Published but not marked: the relays publish these again after the grace period.
                logger.warning(
                    "outbox: marking %d published rows failed (%s)", len(marks), exc.__class__.__name__
                )

    async def _execute(self, conn: AsyncConnection, marks: Sequence[tuple[str, datetime]]) -> None:
        ids = [message_id for message_id, _ in marks]
        if self._postgres:  # one statement, one SQL text whatever the number of rows
            await conn.execute(MARK_DIRECT_PG, {"ids": ids, "ats": [at for _, at in marks]})
        else:
            await conn.execute(
                update(outbox)
                .where(outbox.c.sent_at.is_(None), outbox.c.message_id.in_(ids))
                .values(sent_at=max(at for _, at in marks))
            )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _payload(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise PublishFailed("outbox payload is not a JSON object")
    return data
