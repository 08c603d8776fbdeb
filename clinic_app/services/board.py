"""What the calendar board and the clinician's day list show: read models.

Cards are plain dicts so that the live layer can build one once per change and push
the same row to every screen that shows it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, select

from clinic_app.db import for_write
from clinic_app.models import Appointment, AppointmentType, Location, Patient, Provider, Room
from clinic_app.services import audit
from clinic_app.services.actor import Actor
from clinic_app.services.clock import day_bounds, hhmm, local
from clinic_app.services.errors import NotFound
from clinic_app.services.permissions import require
from clinic_app.services.scheduling import STATUS_LABELS


@dataclass
class BoardDay:
    """One location's day on the board."""

    location: Location
    providers: list[Provider]
    rooms: list[Room]
    cards: list[dict]


def _card_query():
    return (
        select(Appointment, Patient, AppointmentType, Room, Location)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .join(Location, Location.id == Appointment.location_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
    )


def _card(appointment: Appointment, patient: Patient, kind: AppointmentType, room: Room | None, location: Location) -> dict:
    tz = location.timezone
    start = local(appointment.starts_at, tz)
    end = local(appointment.ends_at, tz)
    return {
        "id": appointment.id,
        "patient_id": patient.id,
        "patient_name": f"{patient.last_name}, {patient.first_name}",
        "type_name": kind.name,
        "color": kind.color,
        "provider_id": appointment.provider_id,
        "room_name": room.name if room else "",
        "start_label": hhmm(appointment.starts_at, tz),
        "end_label": hhmm(appointment.ends_at, tz),
        "start_minute": start.hour * 60 + start.minute,
        "end_minute": end.hour * 60 + end.minute if end.date() == start.date() else 24 * 60,
        "status": appointment.status,
        "status_label": STATUS_LABELS[appointment.status],
        "day": start.date().isoformat(),
    }


def card(session: Session, *, appointment_id: int) -> dict:
    """The board card of one appointment (for pushing a change)."""
    row = session.exec(_card_query().where(Appointment.id == appointment_id)).first()
    if row is None:
        raise NotFound("That appointment no longer exists.")
    return _card(*row)


def board_day(session: Session, *, actor: Actor, location_id: int, day: dt.date) -> BoardDay:
    """Providers, rooms and appointment cards of a location's day (cancelled ones included)."""
    for_write(session)
    require(actor.role, "board.view")
    location = session.get(Location, location_id)
    if location is None or not location.active:
        raise NotFound("That location does not exist.")
    start, end = day_bounds(day, location.timezone)
    providers = list(
        session.exec(
            select(Provider).where(Provider.location_id == location_id, Provider.active).order_by(Provider.name)
        )
    )
    rooms = list(session.exec(select(Room).where(Room.location_id == location_id, Room.active).order_by(Room.name)))
    rows = session.exec(
        _card_query()
        .where(Appointment.location_id == location_id)
        .where(Appointment.starts_at >= start, Appointment.starts_at < end)
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    audit.record(session, actor=actor, action="view", entity="board", entity_id=location_id, detail=day.isoformat())
    session.commit()
    return BoardDay(location=location, providers=providers, rooms=rooms, cards=[_card(*r) for r in rows])


def provider_day(session: Session, *, actor: Actor, day: dt.date) -> list[dict]:
    """The signed-in clinician's visits of ``day`` (their own list), in time order."""
    require(actor.role, "chart.view")
    provider = session.get(Provider, actor.provider_id) if actor.provider_id else None
    if provider is None:
        raise NotFound("Your account is not linked to a provider; ask an admin.")
    location = session.get(Location, provider.location_id)
    start, end = day_bounds(day, location.timezone)
    rows = session.exec(
        _card_query()
        .where(Appointment.provider_id == provider.id)
        .where(Appointment.starts_at >= start, Appointment.starts_at < end)
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    return [_card(*r) for r in rows]


def locations(session: Session) -> list[Location]:
    """Active locations by name."""
    return list(session.exec(select(Location).where(Location.active).order_by(Location.id)))


def appointment_types(session: Session) -> list[AppointmentType]:
    """Active appointment types by name."""
    return list(session.exec(select(AppointmentType).where(AppointmentType.active).order_by(AppointmentType.name)))


def search_patients(session: Session, *, actor: Actor, text: str, limit: int = 8) -> list[Patient]:
    """Patients by name, date of birth, phone or MRN (see services.patients.search)."""
    from clinic_app.services import patients

    return patients.search(session, actor=actor, text=text, limit=limit)
