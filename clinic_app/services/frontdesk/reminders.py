"""Appointment reminders through an outbox: email by SMTP, SMS through a pluggable sender.

1. ``schedule_reminders`` writes one ``reminder`` row per booked visit, channel and kind
   (the unique key makes a second row impossible) for visits starting within the lead
   time, by the patient's preferred channel, unless they opted out; SMS needs their
   consent on file. Kind "ahead" is due the lead time before; a location that turns the
   day-of reminder on (``OnlineBooking.day_of_reminder_hours``) gets a second, "day_of",
   that many hours before on the visit's own day, unless the first already falls on it.
   A reminder sent on the visit's day carries a one-time check-in link when the location
   has online check-in (services/portal/checkin.py); the link is made as it is sent.
2. ``claim_due`` claims each due row with a conditional update (pending/failed ->
   sending) and its caller commits that before ``deliver`` sends them, so two workers or
   two cron runs never send one twice; a row left "sending" by a crash is not retried
   (at most once, by design). reminder_worker.run_once owns those transactions. Every try
   is recorded in ``reminder_attempt``; a failure is retried up to ``max_attempts``.
   A visit no longer booked, or a patient who opted out since, is skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app import settings
from clinic_app.db import for_write, utcnow
from clinic_app.models import (
    Appointment,
    AppointmentType,
    Location,
    OnlineBooking,
    Patient,
    PatientConsent,
    Provider,
    Reminder,
    ReminderAttempt,
)
from clinic_app.services.platform.clock import day_bounds, local, local_day
from clinic_app.services.portal import calendar, checkin, intake

LEAD = dt.timedelta(hours=24)


class EmailSender(Protocol):
    """Sends one email; ``attachments`` are (file name, content type, data), e.g. an .ics invitation."""

    def send(self, *, to: str, subject: str, body: str, attachments: Sequence[tuple[str, str, bytes]] = ()) -> None: ...


class SmsSender(Protocol):
    """Sends one text message. A gateway (Twilio, an SMPP link...) implements this."""

    def send(self, *, to: str, text: str) -> None: ...


@dataclass
class SmtpEmailSender:
    """Email through an SMTP server (the clinic's relay)."""

    host: str = "localhost"
    port: int = 25
    sender: str = "reminders@clinic.invalid"
    timeout: float = 10.0

    def send(self, *, to: str, subject: str, body: str, attachments: Sequence[tuple[str, str, bytes]] = ()) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(body)
        for filename, content_type, data in attachments:
            maintype, _, subtype = content_type.partition("/")
            subtype, _, params = subtype.partition(";")
            extra = dict(p.strip().split("=", 1) for p in params.split(";") if "=" in p)
            message.add_attachment(data, maintype=maintype, subtype=subtype.strip(), filename=filename, params=extra)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(message)


@dataclass
class FileSmsSender:
    """The local SMS sender: appends each message as a JSON line to a file, for a
    gateway process (or a person) to pick up. Swap in a real gateway's SmsSender."""

    path: Path

    def send(self, *, to: str, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"to": to, "text": text}) + "\n")


def _channel(session: Session, patient: Patient) -> tuple[str, str] | None:
    if patient.reminders_opt_out:
        return None
    if patient.preferred_channel == "email" and patient.email:
        return "email", patient.email
    if patient.preferred_channel == "sms" and patient.phone:
        consent = session.exec(
            select(PatientConsent.id).where(PatientConsent.patient_id == patient.id, PatientConsent.kind == "sms")
        ).first()
        return ("sms", patient.phone) if consent is not None else None
    return None


def schedule_reminders(session: Session, *, now: dt.datetime | None = None, lead: dt.timedelta = LEAD) -> int:
    """Queue reminders for booked visits starting within ``lead``; returns how many."""
    for_write(session)
    now = now or utcnow()
    rows = session.exec(
        select(Appointment, Patient)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(Appointment.status == "booked", Appointment.starts_at > now, Appointment.starts_at <= now + lead)
    ).all()
    made = 0
    for appointment, patient in rows:
        channel = _channel(session, patient)
        if channel is None:
            continue
        queued = dict(session.exec(
            select(Reminder.kind, Reminder.due_at)
            .where(Reminder.appointment_id == appointment.id, Reminder.channel == channel[0])
        ).all())
        for kind, due_at in _due(session, appointment, queued.get("ahead"), now=now, lead=lead):
            if kind in queued:
                continue
            try:
                with session.begin_nested():
                    session.add(Reminder(appointment_id=appointment.id, channel=channel[0], kind=kind,
                                         to_address=channel[1], due_at=due_at, created_at=now))
                made += 1
            except IntegrityError:
                continue  # another run queued it first: the unique key keeps it to one
    session.flush()
    return made


def _due(session: Session, appointment: Appointment, ahead: dt.datetime | None, *, now: dt.datetime,
         lead: dt.timedelta) -> list[tuple[str, dt.datetime]]:
    """(kind, due) of the reminders a visit gets: the one ahead, and the day-of one when the
    location turns it on and the one ahead is not already on the visit's day."""
    ahead = ahead or max(now, appointment.starts_at - lead)
    due = [("ahead", ahead)]
    hours = session.exec(select(OnlineBooking.day_of_reminder_hours)
                         .where(OnlineBooking.location_id == appointment.location_id)).first()
    if hours:
        tz = session.get(Location, appointment.location_id).timezone
        day = local_day(appointment.starts_at, tz)
        if local_day(ahead, tz) != day:
            due.append(("day_of", max(now, appointment.starts_at - dt.timedelta(hours=hours), day_bounds(day, tz)[0])))
    return due


def _text(session: Session, appointment: Appointment, patient: Patient) -> tuple[str, str]:
    location = session.get(Location, appointment.location_id)
    provider = session.get(Provider, appointment.provider_id)
    kind = session.get(AppointmentType, appointment.appointment_type_id)
    when = local(appointment.starts_at, location.timezone)
    subject = f"Reminder: your appointment on {when:%a %d %b} at {when:%H:%M}"
    body = (
        f"Hello {patient.first_name},\n\nThis is a reminder of your {kind.name.lower()} with {provider.name} "
        f"at {location.name} on {when:%A %d %B} at {when:%H:%M}.\n\n"
        "To cancel or change it, please call us at least 24 hours ahead.\n"
    )
    return subject, body


def claim_due(session: Session, *, now: dt.datetime | None = None, max_attempts: int = 3) -> list[int]:
    """Claim every due reminder (pending/failed -> sending) for this sender; their ids.

    The caller commits the claim before sending (``deliver``), so that no other sender
    takes them meanwhile and a crash after a send does not send it again."""
    now = now or utcnow()
    due = session.exec(
        select(Reminder.id)
        .where(Reminder.status.in_(("pending", "failed")), Reminder.attempts < max_attempts, Reminder.due_at <= now)
        .order_by(Reminder.due_at, Reminder.id)
    ).all()
    if not due:
        return []
    for_write(session)
    claimed = []
    for reminder_id in due:
        changed = session.execute(
            update(Reminder)
            .where(Reminder.id == reminder_id, Reminder.status.in_(("pending", "failed")), Reminder.attempts < max_attempts)
            .values(status="sending", attempts=Reminder.attempts + 1)
        ).rowcount
        if changed == 1:  # else another sender has it
            claimed.append(reminder_id)
    return claimed


def deliver(
    session: Session, *, reminder_ids: list[int], email: EmailSender, sms: SmsSender, now: dt.datetime | None = None,
) -> dict[str, int]:
    """Send the reminders claimed by ``claim_due`` and record each outcome (the caller commits);
    returns counts of sent, failed and skipped. Nothing is written while sending."""
    now = now or utcnow()
    counts = {"sent": 0, "failed": 0, "skipped": 0}
    outcomes = []
    for reminder_id in reminder_ids:
        reminder = session.get(Reminder, reminder_id)
        session.refresh(reminder)
        appointment = session.get(Appointment, reminder.appointment_id)
        patient = session.get(Patient, appointment.patient_id)
        session.refresh(patient)
        session.refresh(appointment)
        status, error = "sent", ""
        if appointment.status != "booked" or appointment.starts_at <= now:
            status, error = "skipped", "the visit is no longer booked"
        elif patient.reminders_opt_out:
            status, error = "skipped", "the patient opted out of reminders"
        else:
            subject, body = _text(session, appointment, patient)
            link = checkin.reminder_link(session, appointment_id=appointment.id, now=now)  # on its day only
            if link:
                body += f"\nCheck in online: {link}\n"
            try:
                if reminder.channel == "email":
                    link = intake.reminder_link(session, appointment_id=appointment.id)  # a form still to fill
                    if link:
                        body += f"\nBefore your visit, please fill in your forms and sign the consent here:\n{link}\n"
                    email.send(to=reminder.to_address, subject=subject, body=body,
                               attachments=[calendar.attachment(session, appointment_id=appointment.id, now=now)])
                else:
                    sms.send(to=reminder.to_address, text=body.replace("\n\n", " ").replace("\n", " ").strip())
            except Exception as exc:  # any transport failure is recorded and retried
                status, error = "failed", f"{type(exc).__name__}: {exc}"[:300]
        outcomes.append((reminder_id, status, error))
        counts[status] += 1
    if outcomes:
        for_write(session)
    for reminder_id, status, error in outcomes:
        session.execute(
            update(Reminder)
            .where(Reminder.id == reminder_id)
            .values(status=status, last_error=error, sent_at=now if status == "sent" else None)
        )
        if status != "skipped":
            session.add(ReminderAttempt(reminder_id=reminder_id, at=now, ok=status == "sent", error=error))
    session.flush()
    return counts


def senders_from_environment() -> tuple[SmtpEmailSender, FileSmsSender]:
    """The senders configured by SMTP_HOST, SMTP_PORT, SMTP_FROM and SMS_OUTBOX."""

    email = SmtpEmailSender(
        host=os.environ.get("SMTP_HOST", "localhost"), port=int(os.environ.get("SMTP_PORT", "25")),
        sender=os.environ.get("SMTP_FROM", "reminders@clinic.invalid"),
    )
    sms = FileSmsSender(Path(os.environ.get("SMS_OUTBOX", str(settings.PROJECT_ROOT / "data" / "sms-outbox.jsonl"))))
    return email, sms
