"""Loops that must survive their own errors but not a request to stop.

A background loop catches ``Exception`` so that one failed round does not end it. A cancellation can reach that
``except`` in disguise: when ``task.cancel()`` lands while SQLAlchemy is inside a transaction, the rollback it
attempts fails and what comes out is ``PendingRollbackError``, not ``CancelledError``. A loop that logs it and
sleeps on has swallowed the cancellation, and ``await task`` in its owner's ``stop()`` then waits forever
(seen as a shutdown hang in tests and as `muhtar workflow` not exiting on SIGTERM).
"""

from __future__ import annotations

import asyncio


def stop_requested() -> bool:
    """True when the running task has been cancelled, even if the CancelledError was turned into another error."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def reraise_if_stopping(exc: BaseException) -> None:
    """Call first in a loop's ``except Exception``: re-raise as CancelledError when the task is being cancelled."""
    if stop_requested():
        raise asyncio.CancelledError() from exc
