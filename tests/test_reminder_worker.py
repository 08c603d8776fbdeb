"""The worker the app starts sends due reminders on its own (when switched on)."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from aiosmtpd.controller import Controller
from sqlmodel import Session

from clinic_app import reminder_worker
from clinic_app.db import utcnow
from clinic_app.services.frontdesk import scheduling
from tests.services.test_reminders import _prefers
from tests.smtp import Inbox
from tests.smtp import free_port as _free_port


def test_the_worker_sends_due_reminders(engine, session, clinic, monkeypatch, tmp_path):
    import datetime as dt

    _prefers(session, clinic.patients[0], "email")
    soon = (utcnow() + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    scheduling.book_appointment(
        session, actor=clinic.reception, patient_id=clinic.patients[0].id, provider_id=clinic.providers[0].id,
        appointment_type_id=clinic.treatment.id, starts_at=soon,
    )
    session.commit()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()

    @contextlib.contextmanager
    def test_scope(bind=None):
        with Session(bind or engine, expire_on_commit=False) as s:
            yield s
            s.commit()

    monkeypatch.setattr(reminder_worker, "session_scope", test_scope)
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(controller.port))
    monkeypatch.setenv("SMS_OUTBOX", str(tmp_path / "sms.jsonl"))

    async def one_round():
        task = asyncio.create_task(reminder_worker.run())
        for _ in range(100):
            await asyncio.sleep(0.05)
            if inbox.messages:
                break
        task.cancel()

    def run_in_own_loop():
        # pytest-playwright keeps an event loop running in the main thread.
        thread = threading.Thread(target=lambda: asyncio.run(one_round()))
        thread.start()
        thread.join()

    try:
        monkeypatch.setenv("CLINIC_REMINDERS", "off")
        run_in_own_loop()
        assert inbox.messages == []  # off by default
        monkeypatch.setenv("CLINIC_REMINDERS", "on")
        run_in_own_loop()
    finally:
        controller.stop()
    [(to, _)] = inbox.messages
    assert to == ["cara@example.com"]
