"""KPIs for the manager's dashboard, as SQL aggregates (no loops over rows).

The dashboard shows a date range (range_kpis, drill_down, to_csv); every formula and what
counts is in docs/kpi.md. day_kpis is one location's day with the same definitions:
- visits by status: appointments starting that day at the location, by status.
- no-show rate: no-shows / (appointments scheduled - cancellations made in advance).
- notes awaiting signature: visits at the location, that day or earlier, in session
  with the note not yet signed.
- median documentation lag: median minutes from visit end to note signature, over
  that day's signed visits (a note signed before the visit ended counts as 0).
- charges: sum of charges whose date of service is that day.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import and_, case, exists, false, func, literal, or_, true
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from clinic_app.db import utcnow
from clinic_app.models import (
    Appointment,
    CaseVisit,
    Charge,
    Claim,
    ClaimEvent,
    KpiCaseDay,
    KpiCasePayerDay,
    KpiClaimDay,
    KpiLedgerDay,
    KpiMoneyDay,
    KpiVisitDay,
    KpiVisitPayerDay,
    LedgerEntry,
    Location,
    Note,
    Payer,
    Provider,
    ProviderHours,
    ProviderTimeOff,
    Room,
    Task,
    User,
)
from clinic_app.services.frontdesk.scheduling import STATUS_LABELS
from clinic_app.services.kpi import kpi_rollup
from clinic_app.services.kpi.durations import lag_minutes, minutes_between
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import day_bounds, local, local_day, zone
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.platform.money import plain
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue.revenue_reports import csv_safe
from clinic_app.services.tasks.rules import KIND_LABELS, today


def day_kpis(session: Session, *, actor: Actor, location_id: int, day: dt.date) -> dict:
    """The dashboard's figures for one location's day."""
    require(actor.role, "kpi.view")
    return compute_day_kpis(session, location_id=location_id, day=day)


def compute_day_kpis(session: Session, *, location_id: int, day: dt.date) -> dict:
    """The figures, unchecked: for the live layer, which pushes only to dashboards that passed day_kpis."""
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound("That location does not exist.")
    start, end = day_bounds(day, location.timezone)
    in_day = (Appointment.location_id == location_id, Appointment.starts_at >= start, Appointment.starts_at < end)

    by_status = dict(
        session.exec(select(Appointment.status, func.count()).where(*in_day).group_by(Appointment.status)).all()
    )
    scheduled = sum(by_status.values())
    no_shows = by_status.get("no_show", 0)
    advance = session.exec(
        select(func.count()).select_from(Appointment)
        .where(*in_day, Appointment.status == "cancelled", Appointment.late_cancel == false())
    ).one()
    denominator = scheduled - advance
    awaiting = session.exec(
        select(func.count())
        .select_from(Appointment)
        .where(Appointment.location_id == location_id, Appointment.starts_at < end, Appointment.status == "in_session")
    ).one()

    lag = lag_minutes(session.get_bind().dialect.name).label("lag")
    signed = (
        select(lag)
        .select_from(Appointment)
        .join(Note, Note.appointment_id == Appointment.id)
        .where(*in_day, Note.signed_at.is_not(None))
    )
    count = session.exec(select(func.count()).select_from(signed.subquery())).one()
    median = None
    if count:
        # The middle one or two values, picked by the database.
        middle = session.exec(signed.order_by(lag).offset((count - 1) // 2).limit(2 - count % 2)).all()
        median = sum(middle) / len(middle)

    charges_cents = session.exec(
        select(func.coalesce(func.sum(Charge.amount_cents), 0))
        .select_from(Charge)
        .join(Appointment, Appointment.id == Charge.appointment_id)
        .where(*in_day)
    ).one()
    return {
        "day": day.isoformat(),
        "by_status": [
            {"status": s, "label": STATUS_LABELS[s], "count": by_status.get(s, 0)} for s in STATUS_LABELS
        ],
        "scheduled": scheduled,
        "no_show_rate": (no_shows / denominator) if denominator else None,
        "awaiting_signature": awaiting,
        "median_lag_minutes": median,
        "charges_cents": int(charges_cents),
    }


# -- Range KPIs (issue 7) -----------------------------------------------------------------
# Every figure below is a SQL aggregate over indexed columns; Python only does arithmetic on
# the few aggregated rows that come back (per provider, per hour, per weekday). docs/kpi.md
# gives each formula and what counts.

ATTENDED = ("arrived", "in_session", "ready_to_bill", "billed")  # the patient came
COMPLETED = ("ready_to_bill", "billed")  # the note is signed
HELD = ("booked", *ATTENDED)  # kept the slot: booked minutes
MAX_RANGE_DAYS = 366 * 6 + 1
AR_DAYS_WINDOW = 90

# tile key -> (label, what the figure is)
TILES: dict[str, tuple[str, str]] = {
    "visits": ("Visits completed", "count"),
    "arrivals": ("Arrivals", "count"),
    "no_show_rate": ("No-show rate", "rate"),
    "late_cancel_rate": ("Late-cancel rate", "rate"),
    "utilisation_by_provider": ("Utilisation by provider", "rate"),
    "utilisation_by_room": ("Utilisation by room", "rate"),
    "new_patients": ("New patients", "count"),
    "visits_per_case": ("Visits per case", "ratio"),
    "wait_time": ("Average wait (arrival to session)", "minutes"),
    "documentation_lag": ("Average documentation lag", "minutes"),
    "charges": ("Charges", "money"),
    "payments": ("Payments", "money"),
    "collection_rate": ("Net collection rate", "rate"),
    "ar_days": ("AR days", "days"),
    "clean_claim_rate": ("Clean-claim rate", "rate"),
    "denial_rate": ("Denial rate", "rate"),
}


@dataclass(frozen=True)
class KpiFilters:
    """What the dashboard shows: local dates ``start``..``end`` inclusive, and optional narrowing."""

    start: dt.date
    end: dt.date
    location_id: int | None = None
    provider_id: int | None = None
    payer_id: int | None = None

    def key(self) -> str:
        """A stable text form (the live layer's topic for dashboards showing these filters)."""
        return ":".join(
            [self.start.isoformat(), self.end.isoformat(), *(str(v or "*") for v in (self.location_id, self.provider_id, self.payer_id))]
        )

    @classmethod
    def from_key(cls, key: str) -> KpiFilters:
        start, end, location, provider, payer = key.split(":")
        ids = [None if v == "*" else int(v) for v in (location, provider, payer)]
        return cls(dt.date.fromisoformat(start), dt.date.fromisoformat(end), *ids)

    def covers(self, *, location_id: int, provider_id: int, day: str) -> bool:
        """Whether a visit at this location, provider and local day can change these figures."""
        return (
            self.location_id in (None, location_id)
            and self.provider_id in (None, provider_id)
            and self.start.isoformat() <= day <= self.end.isoformat()
        )


@dataclass
class _Scope:
    filters: KpiFilters
    dialect: str
    zones: dict[int, str]  # location id -> time zone, the locations in view
    bounds: dict[int, tuple[dt.datetime, dt.datetime]]  # location id -> UTC [start, end)
    # Money not tied to a visit (a payment on account) counts in the first location's zone,
    # and only when no location or provider is chosen (it belongs to neither).
    home: tuple[dt.datetime, dt.datetime] | None
    limit: int | None = None  # drill-down rows wanted (the page shows a few; CSV takes all)
    use_rollup: bool = True  # False: every figure from the direct queries (to check one against the other)
    exact: bool | None = None  # the rollup is complete and clean for this range, as this session sees it

    ledger_exact: dict = dataclasses.field(default_factory=dict)  # (first, last) UTC days -> the ledger rollups are exact

    def table(self, table=KpiVisitDay, *, by_payer: bool = True):
        """The rollup table to read for ``table``'s figures: its per-payer twin under a payer filter."""
        if by_payer and self.filters.payer_id is not None:
            return {KpiVisitDay: KpiVisitPayerDay, KpiCaseDay: KpiCasePayerDay}[table]
        return table

    def rollup(self, session: Session, *, by_payer: bool = True, table=KpiVisitDay) -> list | None:
        """Conditions on ``self.table(table, by_payer=by_payer)`` (a rollup by location x local day
        x provider: ``KpiVisitDay``, ``KpiClaimDay`` or ``KpiCaseDay``, or the per-payer twin of
        the first or last) for the range and filters, after making it exact; None when the
        rollup cannot serve them (not exact as this session sees it, or turned off)."""
        if not self.use_rollup:
            return None
        if self.exact is None:
            self.exact = kpi_rollup.is_exact(session, zones=self.zones, start=self.filters.start, end=self.filters.end)
        if not self.exact:  # e.g. a change committed after the refresh: the direct queries
            return None
        table = self.table(table, by_payer=by_payer)
        conditions = [table.location_id.in_(list(self.zones)), table.day >= self.filters.start, table.day <= self.filters.end]
        if self.filters.provider_id is not None:
            conditions.append(table.provider_id == self.filters.provider_id)
        if by_payer and self.filters.payer_id is not None:
            conditions.append(table.payer_id == self.filters.payer_id)
        return conditions

    def ledger_rolled(self, session: Session, first: dt.date, last: dt.date) -> bool:
        """Whether the money rollup (kpi_money_day) may be read for the UTC days ``first``..``last``."""
        if not self.use_rollup:
            return False
        if (first, last) not in self.ledger_exact:
            self.ledger_exact[(first, last)] = kpi_rollup.ledger_days_exact(session, first=first, last=last)
        return self.ledger_exact[(first, last)]

    def in_range(self, column, location_column):
        """``column`` falls in the range, read in the zone of the row's location.

        The envelope of every location's bounds is ANDed outside the per-location OR (it is
        implied by it): the OR alone stops both databases from range-scanning an index on
        ``column`` when the location is on another table.
        """
        spans = list(self.bounds.values())
        return and_(
            column >= min(s for s, _ in spans), column < max(e for _, e in spans),
            or_(*(and_(location_column == lid, column >= s, column < e) for lid, (s, e) in self.bounds.items())),
        )

    def before_end(self, column, location_column):
        return and_(
            column < max(e for _, e in self.bounds.values()),
            or_(*(and_(location_column == lid, column < e) for lid, (_, e) in self.bounds.items())),
        )

    def appointments(self, *, by_payer: bool = True) -> list:
        """Conditions on ``Appointment``: in range, at the locations, for the provider and payer."""
        conditions = [self.in_range(Appointment.starts_at, Appointment.location_id)]
        if self.filters.provider_id is not None:
            conditions.append(Appointment.provider_id == self.filters.provider_id)
        if by_payer and self.filters.payer_id is not None:
            conditions.append(self.payer_of_visit())
        return conditions

    def payer_of_visit(self):
        """The visit's payer is the filter's: the patient's active primary coverage on the visit's
        local day (kpi_rollup.visit_payer, the rollup's very expression) is with that payer."""
        # The zone picked by a CASE, not an OR per location: SQLite would answer such an OR by
        # reading each location's every visit through the location index (minutes at 1M).
        zones = list(self.zones.items())
        tz = literal(zones[0][1]) if len(zones) == 1 else case(dict(zones), value=Appointment.location_id)
        return kpi_rollup.visit_payer(kpi_rollup.local_date(self.dialect, Appointment.starts_at, tz)) == self.filters.payer_id

    def ledger(self, *, before_end_only: bool = False) -> list:
        """Conditions on ``LedgerEntry`` (outer-joined to its visit) for the range and filters."""
        bounded = self.before_end if before_end_only else self.in_range
        when = bounded(LedgerEntry.created_at, Appointment.location_id)
        if self.home is not None:
            s, e = self.home
            loose = LedgerEntry.created_at < e if before_end_only else and_(LedgerEntry.created_at >= s, LedgerEntry.created_at < e)
            when = or_(when, and_(LedgerEntry.appointment_id.is_(None), loose))
        # The envelope of every location's bounds, implied by ``when``: lets the database use a
        # (kind, created_at) index range instead of reading every entry of the kind.
        spans = [*self.bounds.values(), *([self.home] if self.home else [])]
        conditions = [when, LedgerEntry.created_at < max(e for _, e in spans)]
        if not before_end_only:
            conditions.append(LedgerEntry.created_at >= min(s for s, _ in spans))
        if self.filters.provider_id is not None:
            conditions.append(Appointment.provider_id == self.filters.provider_id)
        if self.filters.payer_id is not None:
            conditions.append(_entry_payer(self.filters.payer_id))
        return conditions

    def claims(self, event) -> list:
        """Conditions on a claim event ``event`` joined to ``Claim`` and its ``Appointment``."""
        conditions = [self.in_range(event.at, Appointment.location_id)]
        if self.filters.provider_id is not None:
            conditions.append(Appointment.provider_id == self.filters.provider_id)
        if self.filters.payer_id is not None:
            conditions.append(Claim.payer_id == self.filters.payer_id)
        return conditions


def _entry_payer(payer_id: int):
    """A ledger entry is the payer's. Wrapped (``coalesce``) so that SQLite ranges over the
    entries' time index instead of reading the payer's every entry by the payer index (open AR
    under a payer filter took 0.4-3 s at 3.7M entries)."""
    return func.coalesce(LedgerEntry.payer_id, 0) == payer_id


def _scope(session: Session, filters: KpiFilters, *, refresh: bool = True) -> _Scope:
    if not isinstance(filters.start, dt.date) or not isinstance(filters.end, dt.date):
        raise InvalidInput("Choose a start date and an end date.")
    if filters.end < filters.start:
        raise InvalidInput("The end date is before the start date; choose an end on or after the start.")
    if (filters.end - filters.start).days >= MAX_RANGE_DAYS:
        raise InvalidInput("Choose a range of at most six years.")
    # Not when this session's own transaction has written (db.for_write's "clinic_wrote"): the
    # refresh's transaction could neither see that work nor, on SQLite, take the write lock.
    if refresh and not (session.new or session.dirty or session.deleted or session.info.get("clinic_wrote")):
        # Recompute the rollup's changed and missing days first, in a transaction of its own,
        # so that this session's reads (which start after) see it.
        overall = filters.location_id is None and filters.provider_id is None  # open AR from the ledger rollup
        kpi_rollup.refresh(session.get_bind(), location_id=filters.location_id, start=filters.start, end=filters.end,
                           ledger_before=filters.end if overall else None, ledger_days=_ledger_days(filters))
    locations = session.exec(select(Location.id, Location.timezone, Location.active).order_by(Location.id)).all()
    if filters.location_id is not None:
        locations = [row for row in locations if row[0] == filters.location_id]
        if not locations:
            raise NotFound("That location does not exist.")
    if filters.provider_id is not None and session.get(Provider, filters.provider_id) is None:
        raise NotFound("That provider does not exist.")
    if filters.payer_id is not None and session.get(Payer, filters.payer_id) is None:
        raise NotFound("That payer does not exist.")
    zones = {lid: tz for lid, tz, _ in locations}
    bounds = {lid: (day_bounds(filters.start, tz)[0], day_bounds(filters.end, tz)[1]) for lid, tz in zones.items()}
    home = None
    if filters.location_id is None and filters.provider_id is None and locations:
        first = next((row for row in locations if row[2]), locations[0])
        home = bounds[first[0]]
    if not bounds:  # no location at all: nothing can match
        bounds = {-1: (dt.datetime.min.replace(tzinfo=dt.UTC), dt.datetime.min.replace(tzinfo=dt.UTC))}
    return _Scope(filters, session.get_bind().dialect.name, zones, bounds, home)


def fill_rollup(bind, *, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """When no day of the rollup is computed yet (a new rollup table came with an upgrade), bring
    it up to date from the clinic's first visit or ledger entry (at most six years back) to
    ``today``, as a dashboard showing that range would, so that no manager's first load waits
    for it. Returns the days it filled, or None when there was nothing to do."""
    with Session(bind) as session:
        if kpi_rollup.any_done(session):
            return None
        firsts = [session.exec(select(func.min(Appointment.starts_at))).one(),
                  session.exec(select(func.min(LedgerEntry.created_at))).one()]
        firsts = [moment for moment in firsts if moment is not None]
        if not firsts:
            return None
        # From AR's 90-day window before the first day (empty days, marked computed once).
        start = max(min(firsts).date() - dt.timedelta(days=AR_DAYS_WINDOW), today - dt.timedelta(days=MAX_RANGE_DAYS - 1))
        if start > today:  # only future bookings: their days are computed when a range shows them
            return None
        _scope(session, KpiFilters(start=start, end=today))
    return start, today


def _ledger_days(filters: KpiFilters) -> tuple[dt.date, dt.date]:
    """The UTC days of the money rollup a range reads: the days inside every location's range
    (a day either side of its dates), its dates of service and AR's 90-day window."""
    return (min(filters.start - dt.timedelta(days=1), filters.end - dt.timedelta(days=AR_DAYS_WINDOW - 1)),
            filters.end + dt.timedelta(days=1))


def _hour_bucket(dialect: str, column):
    """The UTC hour of ``column`` as 'YYYY-MM-DD HH' text on either database."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H", column)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")


def _ratio(numerator, denominator) -> float | None:
    return numerator / denominator if denominator else None


def _in(column, values) -> object:
    return case((column.in_(values), 1), else_=0)


# -- the tiles, one function each ------------------------------------------------------------
def visit_counts(session: Session, scope: _Scope) -> dict:
    """Scheduled, completed, arrived, no-show and cancellation counts in one pass."""
    rolled = scope.rollup(session)
    if rolled is not None:
        r = scope.table()
        row = session.exec(select(*(func.coalesce(func.sum(c), 0) for c in (
            r.scheduled, r.completed, r.arrivals, r.no_shows, r.late_cancels, r.advance_cancels))).where(*rolled)).one()
    else:
        row = session.exec(
            select(
                func.count(),
                func.coalesce(func.sum(_in(Appointment.status, COMPLETED)), 0),
                func.coalesce(func.sum(_in(Appointment.status, ATTENDED)), 0),
                func.coalesce(func.sum(_in(Appointment.status, ("no_show",))), 0),
                func.coalesce(func.sum(case((and_(Appointment.status == "cancelled", Appointment.late_cancel == true()), 1), else_=0)), 0),
                func.coalesce(func.sum(case((and_(Appointment.status == "cancelled", Appointment.late_cancel == false()), 1), else_=0)), 0),
            ).select_from(Appointment).where(*scope.appointments())
        ).one()
    scheduled, completed, arrivals, no_shows, late, advance = (int(v) for v in row)
    kept = scheduled - advance  # cancellations made in advance freed the slot in time
    return {
        "scheduled": scheduled, "visits": completed, "arrivals": arrivals, "no_shows": no_shows,
        "late_cancels": late, "advance_cancels": advance, "rate_denominator": kept,
        "no_show_rate": _ratio(no_shows, kept), "late_cancel_rate": _ratio(late, kept),
    }


def _weekday_counts(start: dt.date, end: dt.date) -> list[int]:
    """How many Mondays, Tuesdays... the range holds."""
    days = (end - start).days + 1
    weeks, rest = divmod(days, 7)
    counts = [weeks] * 7
    for i in range(rest):
        counts[(start.weekday() + i) % 7] += 1
    return counts


def _window_minutes_off(windows: list[tuple[int, int]], tz: str, off_start: dt.datetime, off_end: dt.datetime,
                        start: dt.date, end: dt.date) -> float:
    """Working minutes (``windows`` per weekday) that a time-off span covers inside the range."""
    lost = 0.0
    zone_ = zone(tz)
    day = max(off_start.astimezone(zone_).date(), start)
    last = min(off_end.astimezone(zone_).date(), end)
    while day <= last:
        for weekday, a, b in windows:
            if weekday != day.weekday():
                continue
            w_start = dt.datetime.combine(day, dt.time(0), tzinfo=zone_) + dt.timedelta(minutes=a)
            w_end = dt.datetime.combine(day, dt.time(0), tzinfo=zone_) + dt.timedelta(minutes=b)
            overlap = (min(w_end, off_end) - max(w_start, off_start)).total_seconds() / 60
            lost += max(overlap, 0.0)
        day += dt.timedelta(days=1)
    return lost


def utilisation(session: Session, scope: _Scope) -> dict:
    """Booked minutes over available working minutes, by provider and by room.

    A provider's available minutes are their weekly working windows over the range, less time
    off; a room's are its location's opening hours (earliest start to latest end of the
    providers' windows there, per weekday). Providers with no hours set have no utilisation.
    The payer filter does not apply (working hours belong to no payer).
    """
    f = scope.filters
    counts = _weekday_counts(f.start, f.end)
    providers = select(Provider.id, Provider.name, Provider.location_id).where(
        Provider.location_id.in_(list(scope.zones)), Provider.active == true()
    )
    if f.provider_id is not None:
        providers = select(Provider.id, Provider.name, Provider.location_id).where(Provider.id == f.provider_id)
    provider_rows = session.exec(providers.order_by(Provider.name)).all()
    ids = [p[0] for p in provider_rows]
    windows: dict[int, list[tuple[int, int, int]]] = {}
    for pid, weekday, a, b in session.exec(
        select(ProviderHours.provider_id, ProviderHours.weekday, ProviderHours.start_minute, ProviderHours.end_minute)
        .where(ProviderHours.provider_id.in_(ids))
    ).all() if ids else []:
        windows.setdefault(pid, []).append((weekday, a, b))
    held = [*scope.appointments(by_payer=False), Appointment.status.in_(HELD)]
    length = minutes_between(scope.dialect, Appointment.ends_at, Appointment.starts_at)
    rolled = scope.rollup(session, by_payer=False)
    if rolled is not None:
        booked = dict(session.exec(
            select(KpiVisitDay.provider_id, func.sum(KpiVisitDay.held_minutes)).where(*rolled).group_by(KpiVisitDay.provider_id)
        ).all())
        room_booked = dict(session.exec(
            select(KpiVisitDay.room_id, func.sum(KpiVisitDay.held_minutes)).where(*rolled, KpiVisitDay.room_id != 0)
            .group_by(KpiVisitDay.room_id)
        ).all())
    else:
        booked = dict(session.exec(
            select(Appointment.provider_id, func.sum(length)).where(*held).group_by(Appointment.provider_id)
        ).all())
        room_booked = dict(session.exec(
            select(Appointment.room_id, func.sum(length)).where(*held, Appointment.room_id.is_not(None)).group_by(Appointment.room_id)
        ).all())
    # Time off of every provider in view, one query (not one per provider).
    widest = (min(s for s, _ in scope.bounds.values()) - dt.timedelta(days=1), max(e for _, e in scope.bounds.values()) + dt.timedelta(days=1))
    time_off: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for pid, off_start, off_end in session.exec(
        select(ProviderTimeOff.provider_id, ProviderTimeOff.starts_at, ProviderTimeOff.ends_at).where(
            ProviderTimeOff.provider_id.in_(ids), ProviderTimeOff.starts_at < widest[1], ProviderTimeOff.ends_at > widest[0])
    ).all() if ids else []:
        time_off.setdefault(pid, []).append((off_start, off_end))
    by_provider = []
    for pid, name, location_id in provider_rows:
        spans = windows.get(pid)
        available = None
        if spans:
            available = float(sum((b - a) * counts[w] for w, a, b in spans))
            tz = scope.zones.get(location_id) or session.get(Location, location_id).timezone
            s, e = scope.bounds.get(location_id) or (
                day_bounds(f.start, tz)[0], day_bounds(f.end, tz)[1])
            for off_start, off_end in time_off.get(pid, []):
                if off_start < e and off_end > s:
                    available -= _window_minutes_off(spans, tz, off_start, off_end, f.start, f.end)
        minutes = float(booked.get(pid) or 0.0)
        by_provider.append({
            "provider_id": pid, "provider": name, "booked_minutes": round(minutes, 1),
            "available_minutes": None if available is None else round(available, 1),
            "utilisation": _ratio(minutes, available) if available is not None else None,
        })
    counted = [r for r in by_provider if r["available_minutes"]]
    overall = _ratio(sum(r["booked_minutes"] for r in counted), sum(r["available_minutes"] for r in counted))

    # Rooms: opening minutes of their location per weekday (from the providers' windows there).
    opening: dict[tuple[int, int], tuple[int, int]] = {
        (lid, weekday): (int(a), int(b)) for lid, weekday, a, b in session.exec(
            select(Provider.location_id, ProviderHours.weekday, func.min(ProviderHours.start_minute), func.max(ProviderHours.end_minute))
            .join(Provider, Provider.id == ProviderHours.provider_id)
            .where(Provider.location_id.in_(list(scope.zones)), Provider.active == true())
            .group_by(Provider.location_id, ProviderHours.weekday)
        ).all()
    }
    by_room = []
    for rid, name, lid, place in session.exec(  # "Room 1 (Downtown)": rooms share names across locations
        select(Room.id, Room.name, Room.location_id, Location.name).join(Location, Location.id == Room.location_id)
        .where(Room.location_id.in_(list(scope.zones)), Room.active == true()).order_by(Location.name, Room.name)
    ).all():
        available = float(sum((b - a) * counts[w] for (loc, w), (a, b) in opening.items() if loc == lid))
        minutes = float(room_booked.get(rid) or 0.0)
        by_room.append({
            "room_id": rid, "room": f"{name} ({place})", "booked_minutes": round(minutes, 1),
            "available_minutes": round(available, 1) if available else None, "utilisation": _ratio(minutes, available),
        })
    rooms_counted = [r for r in by_room if r["available_minutes"]]
    return {
        "utilisation": overall, "utilisation_by_provider": by_provider,
        "room_utilisation": _ratio(sum(r["booked_minutes"] for r in rooms_counted), sum(r["available_minutes"] for r in rooms_counted)),
        "utilisation_by_room": by_room,
    }


def _first_visits(scope: _Scope):
    """Attended visits in range that are their patient's first attended visit anywhere."""
    earlier = aliased(Appointment)
    return [
        *scope.appointments(), Appointment.status.in_(ATTENDED),
        # A patient is never booked twice at once (scheduling refuses it), so "earlier" is
        # strictly earlier: a range on (patient_id, starts_at, status), index only.
        ~exists().where(earlier.patient_id == Appointment.patient_id, earlier.starts_at < Appointment.starts_at,
                        earlier.status.in_(ATTENDED)),
    ]


def new_patients(session: Session, scope: _Scope) -> int:
    """Patients whose first attended visit ever falls in the range (and matches the filters)."""
    rolled = scope.rollup(session)
    if rolled is not None:
        r = scope.table()
        return int(session.exec(select(func.coalesce(func.sum(r.new_patients), 0)).where(*rolled)).one())
    return int(session.exec(select(func.count()).select_from(Appointment).where(*_first_visits(scope))).one())


def visits_per_case(session: Session, scope: _Scope) -> dict:
    """Attended visits in range that belong to an episode of care, per distinct episode."""
    rolled = scope.rollup(session, table=KpiCaseDay)
    if rolled is not None:
        # An episode counts once: at its first visit in range, the one whose previous visit
        # (among those the filters keep) is before the range.
        f, c = scope.filters, scope.table(KpiCaseDay)
        previous = {(False, False): c.prev_any, (True, False): c.prev_location,
                    (False, True): c.prev_provider, (True, True): c.prev_both}[
            (f.location_id is not None, f.provider_id is not None)]
        first = or_(previous.is_(None), previous < f.start)
        visits, cases = session.exec(
            select(func.coalesce(func.sum(c.visits), 0),
                   func.coalesce(func.sum(case((first, c.visits), else_=0)), 0)).where(*rolled)
        ).one()
        return {"case_visits": int(visits), "cases": int(cases), "visits_per_case": _ratio(int(visits), int(cases))}
    visits, cases = session.exec(
        select(func.count(), func.count(func.distinct(CaseVisit.case_id)))
        .select_from(Appointment).join(CaseVisit, CaseVisit.appointment_id == Appointment.id)
        .where(*scope.appointments(), Appointment.status.in_(ATTENDED))
    ).one()
    return {"case_visits": int(visits), "cases": int(cases), "visits_per_case": _ratio(int(visits), int(cases))}


def wait_time(session: Session, scope: _Scope) -> dict:
    """Average minutes from arrival to the start of the session, over visits with both times."""
    rolled = scope.rollup(session)
    if rolled is not None:
        r = scope.table()
        count, total = session.exec(
            select(func.coalesce(func.sum(r.wait_count), 0), func.sum(r.wait_minutes)).where(*rolled)).one()
        return {"wait_count": int(count), "wait_minutes_avg": _ratio(float(total or 0.0), int(count))}
    wait = minutes_between(scope.dialect, Appointment.session_started_at, Appointment.arrived_at)
    count, total = session.exec(
        select(func.count(), func.sum(wait)).select_from(Appointment)
        .where(*scope.appointments(), Appointment.arrived_at.is_not(None), Appointment.session_started_at.is_not(None))
    ).one()
    return {"wait_count": int(count), "wait_minutes_avg": _ratio(float(total or 0.0), int(count))}


def documentation_lag(session: Session, scope: _Scope) -> dict:
    """Average minutes from the visit's booked end to the note's signature (early = 0)."""
    rolled = scope.rollup(session)
    if rolled is not None:
        r = scope.table()
        count, total = session.exec(
            select(func.coalesce(func.sum(r.lag_count), 0), func.sum(r.lag_minutes)).where(*rolled)).one()
        return {"lag_count": int(count), "lag_minutes_avg": _ratio(float(total or 0.0), int(count))}
    lag = lag_minutes(scope.dialect)
    count, total = session.exec(
        select(func.count(), func.sum(lag)).select_from(Appointment)
        .join(Note, Note.appointment_id == Appointment.id)
        .where(*scope.appointments(), Note.signed_at.is_not(None))
    ).one()
    return {"lag_count": int(count), "lag_minutes_avg": _ratio(float(total or 0.0), int(count))}


def charges(session: Session, scope: _Scope) -> int:
    """Charges captured for visits whose date of service is in the range, in cents."""
    rolled = scope.rollup(session)
    if rolled is not None:
        r = scope.table()
        return int(session.exec(select(func.coalesce(func.sum(r.charges_cents), 0)).where(*rolled)).one())
    return int(session.exec(
        select(func.coalesce(func.sum(Charge.amount_cents), 0)).select_from(Charge)
        .join(Appointment, Appointment.id == Charge.appointment_id).where(*scope.appointments())
    ).one())


def _ledger_sum(session: Session, scope: _Scope, kinds: tuple[str, ...], *, before_end_only: bool = False, extra=()) -> int:
    f = scope.filters
    if not before_end_only and not extra and f.location_id is None and f.provider_id is None:
        # Entries between the latest location's start and the earliest location's end count
        # whatever their location (and the home range holds them too): one indexed sum over
        # ledger_entry alone. Only the few hours at each edge need each entry's visit.
        spans = [*scope.bounds.values(), *([scope.home] if scope.home else [])]
        core_start, core_end = max(s for s, _ in spans), min(e for _, e in spans)
        if core_start < core_end:
            core = [LedgerEntry.created_at >= core_start, LedgerEntry.created_at < core_end]
            if kinds:
                core.append(LedgerEntry.kind.in_(kinds))
            if f.payer_id is not None:
                core.append(_entry_payer(f.payer_id))
            inner = int(session.exec(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(*core)).one())
            # each edge as its own range (an OR of the two stops PostgreSQL using the index)
            low = _ledger_join_sum(session, scope, kinds, before_end_only=False, extra=(LedgerEntry.created_at < core_start,))
            high = _ledger_join_sum(session, scope, kinds, before_end_only=False, extra=(LedgerEntry.created_at >= core_end,))
            return inner + low + high
    return _ledger_join_sum(session, scope, kinds, before_end_only=before_end_only, extra=extra)


def _ledger_join_sum(session: Session, scope: _Scope, kinds: tuple[str, ...], *, before_end_only: bool, extra=()) -> int:
    query = (
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).select_from(LedgerEntry)
        .outerjoin(Appointment, Appointment.id == LedgerEntry.appointment_id)
        .where(*scope.ledger(before_end_only=before_end_only), *extra)
    )
    if kinds:
        query = query.where(LedgerEntry.kind.in_(kinds))
    return int(session.exec(query).one())


def open_ar(session: Session, scope: _Scope) -> int:
    """What is owed at the range's end (all parties, net of credits): the sum of every ledger
    entry made before then, read in the zone of the entry's visit location."""
    f = scope.filters
    if f.location_id is not None or f.provider_id is not None:
        return _ledger_sum(session, scope, (), before_end_only=True)
    # Everything before the earliest location's end counts whatever its location: one sum over
    # the (created_at, amount_cents) index with no join; only the few hours between the
    # locations' ends need each entry's visit.
    first_end = min(e for _, e in [*scope.bounds.values(), *([scope.home] if scope.home else [])])
    early = [LedgerEntry.created_at < first_end]
    if f.payer_id is not None:
        early.append(_entry_payer(f.payer_id))
    if scope.use_rollup and kpi_rollup.ledger_exact(session, before=f.end):
        # Whole UTC days before the end date (before every location's end) from the ledger
        # rollup; the last day or so from the entries.
        cut = dt.datetime.combine(f.end, dt.time(0), tzinfo=dt.UTC)
        rolled = [KpiLedgerDay.day < f.end, *([KpiLedgerDay.payer_id == f.payer_id] if f.payer_id is not None else [])]
        early.append(LedgerEntry.created_at >= cut)
        before = int(session.exec(select(func.coalesce(func.sum(KpiLedgerDay.amount_cents), 0)).where(*rolled)).one())
    else:
        before = 0
    before += int(session.exec(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(*early)).one())
    return before + _ledger_sum(session, scope, (), before_end_only=True, extra=(LedgerEntry.created_at >= first_end,))


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


def _money_sum(session: Session, scope: _Scope, column, kinds: tuple[str, ...]) -> int:
    """The sum of ledger entries of ``kinds`` made in range (as _ledger_sum): the whole UTC days
    inside each location's range from kpi_money_day's ``column``, the hours at each edge from
    the entries themselves."""
    windows = dict(scope.bounds)
    if scope.home is not None:
        windows[0] = scope.home  # entries with no visit: kpi_money_day's location 0
    days = {}  # location -> first whole UTC day, day after the last
    for lid, (s, e) in windows.items():
        s, e = s.astimezone(dt.UTC), e.astimezone(dt.UTC)
        days[lid] = (s.date() + dt.timedelta(days=0 if s == _utc_midnight(s.date()) else 1), e.date())
    lowest, highest = min(a for a, _ in days.values()), max(b for _, b in days.values())
    if any(a >= b for a, b in days.values()) or -1 in days or not scope.ledger_rolled(session, lowest, highest - dt.timedelta(days=1)):
        return _ledger_sum(session, scope, kinds)
    conditions = [KpiMoneyDay.day >= lowest, KpiMoneyDay.day < highest,
                  or_(*(and_(KpiMoneyDay.location_id == lid, KpiMoneyDay.day >= a, KpiMoneyDay.day < b) for lid, (a, b) in days.items()))]
    if scope.filters.provider_id is not None:
        conditions.append(KpiMoneyDay.provider_id == scope.filters.provider_id)
    if scope.filters.payer_id is not None:
        conditions.append(KpiMoneyDay.payer_id == scope.filters.payer_id)
    total = int(session.exec(select(func.coalesce(func.sum(column), 0)).where(*conditions)).one())
    # each location's hours before its first whole day and from the day after its last
    starts = {lid: (s, _utc_midnight(days[lid][0])) for lid, (s, _) in windows.items()}
    ends = {lid: (_utc_midnight(days[lid][1]), e) for lid, (_, e) in windows.items()}
    for edge in (starts, ends):
        home = edge.pop(0, None)
        total += _ledger_join_sum(session, dataclasses.replace(scope, bounds=edge, home=home), kinds, before_end_only=False)
    return total


def payments(session: Session, scope: _Scope) -> int:
    """Money received in the range (insurance and patients), net of reversals and refunds, in cents."""
    return -_money_sum(session, scope, KpiMoneyDay.paid_cents, ("payment", "refund"))


def billed_charges(session: Session, scope: _Scope) -> int:
    """Charges billed (to payers and patients, net of reversals) whose date of service is in range."""
    f = scope.filters
    if scope.ledger_rolled(session, f.start, f.end):  # kpi_money_day's billed charges by date of service
        rolled = [KpiMoneyDay.day >= f.start, KpiMoneyDay.day <= f.end]
        for column, value in ((KpiMoneyDay.location_id, f.location_id), (KpiMoneyDay.provider_id, f.provider_id),
                              (KpiMoneyDay.payer_id, f.payer_id)):
            if value is not None:
                rolled.append(column == value)
        return int(session.exec(select(func.coalesce(func.sum(KpiMoneyDay.billed_cents), 0)).where(*rolled)).one())
    conditions = [LedgerEntry.kind == "charge", LedgerEntry.service_date >= f.start, LedgerEntry.service_date <= f.end]
    if f.location_id is not None:
        conditions.append(Appointment.location_id == f.location_id)
    if f.provider_id is not None:
        conditions.append(Appointment.provider_id == f.provider_id)
    if f.payer_id is not None:
        conditions.append(_entry_payer(f.payer_id))
    query = select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).select_from(LedgerEntry)
    if f.location_id is not None or f.provider_id is not None:  # only then does the visit matter
        query = query.outerjoin(Appointment, Appointment.id == LedgerEntry.appointment_id)
    return int(session.exec(query.where(*conditions)).one())


def collection(session: Session, scope: _Scope, payments_cents: int) -> dict:
    """Net collection rate = payments / (billed charges - contractual adjustments), same range."""
    billed = billed_charges(session, scope)
    adjustments = -_money_sum(session, scope, KpiMoneyDay.adjusted_cents, ("adjustment",))
    return {"billed_charges_cents": billed, "contractual_adjustments_cents": adjustments,
            "collection_rate": _ratio(payments_cents, billed - adjustments)}


def ar_days(session: Session, filters: KpiFilters) -> dict:
    """AR days at the range's end = open AR then / average daily billed charges of the 90 days ending then."""
    owed = open_ar(session, _scope(session, filters, refresh=False))
    window = dataclasses.replace(filters, start=filters.end - dt.timedelta(days=AR_DAYS_WINDOW - 1))
    daily = billed_charges(session, _scope(session, window, refresh=False)) / AR_DAYS_WINDOW
    return {"ar_open_cents": owed, "ar_avg_daily_charges_cents": daily, "ar_days": _ratio(owed, daily)}


def _first_submissions(scope: _Scope):
    """(claim id, number, first submission time, the next event's status) for claims first submitted in range."""
    first, earlier, nxt = (aliased(ClaimEvent) for _ in range(3))
    # The first answer: the claim's next event, as a scalar subquery (claim_id index, a few
    # rows per claim) rather than a join, which PostgreSQL ran as a scan of every event.
    answer = (
        select(nxt.to_status).where(nxt.claim_id == first.claim_id, nxt.id > first.id)
        .order_by(nxt.id).limit(1).correlate(first).scalar_subquery()
    )
    return (
        select(Claim.id, Claim.number, first.at, answer.label("to_status"))
        .select_from(first)
        .join(Claim, Claim.id == first.claim_id)
        .join(Appointment, Appointment.id == Claim.appointment_id)
        .where(
            first.to_status == "submitted", *scope.claims(first),
            ~exists().where(earlier.claim_id == first.claim_id, earlier.to_status == "submitted", earlier.id < first.id),
        )
    )


def _claim_rollup(session: Session, scope: _Scope) -> list | None:
    """Conditions on ``KpiClaimDay`` for the range and filters (the claim's payer), or None."""
    rolled = scope.rollup(session, by_payer=False, table=KpiClaimDay)
    if rolled is not None and scope.filters.payer_id is not None:
        rolled.append(KpiClaimDay.payer_id == scope.filters.payer_id)
    return rolled


def clean_claims(session: Session, scope: _Scope) -> dict:
    """Clean-claim rate = claims accepted or paid at the first answer / claims first submitted in
    the range and answered (as services.revenue_reports.clean_claim_rate)."""
    rolled = _claim_rollup(session, scope)
    if rolled is not None:
        r = KpiClaimDay
        total, answered, clean = session.exec(
            select(*(func.coalesce(func.sum(c), 0) for c in (r.first_submitted, r.answered, r.clean))).where(*rolled)).one()
    else:
        rows = _first_submissions(scope).subquery()
        total, answered, clean = session.exec(
            select(func.count(), func.count(rows.c.to_status), func.coalesce(func.sum(_in(rows.c.to_status, ("accepted", "paid"))), 0))
        ).one()
    return {"claims_clean": int(clean), "claims_answered": int(answered), "claims_pending": int(total) - int(answered),
            "clean_claim_rate": _ratio(int(clean), int(answered))}


def _adjudications(scope: _Scope):
    event = aliased(ClaimEvent)
    return (
        select(Claim.id, Claim.number, Claim.payer_id, func.max(_in(event.to_status, ("denied",))).label("denied"))
        .select_from(event).join(Claim, Claim.id == event.claim_id).join(Appointment, Appointment.id == Claim.appointment_id)
        .where(event.to_status.in_(("paid", "denied")), *scope.claims(event))
        .group_by(Claim.id, Claim.number, Claim.payer_id)
    )


def denials(session: Session, scope: _Scope) -> dict:
    """Denial rate = claims denied / claims adjudicated (paid or denied) in the range, by the
    time of the answer (as services.revenue_reports.denial_rate)."""
    rolled = _claim_rollup(session, scope)
    if rolled is not None:
        # A claim counts once: at its first adjudication (and first denial) in range, the one
        # whose previous one is before the range's start at the claim's location.
        def first(previous):
            return or_(previous.is_(None), *(and_(KpiClaimDay.location_id == lid, previous < s) for lid, (s, _) in scope.bounds.items()))
        adjudicated, denied = session.exec(select(
            func.coalesce(func.sum(case((first(KpiClaimDay.prev_adjudicated_at), KpiClaimDay.adjudicated), else_=0)), 0),
            func.coalesce(func.sum(case((first(KpiClaimDay.prev_denied_at), KpiClaimDay.denied), else_=0)), 0),
        ).where(*rolled)).one()
    else:
        rows = _adjudications(scope).subquery()
        adjudicated, denied = session.exec(select(func.count(), func.coalesce(func.sum(rows.c.denied), 0))).one()
    return {"claims_adjudicated": int(adjudicated), "claims_denied": int(denied), "denial_rate": _ratio(int(denied), int(adjudicated))}


def grain_of(filters: KpiFilters) -> str:
    """Chart periods: days up to a month and a bit, weeks up to half a year, then months."""
    days = (filters.end - filters.start).days + 1
    return "day" if days <= 62 else "week" if days <= 190 else "month"


def _period(day: dt.date, grain: str) -> str:
    if grain == "day":
        return day.isoformat()
    if grain == "week":
        return (day - dt.timedelta(days=day.weekday())).isoformat()
    return day.strftime("%Y-%m")


def visits_by_period(session: Session, scope: _Scope) -> list[dict]:
    """Completed visits, arrivals and no-shows per day, week or month (local dates).

    The database groups by location and UTC hour; each hour is then placed on its location's
    calendar (exact for zones whose offset is whole hours, such as every US zone).
    """
    grain = grain_of(scope.filters)
    periods: dict[str, dict] = {}
    day = scope.filters.start
    while day <= scope.filters.end:  # every period shows, empty ones as 0
        key = _period(day, grain)
        periods.setdefault(key, {"period": key, "visits": 0, "arrivals": 0, "no_shows": 0})
        day += dt.timedelta(days=1)

    def add(key: str, completed, arrived, no_show) -> None:
        row = periods.get(key)
        if row is not None:
            row["visits"] += int(completed)
            row["arrivals"] += int(arrived)
            row["no_shows"] += int(no_show)

    rolled = scope.rollup(session)
    if rolled is not None:
        r = scope.table()
        for day, completed, arrived, no_show in session.exec(
            select(r.day, func.sum(r.completed), func.sum(r.arrivals), func.sum(r.no_shows)).where(*rolled).group_by(r.day)
        ).all():
            add(_period(day, grain), completed, arrived, no_show)
        return [periods[k] for k in sorted(periods)]
    hour = _hour_bucket(scope.dialect, Appointment.starts_at).label("hour")
    rows = session.exec(
        select(Appointment.location_id, hour, func.sum(_in(Appointment.status, COMPLETED)),
               func.sum(_in(Appointment.status, ATTENDED)), func.sum(_in(Appointment.status, ("no_show",))))
        .where(*scope.appointments()).group_by(Appointment.location_id, hour)
    ).all()
    for location_id, hour_text, completed, arrived, no_show in rows:
        moment = dt.datetime.strptime(hour_text, "%Y-%m-%d %H").replace(tzinfo=dt.UTC)
        add(_period(local_day(moment, scope.zones[location_id]), grain), completed, arrived, no_show)
    return [periods[k] for k in sorted(periods)]


def range_kpis(session: Session, *, actor: Actor, filters: KpiFilters) -> dict:
    """Every tile of the dashboard for a date range and filters."""
    require(actor.role, "kpi.view")
    return compute_range_kpis(session, filters)


def compute_range_kpis(session: Session, filters: KpiFilters) -> dict:
    """The figures, unchecked: for the live layer, which pushes only to dashboards that passed range_kpis."""
    scope = _scope(session, filters)
    figures: dict = {
        "filters": {"start": filters.start.isoformat(), "end": filters.end.isoformat(), "location_id": filters.location_id,
                    "provider_id": filters.provider_id, "payer_id": filters.payer_id},
        "key": filters.key(),
    }
    figures.update(visit_counts(session, scope))
    figures.update(utilisation(session, scope))
    figures["new_patients"] = new_patients(session, scope)
    figures.update(visits_per_case(session, scope))
    figures.update(wait_time(session, scope))
    figures.update(documentation_lag(session, scope))
    figures["charges_cents"] = charges(session, scope)
    figures["payments_cents"] = payments(session, scope)
    figures.update(collection(session, scope, figures["payments_cents"]))
    figures.update(ar_days(session, filters))
    figures.update(clean_claims(session, scope))
    figures.update(denials(session, scope))
    figures["grain"] = grain_of(filters)
    figures["visits_by_period"] = visits_by_period(session, scope)
    return figures


# -- drill-down: the rows behind a tile ------------------------------------------------------
# Rows name visits by number, provider, room and location, never the patient: managers see
# aggregates (minimum necessary); the front desk can open a visit by its number.

def _visit_rows(
    session: Session, scope: _Scope, conditions: list, extra: dict | None = None, *, with_note: bool = False
) -> list[dict]:
    extra = extra or {}
    names = dict(session.exec(select(Location.id, Location.name)).all())
    query = (
        select(Appointment.id, Appointment.starts_at, Appointment.location_id, Appointment.status, Provider.name, Room.name,
               *extra.values())
        .select_from(Appointment)
        .join(Provider, Provider.id == Appointment.provider_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
        .where(*conditions)
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(scope.limit)
    )
    if with_note:
        query = query.join(Note, Note.appointment_id == Appointment.id)
    rows = []
    for visit_id, starts_at, location_id, status, provider, room, *values in session.exec(query).all():
        when = local(starts_at, scope.zones[location_id])
        row = {"visit": visit_id, "date": when.date().isoformat(), "time": when.strftime("%H:%M"),
               "location": names.get(location_id, ""), "provider": provider, "room": room or "", "status": STATUS_LABELS[status]}
        for key, value in zip(extra, values, strict=True):
            row[key] = round(float(value), 1) if isinstance(value, float) else (int(value) if value is not None else None)
        rows.append(row)
    return rows


def drill_down(session: Session, *, actor: Actor, filters: KpiFilters, tile: str, limit: int | None = None) -> list[dict]:
    """The rows behind ``tile``; their totals equal the tile's figure (see docs/kpi.md).

    ``limit`` keeps only the first rows of the long lists (visits, charges, payments), for a
    page that shows a few; without it every row comes back (for CSV and for checking totals).
    """
    require(actor.role, "kpi.view")
    if tile not in TILES:
        raise InvalidInput(f"There is no KPI called {tile!r}.")
    scope = dataclasses.replace(_scope(session, filters), limit=limit)
    appts = scope.appointments()
    if tile == "visits":
        return _visit_rows(session, scope, [*appts, Appointment.status.in_(COMPLETED)])
    if tile == "arrivals":
        return _visit_rows(session, scope, [*appts, Appointment.status.in_(ATTENDED)])
    if tile in ("no_show_rate", "late_cancel_rate"):
        flag = ("no_show", _in(Appointment.status, ("no_show",))) if tile == "no_show_rate" else (
            "late_cancel", case((and_(Appointment.status == "cancelled", Appointment.late_cancel == true()), 1), else_=0))
        advance = and_(Appointment.status == "cancelled", Appointment.late_cancel == false())
        return _visit_rows(session, scope, [*appts, ~advance], {flag[0]: flag[1]})
    if tile == "utilisation_by_provider":
        return [{k: r[k] for k in ("provider", "booked_minutes", "available_minutes")} for r in utilisation(session, scope)["utilisation_by_provider"]]
    if tile == "utilisation_by_room":
        return [{k: r[k] for k in ("room", "booked_minutes", "available_minutes")} for r in utilisation(session, scope)["utilisation_by_room"]]
    if tile == "new_patients":
        return _visit_rows(session, scope, _first_visits(scope))
    if tile == "visits_per_case":
        return [
            {"case": case_id, "visits": int(count)}
            for case_id, count in session.exec(
                select(CaseVisit.case_id, func.count()).select_from(Appointment)
                .join(CaseVisit, CaseVisit.appointment_id == Appointment.id)
                .where(*appts, Appointment.status.in_(ATTENDED)).group_by(CaseVisit.case_id).order_by(CaseVisit.case_id)
            ).all()
        ]
    if tile == "wait_time":
        wait = minutes_between(scope.dialect, Appointment.session_started_at, Appointment.arrived_at)
        return _visit_rows(session, scope, [*appts, Appointment.arrived_at.is_not(None), Appointment.session_started_at.is_not(None)],
                           {"wait_minutes": wait})
    if tile == "documentation_lag":
        return _visit_rows(session, scope, [*appts, Note.signed_at.is_not(None)], {"lag_minutes": lag_minutes(scope.dialect)},
                           with_note=True)
    if tile == "charges":
        return _charge_rows(session, scope)
    if tile == "ar_days":
        return _ar_rows(session, scope)
    if tile == "collection_rate":
        return _collection_rows(session, scope)
    if tile == "payments":
        return _payment_rows(session, scope)
    if tile == "clean_claim_rate":
        return [
            {"claim": number, "first_submitted": local(at, _zone_of(scope)).date().isoformat(), "first_answer": answer or "pending",
             "clean": int(answer in ("accepted", "paid")) if answer else None}
            for _, number, at, answer in session.exec(_first_submissions(scope).order_by(Claim.number)).all()
        ]
    payer_names = dict(session.exec(select(Payer.id, Payer.name)).all())
    return [
        {"claim": number, "payer": payer_names.get(payer_id, ""), "denied": int(denied)}
        for _, number, payer_id, denied in session.exec(_adjudications(scope).order_by(Claim.number)).all()
    ]


def _zone_of(scope: _Scope) -> str:
    return next(iter(scope.zones.values()), "UTC")


def _charge_rows(session: Session, scope: _Scope) -> list[dict]:
    names = dict(session.exec(select(Location.id, Location.name)).all())
    return [
        {"visit": visit_id, "date": local_day(starts_at, scope.zones[lid]).isoformat(), "location": names.get(lid, ""),
         "provider": provider, "code": code, "units": units, "amount_cents": amount}
        for visit_id, starts_at, lid, provider, code, units, amount in session.exec(
            select(Appointment.id, Appointment.starts_at, Appointment.location_id, Provider.name, Charge.code, Charge.units,
                   Charge.amount_cents)
            .select_from(Charge).join(Appointment, Appointment.id == Charge.appointment_id)
            .join(Provider, Provider.id == Appointment.provider_id)
            .where(*scope.appointments()).order_by(Appointment.starts_at, Appointment.id, Charge.line_no).limit(scope.limit)
        ).all()
    ]


def _payment_rows(session: Session, scope: _Scope) -> list[dict]:
    payer_names = dict(session.exec(select(Payer.id, Payer.name)).all())
    return [
        {"entry": entry_id, "date": local_day(created_at, scope.zones.get(lid) or _zone_of(scope)).isoformat(),
         "kind": kind, "from": payer_names.get(payer_id, "") if payer_id else "patient", "method": method,
         "visit": visit_id, "amount_cents": -amount}
        for entry_id, created_at, lid, kind, payer_id, method, visit_id, amount in session.exec(
            select(LedgerEntry.id, LedgerEntry.created_at, Appointment.location_id, LedgerEntry.kind, LedgerEntry.payer_id,
                   LedgerEntry.method, LedgerEntry.appointment_id, LedgerEntry.amount_cents)
            .select_from(LedgerEntry).outerjoin(Appointment, Appointment.id == LedgerEntry.appointment_id)
            .where(*scope.ledger(), LedgerEntry.kind.in_(("payment", "refund")))
            .order_by(LedgerEntry.created_at, LedgerEntry.id).limit(scope.limit)
        ).all()
    ]


def _collection_rows(session: Session, scope: _Scope) -> list[dict]:
    """The rate's parts: payments over (billed charges - contractual adjustments)."""
    payments_cents = payments(session, scope)
    parts = collection(session, scope, payments_cents)
    billed, adjustments = parts["billed_charges_cents"], parts["contractual_adjustments_cents"]
    return [
        {"item": "Payments received", "amount_cents": payments_cents},
        {"item": "Charges billed (date of service)", "amount_cents": billed},
        {"item": "Contractual adjustments", "amount_cents": adjustments},
        {"item": "Billed charges less contractual adjustments", "amount_cents": billed - adjustments},
    ]


def _ar_rows(session: Session, scope: _Scope) -> list[dict]:
    """Open AR at the range's end, by who owes it (each payer; patients together)."""
    payer_names = dict(session.exec(select(Payer.id, Payer.name)).all())
    rows = session.exec(
        select(LedgerEntry.payer_id, func.sum(LedgerEntry.amount_cents)).select_from(LedgerEntry)
        .outerjoin(Appointment, Appointment.id == LedgerEntry.appointment_id)
        .where(*scope.ledger(before_end_only=True)).group_by(LedgerEntry.payer_id)
    ).all()
    out = [{"owed_by": payer_names.get(pid, "") if pid else "Patients", "amount_cents": int(total or 0)} for pid, total in rows]
    return sorted((r for r in out if r["amount_cents"]), key=lambda r: r["owed_by"])


def shown(column: str, value) -> str:
    """A drill-down cell as the page shows it: dollars for ``*_cents``, one decimal for other
    fractional numbers (minutes, units), the rest as it is."""
    if value is None:
        return ""
    if column.endswith("_cents"):
        return plain(value)
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def to_csv(rows: list[dict]) -> str:
    """Drill-down rows as CSV, each cell as the page shows it: a header from the first row's
    keys (``*_cents`` columns named ``*_dollars``, in dollars)."""
    if not rows:
        return ""
    columns = list(rows[0])
    header = [c.removesuffix("_cents") + "_dollars" if c.endswith("_cents") else c for c in columns]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe(shown(c, row[c])) for c in columns])
    return out.getvalue()


# Downloadable tables besides the drill-down: key -> (file name, [(column, header with its unit)]).
TABLES = {
    "visits_by_period": ("visits-by-period", [("period", "period"), ("visits", "visits"), ("arrivals", "arrivals"),
                                              ("no_shows", "no_shows")]),
    "utilisation_by_provider": ("utilisation-by-provider", [
        ("provider", "provider"), ("booked_minutes", "booked_minutes"), ("available_minutes", "available_minutes"),
        ("utilisation", "utilisation_percent")]),
    "utilisation_by_room": ("utilisation-by-room", [
        ("room", "room"), ("booked_minutes", "booked_minutes"), ("available_minutes", "available_minutes"),
        ("utilisation", "utilisation_percent")]),
}


def table_csv(table: str, rows: list[dict]) -> str:
    """One of the dashboard's tables as CSV, rounded as the page shows it (whole minutes,
    utilisation in per cent to one decimal) with the unit in each header."""
    _, columns = TABLES[table]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([header for _, header in columns])
    for row in rows:
        cells = []
        for column, _ in columns:
            value = row[column]
            if value is None:
                cells.append("")
            elif column == "utilisation":
                cells.append(f"{value * 100:.1f}")
            elif column.endswith("_minutes"):
                cells.append(f"{value:.0f}")
            else:
                cells.append(csv_safe(value))
        writer.writerow(cells)
    return out.getvalue()


# -- what the dashboard offers -----------------------------------------------------------------
PRESETS = {
    "today": "Today", "this_week": "This week", "this_month": "This month", "last_month": "Last month",
    "this_year": "This year", "custom": "Custom dates",
}


def preset_range(preset: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The dates a preset means on ``today`` (weeks start on Monday)."""
    if preset == "today":
        return today, today
    if preset == "this_week":
        monday = today - dt.timedelta(days=today.weekday())
        return monday, monday + dt.timedelta(days=6)
    if preset == "this_month":
        first = today.replace(day=1)
        return first, (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    if preset == "last_month":
        last = today.replace(day=1) - dt.timedelta(days=1)
        return last.replace(day=1), last
    if preset == "this_year":
        return today.replace(month=1, day=1), today.replace(month=12, day=31)
    raise InvalidInput("Choose a period from the list.")


def warm_up(bind, *, now: dt.datetime | None = None) -> dict | None:
    """Compute the dashboard as a manager first sees it (this month, all locations), so that the
    first load after the server starts finds the days changed since the last run rolled up and
    the queries prepared (the app runs it once at start-up). Returns the figures, or None when
    there is no clinic or no rollup yet: filling a whole rollup holds the database's write
    lock for seconds, and at start-up that would hold up every sign-in (the first dashboard
    load, or ``migrate``, fills it)."""
    with Session(bind) as session:
        first_zone = session.exec(select(Location.timezone).order_by(Location.name)).first()
        if first_zone is None or not kpi_rollup.any_done(session):
            return None
        start, end = preset_range("this_month", local_day(now or utcnow(), first_zone))
        return compute_range_kpis(session, KpiFilters(start=start, end=end))


def filter_options(session: Session, *, actor: Actor) -> dict[str, list[tuple[int, str, str]]]:
    """Locations (id, name, time zone), providers and payers (id, name, "") the filters offer."""
    require(actor.role, "kpi.view")
    return {
        "locations": [tuple(r) for r in session.exec(select(Location.id, Location.name, Location.timezone).order_by(Location.name)).all()],
        "providers": [(pid, name, "") for pid, name in session.exec(select(Provider.id, Provider.name).order_by(Provider.name)).all()],
        "payers": [(pid, name, "") for pid, name in session.exec(select(Payer.id, Payer.name).order_by(Payer.name)).all()],
    }


# -- the task inbox's workload (docs/kpi.md "Tasks") ----------------------------------------------
QUEUE_WORDS = {"reception": "Front desk queue", "clinician": "Clinicians' queue", "biller": "Billers' queue",
               "manager": "Managers' queue"}


def task_workload(session: Session, *, actor: Actor, now: dt.datetime | None = None) -> dict:
    """The tasks section, checked for this user (compute_task_workload)."""
    require(actor.role, "kpi.view")
    return compute_task_workload(session, now=now)


def compute_task_workload(session: Session, *, now: dt.datetime | None = None) -> dict:
    """Open and overdue tasks per kind and per person, now (not over the date range: a task's
    backlog is a state, not a flow). Open: status open (snoozed tasks are left out until their
    day, as in every inbox's badge); overdue: open with a due day before today in the clinic's
    zone. Per person: the assignee, or the role's queue for tasks no one has taken."""

    day = today(session, now)
    overdue = func.sum(case((Task.due_on < day, 1), else_=0))
    by_kind = [
        {"name": KIND_LABELS.get(kind, kind), "open": n, "overdue": int(late or 0)}
        for kind, n, late in session.exec(
            select(Task.kind, func.count(Task.id), overdue).where(Task.status == "open").group_by(Task.kind)
        ).all()
    ]
    by_person = []
    for role, name, n, late in session.exec(
        select(Task.queue_role, User.full_name, func.count(Task.id), overdue)
        .outerjoin(User, User.id == Task.assignee_user_id).where(Task.status == "open")
        .group_by(Task.queue_role, User.full_name)
    ).all():
        who = name if name is not None else QUEUE_WORDS.get(role or "", f"{role} queue")
        by_person.append({"name": who, "open": n, "overdue": int(late or 0)})
    merged: dict[str, dict] = {}
    for row in by_person:  # a person's tasks from several queues make one row
        have = merged.setdefault(row["name"], {"name": row["name"], "open": 0, "overdue": 0})
        have["open"] += row["open"]
        have["overdue"] += row["overdue"]
    order = lambda r: (-r["overdue"], -r["open"], r["name"])  # noqa: E731
    return {"day": day.isoformat(), "by_kind": sorted(by_kind, key=order), "by_person": sorted(merged.values(), key=order),
            "open": sum(r["open"] for r in by_kind), "overdue": sum(r["overdue"] for r in by_kind)}
