"""Booking and the appointment state machine.

booked -> arrived -> in_session -> ready_to_bill -> billed, with side exits
no_show and cancelled. Every change is a conditional update on the status it
expects (so two desks acting at once cannot both win), is recorded in
appointment_event with who and when, and is published on the live bus after commit.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.live import AppointmentChanged, publish_on_commit
from clinic_app.models import (
    RELEASED,
    Appointment,
    AppointmentEvent,
    AppointmentMove,
    CareCase,
    CaseVisit,
    Location,
    Patient,
    Provider,
    ProviderHours,
    ProviderTimeOff,
    Room,
)
from clinic_app.services.frontdesk.booking_rules import active_provider, booking_context, check_room, check_start
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import hhmm, local, local_day
from clinic_app.services.platform.errors import (
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NotFound,
    OutsideHours,
    SlotTaken,
    from_db_error,
)
from clinic_app.services.platform.permissions import require

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
    """Publish that ``appointment`` changed, once the caller commits (dropped on rollback)."""
    location = session.get(Location, appointment.location_id)
    publish_on_commit(
        session,
        AppointmentChanged(
            appointment_id=appointment.id,
            location_id=appointment.location_id,
            provider_id=appointment.provider_id,
            day=local_day(appointment.starts_at, location.timezone).isoformat(),
            status=appointment.status,
        )
    )


@contextmanager
def clash_refused(session: Session, message: str = "That slot was just taken; choose another time.") -> Iterator[None]:
    """Write a booking or a move in a savepoint. If another desk took the slot between our check
    and our write, the database's rule (alembic 0001) refuses it, and the refusal is raised in
    words (only the savepoint is undone). On PostgreSQL two clashing inserts at the same moment
    can each wait for the other on the exclusion constraint; the server then stops one with
    "deadlock detected" (SQLSTATE 40P01): for that one too, the slot was just taken."""
    taken = SlotTaken(message)
    try:
        with session.begin_nested():
            yield
    except IntegrityError as exc:
        raise (from_db_error(exc) or taken) from exc
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == "40P01" and "exclusion constraint" in str(exc.orig):
            raise taken from exc
        raise


def _clash(session: Session, column, value: int, starts_at: dt.datetime, ends_at: dt.datetime,
           ignore_id: int | None = None):
    query = (
        select(Appointment)
        .where(column == value)
        .where(Appointment.status.not_in(RELEASED))
        .where(Appointment.starts_at < ends_at)
        .where(Appointment.ends_at > starts_at)
    )
    if ignore_id is not None:
        query = query.where(Appointment.id != ignore_id)
    return session.exec(query.limit(1)).first()


WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


def _minutes(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def hours_of(session: Session, *, provider_id: int) -> dict[int, list[tuple[int, int]]]:
    """A provider's working windows by weekday (Monday = 0), in wall-clock minutes."""
    rows = session.exec(
        select(ProviderHours).where(ProviderHours.provider_id == provider_id).order_by(ProviderHours.start_minute)
    )
    windows: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        windows.setdefault(row.weekday, []).append((row.start_minute, row.end_minute))
    return windows


def _check_hours(session, provider: Provider, tz: str, starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    windows = hours_of(session, provider_id=provider.id)
    if not windows:
        return  # no hours set: the provider is bookable at any time
    start = local(starts_at, tz)
    first = start.hour * 60 + start.minute
    last = first + int((ends_at - starts_at).total_seconds() // 60)  # past 1440 = after midnight
    today = windows.get(start.weekday(), [])
    if any(a <= first and last <= b for a, b in today):
        return
    span = f"{hhmm(starts_at, tz)}-{hhmm(ends_at, tz)}"
    if not today:
        raise OutsideHours(f"{provider.name} does not work on {WEEKDAYS[start.weekday()]}; choose another day.")
    hours = ", ".join(f"{_minutes(a)}-{_minutes(b)}" for a, b in today)
    raise OutsideHours(
        f"{provider.name} works {hours} on {WEEKDAYS[start.weekday()]}; {span} is outside those hours."
    )


def check_slot(
    session: Session,
    *,
    provider: Provider,
    location: Location,
    patient: Patient,
    room_id: int | None,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    ignore_id: int | None = None,
) -> None:
    """Refuse, naming the clash, a span the provider, room or patient cannot take.

    Checked in this order: working hours, time off, the provider's, the room's and the
    patient's other appointments. ``ignore_id`` is the appointment being moved.
    """
    tz = location.timezone
    _check_hours(session, provider, tz, starts_at, ends_at)
    off = session.exec(
        select(ProviderTimeOff)
        .where(ProviderTimeOff.provider_id == provider.id)
        .where(ProviderTimeOff.starts_at < ends_at, ProviderTimeOff.ends_at > starts_at)
        .limit(1)
    ).first()
    if off is not None:
        why = f" ({off.reason})" if off.reason else ""
        raise OutsideHours(
            f"{provider.name} is off from {local(off.starts_at, tz):%Y-%m-%d %H:%M} "
            f"to {local(off.ends_at, tz):%Y-%m-%d %H:%M}{why}; choose another time or provider."
        )
    clash = _clash(session, Appointment.provider_id, provider.id, starts_at, ends_at, ignore_id)
    if clash is not None:
        raise SlotTaken(
            f"{provider.name} already has an appointment "
            f"{hhmm(clash.starts_at, tz)}-{hhmm(clash.ends_at, tz)}; choose another time."
        )
    if room_id is not None:
        clash = _clash(session, Appointment.room_id, room_id, starts_at, ends_at, ignore_id)
        if clash is not None:
            raise SlotTaken(
                f"{session.get(Room, room_id).name} is booked "
                f"{hhmm(clash.starts_at, tz)}-{hhmm(clash.ends_at, tz)}; choose another room or time."
            )
    clash = _clash(session, Appointment.patient_id, patient.id, starts_at, ends_at, ignore_id)
    if clash is not None:
        other = session.get(Provider, clash.provider_id)
        raise SlotTaken(
            f"{patient.first_name} {patient.last_name} already has an appointment "
            f"{hhmm(clash.starts_at, tz)}-{hhmm(clash.ends_at, tz)} with {other.name}; choose another time."
        )


def book_appointment(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    provider_id: int,
    appointment_type_id: int,
    starts_at: dt.datetime,
    room_id: int | None = None,
    case_id: int | None = None,
    now: dt.datetime | None = None,
    booked_online: bool = False,
) -> Appointment:
    """Book a visit in a free slot, counted against an episode of care if given.
    SlotTaken names the clash; nothing is saved on error. ``booked_online``: the patient
    booked it in the portal (services/portal/booking.py)."""
    for_write(session)
    require(actor.role, "appointment.book")
    now = now or utcnow()
    patient, provider, kind, location = booking_context(
        session, patient_id=patient_id, provider_id=provider_id, appointment_type_id=appointment_type_id, room_id=room_id
    )
    if case_id is not None:
        case = session.get(CareCase, case_id)
        if case is None or case.patient_id != patient_id or not case.active:
            raise InvalidInput("Choose one of the patient's open episodes of care, or none.")
    check_start(starts_at, now=now, location=location)
    ends_at = starts_at + dt.timedelta(minutes=kind.duration_minutes)

    check_slot(
        session, provider=provider, location=location, patient=patient, room_id=room_id,
        starts_at=starts_at, ends_at=ends_at,
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
        booked_online=booked_online,
    )
    with clash_refused(session):  # a clash undoes this booking only, not the caller's work
        session.add(appointment)
        session.flush()
        session.add(AppointmentEvent(appointment_id=appointment.id, to_status="booked", user_id=actor.user_id))
        if case_id is not None:
            session.add(CaseVisit(case_id=case_id, appointment_id=appointment.id))
        audit.record(
            session, actor=actor, action="create", entity="appointment",
            entity_id=appointment.id, patient_id=patient_id,
        )
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
        values["late_cancel"] = is_late_cancel(location, appointment, now)
    changed = session.execute(
        update(Appointment)
        .where(Appointment.id == appointment_id, Appointment.status == current)
        .values(**values)
    ).rowcount
    if changed != 1:
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
    session.flush()
    session.refresh(appointment)
    publish_change(session, appointment)
    return appointment


RELEASE_STATUSES = ("cancelled", "no_show")


def require_reason(to_status: str, reason: str) -> str:
    """The desk says why it cancels a visit or marks a no-show (kept on the visit's history)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "Enter the reason for the cancellation (e.g. the patient is unwell)."
            if to_status == "cancelled"
            else "Enter the reason for the no-show (e.g. did not answer the phone)."
        )
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"The reason is too long (at most {MAX_REASON} characters).")
    return reason


@dataclass(frozen=True)
class ReleaseTerms:
    """What cancelling a visit (or marking it a no-show) will mean, said before it is done."""

    patient_name: str
    when: str  # the visit's day and time at its location, e.g. "Tue 15 Dec 14:00-14:30"
    late: bool  # a cancellation inside the location's late-cancel window
    words: str  # what it will count as, in words


def release_terms(
    session: Session, *, appointment_id: int, to_status: str, now: dt.datetime | None = None
) -> ReleaseTerms:
    """Who and when, and whether a cancellation now counts as late (the location's window)."""
    if to_status not in RELEASE_STATUSES:
        raise InvalidInput("Choose to cancel the visit or to mark it a no-show.")
    now = now or utcnow()
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That appointment no longer exists.")
    location = session.get(Location, appointment.location_id)
    patient = session.get(Patient, appointment.patient_id)
    tz = location.timezone
    when = f"{local(appointment.starts_at, tz):%a %d %b} {hhmm(appointment.starts_at, tz)}-{hhmm(appointment.ends_at, tz)}"
    window = location.late_cancel_hours
    if to_status == "no_show":
        late, words = False, "It will count as a no-show in the no-show rate, and the slot is freed."
    elif is_late_cancel(location, appointment, now):
        hours = max(0, int((appointment.starts_at - now).total_seconds() // 3600))
        ahead = "it has started" if appointment.starts_at <= now else f"it starts in {hours} h" if hours else "it starts within the hour"
        late, words = True, (f"This will count as a late cancellation: {ahead}, inside {location.name}'s "
                             f"{window}-hour window.")
    else:
        late, words = False, (f"This is not a late cancellation: the visit is more than {window} hours away. "
                              "The slot is freed.")
    return ReleaseTerms(patient_name=f"{patient.last_name}, {patient.first_name}", when=when, late=late, words=words)


def release(
    session: Session, *, actor: Actor, appointment_id: int, to_status: str, reason: str,
    now: dt.datetime | None = None,
) -> Appointment:
    """Cancel a visit or mark it a no-show from the desk: always with a reason."""
    if to_status not in RELEASE_STATUSES:
        raise InvalidInput("Choose to cancel the visit or to mark it a no-show.")
    require(actor.role, TRANSITION_ACTION[to_status])
    reason = require_reason(to_status, reason)
    return transition(session, actor=actor, appointment_id=appointment_id, to_status=to_status, reason=reason, now=now)


def history(session: Session, *, appointment_id: int) -> list[AppointmentEvent]:
    """The status changes of an appointment, oldest first."""
    return list(
        session.exec(
            select(AppointmentEvent)
            .where(AppointmentEvent.appointment_id == appointment_id)
            .order_by(AppointmentEvent.id)
        )
    )


def is_late_cancel(location: Location, appointment: Appointment, now: dt.datetime) -> bool:
    """Whether cancelling at ``now`` falls inside the location's late-cancel window."""
    return now > appointment.starts_at - dt.timedelta(hours=location.late_cancel_hours)


def reschedule(
    session: Session,
    *,
    actor: Actor,
    appointment_id: int,
    starts_at: dt.datetime,
    provider_id: int | None = None,
    room_id: int | str | None = "keep",
    duration_minutes: int | None = None,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Appointment:
    """Move a booked appointment to a new time, provider or room, or change its length.

    The appointment keeps its id (reminders, notes and history stay attached); where it
    was before is kept in appointment_move. The same rules as booking apply.
    """
    for_write(session)
    require(actor.role, "appointment.reschedule")
    now = now or utcnow()
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"The reason is too long (at most {MAX_REASON} characters).")
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That appointment no longer exists.")
    if appointment.status != "booked":
        raise IllegalTransition(
            f"Only booked visits can be moved; this one is {STATUS_LABELS[appointment.status]}."
        )
    provider, location = active_provider(session, provider_id or appointment.provider_id)
    if room_id == "keep":
        room_id = appointment.room_id if provider.location_id == appointment.location_id else None
    check_room(session, room_id, location)
    check_start(starts_at, now=now, location=location)
    minutes = duration_minutes or int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    if not 5 <= minutes <= 480:
        raise InvalidInput("A visit lasts between 5 and 480 minutes.")
    ends_at = starts_at + dt.timedelta(minutes=minutes)
    old = (appointment.provider_id, appointment.room_id, appointment.starts_at, appointment.ends_at,
           appointment.location_id)
    if old[:4] == (provider.id, room_id, starts_at, ends_at):
        raise InvalidInput("Nothing changed: pick a new time, provider, room or length.")
    patient = session.get(Patient, appointment.patient_id)
    check_slot(
        session, provider=provider, location=location, patient=patient, room_id=room_id,
        starts_at=starts_at, ends_at=ends_at, ignore_id=appointment.id,
    )
    with clash_refused(session):  # a clash undoes this move only, not the caller's work
        apply_move(session, actor=actor, appointment=appointment, provider=provider, location=location,
                   room_id=room_id, starts_at=starts_at, ends_at=ends_at, reason=reason, now=now)
    publish_move(session, appointment, old)
    return appointment


def apply_move(
    session: Session, *, actor: Actor, appointment: Appointment, provider: Provider, location: Location,
    room_id: int | None, starts_at: dt.datetime, ends_at: dt.datetime, reason: str, now: dt.datetime,
) -> tuple:
    """Move a booked visit inside the caller's transaction, keeping where it was; returns the old place.

    The update only applies if nobody changed the visit since it was read.
    """
    old = (appointment.provider_id, appointment.room_id, appointment.starts_at, appointment.ends_at,
           appointment.location_id)
    changed = session.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id, Appointment.status == "booked",
               Appointment.starts_at == old[2], Appointment.provider_id == old[0])
        .values(provider_id=provider.id, room_id=room_id, location_id=location.id,
                starts_at=starts_at, ends_at=ends_at)
    ).rowcount
    if changed != 1:
        raise IllegalTransition("Someone else changed this visit meanwhile; look at the board again.")
    session.add(
        AppointmentMove(
            appointment_id=appointment.id, old_provider_id=old[0], old_room_id=old[1], old_starts_at=old[2],
            old_ends_at=old[3], new_provider_id=provider.id, new_room_id=room_id, new_starts_at=starts_at,
            new_ends_at=ends_at, reason=reason, user_id=actor.user_id, at=now,
        )
    )
    audit.record(
        session, actor=actor, action="reschedule", entity="appointment",
        entity_id=appointment.id, patient_id=appointment.patient_id,
    )
    return old


def publish_move(session: Session, appointment: Appointment, old: tuple) -> None:
    """On commit: boards showing the old day (or location) drop the card; boards on the new day add it.
    A move within one provider's day is one change (every screen that showed it still does)."""
    session.flush()
    session.refresh(appointment)
    old_location = session.get(Location, old[4])
    old_day = local_day(old[2], old_location.timezone).isoformat()
    new_day = local_day(appointment.starts_at, session.get(Location, appointment.location_id).timezone).isoformat()
    if (old[4], old[0], old_day) != (appointment.location_id, appointment.provider_id, new_day):
        publish_on_commit(
            session,
            AppointmentChanged(
                appointment_id=appointment.id, location_id=old[4], provider_id=old[0], day=old_day,
                status=appointment.status,
            )
        )
    publish_change(session, appointment)


def moves(session: Session, *, appointment_id: int) -> list[AppointmentMove]:
    """Where an appointment was before each move, oldest first."""
    return list(
        session.exec(
            select(AppointmentMove).where(AppointmentMove.appointment_id == appointment_id).order_by(AppointmentMove.id)
        )
    )


CHECKED_IN = ("arrived", "in_session", "ready_to_bill", "billed")


def check_out(session: Session, *, actor: Actor, appointment_id: int, now: dt.datetime | None = None) -> Appointment:
    """Record when a checked-in patient left the front desk (once)."""
    for_write(session)
    require(actor.role, "appointment.check_in")
    now = now or utcnow()
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That appointment no longer exists.")
    if appointment.status not in CHECKED_IN:
        raise IllegalTransition(
            f"Only a checked-in patient can be checked out; this visit is {STATUS_LABELS[appointment.status]}."
        )
    changed = session.execute(
        update(Appointment)
        .where(Appointment.id == appointment_id, Appointment.checked_out_at.is_(None))
        .values(checked_out_at=now)
    ).rowcount
    if changed != 1:
        raise IllegalTransition("This patient is already checked out.")
    audit.record(
        session, actor=actor, action="check_out", entity="appointment",
        entity_id=appointment_id, patient_id=appointment.patient_id,
    )
    session.flush()
    session.refresh(appointment)
    publish_change(session, appointment)
    return appointment


def _windows(windows: list[tuple[str, str]]) -> list[tuple[int, int]]:
    spans = []
    for start_text, end_text in windows:
        try:
            a = int(start_text[:2]) * 60 + int(start_text[3:5])
            b = int(end_text[:2]) * 60 + int(end_text[3:5])
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"Hours must look like 08:00-12:00, not {start_text}-{end_text}.") from exc
        if not 0 <= a < b <= 24 * 60:
            raise InvalidInput(f"{start_text}-{end_text} must start before it ends.")
        spans.append((a, b))
    spans.sort()
    for (_, b1), (a2, _) in itertools.pairwise(spans):
        if a2 < b1:
            raise InvalidInput("Working windows on one day must not overlap.")
    return spans


def set_week_hours(
    session: Session, *, actor: Actor, provider_id: int, week: dict[int, list[tuple[str, str]]]
) -> list[ProviderHours]:
    """Replace a provider's working windows on the given weekdays (Monday = 0), all or
    nothing; e.g. {1: [("08:00", "12:00"), ("13:00", "17:00")], 6: []} (6: not working)."""
    for_write(session)
    require(actor.role, "provider.hours")
    if session.get(Provider, provider_id) is None:
        raise NotFound("That provider does not exist.")
    checked = {}
    for weekday, windows in week.items():
        if not 0 <= weekday <= 6:
            raise InvalidInput("Choose a day of the week.")
        try:
            checked[weekday] = _windows(windows)
        except InvalidInput as exc:
            raise InvalidInput(f"{WEEKDAYS[weekday]}: {exc}") from exc
    rows = []
    for weekday, spans in checked.items():
        for row in session.exec(
            select(ProviderHours).where(ProviderHours.provider_id == provider_id, ProviderHours.weekday == weekday)
        ):
            session.delete(row)
        rows += [ProviderHours(provider_id=provider_id, weekday=weekday, start_minute=a, end_minute=b) for a, b in spans]
    session.add_all(rows)
    audit.record(session, actor=actor, action="update", entity="provider_hours", entity_id=provider_id)
    session.flush()
    return rows


def set_hours(
    session: Session, *, actor: Actor, provider_id: int, weekday: int, windows: list[tuple[str, str]]
) -> list[ProviderHours]:
    """Replace a provider's working windows on one weekday, e.g. [("08:00", "12:00"), ("13:00", "17:00")]."""
    if not 0 <= weekday <= 6:
        raise InvalidInput("Choose a day of the week.")
    try:
        return set_week_hours(session, actor=actor, provider_id=provider_id, week={weekday: windows})
    except InvalidInput as exc:
        raise InvalidInput(str(exc).split(": ", 1)[-1]) from exc


def add_time_off(
    session: Session, *, actor: Actor, provider_id: int, starts_at: dt.datetime, ends_at: dt.datetime, reason: str = ""
) -> ProviderTimeOff:
    """Block a span of a provider's time. Booked visits in it are named, not moved."""
    for_write(session)
    require(actor.role, "provider.hours")
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("That provider does not exist.")
    if ends_at <= starts_at:
        raise InvalidInput("Time off must end after it starts.")
    reason = (reason or "").strip()[:120]
    clash = _clash(session, Appointment.provider_id, provider_id, starts_at, ends_at)
    if clash is not None:
        tz = session.get(Location, provider.location_id).timezone
        raise SlotTaken(
            f"{provider.name} has an appointment {local(clash.starts_at, tz):%Y-%m-%d %H:%M} in that time; "
            "move or cancel it first."
        )
    row = ProviderTimeOff(provider_id=provider_id, starts_at=starts_at, ends_at=ends_at, reason=reason)
    session.add(row)
    session.flush()
    return row
