"""What each backend worker does in the background besides serving: every minute it ends the
sessions that went idle or expired (their tabs are sent to sign-in at once, not at their next
click), and every ``CLINIC_AUDIT_ANCHOR_MINUTES`` (default 5) it appends the audit chain's head
to the anchor file (services/platform/audit.py), so that rows deleted from the end of the log show;
once a day (at start, then every ``CLINIC_TASK_SWEEP_HOURS``, default 24) it sweeps the task rules
(services/tasks: what time alone makes due, snoozed tasks whose day came; with several workers
only one of them per period, tasks_worker.sweep_once); every ``CLINIC_TASK_FREQUENT_MINUTES``
(default 15) it sweeps the rules that hours make due (a patient's message unanswered for 4
working hours, intake still incomplete for tomorrow's visit); daily it forgets portal
registrations never confirmed (services/portal/registration.py).
Several workers may each run it: ending a session is conditional on it being open, and an
anchor already written is not written again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from clinic_app import settings, tasks_worker
from clinic_app.db import session_scope
from clinic_app.services.platform import audit, auth
from clinic_app.services.portal import registration

log = logging.getLogger(__name__)


def _end_idle() -> None:
    with session_scope() as session:
        auth.end_idle_sessions(session)


def _sweep_tasks() -> None:
    tasks_worker.sweep_once(_sweep_every())


def _forget_registrations() -> None:
    with session_scope() as session:
        registration.forget_unconfirmed(session)


def _sweep_every() -> int:
    return max(60, int(float(os.environ.get("CLINIC_TASK_SWEEP_HOURS", "24")) * 3600))


def _sweep_frequent() -> None:
    tasks_worker.sweep_frequent()


def _frequent_every() -> int:
    return max(60, int(float(os.environ.get("CLINIC_TASK_FREQUENT_MINUTES", "15")) * 60))


def _anchor() -> None:
    with session_scope() as session:
        audit.write_anchor(session, audit.anchor_path(settings.database_url()))


async def run() -> None:
    """The lifespan task: loops for the app's lifetime."""
    anchor_every = max(60, int(os.environ.get("CLINIC_AUDIT_ANCHOR_MINUTES", "5")) * 60)
    sweep_every = _sweep_every()
    last: dict[object, float] = {}
    every = {_anchor: anchor_every, _sweep_tasks: sweep_every, _sweep_frequent: _frequent_every(),
             _forget_registrations: sweep_every}
    while True:
        for what, work in (("ending idle sessions", _end_idle), ("anchoring the audit log", _anchor),
                           ("sweeping the task rules", _sweep_tasks),
                           ("forgetting unconfirmed portal registrations", _forget_registrations),
                           ("sweeping the task rules of the hours", _sweep_frequent)):
            if work in every and work in last and time.monotonic() - last[work] < every[work]:
                continue
            try:
                await asyncio.to_thread(work)
            except Exception:
                log.exception("%s failed; trying again next time", what)
            last[work] = time.monotonic()
        await asyncio.sleep(60)
