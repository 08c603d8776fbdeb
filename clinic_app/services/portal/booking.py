"""Online booking: each location's rules, open times computed from the schedule, and the
patient's own bookings made, moved and cancelled through the desk's scheduling services.

Open times are never stored: for a provider, an appointment type and a day they are the
starts (every STEP_MINUTES) inside the provider's working hours, outside their time off,
clear of their and the patient's other visits, while the location has a room free (its
number of active rooms against the visits already overlapping), between the minimum notice
and the furthest day ahead. A booking checks the time is still open and then runs through
``scheduling.book_appointment`` (its checks, the database's no-double-booking rule, the audit
row and the live event to every board), marked ``booked_online``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import String, func, type_coerce
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.live import AppointmentChanged, publish_on_commit
from clinic_app.models import (
    RELEASED,
    Appointment,
    AppointmentType,
    Location,
    OnlineBooking,
    Provider,
    ProviderHours,
    ProviderTimeOff,
    Room,
)
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.frontdesk.booking_rules import active_provider, active_type
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import hhmm, local, local_day
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NotFound, SlotTaken
from clinic_app.services.platform.permissions import require
from clinic_app.services.portal.accounts import Me, portal_actor

STEP_MINUTES = 15
SEEN = ("arrived", "in_session", "ready_to_bill", "billed")
STATUS_WORDS = {**scheduling.STATUS_LABELS, "booked": "Booked", "cancelled": "Cancelled"}


# -- the location's rules -------------------------------------------------------------------
def ids(text: str) -> frozenset[int]:
    return frozenset(int(x) for x in (text or "").split(",") if x.strip().isdigit())


def rules_for(session: Session, location_id: int) -> OnlineBooking:
    """The location's online booking rules (off, with the defaults, until an admin saves them)."""
    row = session.exec(select(OnlineBooking).where(OnlineBooking.location_id == location_id)).first()
    return row if row is not None else OnlineBooking(location_id=location_id)


def save_rules(session: Session, *, actor: Actor, location_id: int, enabled: bool, type_ids: list[int],
               provider_ids: list[int], new_patients: bool, returning_patients: bool, min_notice_hours: int,
               days_ahead: int, max_upcoming: int, cancel_window_hours: int,
               needs_approval: bool = False, self_registration: bool = False) -> OnlineBooking:
    """An admin (or the desk) sets which types and providers a location offers online and how."""
    require(actor.role, "provider.hours")
    for_write(session)
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound("That location no longer exists.")
    if not 0 <= min_notice_hours <= 24 * 30:
        raise InvalidInput("Minimum notice is between 0 and 720 hours.")
    if not 1 <= days_ahead <= 365:
        raise InvalidInput("How far ahead is between 1 and 365 days.")
    if not 1 <= max_upcoming <= 50:
        raise InvalidInput("Upcoming bookings per patient is between 1 and 50.")
    if not 0 <= cancel_window_hours <= 24 * 14:
        raise InvalidInput("The cancellation window is between 0 and 336 hours.")
    kinds = set(session.exec(select(AppointmentType.id).where(AppointmentType.id.in_(type_ids or [0]))))
    people = set(session.exec(select(Provider.id).where(Provider.id.in_(provider_ids or [0]),
                                                         Provider.location_id == location_id)))
    if set(type_ids) - kinds:
        raise InvalidInput("Choose appointment types from the list.")
    if set(provider_ids) - people:
        raise InvalidInput(f"Choose providers who work at {location.name}.")
    if enabled and (not kinds or not people):
        raise InvalidInput("Choose at least one appointment type and one provider to turn online booking on.")
    if enabled and not (new_patients or returning_patients):
        raise InvalidInput("Allow new patients, returning patients, or both.")
    row = session.exec(select(OnlineBooking).where(OnlineBooking.location_id == location_id)).first() \
        or OnlineBooking(location_id=location_id)
    row.enabled, row.new_patients, row.returning_patients = enabled, new_patients, returning_patients
    row.type_ids = ",".join(str(i) for i in sorted(kinds))
    row.provider_ids = ",".join(str(i) for i in sorted(people))
    row.min_notice_hours, row.days_ahead = min_notice_hours, days_ahead
    row.max_upcoming, row.cancel_window_hours = max_upcoming, cancel_window_hours
    row.needs_approval, row.self_registration = needs_approval, self_registration
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="online_booking_rules", entity="location", entity_id=location_id,
                 detail=("on" if enabled else "off") + (", self-registration on" if self_registration else ""))
    return row


def save_checkin(session: Session, *, actor: Actor, location_id: int, online_checkin: bool | None,
                 day_of_reminder_hours: int | None) -> OnlineBooking:
    """An admin sets a location's online check-in (None: on when online booking is on) and its
    day-of reminder (hours before the visit, on its day; None: no day-of reminder)."""
    require(actor.role, "provider.hours")
    for_write(session)
    if session.get(Location, location_id) is None:
        raise NotFound("That location no longer exists.")
    if day_of_reminder_hours is not None and not 1 <= day_of_reminder_hours <= 12:
        raise InvalidInput("The day-of reminder goes between 1 and 12 hours before the visit.")
    row = session.exec(select(OnlineBooking).where(OnlineBooking.location_id == location_id)).first() \
        or OnlineBooking(location_id=location_id)
    row.online_checkin, row.day_of_reminder_hours = online_checkin, day_of_reminder_hours
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="online_checkin_rules", entity="location", entity_id=location_id,
                 detail=f"check-in {'default' if online_checkin is None else 'on' if online_checkin else 'off'}, "
                        f"day-of reminder {f'{day_of_reminder_hours} h' if day_of_reminder_hours else 'off'}")
    return row


# -- what the patient may book ----------------------------------------------------------------
def is_returning(session: Session, patient_id: int) -> bool:
    """Whether the patient has been seen before (a visit that went past booked)."""
    return session.exec(select(Appointment.id).where(Appointment.patient_id == patient_id,
                                                     Appointment.status.in_(SEEN)).limit(1)).first() is not None


def _eligible(session: Session, me: Me, rules: OnlineBooking) -> bool:
    if not rules.enabled:
        return False
    return rules.returning_patients if is_returning(session, me.acting_for) else rules.new_patients


@dataclass(frozen=True)
class Choice:
    id: int
    label: str


@dataclass(frozen=True)
class Options:
    types: list[Choice]
    providers: list[Choice]


def options(session: Session, me: Me) -> Options:
    """The appointment types and providers this patient may book online (every location that allows them)."""
    type_ids: set[int] = set()
    provider_ids: set[int] = set()
    for rules in session.exec(select(OnlineBooking).where(OnlineBooking.enabled.is_(True))):
        if _eligible(session, me, rules):
            type_ids |= ids(rules.type_ids)
            provider_ids |= ids(rules.provider_ids)
    kinds = session.exec(select(AppointmentType).where(AppointmentType.id.in_(type_ids or {0}),
                                                       AppointmentType.active.is_(True)).order_by(AppointmentType.name))
    people = session.exec(select(Provider, Location).join(Location, Location.id == Provider.location_id)
                          .where(Provider.id.in_(provider_ids or {0}), Provider.active.is_(True)).order_by(Provider.name))
    return Options(
        types=[Choice(k.id, f"{k.name} ({k.duration_minutes} min)") for k in kinds],
        providers=[Choice(p.id, f"{p.name}, {loc.name}") for p, loc in people],
    )


def _bookable(session: Session, me: Me, provider_id: int, appointment_type_id: int):
    """The provider, location, type and rules of an online booking, or NotFound in words."""
    try:
        provider, location = active_provider(session, provider_id)
        kind = active_type(session, appointment_type_id)
    except InvalidInput as exc:
        raise NotFound("That choice is not offered online; choose from the list.") from exc
    rules = rules_for(session, location.id)
    if not rules.enabled or provider.id not in ids(rules.provider_ids) or kind.id not in ids(rules.type_ids):
        raise NotFound("That choice is not offered online; choose from the list.")
    if not _eligible(session, me, rules):
        raise NotAllowed("Online booking is not offered for this kind of visit; please call the clinic.")
    return provider, location, kind, rules


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans (minutes of a day) sorted and joined where they overlap or touch."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _full(spans: list[tuple[int, int]], rooms: int) -> list[tuple[int, int]]:
    """Where ``rooms`` or more of ``spans`` overlap (a sweep over their ends)."""
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])  # ends before starts at a minute
    out, count, since = [], 0, 0
    for minute, step in events:
        before = count
        count += step
        if before < rooms <= count:
            since = minute
        elif count < rooms <= before and minute > since:
            out.append((since, minute))
    return out


def _naive_utc(value) -> dt.datetime:
    """A stored time as read raw (SQLite: text; PostgreSQL: an aware datetime), as naive UTC."""
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


class _Days:
    """Cuts UTC spans into (day index, start minute, end minute) of the location's days.

    Over a span with no clock change (most of the year) that is integer arithmetic on the
    minutes since the first midnight; across a change each span is converted in the zone."""

    def __init__(self, zone: ZoneInfo, first_day: dt.date, days: int) -> None:
        self.zone, self.first_day, self.days = zone, first_day, days
        first = dt.datetime.combine(first_day, dt.time(0), tzinfo=zone)
        last = dt.datetime.combine(first_day + dt.timedelta(days=days), dt.time(0), tzinfo=zone)
        self.origin_aware = first.astimezone(dt.UTC)
        self.origin = self.origin_aware.replace(tzinfo=None)
        self.steady = first.utcoffset() == last.utcoffset() and all(
            (first + dt.timedelta(days=i)).utcoffset() == first.utcoffset() for i in range(0, days, 7))

    def offsets(self, start, end) -> tuple[int, int]:
        """Minutes from the first midnight to ``start`` (floor) and to ``end`` (ceiling)."""
        if isinstance(start, str):
            a, b = dt.datetime.fromisoformat(start) - self.origin, dt.datetime.fromisoformat(end) - self.origin
        elif start.tzinfo is not None:
            a, b = start - self.origin_aware, end - self.origin_aware  # aware arithmetic: no conversion
        else:
            a, b = start - self.origin, end - self.origin
        return (a.days * 86400 + a.seconds) // 60, -(-(b.days * 86400 + b.seconds) // 60)

    def spans(self, start, end):
        if not self.steady:
            yield from self._slow(_naive_utc(start), _naive_utc(end))
            return
        fa, fb = self.offsets(start, end)
        index = fa // 1440
        while index * 1440 < fb:
            if 0 <= index < self.days:
                yield index, max(fa - index * 1440, 0), min(fb - index * 1440, 1440)
            index += 1

    def _slow(self, a: dt.datetime, b: dt.datetime):
        a = a.replace(tzinfo=dt.UTC).astimezone(self.zone)
        b = b.replace(tzinfo=dt.UTC).astimezone(self.zone)
        day = a.date()
        while day <= b.date():
            index = (day - self.first_day).days
            if 0 <= index < self.days:
                first = a.hour * 60 + a.minute if day == a.date() else 0
                last = b.hour * 60 + b.minute if day == b.date() else 24 * 60
                if last > first:
                    yield index, first, last
            day += dt.timedelta(days=1)


def location_open_times(session: Session, *, location: Location, provider_ids: list[int], minutes: int,
                        first_day: dt.date, days: int, earliest: dt.datetime, latest: dt.datetime,
                        patient_id: int | None = None, ignore_id: int | None = None,
                        ) -> dict[tuple[int, dt.date], list[dt.datetime]]:
    """Open starts of a visit of ``minutes`` for each provider and day of a span of ``days``
    (the location's calendar), from ``earliest`` to ``latest``: see the module's docstring.
    Five queries whatever the span (hours, visits, the patient's visits, time off, rooms)."""
    zone = ZoneInfo(location.timezone)
    start = dt.datetime.combine(first_day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(first_day + dt.timedelta(days=days), dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    found: dict[tuple[int, dt.date], list[dt.datetime]] = {}
    if not provider_ids or end <= earliest or start > latest:
        return found
    hours: dict[int, dict[int, list[tuple[int, int]]]] = {}
    for row in session.exec(select(ProviderHours).where(ProviderHours.provider_id.in_(provider_ids))
                            .order_by(ProviderHours.start_minute)):
        hours.setdefault(row.provider_id, {}).setdefault(row.weekday, []).append((row.start_minute, row.end_minute))
    # A visit lasts at most a day (a database rule, revision 0011): the lower bound on the start
    # keeps the index range to the span, not every earlier visit of the location.
    live = [Appointment.status.not_in(RELEASED), Appointment.starts_at < end, Appointment.ends_at > start,
            Appointment.starts_at > start - dt.timedelta(days=1)]
    if ignore_id is not None:
        live.append(Appointment.id != ignore_id)
    at_location: list[list[tuple[int, int]]] = [[] for _ in range(days)]
    busy: dict[tuple[int, int], list[tuple[int, int]]] = {}
    wanted = set(provider_ids)
    cut = _Days(zone, first_day, days)
    # Read raw (no per-row type conversion): thousands of rows over four weeks.
    raw_start, raw_end = type_coerce(Appointment.starts_at, String), type_coerce(Appointment.ends_at, String)
    for provider_id, a, b in session.connection().execute(select(Appointment.provider_id, raw_start, raw_end)
                                             .where(Appointment.location_id == location.id, *live)):
        if cut.steady:  # the usual case inline: a visit within one day
            fa, fb = cut.offsets(a, b)
            index = fa // 1440
            if 0 <= index < days and fb <= index * 1440 + 1440:
                span = (fa - index * 1440, fb - index * 1440)
                at_location[index].append(span)
                if provider_id in wanted:
                    busy.setdefault((provider_id, index), []).append(span)
                continue
        for index, first, last in cut.spans(a, b):
            at_location[index].append((first, last))
            if provider_id in wanted:
                busy.setdefault((provider_id, index), []).append((first, last))
    mine: list[list[tuple[int, int]]] = [[] for _ in range(days)]
    if patient_id is not None:
        for a, b in session.connection().execute(select(raw_start, raw_end).where(Appointment.patient_id == patient_id, *live)):
            for index, first, last in cut.spans(a, b):
                mine[index].append((first, last))
    for provider_id, a, b in session.exec(select(ProviderTimeOff.provider_id, ProviderTimeOff.starts_at,
                                                 ProviderTimeOff.ends_at).where(
            ProviderTimeOff.provider_id.in_(provider_ids), ProviderTimeOff.starts_at < end,
            ProviderTimeOff.ends_at > start)):
        for index, first, last in cut.spans(a, b):
            busy.setdefault((provider_id, index), []).append((first, last))
    rooms = session.exec(select(func.count(Room.id)).where(Room.location_id == location.id,
                                                           Room.active.is_(True))).one()
    for index in range(days):
        day = first_day + dt.timedelta(days=index)
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
        # A day without a clock change: every start is midnight (UTC) plus its minutes.
        plain = midnight.utcoffset() == (midnight + dt.timedelta(hours=23, minutes=59)).utcoffset()
        base = midnight.astimezone(dt.UTC)
        shared = mine[index] + (_full(at_location[index], rooms) if rooms else [])
        for provider_id in provider_ids:
            windows = hours.get(provider_id, {}).get(day.weekday(), [])
            if not windows:
                continue
            blocked = _merged(busy.get((provider_id, index), []) + shared)
            starts = []
            for first, last in windows:
                # The free gaps of the window; a start (every STEP_MINUTES from the window's
                # start) is open when its whole visit fits in one gap.
                gap = first
                for b0, b1 in [*blocked, (last, last)]:
                    if b1 <= gap:
                        continue
                    end_ = min(b0, last)
                    if end_ - gap >= minutes:
                        m0 = first + -(-(gap - first) // STEP_MINUTES) * STEP_MINUTES
                        for minute in range(m0, end_ - minutes + 1, STEP_MINUTES):
                            at = base + dt.timedelta(minutes=minute) if plain else dt.datetime.combine(
                                day, dt.time(minute // 60, minute % 60), tzinfo=zone).astimezone(dt.UTC)
                            if earliest <= at <= latest:
                                starts.append(at)
                    gap = max(gap, b1)
                    if gap >= last:
                        break
            if starts:
                found[(provider_id, day)] = starts
    return found


def free_starts(session: Session, *, provider: Provider, location: Location, minutes: int, day: dt.date,
                earliest: dt.datetime, latest: dt.datetime, patient_id: int | None = None,
                ignore_id: int | None = None) -> list[dt.datetime]:
    """Starts on ``day`` (the location's calendar) when the provider can see a visit of ``minutes``."""
    found = location_open_times(session, location=location, provider_ids=[provider.id], minutes=minutes,
                                first_day=day, days=1, earliest=earliest, latest=latest, patient_id=patient_id,
                                ignore_id=ignore_id)
    return found.get((provider.id, day), [])


def _bounds(rules: OnlineBooking, location: Location, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    earliest = now + dt.timedelta(hours=rules.min_notice_hours)
    last_day = local_day(now, location.timezone) + dt.timedelta(days=rules.days_ahead)
    zone = ZoneInfo(location.timezone)
    latest = dt.datetime.combine(last_day, dt.time(23, 59), tzinfo=zone).astimezone(dt.UTC)
    return earliest, latest


@dataclass(frozen=True)
class OpenTime:
    starts_at: dt.datetime
    label: str  # "09:15", the location's wall clock


def open_times(session: Session, me: Me, *, provider_id: int, appointment_type_id: int, day: dt.date,
               now: dt.datetime | None = None, ignore_id: int | None = None) -> list[OpenTime]:
    """The times on ``day`` this patient may book online with this provider and type."""
    now = now or utcnow()
    provider, location, kind, rules = _bookable(session, me, provider_id, appointment_type_id)
    earliest, latest = _bounds(rules, location, now)
    starts = free_starts(session, provider=provider, location=location, minutes=kind.duration_minutes, day=day,
                         earliest=earliest, latest=latest, patient_id=me.acting_for, ignore_id=ignore_id)
    return [OpenTime(s, hhmm(s, location.timezone)) for s in starts]


def booking_days(session: Session, me: Me, *, provider_id: int, appointment_type_id: int,
                 now: dt.datetime | None = None) -> list[dt.date]:
    """The days a patient may pick from (today at the location up to how far ahead)."""
    now = now or utcnow()
    _provider, location, _kind, rules = _bookable(session, me, provider_id, appointment_type_id)
    first = local_day(now + dt.timedelta(hours=rules.min_notice_hours), location.timezone)
    last = local_day(now, location.timezone) + dt.timedelta(days=rules.days_ahead)
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _check_open(session: Session, me: Me, provider_id: int, appointment_type_id: int, starts_at: dt.datetime,
                now: dt.datetime, ignore_id: int | None = None) -> Location:
    provider, location, kind, rules = _bookable(session, me, provider_id, appointment_type_id)
    earliest, latest = _bounds(rules, location, now)
    if starts_at < earliest:
        raise InvalidInput(f"Online bookings need {rules.min_notice_hours} hours' notice; choose a later time "
                           "or call the clinic.")
    if starts_at > latest:
        raise InvalidInput(f"Online bookings go up to {rules.days_ahead} days ahead; choose an earlier day.")
    day = local_day(starts_at, location.timezone)
    starts = free_starts(session, provider=provider, location=location, minutes=kind.duration_minutes, day=day,
                         earliest=earliest, latest=latest, patient_id=me.acting_for, ignore_id=ignore_id)
    if starts_at not in starts:
        raise SlotTaken("That time is no longer open; choose another.")
    return location


def upcoming_count(session: Session, me: Me, now: dt.datetime) -> int:
    return session.exec(select(func.count(Appointment.id)).where(
        Appointment.patient_id == me.acting_for, Appointment.status == "booked", Appointment.starts_at >= now)).one()


def book(session: Session, me: Me, *, provider_id: int, appointment_type_id: int, starts_at: dt.datetime,
         now: dt.datetime | None = None) -> Appointment:
    """Book an open time for the signed-in patient, through the desk's booking service."""
    now = now or utcnow()
    for_write(session)
    location = _check_open(session, me, provider_id, appointment_type_id, starts_at, now)
    rules = rules_for(session, location.id)
    if upcoming_count(session, me, now) >= rules.max_upcoming:
        raise NotAllowed(f"You already have {rules.max_upcoming} upcoming visits booked, the most allowed online; "
                         "please call the clinic to book more.")
    appointment = scheduling.book_appointment(
        session, actor=portal_actor(me), patient_id=me.acting_for, provider_id=provider_id,
        appointment_type_id=appointment_type_id, starts_at=starts_at, now=now, booked_online=True,
    )
    if rules.needs_approval:
        # The time is held (no one else can take it); the desk approves or declines the request.
        for_write(session)
        appointment.awaiting_approval = True
        session.add(appointment)
        session.flush()
        _changed(session, appointment, location)
    return appointment


def _changed(session: Session, appointment: Appointment, location: Location) -> None:
    publish_on_commit(session, AppointmentChanged(
        appointment_id=appointment.id, location_id=appointment.location_id, provider_id=appointment.provider_id,
        day=local_day(appointment.starts_at, location.timezone).isoformat(), status=appointment.status))


# -- the desk's approval of online requests -------------------------------------------------------
@dataclass(frozen=True)
class Request:
    id: int
    when: str
    what: str
    who: str
    approve_label: str
    decline_label: str


def requests(session: Session, *, actor: Actor, patient_id: int, now: dt.datetime | None = None) -> list[Request]:
    """A patient's online bookings waiting for the desk's approval, soonest first."""
    require(actor.role, "appointment.book")
    now = now or utcnow()
    rows = session.exec(select(Appointment, Provider, AppointmentType, Location)
                        .join(Provider, Provider.id == Appointment.provider_id)
                        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
                        .join(Location, Location.id == Appointment.location_id)
                        .where(Appointment.patient_id == patient_id, Appointment.awaiting_approval.is_(True),
                               Appointment.status == "booked", Appointment.starts_at >= now)
                        .order_by(Appointment.starts_at))
    found = []
    for appointment, provider, kind, location in rows:
        start = local(appointment.starts_at, location.timezone)
        when = f"{start:%a %d %b %Y}, {start:%H:%M}"
        found.append(Request(appointment.id, when, kind.name, provider.name, f"Approve {kind.name} on {when}",
                             f"Decline {kind.name} on {when}"))
    return found


def _request(session: Session, appointment_id: int) -> tuple[Appointment, Location]:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or not appointment.awaiting_approval or appointment.status != "booked":
        raise NotFound("That online request is no longer waiting; reload the profile.")
    return appointment, session.get(Location, appointment.location_id)


def approve(session: Session, *, actor: Actor, appointment_id: int) -> Appointment:
    """The desk confirms an online request: it becomes an ordinary (online) booking."""
    require(actor.role, "appointment.book")
    for_write(session)
    appointment, location = _request(session, appointment_id)
    appointment.awaiting_approval = False
    session.add(appointment)
    session.flush()
    audit.record(session, actor=actor, action="online_approve", entity="appointment", entity_id=appointment.id,
                 patient_id=appointment.patient_id)
    _changed(session, appointment, location)
    return appointment


def decline(session: Session, *, actor: Actor, appointment_id: int) -> Appointment:
    """The desk declines an online request: the visit is cancelled and its time free again."""
    require(actor.role, "appointment.cancel")
    for_write(session)
    appointment, _location = _request(session, appointment_id)
    appointment.awaiting_approval = False
    session.add(appointment)
    session.flush()
    return scheduling.transition(session, actor=actor, appointment_id=appointment_id, to_status="cancelled",
                                 reason="Online request declined by the clinic")


# -- the patient's visits -----------------------------------------------------------------------
@dataclass(frozen=True)
class Visit:
    id: int
    when: str  # "Tue 12 Mar 2030, 09:00"
    day: str  # ISO date at the location
    what: str
    who: str
    where: str
    status: str  # in words
    can_change: bool
    provider_id: int
    appointment_type_id: int


def _mine(session: Session, me: Me, appointment_id: int) -> Appointment:
    """The appointment if it is the signed-in patient's own; NotFound otherwise (whoever's it is)."""
    appointment = session.get(Appointment, appointment_id) if isinstance(appointment_id, int) else None
    if appointment is None or appointment.patient_id != me.acting_for:
        raise NotFound("That visit is not in your account.")
    return appointment


def _can_change(appointment: Appointment, rules: OnlineBooking, now: dt.datetime) -> bool:
    return appointment.status == "booked" and appointment.starts_at - now >= dt.timedelta(hours=rules.cancel_window_hours)


def visits(session: Session, me: Me, *, upcoming: bool = True, now: dt.datetime | None = None,
           limit: int = 50) -> list[Visit]:
    """The patient's own visits: upcoming (soonest first) or past (latest first)."""
    now = now or utcnow()
    query = (select(Appointment, Provider, AppointmentType, Location)
             .join(Provider, Provider.id == Appointment.provider_id)
             .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
             .join(Location, Location.id == Appointment.location_id)
             .where(Appointment.patient_id == me.acting_for))
    if upcoming:
        query = query.where(Appointment.starts_at >= now - dt.timedelta(hours=12),
                            Appointment.status.in_(("booked", "arrived", "in_session"))).order_by(Appointment.starts_at)
    else:
        query = query.where(Appointment.starts_at < now).order_by(Appointment.starts_at.desc())
    found = []
    rules: dict[int, OnlineBooking] = {}
    for appointment, provider, kind, location in session.exec(query.limit(limit)):
        if upcoming and appointment.ends_at < now:
            continue
        rule = rules.setdefault(location.id, rules_for(session, location.id))
        start = local(appointment.starts_at, location.timezone)
        found.append(Visit(
            id=appointment.id, when=f"{start:%a %d %b %Y}, {start:%H:%M}", day=start.date().isoformat(),
            what=kind.name, who=provider.name, where=location.name,
            status="Requested: the clinic will confirm" if appointment.awaiting_approval and appointment.status == "booked"
            else STATUS_WORDS[appointment.status],
            can_change=rule.enabled and _can_change(appointment, rule, now), provider_id=provider.id,
            appointment_type_id=kind.id,
        ))
    return found


def _changeable(session: Session, me: Me, appointment_id: int, now: dt.datetime) -> Appointment:
    appointment = _mine(session, me, appointment_id)
    if appointment.status != "booked":
        raise NotAllowed(f"This visit is {STATUS_WORDS[appointment.status]}; it cannot be changed online.")
    rules = rules_for(session, appointment.location_id)
    if not _can_change(appointment, rules, now):
        raise NotAllowed(f"Visits can be changed online up to {rules.cancel_window_hours} hours before they start; "
                         "please call the clinic.")
    return appointment


def cancel(session: Session, me: Me, *, appointment_id: int, now: dt.datetime | None = None) -> Appointment:
    """Cancel one of the patient's own booked visits, inside the location's cancellation window."""
    now = now or utcnow()
    for_write(session)
    _changeable(session, me, appointment_id, now)
    return scheduling.transition(session, actor=portal_actor(me), appointment_id=appointment_id,
                                 to_status="cancelled", reason="Cancelled online by the patient", now=now)


def reschedule(session: Session, me: Me, *, appointment_id: int, starts_at: dt.datetime,
               now: dt.datetime | None = None) -> Appointment:
    """Move one of the patient's own booked visits to another open time with the same provider."""
    now = now or utcnow()
    for_write(session)
    appointment = _changeable(session, me, appointment_id, now)
    _check_open(session, me, appointment.provider_id, appointment.appointment_type_id, starts_at, now,
                ignore_id=appointment.id)
    return scheduling.reschedule(session, actor=portal_actor(me), appointment_id=appointment_id, starts_at=starts_at,
                                 room_id=None, reason="Moved online by the patient", now=now)


@dataclass(frozen=True)
class RulesForm:
    """What the online booking settings form shows for one location."""

    locations: list[Choice]
    types: list[Choice]
    providers: list[Choice]
    rules: OnlineBooking


def rules_form(session: Session, *, actor: Actor, location_id: int | None = None) -> RulesForm:
    """The locations, the types, the location's providers and its current rules."""
    require(actor.role, "provider.hours")
    locations = list(session.exec(select(Location).where(Location.active.is_(True)).order_by(Location.name)))
    if not locations:
        raise NotFound("Add a location first.")
    chosen = next((loc for loc in locations if loc.id == location_id), None) or \
        next((loc for loc in locations if loc.id == actor.location_id), locations[0])
    kinds = session.exec(select(AppointmentType).where(AppointmentType.active.is_(True)).order_by(AppointmentType.name))
    people = session.exec(select(Provider).where(Provider.location_id == chosen.id, Provider.active.is_(True))
                          .order_by(Provider.name))
    return RulesForm(locations=[Choice(loc.id, loc.name) for loc in locations],
                     types=[Choice(k.id, k.name) for k in kinds], providers=[Choice(p.id, p.name) for p in people],
                     rules=rules_for(session, chosen.id))
