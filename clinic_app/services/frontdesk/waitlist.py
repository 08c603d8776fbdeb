"""The waitlist, and who to offer a freed slot to, best fit first."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, update
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import RELEASED, Appointment, AppointmentType, Location, Patient, Provider, WaitlistEntry
from clinic_app.services.frontdesk.booking_rules import active_patient, active_type
from clinic_app.services.frontdesk.scheduling import book_appointment
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local, zone
from clinic_app.services.platform.errors import IllegalTransition, InvalidInput, NotFound
from clinic_app.services.platform.permissions import require


def _minute(text: str, default: int) -> int:
    if not (text or "").strip():
        return default
    try:
        hour, minute = (int(x) for x in text.strip().split(":"))
    except ValueError as exc:
        raise InvalidInput(f"Time must look like 09:30, not {text!r}.") from exc
    if not (0 <= hour <= 24 and 0 <= minute < 60):
        raise InvalidInput(f"Time must look like 09:30, not {text!r}.")
    return hour * 60 + minute


def add_to_waitlist(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    location_id: int,
    appointment_type_id: int,
    earliest_day: dt.date,
    latest_day: dt.date,
    provider_id: int | None = None,
    preferred_from: str = "",
    preferred_until: str = "",
    note: str = "",
    now: dt.datetime | None = None,
) -> WaitlistEntry:
    """Put a patient on the waitlist for a visit between two days (and times)."""
    for_write(session)
    require(actor.role, "appointment.book")
    now = now or utcnow()
    active_patient(session, patient_id)
    location = session.get(Location, location_id)
    if location is None:
        raise InvalidInput("Choose a location.")
    active_type(session, appointment_type_id)
    if provider_id is not None:
        provider = session.get(Provider, provider_id)
        if provider is None or provider.location_id != location_id:
            raise InvalidInput(f"Choose a provider at {location.name}, or any provider.")
    if latest_day < earliest_day:
        raise InvalidInput("The last day must be on or after the first day.")
    if latest_day < local(now, location.timezone).date():
        raise InvalidInput("The last day has already passed.")
    start, end = _minute(preferred_from, 0), _minute(preferred_until, 24 * 60)
    if start >= end:
        raise InvalidInput("The preferred times must start before they end.")
    entry = WaitlistEntry(
        patient_id=patient_id, location_id=location_id, provider_id=provider_id,
        appointment_type_id=appointment_type_id, earliest_day=earliest_day, latest_day=latest_day,
        preferred_start_minute=start, preferred_end_minute=end, note=(note or "").strip()[:200], created_at=now,
    )
    session.add(entry)
    session.flush()
    audit.record(session, actor=actor, action="create", entity="waitlist_entry", entity_id=entry.id, patient_id=patient_id)
    session.flush()
    return entry


def offers_for_slot(
    session: Session, *, actor: Actor, appointment_id: int, now: dt.datetime | None = None, limit: int = 5
) -> list[dict]:
    """Waiting patients who could take the slot a cancelled or no-show visit freed,
    ranked by fit: the provider they asked for, inside their preferred hours, the same
    kind of visit, then who has waited longest. Patients busy then are left out."""
    require(actor.role, "appointment.book")
    now = now or utcnow()
    freed = session.get(Appointment, appointment_id)
    if freed is None:
        raise NotFound("That appointment no longer exists.")
    if freed.status not in RELEASED:
        raise IllegalTransition("Only a cancelled or no-show visit frees its slot.")
    location = session.get(Location, freed.location_id)
    start = local(freed.starts_at, location.timezone)
    minute = start.hour * 60 + start.minute
    length = int((freed.ends_at - freed.starts_at).total_seconds() // 60)
    rows = session.exec(
        select(WaitlistEntry, Patient, AppointmentType)
        .join(Patient, Patient.id == WaitlistEntry.patient_id)
        .join(AppointmentType, AppointmentType.id == WaitlistEntry.appointment_type_id)
        .where(WaitlistEntry.location_id == freed.location_id, WaitlistEntry.status == "waiting")
        .where(WaitlistEntry.earliest_day <= start.date(), WaitlistEntry.latest_day >= start.date())
        .where(or_(WaitlistEntry.provider_id.is_(None), WaitlistEntry.provider_id == freed.provider_id))
        .where(AppointmentType.duration_minutes <= length)
    ).all()
    offers = []
    for entry, patient, kind in rows:
        busy = session.exec(
            select(Appointment.id)
            .where(Appointment.patient_id == patient.id, Appointment.status.not_in(RELEASED))
            .where(Appointment.starts_at < freed.ends_at, Appointment.ends_at > freed.starts_at)
        ).first()
        if busy is not None or patient.id == freed.patient_id:
            continue
        reasons, score = [], 0
        if entry.provider_id == freed.provider_id:
            score += 4
            reasons.append("asked for this provider")
        if entry.preferred_start_minute <= minute and minute + length <= entry.preferred_end_minute:
            score += 2
            if (entry.preferred_start_minute, entry.preferred_end_minute) != (0, 24 * 60):
                reasons.append("inside their preferred hours")
        else:
            reasons.append("outside their preferred hours")
        if kind.id == freed.appointment_type_id:
            score += 1
            reasons.append(f"wants a {kind.name.lower()}")
        waited = max(0, (now - entry.created_at).days)
        reasons.append(f"waiting {waited} day{'s' if waited != 1 else ''}")
        offers.append({
            "entry_id": entry.id, "patient_id": patient.id, "patient_name": f"{patient.last_name}, {patient.first_name}",
            "type_id": kind.id, "type_name": kind.name, "score": score, "why": "; ".join(reasons),
            "phone": patient.phone, "_created": entry.created_at,
        })
    offers.sort(key=lambda o: (-o["score"], o["_created"], o["entry_id"]))
    for o in offers:
        del o["_created"]
    return offers[:limit]


def book_offer(
    session: Session, *, actor: Actor, entry_id: int, freed_appointment_id: int, now: dt.datetime | None = None
) -> Appointment:
    """Book a waiting patient into a freed slot and take them off the waitlist."""
    entry = session.get(WaitlistEntry, entry_id)
    freed = session.get(Appointment, freed_appointment_id)
    if entry is None or entry.status != "waiting":
        raise InvalidInput("That patient is no longer on the waitlist.")
    if freed is None:
        raise NotFound("That appointment no longer exists.")
    appointment = book_appointment(
        session, actor=actor, patient_id=entry.patient_id, provider_id=freed.provider_id,
        appointment_type_id=entry.appointment_type_id, starts_at=freed.starts_at, room_id=freed.room_id, now=now,
    )
    for_write(session)
    session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.id == entry_id, WaitlistEntry.status == "waiting")
        .values(status="booked", booked_appointment_id=appointment.id)
    )
    session.flush()
    return appointment


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def times_words(entry: WaitlistEntry) -> str:
    """The times of day an entry prefers, e.g. "08:00-12:00", or "any time"."""
    if (entry.preferred_start_minute, entry.preferred_end_minute) == (0, 24 * 60):
        return "any time"
    return f"{_hhmm(entry.preferred_start_minute)}-{_hhmm(entry.preferred_end_minute)}"


def waited_words(entry: WaitlistEntry, now: dt.datetime) -> str:
    """How long the patient has waited, e.g. "3 days" or "under a day"."""
    days = max(0, (now - entry.created_at).days)
    return "under a day" if days == 0 else f"{days} day{'s' if days != 1 else ''}"


STATUS_WORDS = {"waiting": "Waiting", "booked": "Booked", "removed": "Removed"}


def _rows(session: Session, where: list, now: dt.datetime) -> list[dict]:
    rows = session.exec(
        select(WaitlistEntry, Patient, AppointmentType, Location)
        .join(Patient, Patient.id == WaitlistEntry.patient_id)
        .join(AppointmentType, AppointmentType.id == WaitlistEntry.appointment_type_id)
        .join(Location, Location.id == WaitlistEntry.location_id)
        .where(*where)
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    ).all()
    names = {p.id: p.name for p in session.exec(
        select(Provider).where(Provider.id.in_({e.provider_id for e, *_ in rows if e.provider_id})))}
    return [
        {"entry_id": e.id, "patient_id": p.id, "patient_name": f"{p.last_name}, {p.first_name}", "mrn": p.mrn,
         "phone": p.phone, "type_name": k.name, "location": loc.name,
         "days": f"{e.earliest_day.isoformat()} to {e.latest_day.isoformat()}", "times": times_words(e),
         "provider": names.get(e.provider_id, "") if e.provider_id else "any provider",
         "waited": waited_words(e, now), "note": e.note, "status": STATUS_WORDS.get(e.status, e.status)}
        for e, p, k, loc in rows
    ]


def waiting(session: Session, *, actor: Actor, location_id: int, now: dt.datetime | None = None) -> list[dict]:
    """Who is waiting at a location, longest first, with their preferences (days, times of
    day, provider) and how long they have waited."""
    require(actor.role, "appointment.book")
    return _rows(session, [WaitlistEntry.location_id == location_id, WaitlistEntry.status == "waiting"], now or utcnow())


def entries_of(session: Session, *, actor: Actor, patient_id: int, now: dt.datetime | None = None) -> list[dict]:
    """A patient's waitlist entries (waiting, booked or removed), oldest first."""
    require(actor.role, "appointment.book")
    return _rows(session, [WaitlistEntry.patient_id == patient_id], now or utcnow())


def freed_slots_for(
    session: Session, *, actor: Actor, entry_id: int, now: dt.datetime | None = None, limit: int = 5,
) -> list[dict]:
    """Freed slots (cancelled or no-show visits, still free) that a waiting entry could take,
    soonest first: the same fit as ``offers_for_slot`` (provider, length, the patient free),
    with the reasons it gives."""
    require(actor.role, "appointment.book")
    now = now or utcnow()
    entry = session.get(WaitlistEntry, entry_id)
    if entry is None or entry.status != "waiting":
        raise InvalidInput("That patient is no longer on the waitlist.")
    location = session.get(Location, entry.location_id)
    first = dt.datetime.combine(entry.earliest_day, dt.time(0), tzinfo=zone(location.timezone)).astimezone(dt.UTC)
    last = dt.datetime.combine(entry.latest_day + dt.timedelta(days=1), dt.time(0), tzinfo=zone(location.timezone)).astimezone(dt.UTC)
    query = (
        select(Appointment)
        .where(Appointment.location_id == entry.location_id, Appointment.status.in_(RELEASED))
        .where(Appointment.starts_at >= max(first, now), Appointment.starts_at < last)
        .order_by(Appointment.starts_at, Appointment.id)
    )
    if entry.provider_id is not None:
        query = query.where(Appointment.provider_id == entry.provider_id)
    slots, seen = [], set()
    for freed in session.exec(query.limit(50)):
        key = (freed.provider_id, freed.starts_at)
        retaken = session.exec(
            select(Appointment.id)
            .where(Appointment.provider_id == freed.provider_id, Appointment.status.not_in(RELEASED))
            .where(Appointment.starts_at < freed.ends_at, Appointment.ends_at > freed.starts_at)
        ).first()
        if key in seen or retaken is not None:
            continue
        offer = next((o for o in offers_for_slot(session, actor=actor, appointment_id=freed.id, now=now, limit=1000)
                      if o["entry_id"] == entry.id), None)
        if offer is None:
            continue
        seen.add(key)
        start = local(freed.starts_at, location.timezone)
        slots.append({
            "appointment_id": freed.id, "when": f"{start:%a %Y-%m-%d %H:%M}",
            "provider": session.get(Provider, freed.provider_id).name, "why": offer["why"],
        })
        if len(slots) == limit:
            break
    return slots


def choices(session: Session) -> tuple[list[Location], list[AppointmentType], list[Provider]]:
    """What a waitlist entry may name: active locations, kinds of visit and providers."""
    return (
        list(session.exec(select(Location).where(Location.active).order_by(Location.name))),
        list(session.exec(select(AppointmentType).where(AppointmentType.active).order_by(AppointmentType.name))),
        list(session.exec(select(Provider).where(Provider.active).order_by(Provider.name))),
    )


def remove_entry(session: Session, *, actor: Actor, entry_id: int) -> WaitlistEntry:
    """Take a patient off the waitlist (they found a time, or no longer want one); kept as removed."""
    for_write(session)
    require(actor.role, "appointment.book")
    entry = session.get(WaitlistEntry, entry_id)
    if entry is None or entry.status != "waiting":
        raise InvalidInput("That patient is no longer on the waitlist.")
    entry.status = "removed"
    session.add(entry)
    audit.record(session, actor=actor, action="update", entity="waitlist_entry", entity_id=entry.id,
                 patient_id=entry.patient_id, detail="removed")
    session.flush()
    return entry
