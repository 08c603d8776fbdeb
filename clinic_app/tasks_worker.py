"""The task rules on the live bus: each worker re-evaluates the rules whose inputs an event
touches (services/tasks/rules.py) and commits; the rules publish TasksChanged, so every open
inbox and badge changes at once.

- AppointmentChanged (booked, moved, checked in, charted, signed, co-signed, cancelled): the
  rules of that visit's episode, patient and note, at once.
- ClaimsChanged (claims, remittances, ledgers; the event names no claim): the claim and balance
  rules, coalesced (a burst of events while one evaluation runs makes one more, not one each).

With several workers each one hears every event; the second to evaluate finds the first's
task (one open task per rule and subject is a database rule), so nothing is opened twice.
"""

from __future__ import annotations

import asyncio
import logging
import os

from clinic_app import settings
from clinic_app.db import session_scope
from clinic_app.live import get_bus
from clinic_app.live.events import AppointmentChanged, ClaimsChanged, MessagesChanged
from clinic_app.services.tasks import rules

log = logging.getLogger(__name__)


def on_appointment(appointment_id: int) -> None:
    with session_scope() as session:
        rules.on_appointment(session, appointment_id)


def on_claims() -> None:
    with session_scope() as session:
        rules.on_claims(session)


# Rules that the passing of hours (not days) makes due: swept every CLINIC_TASK_FREQUENT_MINUTES.
FREQUENT = ("message_unanswered", "intake_incomplete")


def on_message(thread_id: int) -> None:
    """A patient thread to the desk got a message or an answer: its unanswered-message task
    opens (if it is overdue already) or closes at once."""
    with session_scope() as session:
        rules.evaluate(session, "message_unanswered", thread_id)


def sweep_frequent() -> dict[str, int]:
    """The rules of FREQUENT over their subjects (a patient's message turning 4 working hours old)."""
    with session_scope() as session:
        return rules.sweep(session, kinds=FREQUENT)


def sweep(now=None) -> dict[str, int]:
    """Every rule over every subject (the daily sweep: what time alone makes due).

    One write transaction per rule, each committed before the next begins: on SQLite a write
    transaction holds the one write lock, and a booking at the desk must wait for one rule's
    sweep at most, not for all of them."""
    totals: dict[str, int] = {}
    for kind in rules.RULES:
        with session_scope() as session:
            for name, count in rules.sweep(session, kinds=[kind], now=now).items():
                totals[name] = totals.get(name, 0) + count
    return totals


def sweep_once(period_seconds: int) -> dict[str, int] | None:
    """The upkeep's sweep: with several workers (Redis) only the first to ask in a period runs
    it; the others skip (None)."""
    url = settings.redis_url()
    if url:
        import redis

        channel = os.environ.get("CLINIC_LIVE_CHANNEL", "clinic:live")
        if not redis.Redis.from_url(url).set(f"{channel}:tasks-sweep", "1", nx=True, ex=max(60, period_seconds - 60)):
            return None
    return sweep()


class _Coalesced:
    """Run ``work`` in a thread after a signal; signals during a run make one more run."""

    def __init__(self, work) -> None:
        self.work = work
        self.pending = False
        self.running: asyncio.Task | None = None

    def signal(self) -> None:
        self.pending = True
        if self.running is None or self.running.done():
            self.running = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while self.pending:
            self.pending = False
            try:
                await asyncio.to_thread(self.work)
            except Exception:
                log.exception("task rules: evaluating failed")


async def listen() -> None:
    """The lifespan task: runs for the app's lifetime."""
    claims = _Coalesced(on_claims)
    async for event in get_bus().listen():
        try:
            if isinstance(event, AppointmentChanged):
                await asyncio.to_thread(on_appointment, event.appointment_id)
            elif isinstance(event, ClaimsChanged):
                claims.signal()
            elif isinstance(event, MessagesChanged) and event.queue == "desk":
                await asyncio.to_thread(on_message, event.thread_id)
        except Exception:
            log.exception("task rules failed for %s", event)
