"""Calendar (issue 18): a visit's .ics invitation through book, move and cancel (parsed back
line by line as RFC 5545 says: CRLF, folded at 75 octets), sent by e-mail through a real SMTP
server with the confirmation and with reminders; clinicians' private feeds name no patient
and a revoked secret finds nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from clinic_app.models import IcalFeed
from clinic_app.services.frontdesk import reminders, scheduling
from clinic_app.services.frontdesk.reminders import FileSmsSender, SmtpEmailSender
from clinic_app.services.platform.errors import NotAllowed, NotFound
from clinic_app.services.portal import calendar
from tests.conftest import DAY, at
from tests.services.helpers import book, now_at
from tests.services.test_reminders import send_due


def parse(data: bytes) -> list[tuple[str, str]]:
    """(name with parameters, value) of each content line, after checking the framing."""
    text = data.decode()
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    unfolded = text.replace("\r\n ", "")
    return [tuple(line.split(":", 1)) for line in unfolded.split("\r\n") if line]


def props(data: bytes) -> dict[str, str]:
    return {name.split(";")[0]: value for name, value in parse(data)}


def utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def test_an_invitation_follows_the_visit_through_book_move_and_cancel(session, clinic):
    cara = clinic.patients[0]
    cara.email = "cara@example.com"
    session.add(cara)
    session.commit()
    appt = book(session, clinic, "09:00", room=0)
    first = calendar.invitation(session, appointment_id=appt.id, now=now_at("07:00"))
    session.commit()
    lines = parse(first)
    assert lines[0] == ("BEGIN", "VCALENDAR") and lines[-1] == ("END", "VCALENDAR")
    assert [v for n, v in lines if n in ("BEGIN", "END")] == ["VCALENDAR", "VEVENT", "VEVENT", "VCALENDAR"]
    p = props(first)
    assert (p["VERSION"], p["METHOD"], p["STATUS"], p["SEQUENCE"]) == ("2.0", "REQUEST", "CONFIRMED", "0")
    assert p["UID"] == f"appointment-{appt.id}@clinic.invalid"
    assert (p["DTSTART"], p["DTEND"], p["DTSTAMP"]) == (utc(at("09:00")), utc(at("09:30")), utc(now_at("07:00")))
    assert p["DTSTART"] == "20300312T130000Z"  # 09:00 in New York is 13:00 UTC
    assert p["SUMMARY"] == "Appointment at Test Clinic"
    assert p["LOCATION"] == "Test Clinic\\, Room 1"
    assert "mailto:cara@example.com" in p["ATTENDEE"] and p["ORGANIZER"].startswith("mailto:")
    assert "Treatment" not in first.decode() and "Diaz" not in first.decode()  # nothing clinical, no surname
    # Asked again with nothing changed: the same sequence.
    assert props(calendar.invitation(session, appointment_id=appt.id))["SEQUENCE"] == "0"
    session.commit()

    scheduling.reschedule(session, actor=clinic.reception, appointment_id=appt.id, starts_at=at("11:00"), now=now_at("07:30"))
    moved = props(calendar.invitation(session, appointment_id=appt.id, now=now_at("07:30")))
    session.commit()
    assert (moved["UID"], moved["SEQUENCE"], moved["METHOD"]) == (p["UID"], "1", "REQUEST")
    assert moved["DTSTART"] == utc(at("11:00"))

    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="cancelled",
                          reason="patient ill", now=now_at("08:00"))
    gone = props(calendar.invitation(session, appointment_id=appt.id, now=now_at("08:00")))
    session.commit()
    assert (gone["UID"], gone["SEQUENCE"], gone["METHOD"], gone["STATUS"]) == (p["UID"], "2", "CANCEL", "CANCELLED")


def test_long_and_special_text_is_escaped_and_folded():
    assert calendar.escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    line = "DESCRIPTION:" + "Zoë " * 40
    folded = calendar.fold(line)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == line


def test_the_confirmation_carries_the_invitation_through_smtp(session, clinic, smtp):
    inbox, port = smtp
    cara = clinic.patients[0]
    cara.email = "cara@example.com"
    session.add(cara)
    session.commit()
    appt = book(session, clinic, "09:00")
    sender = SmtpEmailSender(host="127.0.0.1", port=port)
    assert calendar.send_confirmation(session, appointment_id=appt.id, email=sender, now=now_at("07:00")) is True
    session.commit()
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="cancelled",
                          reason="patient ill", now=now_at("08:00"))
    assert calendar.send_confirmation(session, appointment_id=appt.id, email=sender, now=now_at("08:00")) is True
    session.commit()
    (to, booked), (_, cancelled) = inbox.messages
    assert to == ["cara@example.com"]
    assert booked["Subject"] == "Confirmed: your appointment on Tue 12 Mar at 09:00"
    assert cancelled["Subject"] == "Cancelled: your appointment on Tue 12 Mar at 09:00"
    for message, method, sequence in ((booked, "REQUEST", "0"), (cancelled, "CANCEL", "1")):
        [part] = list(message.iter_attachments())
        assert (part.get_content_type(), part.get_param("method"), part.get_filename()) == ("text/calendar", method, "invite.ics")
        ics = props(part.get_payload(decode=True))
        assert (ics["METHOD"], ics["SEQUENCE"], ics["UID"]) == (method, sequence, f"appointment-{appt.id}@clinic.invalid")
    # No address, or opted out of messages: nothing is sent.
    eli = clinic.patients[1]
    other = book(session, clinic, "10:00", patient=1)
    assert calendar.send_confirmation(session, appointment_id=other.id, email=sender) is False
    eli.email, eli.reminders_opt_out = "eli@example.com", True
    session.add(eli)
    session.commit()
    assert calendar.send_confirmation(session, appointment_id=other.id, email=sender) is False
    assert len(inbox.messages) == 2


def test_an_email_reminder_carries_the_invitation(session, clinic, smtp, tmp_path):
    inbox, port = smtp
    cara = clinic.patients[0]
    cara.preferred_channel, cara.email = "email", "cara@example.com"
    session.add(cara)
    session.commit()
    appt = book(session, clinic, "09:00")
    eve = at("10:00", DAY - dt.timedelta(days=1))
    assert reminders.schedule_reminders(session, now=eve) == 1
    counts = send_due(session, email=SmtpEmailSender(host="127.0.0.1", port=port),
                      sms=FileSmsSender(tmp_path / "sms.jsonl"), now=eve)
    assert counts == {"sent": 1, "failed": 0, "skipped": 0}
    [(_, message)] = inbox.messages
    [part] = list(message.iter_attachments())
    ics = props(part.get_payload(decode=True))
    assert (ics["UID"], ics["METHOD"], ics["DTSTART"]) == (f"appointment-{appt.id}@clinic.invalid", "REQUEST", utc(at("09:00")))


def test_a_clinicians_feed_lists_their_visits_without_patients_and_a_revoked_secret_finds_nothing(session, clinic):
    mine = book(session, clinic, "09:00", room=0)
    book(session, clinic, "10:00", patient=1, kind=clinic.evaluation)
    book(session, clinic, "09:00", provider=1, patient=2)  # another clinician's
    gone = book(session, clinic, "12:00", patient=2)
    scheduling.transition(session, actor=clinic.reception, appointment_id=gone.id, to_status="cancelled",
                          reason="patient ill", now=now_at("07:00"))
    session.commit()  # the test is the caller: the cancellation is kept
    with pytest.raises(NotAllowed, match="Only a clinician"):
        calendar.turn_on_feed(session, actor=clinic.reception)
    session.rollback()
    assert calendar.feed_is_on(session, actor=clinic.clinician) is False
    secret = calendar.turn_on_feed(session, actor=clinic.clinician, now=now_at("07:00"))
    session.commit()
    assert calendar.feed_is_on(session, actor=clinic.clinician) is True
    assert calendar.feed_path(secret) == f"/ical/{secret}.ics"
    [row] = session.exec(select(IcalFeed)).all()
    assert row.secret_hash != secret and len(row.secret_hash) == 64  # kept hashed only

    data = calendar.feed(session, secret=secret, now=now_at("07:00"))
    text = data.decode()
    events = [v for n, v in parse(data) if n == "SUMMARY"]
    assert events == ["Appointment: Treatment - Room 1", "Appointment: Initial evaluation"]
    assert f"UID:schedule-{mine.id}@clinic.invalid" in text
    words = " ".join(v for n, v in parse(data) if not n.startswith(("DT", "UID")))
    for patient in clinic.patients:
        assert patient.first_name not in text and patient.last_name not in text and patient.mrn not in words
    assert props(data)["METHOD"] == "PUBLISH"

    calendar.turn_off_feed(session, actor=clinic.clinician)
    session.commit()
    with pytest.raises(NotFound):
        calendar.feed(session, secret=secret)
    again = calendar.turn_on_feed(session, actor=clinic.clinician)
    session.commit()
    assert again != secret
    with pytest.raises(NotFound):
        calendar.feed(session, secret=secret)
    assert b"BEGIN:VEVENT" in calendar.feed(session, secret=again, now=now_at("07:00"))
    # A new link replaces the old one: one row per clinician.
    assert len(session.exec(select(IcalFeed)).all()) == 1
