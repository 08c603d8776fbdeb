"""Online check-in on the day: a one-time link bound to one visit, valid that day only.

The link (``/portal/checkin?token=...``) is 32 random bytes stored only as their SHA-256. It
shows nothing about the visit until the patient confirms their date of birth; then the visit
turns Arrived through the desk's own transition (every board sees it live, with the time)
and the link is used up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from clinic_app import settings
from clinic_app.db import for_write, utcnow
from clinic_app.models import Appointment, Location, Patient, PortalToken, Provider
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import hhmm, local_day
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.platform.permissions import require
from clinic_app.services.portal import booking
from clinic_app.services.portal.accounts import Me, new_token, portal_actor, token_hash

CHECKIN_PATH = "/portal/checkin"
INVALID = "This check-in link is not valid; please check in at the desk."


def issue_link(session: Session, *, actor: Actor | None, appointment_id: int, now: dt.datetime | None = None) -> str:
    """A check-in token for a booked visit, valid until the end of its day at the location.
    ``actor`` None is the reminder worker (the machine)."""
    if actor is not None:
        require(actor.role, "appointment.check_in")
    now = now or utcnow()
    for_write(session)
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.status != "booked":
        raise NotFound("Only a booked visit gets a check-in link.")
    location = session.get(Location, appointment.location_id)
    day = local_day(appointment.starts_at, location.timezone)
    ends = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=ZoneInfo(location.timezone)).astimezone(dt.UTC)
    token, hashed = new_token()
    session.add(PortalToken(token_hash=hashed, kind="checkin", patient_id=appointment.patient_id,
                            appointment_id=appointment.id, created_at=now, expires_at=ends))
    session.flush()
    audit.record(session, actor=actor, action="checkin_link", entity="appointment", entity_id=appointment.id,
                 patient_id=appointment.patient_id)
    return token


def enabled_at(session: Session, location_id: int) -> bool:
    """Whether a location offers online check-in: its own setting, else on when its portal
    booking is on."""
    rules = booking.rules_for(session, location_id)
    return rules.enabled if rules.online_checkin is None else rules.online_checkin


def reminder_link(session: Session, *, appointment_id: int, now: dt.datetime | None = None) -> str | None:
    """For a reminder being sent now: a new check-in link when it is the visit's day at its
    location and the location has online check-in, else None. Only the token's hash is kept."""
    now = now or utcnow()
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.status != "booked" or not enabled_at(session, appointment.location_id):
        return None
    tz = session.get(Location, appointment.location_id).timezone
    if local_day(now, tz) != local_day(appointment.starts_at, tz):
        return None
    token = issue_link(session, actor=None, appointment_id=appointment_id, now=now)
    return f"{settings.patient_base_url()}{CHECKIN_PATH}?token={token}"


def _ticket(session: Session, token: str, now: dt.datetime) -> tuple[PortalToken, Appointment, Location]:
    if not token or len(token) > 100:
        raise InvalidInput(INVALID)
    row = session.exec(select(PortalToken).where(PortalToken.token_hash == token_hash(token),
                                                 PortalToken.kind == "checkin")).first()
    if row is None or row.appointment_id is None:
        raise InvalidInput(INVALID)
    if row.used_at is not None:
        raise InvalidInput("This check-in link was already used.")
    appointment = session.get(Appointment, row.appointment_id)
    location = session.get(Location, appointment.location_id)
    if row.expires_at <= now or local_day(now, location.timezone) != local_day(appointment.starts_at, location.timezone):
        raise InvalidInput("Check-in links work on the day of the visit only; please check in at the desk.")
    if appointment.status != "booked":
        raise InvalidInput("This visit cannot be checked in online; please see the desk.")
    return row, appointment, location


def check_link(session: Session, *, token: str, now: dt.datetime | None = None) -> None:
    """InvalidInput unless the link can check a visit in now; says nothing about the visit."""
    _ticket(session, token, now or utcnow())


@dataclass(frozen=True)
class CheckedIn:
    time: str  # "09:42", when they arrived
    starts: str  # "10:00", the visit
    provider: str


def confirm(session: Session, *, token: str, birth_date: dt.date | None, now: dt.datetime | None = None) -> CheckedIn:
    """The patient confirms their date of birth: the visit turns Arrived and the link is used up."""
    now = now or utcnow()
    for_write(session)
    row, appointment, location = _ticket(session, token, now)
    patient = session.get(Patient, appointment.patient_id)
    if birth_date is None or patient.birth_date != birth_date:
        raise InvalidInput("That date of birth does not match our records; try again or check in at the desk.")
    row.used_at = now
    session.add(row)
    session.flush()
    me = Me(account_id=0, patient_id=patient.id)
    scheduling.transition(session, actor=portal_actor(me, source="portal check-in"), appointment_id=appointment.id,
                          to_status="arrived", now=now)
    provider = session.get(Provider, appointment.provider_id)
    return CheckedIn(time=hhmm(now, location.timezone), starts=hhmm(appointment.starts_at, location.timezone),
                     provider=provider.name)
