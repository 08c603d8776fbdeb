"""Booking and the appointment state machine.

booked -> arrived -> in_session -> ready_to_bill -> billed, with side exits
no_show and cancelled. Every change is a conditional update on the status it
expects (so two desks acting at once cannot both win), is recorded in
appointment_event with who and when, and is published on the live bus after commit.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.live import AppointmentChanged, publish
from clinic_app.models import (
    RELEASED,
    Appointment,
    AppointmentEvent,
    AppointmentType,
    Location,
    Patient,
    Provider,
    Room,
)
from clinic_app.services import audit
from clinic_app.services.actor import Actor
from clinic_app.services.clock import hhmm, local_day
from clinic_app.services.errors import (
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NotFound,
    SlotTaken,
    from_db_error,
)
from clinic_app.services.permissions import require

STATUS_LABELS = {
    "booked": "Booked",
    "arrived": "Arrived",
    "in_session": "In session",
    "ready_to_bill": "Ready to bill",
    "billed": "Billed",
    "no_show": "No-show",
    "cancelled": "Cancelled",
}

# The state machine: from -> the statuses it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    "booked": frozenset({"arrived", "no_show", "cancelled"}),
    "arrived": frozenset({"in_session", "cancelled"}),
    "in_session": frozenset({"ready_to_bill"}),
    "ready_to_bill": frozenset({"billed"}),
    "billed": frozenset(),
    "no_show": frozenset(),
    "cancelled": frozenset(),
}

# The permission each move needs. ready_to_bill has none here: only signing a note
# (services.charting.sign_note) makes a visit ready to bill.
TRANSITION_ACTION = {
    "arrived": "appointment.check_in",
    "no_show": "appointment.no_show",
    "cancelled": "appointment.cancel",
    "in_session": "appointment.start_session",
    "billed": "billing.mark_billed",
}

MAX_REASON = 200


def publish_change(session: Session, appointment: Appointment) -> None:
    """Publish that ``appointment`` changed. Call after the commit that changed it."""
    location = session.get(Location, appointment.location_id)
    publish(
        AppointmentChanged(
            appointment_id=appointment.id,
            location_id=appointment.location_id,
            provider_id=appointment.provider_id,
            day=local_day(appointment.starts_at, location.timezone).isoformat(),
            status=appointment.status,
        )
    )


def _clash(session: Session, column, value: int, starts_at: dt.datetime, ends_at: dt.datetime):
    return session.exec(
        select(Appointment)
        .where(column == value)
        .where(Appointment.status.not_in(RELEASED))
        .where(Appointment.starts_at < ends_at)
        .where(Appointment.ends_at > starts_at)
        .limit(1)
    ).first()


def book_appointment(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    provider_id: int,
    appointment_type_id: int,
    starts_at: dt.datetime,
    room_id: int | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    """Book a visit in a free slot. SlotTaken names the clash; nothing is saved on error."""
    for_write(session)
    require(actor.role, "appointment.book")
    now = now or utcnow()
    patient = session.get(Patient, patient_id)
    if patient is None or not patient.active:
        raise InvalidInput("Choose a patient from the search results.")
    provider = session.get(Provider, provider_id)
    if provider is None or not provider.active:
        raise InvalidInput("Choose a provider.")
    kind = session.get(AppointmentType, appointment_type_id)
    if kind is None or not kind.active:
        raise InvalidInput("Choose an appointment type.")
    location = session.get(Location, provider.location_id)
    if room_id is not None:
        room = session.get(Room, room_id)
        if room is None or not room.active or room.location_id != location.id:
            raise InvalidInput(f"Choose a room at {location.name}.")
    if starts_at.tzinfo is None:
        raise InvalidInput("The start time has no time zone.")
    if starts_at < now:
        raise InvalidInput(
            f"{hhmm(starts_at, location.timezone)} on {local_day(starts_at, location.timezone)} "
            "has already passed; choose a time from now on."
        )
    if starts_at > now + dt.timedelta(days=366 * 2):
        raise InvalidInput("Appointments can be booked up to two years ahead.")
    ends_at = starts_at + dt.timedelta(minutes=kind.duration_minutes)

    tz = location.timezone
    clash = _clash(session, Appointment.provider_id, provider_id, starts_at, ends_at)
    if clash is not None:
        raise SlotTaken(
            f"{provider.name} already has an appointment "
            f"{hhmm(clash.starts_at, tz)}-{hhmm(clash.ends_at, tz)}; choose another time."
        )
    if room_id is not None:
        clash = _clash(session, Appointment.room_id, room_id, starts_at, ends_at)
        if clash is not None:
            raise SlotTaken(
                f"{session.get(Room, room_id).name} is booked "
                f"{hhmm(clash.starts_at, tz)}-{hhmm(clash.ends_at, tz)}; choose another room or time."
            )

    appointment = Appointment(
        patient_id=patient_id,
        provider_id=provider_id,
        location_id=location.id,
        room_id=room_id,
        appointment_type_id=kind.id,
        starts_at=starts_at,
        ends_at=ends_at,
        status="booked",
    )
    try:
        session.add(appointment)
        session.flush()
        session.add(AppointmentEvent(appointment_id=appointment.id, to_status="booked", user_id=actor.user_id))
        audit.record(
            session, actor=actor, action="create", entity="appointment",
            entity_id=appointment.id, patient_id=patient_id,
        )
        session.commit()
    except IntegrityError as exc:
        # Another desk booked the same slot between our check and our insert: the
        # database rule (alembic 0001) caught it.
        session.rollback()
        raise (from_db_error(exc) or SlotTaken("That slot was just taken; choose another time.")) from exc
    publish_change(session, appointment)
    return appointment


def transition(
    session: Session,
    *,
    actor: Actor,
    appointment_id: int,
    to_status: str,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Appointment:
    """Move an appointment to ``to_status`` if the state machine and the actor allow it."""
    for_write(session)
    if to_status not in TRANSITION_ACTION:
        raise IllegalTransition(
            "A visit becomes ready to bill only when its note is signed."
            if to_status == "ready_to_bill"
            else f"Unknown appointment status {to_status!r}."
        )
    require(actor.role, TRANSITION_ACTION[to_status])
    now = now or utcnow()
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"The reason is too long (at most {MAX_REASON} characters).")
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That appointment no longer exists.")
    location = session.get(Location, appointment.location_id)
    tz = location.timezone
    current = appointment.status
    if to_status not in TRANSITIONS[current]:
        raise IllegalTransition(
            f"A visit that is {STATUS_LABELS[current]} cannot become {STATUS_LABELS[to_status]}."
        )
    if to_status == "in_session" and appointment.provider_id != actor.provider_id:
        raise NotAllowed("Only the visit's own clinician can start the session.")
    if to_status == "arrived" and local_day(now, tz) != local_day(appointment.starts_at, tz):
        raise InvalidInput("Patients can be checked in only on the day of their appointment.")
    if to_status == "no_show" and now < appointment.starts_at:
        raise InvalidInput(
            f"The appointment starts at {hhmm(appointment.starts_at, tz)}; "
            "mark a no-show only after its start time."
        )

    values: dict = {"status": to_status}
    if to_status == "arrived":
        values["arrived_at"] = now
    elif to_status == "in_session":
        values["session_started_at"] = now
    elif to_status == "cancelled":
        values["cancel_reason"] = reason
    changed = session.execute(
        update(Appointment)
        .where(Appointment.id == appointment_id, Appointment.status == current)
        .values(**values)
    ).rowcount
    if changed != 1:
        session.rollback()
        fresh = session.get(Appointment, appointment_id)
        session.refresh(fresh)
        raise IllegalTransition(
            f"Someone else changed this visit meanwhile: it is now {STATUS_LABELS[fresh.status]}."
        )
    session.add(
        AppointmentEvent(
            appointment_id=appointment_id, from_status=current, to_status=to_status,
            user_id=actor.user_id, at=now, note=reason,
        )
    )
    audit.record(
        session, actor=actor, action=f"status:{to_status}", entity="appointment",
        entity_id=appointment_id, patient_id=appointment.patient_id,
    )
    session.commit()
    session.refresh(appointment)
    publish_change(session, appointment)
    return appointment


def history(session: Session, *, appointment_id: int) -> list[AppointmentEvent]:
    """The status changes of an appointment, oldest first."""
    return list(
        session.exec(
            select(AppointmentEvent)
            .where(AppointmentEvent.appointment_id == appointment_id)
            .order_by(AppointmentEvent.id)
        )
    )
