"""The KPI rollup (kpi_visit_day): visit figures per local day x location x provider x room.

It can never be silently stale: triggers (migration 0012) add a kpi_dirty row for every
appointment, note or charge that is inserted, changed or deleted, in the same transaction
as the change. ``refresh`` runs before the dashboard reads: it recomputes, with one
INSERT ... SELECT aggregate per (location, day), every day that is dirty or has never been
computed (kpi_day_done), then the dashboard sums a few hundred rollup rows instead of up to
hundreds of thousands of appointments. The aggregate uses the very expressions of the direct
queries in services/kpi, so the figures are the same.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, and_, case, delete, exists, false, func, insert, literal, true
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from clinic_app.db import for_write
from clinic_app.models import (
    Appointment,
    Charge,
    KpiDayDone,
    KpiDirty,
    KpiLedgerDay,
    KpiVisitDay,
    LedgerEntry,
    Location,
    Note,
)
from clinic_app.services.clock import day_bounds, local_day

ATTENDED = ("arrived", "in_session", "ready_to_bill", "billed")
COMPLETED = ("ready_to_bill", "billed")
HELD = ("booked", *ATTENDED)


def _flag(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _day_select(dialect: str, location_id: int, day: dt.date, tz: str):
    """The rollup rows of one location's local day, as a SELECT over its appointments."""
    from clinic_app.services.kpi import _lag_minutes, _minutes_between

    start, end = day_bounds(day, tz)
    earlier = aliased(Appointment)
    first_visit = and_(Appointment.status.in_(ATTENDED), ~exists().where(  # as services.kpi._first_visits
        earlier.patient_id == Appointment.patient_id, earlier.starts_at < Appointment.starts_at, earlier.status.in_(ATTENDED)))
    waited = and_(Appointment.arrived_at.is_not(None), Appointment.session_started_at.is_not(None))
    room = func.coalesce(Appointment.room_id, 0)
    visit_charges = (
        select(func.sum(Charge.amount_cents)).where(Charge.appointment_id == Appointment.id).correlate(Appointment).scalar_subquery()
    )
    return (
        select(
            literal(location_id), literal(day, Date), Appointment.provider_id, room,
            func.count(), _flag(Appointment.status.in_(COMPLETED)), _flag(Appointment.status.in_(ATTENDED)),
            _flag(Appointment.status == "no_show"),
            _flag(and_(Appointment.status == "cancelled", Appointment.late_cancel == true())),
            _flag(and_(Appointment.status == "cancelled", Appointment.late_cancel == false())),
            func.coalesce(func.sum(case((Appointment.status.in_(HELD), _minutes_between(dialect, Appointment.ends_at, Appointment.starts_at)))), 0.0),
            _flag(waited),
            func.coalesce(func.sum(case((waited, _minutes_between(dialect, Appointment.session_started_at, Appointment.arrived_at)))), 0.0),
            func.count(Note.signed_at),
            func.coalesce(func.sum(case((Note.signed_at.is_not(None), _lag_minutes(dialect)))), 0.0),
            func.coalesce(func.sum(visit_charges), 0),
            _flag(first_visit),
        )
        .select_from(Appointment)
        .outerjoin(Note, Note.appointment_id == Appointment.id)  # at most one note per visit
        .where(Appointment.location_id == location_id, Appointment.starts_at >= start, Appointment.starts_at < end)
        .group_by(Appointment.provider_id, room)
    )


_COLUMNS = [
    "location_id", "day", "provider_id", "room_id", "scheduled", "completed", "arrivals", "no_shows", "late_cancels",
    "advance_cancels", "held_minutes", "wait_count", "wait_minutes", "lag_count", "lag_minutes", "charges_cents", "new_patients",
]


def recompute_day(session: Session, *, location_id: int, day: dt.date, tz: str) -> None:
    """Replace one location's day in the rollup by the aggregate of its visits now."""
    dialect = session.get_bind().dialect.name
    session.exec(delete(KpiVisitDay).where(KpiVisitDay.location_id == location_id, KpiVisitDay.day == day))
    session.exec(insert(KpiVisitDay).from_select(_COLUMNS, _day_select(dialect, location_id, day, tz)))
    if session.get(KpiDayDone, (location_id, day)) is None:
        session.add(KpiDayDone(location_id=location_id, day=day))
        session.flush()


def recompute_ledger_day(session: Session, *, day: dt.date) -> None:
    """Replace one UTC day's ledger totals (per payer; 0 = patients) by the sum of its entries now."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
    payer = func.coalesce(LedgerEntry.payer_id, 0)
    session.exec(delete(KpiLedgerDay).where(KpiLedgerDay.day == day))
    session.exec(insert(KpiLedgerDay).from_select(
        ["day", "payer_id", "amount_cents"],
        select(literal(day, Date), payer, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.created_at >= start, LedgerEntry.created_at < start + dt.timedelta(days=1)).group_by(payer),
    ))
    if session.get(KpiDayDone, (LEDGER, day)) is None:
        session.add(KpiDayDone(location_id=LEDGER, day=day))
        session.flush()


LEDGER = 0  # the kpi_day_done / kpi_dirty location of ledger days (UTC)


def _ledger_days_missing(session: Session, before: dt.date) -> set[tuple[int, dt.date]]:
    """Ledger days from the first entry to ``before`` (excluded) never computed."""
    first = session.exec(select(func.min(LedgerEntry.created_at))).one()
    if first is None:
        return set()
    first_day = first.astimezone(dt.UTC).date()
    done = set(session.exec(
        select(KpiDayDone.day).where(KpiDayDone.location_id == LEDGER, KpiDayDone.day >= first_day, KpiDayDone.day < before)
    ).all())
    return {(LEDGER, first_day + dt.timedelta(days=i)) for i in range((before - first_day).days)} - {(LEDGER, d) for d in done}


def ledger_exact(session: Session, *, before: dt.date) -> bool:
    """Whether, as ``session`` sees it, kpi_ledger_day holds every UTC day before ``before``, unchanged since."""
    todo, _ = stale_days(session, {}, before, before - dt.timedelta(days=1), ledger_before=before)
    return not any(lid == LEDGER and day < before for lid, day in todo)


def stale_days(
    session: Session, zones: dict[int, str], start: dt.date, end: dt.date, *, ledger_before: dt.date | None = None
) -> tuple[set[tuple[int, dt.date]], list[int]]:
    """(location, day) pairs to recompute before reading ``start``..``end`` (those of the range
    never computed, and every computed day with a dirty visit; with ``ledger_before``, the
    ledger days before it never computed), and the dirty rows read."""
    all_zones = dict(session.exec(select(Location.id, Location.timezone)).all())
    done = set(session.exec(
        select(KpiDayDone.location_id, KpiDayDone.day)
        .where(KpiDayDone.location_id.in_(list(zones)), KpiDayDone.day >= start, KpiDayDone.day <= end)
    ).all())
    todo = {(lid, start + dt.timedelta(days=i)) for lid in zones for i in range((end - start).days + 1)} - done
    if ledger_before is not None:
        todo |= _ledger_days_missing(session, ledger_before)
    dirty_ids = []
    dirty_days: dict[int, set[dt.date]] = {}
    for row_id, lid, at in session.exec(select(KpiDirty.id, KpiDirty.location_id, KpiDirty.at)).all():
        dirty_ids.append(row_id)
        if lid == LEDGER:
            dirty_days.setdefault(lid, set()).add(at.astimezone(dt.UTC).date())
        elif lid in all_zones:
            dirty_days.setdefault(lid, set()).add(local_day(at, all_zones[lid]))
    for lid, days in dirty_days.items():
        # A dirty day matters only once computed (one never computed is computed when read).
        computed = set(session.exec(
            select(KpiDayDone.day).where(KpiDayDone.location_id == lid, KpiDayDone.day >= min(days), KpiDayDone.day <= max(days))
        ).all())
        todo |= {(lid, day) for day in days & computed}
    return todo, dirty_ids


def refresh(bind, *, location_id: int | None, start: dt.date, end: dt.date, ledger_before: dt.date | None = None) -> None:
    """Make the rollup exact for the location's (or every location's) days ``start``..``end``
    and for every dirty day, in a transaction of its own (committed)."""
    with Session(bind) as session:
        zones = dict(session.exec(select(Location.id, Location.timezone)).all())
        if location_id is not None:
            zones = {lid: tz for lid, tz in zones.items() if lid == location_id}
        todo, dirty_ids = stale_days(session, zones, start, end, ledger_before=ledger_before)
        if not todo and not dirty_ids:
            return
        for_write(session)
        if session.get_bind().dialect.name == "postgresql":  # one refresher at a time (SQLite: for_write's lock)
            session.exec(select(func.pg_advisory_xact_lock(70012)))
        todo, dirty_ids = stale_days(session, zones, start, end, ledger_before=ledger_before)  # again, under the write lock
        all_zones = dict(session.exec(select(Location.id, Location.timezone)).all())
        for lid, day in sorted(todo):
            if lid == LEDGER:
                recompute_ledger_day(session, day=day)
            else:
                recompute_day(session, location_id=lid, day=day, tz=all_zones[lid])
        for i in range(0, len(dirty_ids), 500):
            session.exec(delete(KpiDirty).where(KpiDirty.id.in_(dirty_ids[i:i + 500])))
        session.commit()


def is_exact(session: Session, *, zones: dict[int, str], start: dt.date, end: dt.date) -> bool:
    """Whether, as ``session`` sees the database, the rollup holds every day of the range and
    no visit of it changed since: read in the caller's own transaction, so a caller whose
    snapshot predates the refresh (or a change committed since) gets False, not old figures."""
    todo, _ = stale_days(session, zones, start, end)
    return not any(lid in zones and start <= day <= end for lid, day in todo)
