"""Reminders: email through a real local SMTP server (aiosmtpd), SMS through the file
sender; queued once, sent once, failures recorded and retried, opt-out honoured."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
from sqlmodel import select

from clinic_app.models import AuditLog, PatientConsent, PortalToken, Reminder, ReminderAttempt
from clinic_app.services.frontdesk import reminders, scheduling
from clinic_app.services.frontdesk.reminders import FileSmsSender, SmtpEmailSender
from clinic_app.services.platform.errors import InvalidInput
from clinic_app.services.portal import booking, checkin
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


# -- the day-of reminder and its check-in link -------------------------------------------------
def _day_of(session, clinic, *, hours=3, online_checkin=None, booking_on=True):
    """The location sends a day-of reminder ``hours`` before; online check-in as given (None: the default)."""
    from clinic_app.models import OnlineBooking

    session.add(OnlineBooking(location_id=clinic.location.id, enabled=booking_on))
    session.commit()
    booking.save_checkin(session, actor=clinic.admin, location_id=clinic.location.id, online_checkin=online_checkin,
                         day_of_reminder_hours=hours)
    session.commit()


def _checkin_link(message) -> str | None:
    body = message.get_body(("plain",)).get_content()
    found = re.search(r"Check in online: (\S+)", body)
    return found.group(1) if found else None


def test_the_day_of_reminder_carries_a_check_in_link_that_checks_the_patient_in(session, clinic, smtp, tmp_path):
    inbox, port = smtp
    patient = clinic.patients[0]
    _prefers(session, patient, "email")
    _day_of(session, clinic, hours=3)  # online booking on: check-in on by default
    appointment = book(session, clinic, "09:00", patient=0)
    assert reminders.schedule_reminders(session, now=EVE) == 2  # the day before, and 06:00 on the day
    due = {r.kind: r.due_at for r in session.exec(select(Reminder))}
    assert due == {"ahead": EVE, "day_of": at("06:00")}
    senders = {"email": SmtpEmailSender(host="127.0.0.1", port=port), "sms": FileSmsSender(tmp_path / "sms.jsonl")}
    assert send_due(session, now=EVE, **senders)["sent"] == 1
    assert send_due(session, now=at("05:59"), **senders)["sent"] == 0  # not due yet
    assert send_due(session, now=at("06:00"), **senders)["sent"] == 1
    (_, day_before), (_, on_the_day) = inbox.messages
    assert _checkin_link(day_before) is None  # a link made the day before would not work on the day
    link = _checkin_link(on_the_day)
    assert link.startswith("http://localhost:3000/portal/checkin?token=")
    token = parse_qs(urlparse(link).query)["token"][0]
    # Only the token's hash is kept.
    stored = session.exec(select(PortalToken).where(PortalToken.kind == "checkin")).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    # The link checks the patient in once they confirm their date of birth.
    with pytest.raises(InvalidInput, match="date of birth does not match"):
        checkin.confirm(session, token=token, birth_date=dt.date(1990, 1, 1), now=at("08:40"))
    session.rollback()
    done = checkin.confirm(session, token=token, birth_date=patient.birth_date, now=at("08:41"))
    session.commit()
    assert done.time == "08:41"
    session.refresh(appointment)
    assert appointment.status == "arrived"
    with pytest.raises(InvalidInput, match="already used"):
        checkin.confirm(session, token=token, birth_date=patient.birth_date, now=at("08:42"))
    # No more about the patient than the reminder already said: the same words and subject
    # but for the link line, and no surname, date of birth or MRN.
    lines = on_the_day.get_body(("plain",)).get_content().splitlines()
    assert lines[-2:] == ["", f"Check in online: {link}"]
    same = "\n".join(lines[:-2])
    assert same == "\n".join(day_before.get_body(("plain",)).get_content().splitlines())
    assert on_the_day["Subject"] == day_before["Subject"]
    for private in (patient.last_name, patient.birth_date.isoformat(), patient.birth_date.strftime("%m/%d/%Y"),
                    f"MRN {patient.mrn}"):
        assert private not in same
    rows = session.exec(select(AuditLog).where(AuditLog.action == "checkin_link")).all()
    assert [(r.entity_id, r.patient_id) for r in rows] == [(appointment.id, patient.id)]


def test_an_earlier_days_link_does_not_check_in_a_later_visit(session, clinic, smtp, tmp_path):
    inbox, port = smtp
    patient = clinic.patients[0]
    _prefers(session, patient, "email")
    _day_of(session, clinic, hours=3)
    book(session, clinic, "09:00", patient=0)
    senders = {"email": SmtpEmailSender(host="127.0.0.1", port=port), "sms": FileSmsSender(tmp_path / "sms.jsonl")}
    reminders.schedule_reminders(session, now=at("06:00"))  # booked the same morning: one reminder, on the day
    assert send_due(session, now=at("06:00"), **senders)["sent"] == 1
    [(_, message)] = inbox.messages
    token = parse_qs(urlparse(_checkin_link(message)).query)["token"][0]
    tomorrow = DAY + dt.timedelta(days=1)
    scheduling.book_appointment(session, actor=clinic.reception, patient_id=patient.id,
                                provider_id=clinic.providers[0].id, appointment_type_id=clinic.treatment.id,
                                starts_at=at("09:00", tomorrow), now=at("07:00"))
    session.commit()
    with pytest.raises(InvalidInput, match="day of the visit only"):
        checkin.confirm(session, token=token, birth_date=patient.birth_date, now=at("08:30", tomorrow))


def test_no_link_when_the_location_turns_online_check_in_off(session, clinic, smtp, tmp_path):
    inbox, port = smtp
    _prefers(session, clinic.patients[0], "email")
    _day_of(session, clinic, hours=2, online_checkin=False)
    book(session, clinic, "09:00", patient=0)
    reminders.schedule_reminders(session, now=EVE)
    senders = {"email": SmtpEmailSender(host="127.0.0.1", port=port), "sms": FileSmsSender(tmp_path / "sms.jsonl")}
    assert send_due(session, now=at("07:00"), **senders)["sent"] == 2  # both due by now; neither has a link
    assert [_checkin_link(m) for _, m in inbox.messages] == [None, None]
    assert session.exec(select(PortalToken)).all() == []


def test_without_the_day_of_setting_there_is_one_reminder(session, clinic):
    _prefers(session, clinic.patients[0], "email")
    book(session, clinic, "09:00", patient=0)
    assert reminders.schedule_reminders(session, now=EVE) == 1
    with pytest.raises(InvalidInput, match="between 1 and 12 hours"):
        booking.save_checkin(session, actor=clinic.admin, location_id=clinic.location.id, online_checkin=True,
                             day_of_reminder_hours=30)
