"""Recurring series: e.g. Tuesdays and Thursdays at 09:00 for six weeks.

``plan_series`` checks every occurrence against the same rules as a single booking and
reports each one's problem, saving nothing. ``book_series`` books them all in one
transaction, or, when the desk accepts the exceptions, every occurrence that is free;
an occurrence with a problem is never saved.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import (
    Appointment,
    AppointmentEvent,
    AppointmentSeries,
    Location,
    Patient,
    Provider,
    SeriesMember,
)
from clinic_app.services.frontdesk.booking_rules import booking_context
from clinic_app.services.frontdesk.scheduling import (
    MAX_REASON,
    apply_move,
    check_slot,
    clash_refused,
    is_late_cancel,
    publish_change,
    publish_move,
    require_reason,
)
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import at_local, local
from clinic_app.services.platform.errors import (
    ClinicError,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from clinic_app.services.platform.permissions import require

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_OCCURRENCES = 60


@dataclass
class Occurrence:
    """One planned visit of a series and what, if anything, stops it."""

    number: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    label: str
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


class SeriesConflict(ClinicError):
    """Some occurrences cannot be booked; ``occurrences`` holds the whole report."""

    def __init__(self, occurrences: list[Occurrence], *, verb: str = "booked") -> None:
        bad = [o for o in occurrences if not o.ok]
        lines = "; ".join(f"{o.label}: {o.problem}" for o in bad)
        do = "book" if verb == "booked" else "move"
        super().__init__(
            f"{len(bad)} of {len(occurrences)} visits cannot be {verb} ({lines}). "
            f"Nothing was saved: change the series, or {do} the free ones and skip these."
        )
        self.occurrences = occurrences


def plan_series(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    provider_id: int,
    appointment_type_id: int,
    first_day: dt.date,
    time: str,
    weekdays: list[int],
    weeks: int,
    room_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[Occurrence]:
    """Every occurrence of the series with its problem, if any. Saves nothing."""
    require(actor.role, "appointment.book")
    now = now or utcnow()
    patient, provider, kind, location = booking_context(
        session, patient_id=patient_id, provider_id=provider_id, appointment_type_id=appointment_type_id, room_id=room_id
    )
    days = sorted({int(d) for d in weekdays})
    if not days or any(not 0 <= d <= 6 for d in days):
        raise InvalidInput("Choose at least one day of the week for the series.")
    if not 1 <= weeks <= 26:
        raise InvalidInput("A series runs for 1 to 26 weeks.")
    monday = first_day - dt.timedelta(days=first_day.weekday())
    dates = [monday + dt.timedelta(weeks=w, days=d) for w in range(weeks) for d in days]
    dates = [d for d in dates if d >= first_day]
    if len(dates) > MAX_OCCURRENCES:
        raise InvalidInput(f"A series holds at most {MAX_OCCURRENCES} visits.")
    tz = location.timezone
    plan = []
    for number, day in enumerate(dates, start=1):
        starts_at = at_local(day, time, tz)
        ends_at = starts_at + dt.timedelta(minutes=kind.duration_minutes)
        plan.append(_check(session, number, provider, location, patient, room_id, starts_at, ends_at, now))
    if not plan:
        raise InvalidInput("The series has no visits on or after its first day.")
    return plan


def _check(session: Session, number: int, provider: Provider, location: Location, patient: Patient,
           room_id: int | None, starts_at: dt.datetime, ends_at: dt.datetime, now: dt.datetime,
           ignore_id: int | None = None) -> Occurrence:
    """One occurrence and what, if anything, stops it (the same rules as one booking)."""
    day = local(starts_at, location.timezone).date()
    occurrence = Occurrence(
        number=number, starts_at=starts_at, ends_at=ends_at,
        label=f"{DAY_NAMES[day.weekday()]} {day.isoformat()} {local(starts_at, location.timezone):%H:%M}",
    )
    if starts_at < now:
        occurrence.problem = "that time has already passed"
        return occurrence
    try:
        check_slot(session, provider=provider, location=location, patient=patient, room_id=room_id,
                   starts_at=starts_at, ends_at=ends_at, ignore_id=ignore_id)
    except ClinicError as exc:
        occurrence.problem = str(exc).removesuffix(".").split("; choose")[0]
    return occurrence


def book_series(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    provider_id: int,
    appointment_type_id: int,
    first_day: dt.date,
    time: str,
    weekdays: list[int],
    weeks: int,
    room_id: int | None = None,
    skip_conflicts: bool = False,
    now: dt.datetime | None = None,
) -> tuple[AppointmentSeries, list[Appointment], list[Occurrence]]:
    """Book the series: all of it, or (``skip_conflicts``) every free occurrence.

    Raises SeriesConflict with the per-occurrence report when something is in the way
    and the desk has not chosen to skip it; then nothing is saved.
    """
    for_write(session)
    require(actor.role, "appointment.book")
    plan = plan_series(
        session, actor=actor, patient_id=patient_id, provider_id=provider_id,
        appointment_type_id=appointment_type_id, first_day=first_day, time=time, weekdays=weekdays,
        weeks=weeks, room_id=room_id, now=now,
    )
    free = [o for o in plan if o.ok]
    if (len(free) < len(plan) and not skip_conflicts) or not free:
        raise SeriesConflict(plan)
    _, provider, kind, location = booking_context(
        session, patient_id=patient_id, provider_id=provider_id, appointment_type_id=appointment_type_id, room_id=room_id
    )
    names = ", ".join(DAY_NAMES[d] for d in sorted(set(weekdays)))
    series = AppointmentSeries(
        patient_id=patient_id, created_by=actor.user_id,
        description=f"{kind.name} with {provider.name}, {names} at {time} for {weeks} weeks",
    )
    appointments = []
    # A clash undoes this series only, not the caller's work; in words, whichever way the database says it.
    with clash_refused(session, "A slot of the series was just taken; plan it again."):
        session.add(series)
        session.flush()
        for occurrence in free:
            appointment = Appointment(
                patient_id=patient_id, provider_id=provider_id, location_id=location.id, room_id=room_id,
                appointment_type_id=kind.id, starts_at=occurrence.starts_at, ends_at=occurrence.ends_at,
            )
            session.add(appointment)
            session.flush()
            session.add(AppointmentEvent(appointment_id=appointment.id, to_status="booked", user_id=actor.user_id,
                                         note=f"series {series.id}"))
            session.add(SeriesMember(series_id=series.id, appointment_id=appointment.id, occurrence=occurrence.number))
            appointments.append(appointment)
        audit.record(session, actor=actor, action="create", entity="appointment_series", entity_id=series.id,
                     patient_id=patient_id, detail=f"{len(appointments)} visits")
    for appointment in appointments:
        publish_change(session, appointment)
    return series, appointments, [o for o in plan if not o.ok]


def cancel_following(
    session: Session, *, actor: Actor, appointment_id: int, reason: str = "", now: dt.datetime | None = None
) -> list[Appointment]:
    """Cancel this visit of a series and every later one still booked, in one transaction."""
    for_write(session)
    require(actor.role, "appointment.cancel")
    now = now or utcnow()
    rows = [appointment for _, appointment in _following(session, appointment_id)]
    reason = require_reason("cancelled", reason)  # the desk says why, as for one visit
    location = session.get(Location, rows[0].location_id)
    cancelled = []
    for appointment in rows:
        changed = session.execute(
            update(Appointment)
            .where(Appointment.id == appointment.id, Appointment.status == "booked")
            .values(status="cancelled", cancel_reason=reason, late_cancel=is_late_cancel(location, appointment, now))
        ).rowcount
        if changed != 1:
            raise IllegalTransition("Someone else changed a visit of the series meanwhile; try again.")
        session.add(AppointmentEvent(appointment_id=appointment.id, from_status="booked", to_status="cancelled",
                                     user_id=actor.user_id, at=now, note=reason or "series cancelled from here on"))
        audit.record(session, actor=actor, action="status:cancelled", entity="appointment",
                     entity_id=appointment.id, patient_id=appointment.patient_id)
        cancelled.append(appointment)
    session.flush()
    for appointment in cancelled:
        session.refresh(appointment)
        publish_change(session, appointment)
    return cancelled


def _following(session: Session, appointment_id: int) -> list[tuple[SeriesMember, Appointment]]:
    member = session.exec(select(SeriesMember).where(SeriesMember.appointment_id == appointment_id)).first()
    if member is None:
        raise NotFound("This visit is not part of a series.")
    rows = session.exec(
        select(SeriesMember, Appointment)
        .join(Appointment, SeriesMember.appointment_id == Appointment.id)
        .where(SeriesMember.series_id == member.series_id, SeriesMember.occurrence >= member.occurrence)
        .where(Appointment.status == "booked")
        .order_by(Appointment.starts_at)
    ).all()
    if not rows:
        raise IllegalTransition("No visit of the series from this one on is still booked.")
    return list(rows)


def plan_following_change(
    session: Session, *, actor: Actor, appointment_id: int, time: str = "", duration_minutes: int | None = None,
    provider_id: int | None = None, now: dt.datetime | None = None,
) -> list[tuple[Occurrence, Appointment, Provider, Location]]:
    """This visit of a series and every later booked one at the new time, length or provider,
    each with its problem, if any. Saves nothing."""
    require(actor.role, "appointment.reschedule")
    now = now or utcnow()
    time = (time or "").strip()
    if not time and duration_minutes is None and provider_id is None:
        raise InvalidInput("Choose a new time, length or provider for this and the following visits.")
    if duration_minutes is not None and not 5 <= int(duration_minutes) <= 480:
        raise InvalidInput("A visit lasts between 5 and 480 minutes.")
    rows = _following(session, appointment_id)
    first = rows[0][1]
    location = session.get(Location, first.location_id)
    provider = session.get(Provider, provider_id) if provider_id else None
    if provider_id and (provider is None or not provider.active or provider.location_id != location.id):
        raise InvalidInput(f"Choose a provider at {location.name}.")
    patient = session.get(Patient, first.patient_id)
    plan = []
    for member, appointment in rows:
        tz = location.timezone
        day = local(appointment.starts_at, tz).date()
        starts_at = at_local(day, time, tz) if time else appointment.starts_at
        minutes = int(duration_minutes) if duration_minutes is not None else int(
            (appointment.ends_at - appointment.starts_at).total_seconds() // 60)
        ends_at = starts_at + dt.timedelta(minutes=minutes)
        who = provider or session.get(Provider, appointment.provider_id)
        occurrence = _check(session, member.occurrence, who, location, patient, appointment.room_id, starts_at, ends_at,
                            now, ignore_id=appointment.id)
        plan.append((occurrence, appointment, who, location))
    return plan


def change_following(
    session: Session, *, actor: Actor, appointment_id: int, time: str = "", duration_minutes: int | None = None,
    provider_id: int | None = None, reason: str = "", skip_conflicts: bool = False, now: dt.datetime | None = None,
) -> tuple[list[Appointment], list[Occurrence]]:
    """Move this visit of a series and every later booked one, all in one transaction.

    Raises SeriesConflict with the per-occurrence report when a visit cannot move and the
    desk has not chosen to skip it; then nothing is saved. Skipped visits stay where they were.
    """
    for_write(session)
    now = now or utcnow()
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"The reason is too long (at most {MAX_REASON} characters).")
    plan = plan_following_change(session, actor=actor, appointment_id=appointment_id, time=time,
                                 duration_minutes=duration_minutes, provider_id=provider_id, now=now)
    occurrences = [o for o, *_ in plan]
    free = [(o, a, p, loc) for o, a, p, loc in plan if o.ok]
    if (len(free) < len(plan) and not skip_conflicts) or not free:
        raise SeriesConflict(occurrences, verb="moved")
    moved = []
    with clash_refused(session, "A slot was just taken; check the series again."):  # these moves only
        for occurrence, appointment, provider, location in free:
            if (appointment.starts_at, appointment.ends_at, appointment.provider_id) == (
                    occurrence.starts_at, occurrence.ends_at, provider.id):
                continue
            old = apply_move(session, actor=actor, appointment=appointment, provider=provider, location=location,
                             room_id=appointment.room_id, starts_at=occurrence.starts_at, ends_at=occurrence.ends_at,
                             reason=reason or "this and following visits of the series", now=now)
            moved.append((appointment, old))
    for appointment, old in moved:
        publish_move(session, appointment, old)
    return [a for a, _ in moved], [o for o in occurrences if not o.ok]
