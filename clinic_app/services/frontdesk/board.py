"""What the calendar board and the clinician's day list show: read models.

Cards are typed dicts (``BoardCard``) so that the live layer can build one once per change
and push the same row to every screen that shows it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TypedDict
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from clinic_app.db import for_write
from clinic_app.models import (
    Appointment,
    AppointmentType,
    Location,
    Patient,
    Payer,
    Provider,
    ProviderHours,
    ProviderTimeOff,
    Room,
    SeriesMember,
)
from clinic_app.services.frontdesk import patients
from clinic_app.services.frontdesk.cases import authorization_warnings
from clinic_app.services.frontdesk.scheduling import STATUS_LABELS
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import day_bounds, hhmm, local, zone
from clinic_app.services.platform.errors import NotFound
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue.pricing import coverage_on

# The hours the board draws, in minutes of the location's day (07:00-20:00).
BOARD_START = 7 * 60
BOARD_END = 20 * 60
# What a board draws of a card (the browser places it in its own view): the rows a board
# loads and the live changes pushed to it carry these fields only.
CARD_FIELDS = (
    "id", "patient_id", "patient_name", "type_name", "color", "provider_id", "day", "start_minute", "end_minute",
    "start_label", "end_label", "status", "status_label", "room_id", "room_name", "auth_warning", "in_series",
    "online",
)


class BoardCard(TypedDict):
    """One visit as the board and the clinicians' day lists show it."""

    id: int
    patient_id: int
    patient_name: str
    type_name: str
    color: str
    provider_id: int
    room_id: int  # 0: no room
    room_name: str
    day: str  # the visit's date at its location, ISO
    start_minute: int  # minutes of the location's day
    end_minute: int
    start_label: str  # "09:30", the location's time
    end_label: str
    duration: int  # minutes
    status: str
    status_label: str  # the status in words
    arrived_label: str
    wait_minutes: int  # arrival to session start; -1 when not measured yet
    checked_out_label: str
    auth_warning: str  # the prior-authorisation warning, "" when none
    in_series: bool


@dataclass
class BoardDay:
    """One location's day (or days) on the board."""

    location: Location
    providers: list[Provider]
    rooms: list[Room]
    cards: list[dict]
    # Unavailable spans to shade: provider_id, day, start_minute, end_minute, label.
    blocks: list[dict] = field(default_factory=list)
    # Days shown on which nobody works (ISO dates), and the next open day after the first
    # shown day when that day is closed.
    closed: list[str] = field(default_factory=list)
    next_open: dt.date | None = None


def client_row(card: BoardCard) -> dict:
    """The part of a board card the browser draws."""
    return {name: card[name] for name in CARD_FIELDS}


def _card_query(*, details: bool = True):
    # Plain columns, not ORM objects: a week of one location is some 1,500 cards. The board
    # reads no front-desk times (arrival, wait, check-out): those come with a selected visit.
    extra = (Appointment.arrived_at, Appointment.session_started_at, Appointment.checked_out_at) if details else ()
    # The name by a look-up per card: joined, PostgreSQL hashes all 100,000 patients for a
    # week's 1,500 cards (30 ms of 34 at production size).
    patient_name = (
        select(Patient.last_name + ", " + Patient.first_name).where(Patient.id == Appointment.patient_id)
        .scalar_subquery().label("patient_name")
    )
    return (
        select(
            Appointment.id, Appointment.patient_id, Appointment.provider_id, Appointment.room_id, Appointment.starts_at,
            Appointment.ends_at, Appointment.status, Appointment.late_cancel, Appointment.booked_online,
            Appointment.awaiting_approval, *extra, patient_name,
            AppointmentType.name.label("type_name"), AppointmentType.color,
            Room.name.label("room_name"), Location.timezone,
        )
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .join(Location, Location.id == Appointment.location_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
    )


def _placed(row, z: ZoneInfo) -> dict:
    """What every card has: who, what, where and when at its location (``z``, its zone)."""
    start, end = row.starts_at.astimezone(z), row.ends_at.astimezone(z)
    return {
        "id": row.id,
        "patient_id": row.patient_id,
        "patient_name": row.patient_name,
        "type_name": row.type_name,
        "color": row.color,
        "provider_id": row.provider_id,
        "room_name": row.room_name or "",
        "start_label": f"{start.hour:02d}:{start.minute:02d}",
        "end_label": f"{end.hour:02d}:{end.minute:02d}",
        "start_minute": start.hour * 60 + start.minute,
        "end_minute": end.hour * 60 + end.minute if end.date() == start.date() else 24 * 60,
        "status": row.status,
        "status_label": "Late cancellation" if row.late_cancel else STATUS_LABELS[row.status],
        "day": start.date().isoformat(),
        "room_id": row.room_id or 0,
        # The portal's bookings say so on the card: "Booked online", or "Online request" until approved.
        "online": ("Online request" if row.awaiting_approval else "Booked online") if row.booked_online else "",
        "duration": int((row.ends_at - row.starts_at).total_seconds() // 60),
    }


def _card(row) -> dict:
    """A board card from one row of ``_card_query``, with the visit's front-desk times."""
    tz = row.timezone
    return {
        **_placed(row, zone(tz)),
        "arrived_label": hhmm(row.arrived_at, tz) if row.arrived_at else "",
        "wait_minutes": _wait_minutes(row),
        "checked_out_label": hhmm(row.checked_out_at, tz) if row.checked_out_at else "",
    }


def _wait_minutes(appointment) -> int:
    """Minutes from arrival to the session's start (-1 when not measured yet)."""
    if appointment.arrived_at is None or appointment.session_started_at is None:
        return -1
    return max(0, int((appointment.session_started_at - appointment.arrived_at).total_seconds() // 60))


def card(session: Session, *, appointment_id: int) -> BoardCard:
    """The board card of one appointment (for pushing a change)."""
    row = session.exec(_card_query().where(Appointment.id == appointment_id)).first()
    if row is None:
        raise NotFound("That appointment no longer exists.")
    return _with_warnings(session, [_card(row)])[0]


def _with_warnings(session: Session, cards: list[dict], *, shown=None, until: dt.datetime | None = None) -> list[dict]:
    """Add each card's prior-authorisation warning (empty when none) and whether it
    belongs to a recurring series. ``shown``: the query of the cards' ids, when it is the
    board's days (the database reads it rather than a list of every id)."""

    if not cards:
        return cards
    ids = shown if shown is not None else [c["id"] for c in cards]
    warnings = authorization_warnings(session, shown=ids, until=until)
    in_series = set(session.exec(select(SeriesMember.appointment_id).where(SeriesMember.appointment_id.in_(ids))).all())
    for c in cards:
        c["auth_warning"] = warnings.get(c["id"], "")
        c["in_series"] = c["id"] in in_series
    return cards


def board_day(
    session: Session, *, actor: Actor, location_id: int, day: dt.date, days: int = 1
) -> BoardDay:
    """Providers, rooms, appointment cards (cancelled ones included) and unavailable
    spans of a location's ``days`` days from ``day`` (1 for the day view, 7 for a week)."""
    for_write(session)
    require(actor.role, "board.view")
    location = session.get(Location, location_id)
    if location is None or not location.active:
        raise NotFound("That location does not exist.")
    days = max(1, min(7, days))
    start, _ = day_bounds(day, location.timezone)
    _, end = day_bounds(day + dt.timedelta(days=days - 1), location.timezone)
    providers = list(
        session.exec(
            select(Provider).where(Provider.location_id == location_id, Provider.active).order_by(Provider.name)
        )
    )
    rooms = list(session.exec(select(Room).where(Room.location_id == location_id, Room.active).order_by(Room.name)))
    in_view = (Appointment.location_id == location_id, Appointment.starts_at >= start, Appointment.starts_at < end)
    rows = session.exec(
        _card_query(details=False).where(*in_view).order_by(Appointment.starts_at, Appointment.id)
    ).all()
    blocks = unavailable(session, location=location, providers=providers, first_day=day, days=days)
    closed = [d for d, is_open in _open_days(providers, blocks, day, days).items() if not is_open]
    next_open = next_open_day(session, location=location, providers=providers, after=day) \
        if day.isoformat() in closed else None
    # Cards are built before the commit: a commit expires every loaded row, and reading them
    # afterwards would reload each one with a query of its own (thousands for a week).
    z = zone(location.timezone)
    cards = _with_warnings(session, [_placed(r, z) for r in rows],
                           shown=select(Appointment.id).where(*in_view), until=end)
    audit.record(session, actor=actor, action="view", entity="board", entity_id=location_id, detail=day.isoformat())
    session.flush()
    return BoardDay(location=location, providers=providers, rooms=rooms, cards=cards, blocks=blocks, closed=closed,
                    next_open=next_open)


def _open_days(providers: list[Provider], blocks: list[dict], first_day: dt.date, days: int) -> dict[str, bool]:
    """Per day: whether some provider works some time of the board's hours (a provider with
    no hours set works any time, unless on time off)."""
    spans: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for b in blocks:
        spans.setdefault((b["provider_id"], b["day"]), []).append((b["start_minute"], b["end_minute"]))
    result = {}
    for n in range(days):
        day = (first_day + dt.timedelta(days=n)).isoformat()
        result[day] = any(not _covers(spans.get((p.id, day), []), BOARD_START, BOARD_END) for p in providers)
    return result


def _covers(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether ``spans`` together cover every minute from ``start`` to ``end``."""
    reach = start
    for a, b in sorted(spans):
        if a > reach:
            return False
        reach = max(reach, b)
        if reach >= end:
            return True
    return reach >= end


def next_open_day(
    session: Session, *, location: Location, providers: list[Provider], after: dt.date, horizon: int = 62
) -> dt.date | None:
    """The first day after ``after`` on which someone at the location works (None within ``horizon`` days)."""
    first = after + dt.timedelta(days=1)
    blocks = unavailable(session, location=location, providers=providers, first_day=first, days=horizon)
    return next((dt.date.fromisoformat(d) for d, is_open in _open_days(providers, blocks, first, horizon).items()
                 if is_open), None)


def unavailable(
    session: Session, *, location: Location, providers: list[Provider], first_day: dt.date, days: int
) -> list[dict]:
    """Spans when each provider does not work, per local day: outside their working
    hours (only for providers with hours set) and their time off."""
    ids = [p.id for p in providers]
    hours: dict[int, dict[int, list[tuple[int, int]]]] = {}
    for row in session.exec(select(ProviderHours).where(ProviderHours.provider_id.in_(ids)).order_by(ProviderHours.start_minute)):
        hours.setdefault(row.provider_id, {}).setdefault(row.weekday, []).append((row.start_minute, row.end_minute))
    start, _ = day_bounds(first_day, location.timezone)
    _, end = day_bounds(first_day + dt.timedelta(days=days - 1), location.timezone)
    offs = list(
        session.exec(
            select(ProviderTimeOff)
            .where(ProviderTimeOff.provider_id.in_(ids))
            .where(ProviderTimeOff.starts_at < end, ProviderTimeOff.ends_at > start)
        )
    )
    blocks = []
    for n in range(days):
        day = first_day + dt.timedelta(days=n)
        day_start, day_end = day_bounds(day, location.timezone)
        for provider_id, weekly in hours.items():
            cursor = 0
            for a, b in [*weekly.get(day.weekday(), []), (24 * 60, 24 * 60)]:
                if a > cursor:
                    blocks.append({"provider_id": provider_id, "day": day.isoformat(), "start_minute": cursor,
                                   "end_minute": a, "label": "Not working"})
                cursor = max(cursor, b)
        for off in offs:
            if off.starts_at >= day_end or off.ends_at <= day_start:
                continue
            a = local(max(off.starts_at, day_start), location.timezone)
            b_moment = min(off.ends_at, day_end)
            b = 24 * 60 if b_moment == day_end else local(b_moment, location.timezone).hour * 60 + local(b_moment, location.timezone).minute
            blocks.append({"provider_id": off.provider_id, "day": day.isoformat(), "start_minute": a.hour * 60 + a.minute,
                           "end_minute": b, "label": f"Time off: {off.reason}" if off.reason else "Time off"})
    return blocks


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
    return [_card(r) for r in rows]


def locations(session: Session) -> list[Location]:
    """Active locations by name."""
    return list(session.exec(select(Location).where(Location.active).order_by(Location.id)))


def appointment_types(session: Session) -> list[AppointmentType]:
    """Active appointment types by name."""
    return list(session.exec(select(AppointmentType).where(AppointmentType.active).order_by(AppointmentType.name)))


def search_patients(session: Session, *, actor: Actor, text: str, limit: int = 8) -> list[Patient]:
    """Patients by name, date of birth, phone or MRN (see services.patients.search)."""

    return patients.search(session, actor=actor, text=text, limit=limit)


def coverage_label(session: Session, *, appointment_id: int) -> str:
    """The visit day's primary insurance in words, for the desk at check-in."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That appointment no longer exists.")
    location = session.get(Location, appointment.location_id)
    coverage = coverage_on(session, patient_id=appointment.patient_id, day=local(appointment.starts_at, location.timezone).date())
    if coverage is None:
        return "No insurance on file for this day (self-pay)"
    payer = session.get(Payer, coverage.payer_id)
    return f"{payer.name}, member {coverage.member_id}"
