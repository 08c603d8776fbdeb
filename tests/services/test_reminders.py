"""Reminders: email through a real local SMTP server (aiosmtpd), SMS through the file
sender; queued once, sent once, failures recorded and retried, opt-out honoured."""

from __future__ import annotations

import datetime as dt
import json

from sqlmodel import select

from clinic_app.models import PatientConsent, Reminder, ReminderAttempt
from clinic_app.services.frontdesk import reminders, scheduling
from clinic_app.services.frontdesk.reminders import FileSmsSender, SmtpEmailSender
from tests.conftest import DAY, at
from tests.services.helpers import book
from tests.smtp import free_port

EVE = at("10:00", DAY - dt.timedelta(days=1))  # the day before the visits, 10:00


def send_due(session, *, email, sms, now):
    """Claim, commit, send and record, as reminder_worker.run_once does (the test is the caller)."""
    claimed = reminders.claim_due(session, now=now)
    session.commit()
    counts = reminders.deliver(session, reminder_ids=claimed, email=email, sms=sms, now=now)
    session.commit()
    return counts


def _prefers(session, patient, channel, *, consent=True):
    patient.preferred_channel = channel
    patient.email = f"{patient.first_name.lower()}@example.com"
    patient.phone = "212-555-0100"
    session.add(patient)
    if channel == "sms" and consent:
        session.add(PatientConsent(patient_id=patient.id, kind="sms", given_on=DAY - dt.timedelta(days=30)))
    session.commit()


def test_an_email_reminder_is_queued_once_and_sent_once(session, clinic, smtp, tmp_path):
    inbox, port = smtp
    _prefers(session, clinic.patients[0], "email")
    book(session, clinic, "09:00", patient=0)
    assert reminders.schedule_reminders(session, now=EVE) == 1
    assert reminders.schedule_reminders(session, now=EVE) == 0  # already queued
    senders = {"email": SmtpEmailSender(host="127.0.0.1", port=port), "sms": FileSmsSender(tmp_path / "sms.jsonl")}
    assert send_due(session, now=EVE, **senders) == {"sent": 1, "failed": 0, "skipped": 0}
    assert send_due(session, now=EVE, **senders) == {"sent": 0, "failed": 0, "skipped": 0}
    [(to, message)] = inbox.messages
    assert to == ["cara@example.com"]
    assert message["Subject"] == "Reminder: your appointment on Tue 12 Mar at 09:00"
    assert "treatment with Ann Able, PT at Test Clinic on Tuesday 12 March at 09:00" in message.get_body(("plain",)).get_content()  # the .ics invitation is attached
    reminder = session.exec(select(Reminder)).one()
    assert (reminder.status, reminder.attempts, reminder.sent_at) == ("sent", 1, EVE)


def test_a_failure_is_recorded_and_retried(session, clinic, smtp, tmp_path):
    inbox, port = smtp
    _prefers(session, clinic.patients[0], "email")
    book(session, clinic, "09:00", patient=0)
    reminders.schedule_reminders(session, now=EVE)
    down = SmtpEmailSender(host="127.0.0.1", port=free_port(), timeout=2)  # nothing listens there
    sms = FileSmsSender(tmp_path / "sms.jsonl")
    assert send_due(session, email=down, sms=sms, now=EVE) == {"sent": 0, "failed": 1, "skipped": 0}
    reminder = session.exec(select(Reminder)).one()
    session.refresh(reminder)
    assert (reminder.status, reminder.attempts) == ("failed", 1)
    assert "ConnectionRefusedError" in reminder.last_error
    up = SmtpEmailSender(host="127.0.0.1", port=port)
    assert send_due(session, email=up, sms=sms, now=EVE + dt.timedelta(minutes=5)) == {"sent": 1, "failed": 0, "skipped": 0}
    attempts = session.exec(select(ReminderAttempt).order_by(ReminderAttempt.id)).all()
    assert [a.ok for a in attempts] == [False, True]
    assert len(inbox.messages) == 1


def test_sms_needs_consent_and_goes_through_the_pluggable_sender(session, clinic, tmp_path):
    _prefers(session, clinic.patients[0], "sms")
    _prefers(session, clinic.patients[1], "sms", consent=False)
    book(session, clinic, "09:00", patient=0)
    book(session, clinic, "10:00", patient=1)
    assert reminders.schedule_reminders(session, now=EVE) == 1
    outbox = tmp_path / "sms.jsonl"
    counts = send_due(session, email=SmtpEmailSender(port=1), sms=FileSmsSender(outbox), now=EVE)
    assert counts == {"sent": 1, "failed": 0, "skipped": 0}
    [line] = outbox.read_text().splitlines()
    sent = json.loads(line)
    assert sent["to"] == "212-555-0100" and "Tuesday 12 March at 09:00" in sent["text"]


def test_opt_out_and_cancellation_are_honoured(session, clinic, smtp, tmp_path):
    inbox, port = smtp
    for patient in clinic.patients[:2]:
        _prefers(session, patient, "email")
    book(session, clinic, "09:00", patient=0)
    cancelled = book(session, clinic, "10:00", patient=1)
    assert reminders.schedule_reminders(session, now=EVE) == 2
    clinic.patients[0].reminders_opt_out = True
    session.add(clinic.patients[0])
    session.commit()
    scheduling.transition(session, actor=clinic.reception, appointment_id=cancelled.id, to_status="cancelled", now=EVE)
    counts = send_due(session, email=SmtpEmailSender(host="127.0.0.1", port=port), sms=FileSmsSender(tmp_path / "s"), now=EVE)
    assert counts == {"sent": 0, "failed": 0, "skipped": 2}
    assert inbox.messages == []
    assert sorted(r.last_error for r in session.exec(select(Reminder))) == [
        "the patient opted out of reminders", "the visit is no longer booked",
    ]
    # An opted-out patient gets nothing queued at all.
    assert reminders.schedule_reminders(session, now=EVE) == 0
