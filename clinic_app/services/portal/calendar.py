"""Calendar files: a patient's .ics invitation for a visit, and each clinician's private iCal
feed of their own schedule (RFC 5545).

Invitations (``invitation``): one VEVENT per appointment with a stable UID, METHOD:REQUEST
while the visit stands (booked, moved) and METHOD:CANCEL with STATUS:CANCELLED once it is
cancelled; SEQUENCE goes up each time what the invitation says changes (time, clinician,
room, place, cancelled), remembered in ``calendar_invite``. Times in UTC. The summary names
the clinic, never anything clinical. ``send_confirmation`` e-mails it (the portal calls it
after booking, moving or cancelling); reminders attach it too.

Feeds (``turn_on_feed`` / ``turn_off_feed`` / ``feed``): a clinician turns on a secret address
(``/ical/<secret>.ics``) their own calendar app subscribes to; only the secret's SHA-256 is
kept, so the address is shown once, when it is made; turning it off (or making a new one)
makes the old address answer 404. The feed lists the clinician's upcoming visits as
"Appointment: <type> - <room>", never a patient's name.

Services here never commit; the caller does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from clinic_app import settings
from clinic_app.db import for_write, utcnow
from clinic_app.models import Appointment, AppointmentType, CalendarInvite, IcalFeed, Location, Patient, Provider, Room
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local
from clinic_app.services.platform.errors import NotAllowed, NotFound

if TYPE_CHECKING:
    from clinic_app.services.frontdesk.reminders import EmailSender

PRODID = "-//Clinic//Patient portal//EN"
FEED_DAYS_BEHIND, FEED_DAYS_AHEAD = 7, 120
NOT_IN_FEED = ("cancelled", "no_show")


# -- RFC 5545 text ------------------------------------------------------------------------------
def escape(text: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newlines escaped."""
    return (text or "").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """A content line folded at 75 octets (RFC 5545 3.1), never inside a UTF-8 character."""
    data, parts, limit = line.encode(), [], 75
    while len(data) > limit:
        cut = limit
        while cut > 0 and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        parts.append(data[:cut])
        data, limit = data[cut:], 74  # continuation lines start with a space
    parts.append(data)
    return "\r\n ".join(p.decode() for p in parts)


def stamp(moment: dt.datetime) -> str:
    """A DATE-TIME in UTC form (19970714T173000Z)."""
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(lines: Iterable[str], *, method: str = "", name: str = "") -> bytes:
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]
    if method:
        head.append(f"METHOD:{method}")
    if name:
        head.append(f"X-WR-CALNAME:{escape(name)}")
    return ("\r\n".join(fold(x) for x in [*head, *lines, "END:VCALENDAR"]) + "\r\n").encode()


def uid(appointment_id: int, kind: str = "appointment") -> str:
    return f"{kind}-{appointment_id}@{settings.calendar_domain()}"


# -- a patient's invitation -----------------------------------------------------------------
def _facts(session: Session, appointment: Appointment) -> tuple[Location, Provider, AppointmentType, Room | None]:
    return (session.get(Location, appointment.location_id), session.get(Provider, appointment.provider_id),
            session.get(AppointmentType, appointment.appointment_type_id),
            session.get(Room, appointment.room_id) if appointment.room_id else None)


def _sequence(session: Session, appointment: Appointment, said: str, now: dt.datetime) -> int:
    """The invitation's SEQUENCE: 0 at first, one more each time what it says changes."""
    fingerprint = hashlib.sha256(said.encode()).hexdigest()
    row = session.get(CalendarInvite, appointment.id)
    if row is None:
        session.add(CalendarInvite(appointment_id=appointment.id, sequence=0, fingerprint=fingerprint, updated_at=now))
        session.flush()
        return 0
    if row.fingerprint != fingerprint:
        row.sequence, row.fingerprint, row.updated_at = row.sequence + 1, fingerprint, now
        session.add(row)
        session.flush()
    return row.sequence


def invitation(session: Session, *, appointment_id: int, now: dt.datetime | None = None) -> bytes:
    """The .ics invitation of a visit as it stands now (REQUEST, or CANCEL once cancelled)."""
    for_write(session)
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That visit no longer exists.")
    now = now or utcnow()
    location, provider, _, room = _facts(session, appointment)
    patient = session.get(Patient, appointment.patient_id)
    cancelled = appointment.status == "cancelled"
    place = ", ".join(x for x in (location.name, room.name if room else "", location.address) if x)
    said = "|".join(str(x) for x in (appointment.starts_at.isoformat(), appointment.ends_at.isoformat(),
                                     provider.id, place, cancelled))
    sequence = _sequence(session, appointment, said, now)
    organizer = _organizer()
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid(appointment.id)}",
        f"SEQUENCE:{sequence}",
        f"DTSTAMP:{stamp(now)}",
        f"DTSTART:{stamp(appointment.starts_at)}",
        f"DTEND:{stamp(appointment.ends_at)}",
        f"SUMMARY:{escape(f'Appointment at {location.name}')}",
        f"LOCATION:{escape(place)}",
        f"DESCRIPTION:{escape(f'With {provider.name}. To change or cancel it, use the patient portal or call the clinic.')}",
        f"ORGANIZER;CN={escape(location.name)}:mailto:{organizer}",
    ]
    if patient is not None and patient.email:
        lines.append(f"ATTENDEE;CN={escape(patient.first_name)};ROLE=REQ-PARTICIPANT:mailto:{patient.email}")
    lines += [f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}", "TRANSP:OPAQUE", "END:VEVENT"]
    return calendar(lines, method="CANCEL" if cancelled else "REQUEST")


def _organizer() -> str:
    """The address invitations come from (the reminders' SMTP_FROM)."""
    return os.environ.get("SMTP_FROM", "reminders@clinic.invalid")


def attachment(session: Session, *, appointment_id: int, now: dt.datetime | None = None) -> tuple[str, str, bytes]:
    """The invitation as an e-mail attachment: (file name, content type, data)."""
    data = invitation(session, appointment_id=appointment_id, now=now)
    method = "CANCEL" if b"METHOD:CANCEL" in data else "REQUEST"
    return "invite.ics", f"text/calendar; method={method}", data


def send_confirmation(session: Session, *, appointment_id: int, email: EmailSender, now: dt.datetime | None = None,
                      note: str = "", guardian_email: str = "") -> bool:
    """E-mail the patient their visit's confirmation with the invitation attached (after a
    booking, a move or a cancellation); False when they have no e-mail address or opted out.
    ``note``: a paragraph added to a booking's confirmation (the intake forms' link).
    ``guardian_email``: a parent or guardian changed a dependant's visit from their own portal
    account: the confirmation goes to them, naming the dependant."""
    for_write(session)
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That visit no longer exists.")
    patient = session.get(Patient, appointment.patient_id)
    to = guardian_email or patient.email
    if not to or (not guardian_email and patient.reminders_opt_out):
        return False
    location, provider, _, _ = _facts(session, appointment)
    when = local(appointment.starts_at, location.timezone)
    cancelled = appointment.status == "cancelled"
    file = attachment(session, appointment_id=appointment_id, now=now)
    whose, hello = (f"{patient.first_name}'s", "Hello") if guardian_email else ("your", f"Hello {patient.first_name}")
    if cancelled:
        subject = f"Cancelled: {whose} appointment on {when:%a %d %b} at {when:%H:%M}"
        body = (f"{hello},\n\n{whose.capitalize()} appointment with {provider.name} at {location.name} on "
                f"{when:%A %d %B} at {when:%H:%M} is cancelled.\n")
    else:
        subject = f"Confirmed: {whose} appointment on {when:%a %d %b} at {when:%H:%M}"
        body = (f"{hello},\n\n{whose.capitalize()} appointment with {provider.name} at {location.name} is on "
                f"{when:%A %d %B} at {when:%H:%M}.\n\nThe attached invitation adds it to your calendar; "
                "it is updated if the visit changes.\n")
        if note:
            body += f"\n{note}\n"
    email.send(to=to, subject=subject, body=body, attachments=[file])
    audit.record(session, actor=None, action="calendar:confirmation", entity="appointment", entity_id=appointment.id,
                 patient_id=patient.id, source="portal")
    return True


# -- a clinician's private feed -------------------------------------------------------------
def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _own_provider(actor: Actor) -> int:
    if actor.provider_id is None:
        raise NotAllowed("Only a clinician with a schedule has a calendar feed.")
    return actor.provider_id


def feed_path(secret: str) -> str:
    """The feed's address (absolute when CLINIC_PUBLIC_URL is set)."""
    return f"{settings.public_url()}/ical/{secret}.ics"


def feed_is_on(session: Session, *, actor: Actor) -> bool:
    if actor.provider_id is None:
        return False
    row = session.exec(select(IcalFeed).where(IcalFeed.provider_id == actor.provider_id)).first()
    return row is not None and row.secret_hash is not None


def turn_on_feed(session: Session, *, actor: Actor, now: dt.datetime | None = None) -> str:
    """Make a new secret address for the actor's own schedule (any older one stops working);
    returns the secret: it is shown once and kept only hashed."""
    provider_id = _own_provider(actor)
    for_write(session)
    secret = secrets.token_urlsafe(32)
    row = session.exec(select(IcalFeed).where(IcalFeed.provider_id == provider_id)).first()
    row = row or IcalFeed(provider_id=provider_id)
    row.secret_hash, row.user_id, row.changed_at = _hash(secret), actor.user_id, now or utcnow()
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="ical:on", entity="ical_feed", entity_id=row.id)
    return secret


def turn_off_feed(session: Session, *, actor: Actor, now: dt.datetime | None = None) -> None:
    """Revoke the actor's feed: its address answers 404 from now on."""
    provider_id = _own_provider(actor)
    for_write(session)
    row = session.exec(select(IcalFeed).where(IcalFeed.provider_id == provider_id)).first()
    if row is None or row.secret_hash is None:
        return
    row.secret_hash, row.user_id, row.changed_at = None, actor.user_id, now or utcnow()
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="ical:off", entity="ical_feed", entity_id=row.id)


def feed(session: Session, *, secret: str, now: dt.datetime | None = None) -> bytes:
    """The schedule behind a feed's secret (NotFound for an unknown or revoked one): the
    provider's visits from a week ago to four months ahead, with no patient named."""
    if not secret or len(secret) > 100:
        raise NotFound("No calendar feed has that address.")
    row = session.exec(select(IcalFeed).where(IcalFeed.secret_hash == _hash(secret))).first()
    if row is None:
        raise NotFound("No calendar feed has that address.")
    now = now or utcnow()
    provider = session.get(Provider, row.provider_id)
    visits: Sequence[tuple[Appointment, AppointmentType, Room | None, Location]] = session.exec(
        select(Appointment, AppointmentType, Room, Location)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .join(Location, Location.id == Appointment.location_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
        .where(Appointment.provider_id == row.provider_id, Appointment.status.not_in(NOT_IN_FEED),
               Appointment.starts_at >= now - dt.timedelta(days=FEED_DAYS_BEHIND),
               Appointment.starts_at < now + dt.timedelta(days=FEED_DAYS_AHEAD))
        .order_by(Appointment.starts_at)
    ).all()
    lines: list[str] = []
    for appointment, kind, room, location in visits:
        summary = f"Appointment: {kind.name}" + (f" - {room.name}" if room else "")
        lines += [
            "BEGIN:VEVENT", f"UID:{uid(appointment.id, 'schedule')}", f"DTSTAMP:{stamp(now)}",
            f"DTSTART:{stamp(appointment.starts_at)}", f"DTEND:{stamp(appointment.ends_at)}",
            f"SUMMARY:{escape(summary)}", f"LOCATION:{escape(location.name)}", "STATUS:CONFIRMED",
            "TRANSP:OPAQUE", "CLASS:PRIVATE", "END:VEVENT",
        ]
    return calendar(lines, method="PUBLISH", name=f"{provider.name} - schedule")
