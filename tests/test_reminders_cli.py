"""`python -m clinic_app reminders send-due` (for cron) against a real local SMTP server."""

from __future__ import annotations

import os

from aiosmtpd.controller import Controller
from sqlalchemy import text
from sqlmodel import create_engine

from tests.smtp import Inbox
from tests.smtp import free_port as _free_port
from tests.test_cli import run

NOW = "2030-03-12T13:00:00+00:00"


def test_send_due_from_the_command_line(tmp_path):
    db = tmp_path / "c.db"
    assert run(["demo", "--now", NOW], db).returncode == 0
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE patient SET preferred_channel = 'email' WHERE email <> ''"))
    engine.dispose()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        os.environ.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(controller.port), SMS_OUTBOX=str(tmp_path / "sms.jsonl"))
        first = run(["reminders", "send-due", "--now", NOW], db)
        again = run(["reminders", "send-due", "--now", NOW], db)
    finally:
        controller.stop()
        for key in ("SMTP_HOST", "SMTP_PORT", "SMS_OUTBOX"):
            os.environ.pop(key, None)
    assert first.returncode == 0, first.stderr
    sent = len(inbox.messages)
    assert sent > 0
    assert f"{sent} queued, {sent} sent, 0 failed, 0 skipped" in first.stdout
    assert "0 queued, 0 sent" in again.stdout  # send-once across runs
