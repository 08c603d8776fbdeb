"""The checks every way of booking or moving a visit shares, written once.

A booking (one visit, a series, a waitlist offer) and a move name a patient, a provider, an
appointment type, perhaps a room, and a start time; each must exist and be in use, the room
must be at the provider's location, and the start must be in the future and within two years.
Each check raises ``InvalidInput`` with words the desk can act on.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from clinic_app.models import AppointmentType, Location, Patient, Provider, Room
from clinic_app.services.platform.clock import hhmm, local_day
from clinic_app.services.platform.errors import InvalidInput

MAX_AHEAD = dt.timedelta(days=366 * 2)


def active_patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None or not patient.active:
        raise InvalidInput("Choose a patient from the search results.")
    return patient


def active_provider(session: Session, provider_id: int) -> tuple[Provider, Location]:
    """The provider and the location they work at."""
    provider = session.get(Provider, provider_id)
    if provider is None or not provider.active:
        raise InvalidInput("Choose a provider.")
    return provider, session.get(Location, provider.location_id)


def active_type(session: Session, appointment_type_id: int) -> AppointmentType:
    kind = session.get(AppointmentType, appointment_type_id)
    if kind is None or not kind.active:
        raise InvalidInput("Choose an appointment type.")
    return kind


def check_room(session: Session, room_id: int | None, location: Location) -> None:
    """No room, or a room in use at ``location``."""
    if room_id is None:
        return
    room = session.get(Room, room_id)
    if room is None or not room.active or room.location_id != location.id:
        raise InvalidInput(f"Choose a room at {location.name}.")


def check_start(starts_at: dt.datetime, *, now: dt.datetime, location: Location) -> None:
    """A start with a zone, not passed, at most two years ahead."""
    if starts_at.tzinfo is None:
        raise InvalidInput("The start time has no time zone.")
    if starts_at < now:
        raise InvalidInput(
            f"{hhmm(starts_at, location.timezone)} on {local_day(starts_at, location.timezone)} "
            "has already passed; choose a time from now on."
        )
    if starts_at > now + MAX_AHEAD:
        raise InvalidInput("Appointments can be booked up to two years ahead.")


def booking_context(
    session: Session, *, patient_id: int, provider_id: int, appointment_type_id: int, room_id: int | None
) -> tuple[Patient, Provider, AppointmentType, Location]:
    """The patient, provider, type and location of a booking, each checked (and the room)."""
    patient = active_patient(session, patient_id)
    provider, location = active_provider(session, provider_id)
    kind = active_type(session, appointment_type_id)
    check_room(session, room_id, location)
    return patient, provider, kind, location
