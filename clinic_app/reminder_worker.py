"""The reminder worker the app starts: every few minutes, queue and send due reminders.

On when ``CLINIC_REMINDERS=on`` (off by default so that a developer's machine does not
try to mail patients); ``CLINIC_REMINDER_SECONDS`` sets the interval (default 300).
Several backend workers may each run it: the outbox's claim keeps every reminder to
one send.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os

from sqlalchemy.engine import Engine

from clinic_app.db import session_scope
from clinic_app.services.frontdesk import reminders

log = logging.getLogger(__name__)


def enabled() -> bool:
    return os.environ.get("CLINIC_REMINDERS", "off").lower() in ("1", "on", "yes", "true")


def run_once(*, now: dt.datetime | None = None, bind: Engine | None = None) -> tuple[int, dict[str, int]]:
    """Queue what is coming up and send what is due, with the configured senders.

    Three transactions, each committed here: the queue; the claim (committed before any
    send, so that no other sender takes the same reminders); the outcomes of the sends."""
    email, sms = reminders.senders_from_environment()
    with session_scope(bind) as session:
        queued = reminders.schedule_reminders(session, now=now)
    with session_scope(bind) as session:
        claimed = reminders.claim_due(session, now=now)
    with session_scope(bind) as session:
        counts = reminders.deliver(session, reminder_ids=claimed, email=email, sms=sms, now=now)
    return queued, counts


def _tick() -> None:
    queued, counts = run_once()
    if queued or any(counts.values()):
        log.info("reminders: %s queued, %s", queued, counts)


async def run() -> None:
    """The lifespan task: loops for the app's lifetime."""
    if not enabled():
        return
    interval = max(10, int(os.environ.get("CLINIC_REMINDER_SECONDS", "300")))
    while True:
        try:
            await asyncio.to_thread(_tick)
        except Exception:
            log.exception("reminder run failed; trying again next time")
        await asyncio.sleep(interval)
