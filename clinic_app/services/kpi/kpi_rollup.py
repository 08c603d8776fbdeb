"""The KPI rollup (kpi_visit_day): visit figures per local day x location x provider x room.

It can never be silently stale: triggers (migration 0012) add a kpi_dirty row for every
appointment, note or charge that is inserted, changed or deleted, in the same transaction
as the change. ``refresh`` runs before the dashboard reads: it recomputes, with one
INSERT ... SELECT aggregate per (location, day), every day that is dirty or has never been
computed (kpi_day_done), then the dashboard sums a few hundred rollup rows instead of up to
hundreds of thousands of appointments. The aggregate uses the very expressions of the direct
queries in services/kpi, so the figures are the same.

Migration 0014 adds, computed with the same days: claim events (kpi_claim_day) and attended
visits in an episode of care (kpi_case_day) with each (location, local day); ledger money
(kpi_money_day: payments, contractual adjustments, billed charges by date of service) with
each ledger UTC day. Distinct claims and episodes do not add up across days, so their rows
carry when the claim's previous adjudication (or denial), or the episode's previous visit,
was: a range counts a claim or an episode at its first row inside the range.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from sqlalchemy import (
    Date,
    and_,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    true,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from clinic_app.db import for_write, session_scope
from clinic_app.models import (
    Appointment,
    CaseVisit,
    Charge,
    Claim,
    ClaimEvent,
    Coverage,
    KpiCaseDay,
    KpiCasePayerDay,
    KpiClaimDay,
    KpiDayDone,
    KpiDirty,
    KpiLedgerDay,
    KpiMoneyDay,
    KpiVisitDay,
    KpiVisitPayerDay,
    LedgerEntry,
    Location,
    Note,
)
from clinic_app.services.kpi.durations import lag_minutes, minutes_between
from clinic_app.services.platform.clock import day_bounds, local_day

ATTENDED = ("arrived", "in_session", "ready_to_bill", "billed")
COMPLETED = ("ready_to_bill", "billed")
HELD = ("booked", *ATTENDED)


def _flag(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def local_date(dialect: str, column, tz: str):
    """The local date, in zone ``tz``, of the UTC time ``column`` (SQLite: the function that
    clinic_app.db registers on every connection)."""
    if dialect == "sqlite":
        return func.clinic_local_date(column, tz)
    return cast(func.timezone(tz, column), Date)


def visit_payer(day):
    """The payer of a visit (``Appointment``) on local day ``day``: the patient's active primary
    coverage in effect that day, as services.revenue.pricing.coverage_on picks it; 0 when none."""
    return func.coalesce(
        select(Coverage.payer_id)
        .where(Coverage.patient_id == Appointment.patient_id, Coverage.priority == 1, Coverage.active == true(),
               Coverage.effective_from <= day, or_(Coverage.effective_to.is_(None), Coverage.effective_to >= day))
        .order_by(Coverage.effective_from.desc()).limit(1).correlate(Appointment).scalar_subquery(),
        0,
    )


def _day_select(dialect: str, location_id: int, day: dt.date, tz: str, *, by_payer: bool = False):
    """The rollup rows of one location's local day, as a SELECT over its appointments: per
    provider and room (kpi_visit_day), or per provider and payer without booked minutes
    (``by_payer``: kpi_visit_payer_day)."""
    start, end = day_bounds(day, tz)
    earlier = aliased(Appointment)
    first_visit = and_(Appointment.status.in_(ATTENDED), ~exists().where(  # as services.kpi._first_visits
        earlier.patient_id == Appointment.patient_id, earlier.starts_at < Appointment.starts_at, earlier.status.in_(ATTENDED)))
    waited = and_(Appointment.arrived_at.is_not(None), Appointment.session_started_at.is_not(None))
    room = func.coalesce(Appointment.room_id, 0)
    visit_charges = (
        select(func.sum(Charge.amount_cents)).where(Charge.appointment_id == Appointment.id).correlate(Appointment).scalar_subquery()
    )
    group = visit_payer(literal(day, Date)) if by_payer else room
    held = func.coalesce(func.sum(case((Appointment.status.in_(HELD), minutes_between(dialect, Appointment.ends_at, Appointment.starts_at)))), 0.0)
    return (
        select(
            literal(location_id), literal(day, Date), Appointment.provider_id, group,
            func.count(), _flag(Appointment.status.in_(COMPLETED)), _flag(Appointment.status.in_(ATTENDED)),
            _flag(Appointment.status == "no_show"),
            _flag(and_(Appointment.status == "cancelled", Appointment.late_cancel == true())),
            _flag(and_(Appointment.status == "cancelled", Appointment.late_cancel == false())),
            *([] if by_payer else [held]),
            _flag(waited),
            func.coalesce(func.sum(case((waited, minutes_between(dialect, Appointment.session_started_at, Appointment.arrived_at)))), 0.0),
            func.count(Note.signed_at),
            func.coalesce(func.sum(case((Note.signed_at.is_not(None), lag_minutes(dialect)))), 0.0),
            func.coalesce(func.sum(visit_charges), 0),
            _flag(first_visit),
        )
        .select_from(Appointment)
        .outerjoin(Note, Note.appointment_id == Appointment.id)  # at most one note per visit
        .where(Appointment.location_id == location_id, Appointment.starts_at >= start, Appointment.starts_at < end)
        .group_by(Appointment.provider_id, literal_column("4"))  # the 4th column (PostgreSQL refuses a correlated payer repeated)
    )


_COLUMNS = [
    "location_id", "day", "provider_id", "room_id", "scheduled", "completed", "arrivals", "no_shows", "late_cancels",
    "advance_cancels", "held_minutes", "wait_count", "wait_minutes", "lag_count", "lag_minutes", "charges_cents", "new_patients",
]
_PAYER_COLUMNS = [{"room_id": "payer_id"}.get(name, name) for name in _COLUMNS if name != "held_minutes"]


ADJUDICATED = ("paid", "denied")


def _claim_day_select(location_id: int, day: dt.date, tz: str):
    """The claim rows of one location's local day: first submissions (as services.kpi's
    _first_submissions: the claim's first 'submitted' event, answered by the next event) and
    adjudications, grouped by the time of the claim's previous adjudication and denial."""
    start, end = day_bounds(day, tz)
    event, earlier, nxt, prev = (aliased(ClaimEvent) for _ in range(4))
    first = and_(event.to_status == "submitted", ~exists().where(
        earlier.claim_id == event.claim_id, earlier.to_status == "submitted", earlier.id < event.id))
    answer = (select(nxt.to_status).where(nxt.claim_id == event.claim_id, nxt.id > event.id)
              .order_by(nxt.id).limit(1).correlate(event).scalar_subquery())

    def previous(statuses):  # the latest earlier (at, id) event of the claim with one of ``statuses``
        # (the status inside the aggregate: a condition on it in WHERE made SQLite read the
        # (to_status, at) index, every paid event, instead of the claim's few events)
        return case((event.to_status.in_(statuses), select(func.max(case((prev.to_status.in_(statuses), prev.at)))).where(
            prev.claim_id == event.claim_id,
            or_(prev.at < event.at, and_(prev.at == event.at, prev.id < event.id))).correlate(event).scalar_subquery()))

    rows = (
        select(Appointment.provider_id.label("provider_id"), Claim.payer_id.label("payer_id"),
               previous(ADJUDICATED).label("prev_adjudicated"), previous(("denied",)).label("prev_denied"),
               case((first, 1), else_=0).label("first"), case((first, answer)).label("answer"),
               case((event.to_status.in_(ADJUDICATED), 1), else_=0).label("adjudicated"),
               case((event.to_status == "denied", 1), else_=0).label("denied"))
        .select_from(event).join(Claim, Claim.id == event.claim_id).join(Appointment, Appointment.id == Claim.appointment_id)
        .where(Appointment.location_id == location_id, event.at >= start, event.at < end,
               or_(event.to_status.in_(ADJUDICATED), first))
    ).subquery()
    return (
        select(literal(location_id), literal(day, Date), rows.c.provider_id, rows.c.payer_id, rows.c.prev_adjudicated,
               rows.c.prev_denied, func.sum(rows.c.first), func.count(rows.c.answer),
               func.coalesce(func.sum(case((rows.c.answer.in_(("accepted", "paid")), 1), else_=0)), 0),
               func.sum(rows.c.adjudicated), func.sum(rows.c.denied))
        .group_by(rows.c.provider_id, rows.c.payer_id, rows.c.prev_adjudicated, rows.c.prev_denied)
    )


_CLAIM_COLUMNS = ["location_id", "day", "provider_id", "payer_id", "prev_adjudicated_at", "prev_denied_at", "first_submitted",
                  "answered", "clean", "adjudicated", "denied"]


def _case_day_rows(session: Session, location_id: int, day: dt.date, tz: str, zones: dict[int, str]) -> tuple[list[dict], list[dict]]:
    """The kpi_case_day rows of one location's local day: its attended visits in an episode,
    counted by provider and by the local day of the episode's previous attended visit
    (anywhere, at this location, with this provider, both), in the order (local day, start, id);
    and its kpi_case_payer_day rows: the same per visit payer, the previous visit being the
    episode's previous one with the same payer."""
    start, end = day_bounds(day, tz)
    cases = list(session.exec(
        select(CaseVisit.case_id).join(Appointment, Appointment.id == CaseVisit.appointment_id)
        .where(Appointment.location_id == location_id, Appointment.starts_at >= start, Appointment.starts_at < end,
               Appointment.status.in_(ATTENDED))
    ).all())
    visits: dict[int, list] = defaultdict(list)
    patients: set[int] = set()
    for i in range(0, len(cases), 500):
        # The episodes' visits by case_visit.case_id; the status is checked here (a condition on
        # it in SQL made SQLite read every attended visit by the status index instead).
        for case_id, visit_id, starts_at, lid, pid, status, patient_id in session.exec(
            select(CaseVisit.case_id, Appointment.id, Appointment.starts_at, Appointment.location_id, Appointment.provider_id,
                   Appointment.status, Appointment.patient_id)
            .join(Appointment, Appointment.id == CaseVisit.appointment_id).where(CaseVisit.case_id.in_(cases[i:i + 500]))
        ).all():
            if status in ATTENDED:
                visits[case_id].append((local_day(starts_at, zones[lid]), starts_at, visit_id, lid, pid, patient_id))
                patients.add(patient_id)
    payer_of = _payers_by_day(session, patients)
    counts: Counter = Counter()
    by_payer: Counter = Counter()
    for episode in visits.values():
        last: dict = {}  # the local day of the latest visit so far: anywhere, per location, provider, both
        for local, starts_at, _, lid, pid, patient_id in sorted(episode):
            payer = payer_of(patient_id, local)
            if lid == location_id and start <= starts_at < end:
                counts[(pid, last.get("any"), last.get(("location", lid)), last.get(("provider", pid)),
                        last.get(("both", lid, pid)))] += 1
                by_payer[(pid, payer, last.get((payer, "any")), last.get((payer, "location", lid)),
                          last.get((payer, "provider", pid)), last.get((payer, "both", lid, pid)))] += 1
            last.update({"any": local, ("location", lid): local, ("provider", pid): local, ("both", lid, pid): local,
                         (payer, "any"): local, (payer, "location", lid): local, (payer, "provider", pid): local,
                         (payer, "both", lid, pid): local})
    rows = [
        {"location_id": location_id, "day": day, "provider_id": pid, "prev_any": a, "prev_location": loc, "prev_provider": p,
         "prev_both": b, "visits": n}
        for (pid, a, loc, p, b), n in counts.items()
    ]
    payer_rows = [
        {"location_id": location_id, "day": day, "provider_id": pid, "payer_id": payer, "prev_any": a, "prev_location": loc,
         "prev_provider": p, "prev_both": b, "visits": n}
        for (pid, payer, a, loc, p, b), n in by_payer.items()
    ]
    return rows, payer_rows


def _payers_by_day(session: Session, patients: set[int]):
    """``payer_of(patient_id, local_day)``: the payer ``visit_payer`` gives a visit that day."""
    spans: dict[int, list] = defaultdict(list)
    ordered = sorted(patients)
    for i in range(0, len(ordered), 500):
        for patient_id, payer_id, starts, ends in session.exec(
            select(Coverage.patient_id, Coverage.payer_id, Coverage.effective_from, Coverage.effective_to)
            .where(Coverage.patient_id.in_(ordered[i:i + 500]), Coverage.priority == 1, Coverage.active == true())
            .order_by(Coverage.effective_from.desc())
        ).all():
            spans[patient_id].append((starts, ends, payer_id))

    def payer_of(patient_id: int, day: dt.date) -> int:
        return next((payer for starts, ends, payer in spans.get(patient_id, ())
                     if starts <= day and (ends is None or ends >= day)), 0)

    return payer_of


def recompute_day(session: Session, *, location_id: int, day: dt.date, tz: str, zones: dict[int, str] | None = None) -> None:
    """Replace one location's day in the rollup (visits, claims, episodes) by the aggregate of its rows now."""
    dialect = session.get_bind().dialect.name
    for table in (KpiVisitDay, KpiVisitPayerDay, KpiClaimDay, KpiCaseDay, KpiCasePayerDay):
        session.exec(delete(table).where(table.location_id == location_id, table.day == day))
    session.exec(insert(KpiVisitDay).from_select(_COLUMNS, _day_select(dialect, location_id, day, tz)))
    session.exec(insert(KpiVisitPayerDay).from_select(_PAYER_COLUMNS, _day_select(dialect, location_id, day, tz, by_payer=True)))
    session.exec(insert(KpiClaimDay).from_select(_CLAIM_COLUMNS, _claim_day_select(location_id, day, tz)))
    if zones is None:
        zones = dict(session.exec(select(Location.id, Location.timezone)).all())
    case_rows, case_payer_rows = _case_day_rows(session, location_id, day, tz, zones)
    if case_rows:
        session.execute(insert(KpiCaseDay), case_rows)
    if case_payer_rows:
        session.execute(insert(KpiCasePayerDay), case_payer_rows)
    if session.get(KpiDayDone, (location_id, day)) is None:
        session.add(KpiDayDone(location_id=location_id, day=day))
        session.flush()


PAID = ("payment", "refund")  # services.kpi.payments


def _money_day_select(day: dt.date):
    """kpi_money_day's rows of one UTC day: payments and contractual adjustments made that day,
    charges billed for that date of service, per visit location, provider and payer (0: none)."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
    keys = (func.coalesce(Appointment.location_id, 0).label("location_id"), func.coalesce(Appointment.provider_id, 0).label("provider_id"),
            func.coalesce(LedgerEntry.payer_id, 0).label("payer_id"))

    def part(paid, adjusted, billed, *conditions):
        return (select(*keys, paid.label("paid"), adjusted.label("adjusted"), billed.label("billed"))
                .select_from(LedgerEntry).outerjoin(Appointment, Appointment.id == LedgerEntry.appointment_id).where(*conditions))

    amount, zero = LedgerEntry.amount_cents, literal(0)
    rows = union_all(
        part(case((LedgerEntry.kind.in_(PAID), amount), else_=0), case((LedgerEntry.kind == "adjustment", amount), else_=0), zero,
             LedgerEntry.kind.in_((*PAID, "adjustment")), LedgerEntry.created_at >= start,
             LedgerEntry.created_at < start + dt.timedelta(days=1)),
        part(zero, zero, amount, LedgerEntry.kind == "charge", LedgerEntry.service_date == day),
    ).subquery()
    return (select(literal(day, Date), rows.c.location_id, rows.c.provider_id, rows.c.payer_id,
                   func.sum(rows.c.paid), func.sum(rows.c.adjusted), func.sum(rows.c.billed))
            .group_by(rows.c.location_id, rows.c.provider_id, rows.c.payer_id))


def recompute_ledger_day(session: Session, *, day: dt.date) -> None:
    """Replace one UTC day's ledger totals (per payer; 0 = patients) by the sum of its entries
    now, and its money rows (kpi_money_day)."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
    payer = func.coalesce(LedgerEntry.payer_id, 0)
    session.exec(delete(KpiLedgerDay).where(KpiLedgerDay.day == day))
    session.exec(insert(KpiLedgerDay).from_select(
        ["day", "payer_id", "amount_cents"],
        select(literal(day, Date), payer, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.created_at >= start, LedgerEntry.created_at < start + dt.timedelta(days=1)).group_by(payer),
    ))
    session.exec(delete(KpiMoneyDay).where(KpiMoneyDay.day == day))
    session.exec(insert(KpiMoneyDay).from_select(
        ["day", "location_id", "provider_id", "payer_id", "paid_cents", "adjusted_cents", "billed_cents"], _money_day_select(day)))
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


def ledger_days_exact(session: Session, *, first: dt.date, last: dt.date) -> bool:
    """Whether, as ``session`` sees it, the ledger rollups hold the UTC days ``first``..``last``, unchanged since."""
    todo, _ = stale_days(session, {}, first, last, ledger_days=(first, last))
    return not any(lid == LEDGER and first <= day <= last for lid, day in todo)


def stale_days(
    session: Session, zones: dict[int, str], start: dt.date, end: dt.date, *, ledger_before: dt.date | None = None,
    ledger_days: tuple[dt.date, dt.date] | None = None,
) -> tuple[set[tuple[int, dt.date]], list[int]]:
    """(location, day) pairs to recompute before reading ``start``..``end`` (those of the range
    never computed, and every computed day with a dirty visit; with ``ledger_before``, the
    ledger days before it never computed; with ``ledger_days``, the ledger days of that span
    never computed), and the dirty rows read."""
    all_zones = dict(session.exec(select(Location.id, Location.timezone)).all())
    done = set(session.exec(
        select(KpiDayDone.location_id, KpiDayDone.day)
        .where(KpiDayDone.location_id.in_(list(zones)), KpiDayDone.day >= start, KpiDayDone.day <= end)
    ).all())
    todo = {(lid, start + dt.timedelta(days=i)) for lid in zones for i in range((end - start).days + 1)} - done
    if ledger_before is not None:
        todo |= _ledger_days_missing(session, ledger_before)
    if ledger_days is not None:
        first, last = ledger_days
        done_ledger = set(session.exec(
            select(KpiDayDone.day).where(KpiDayDone.location_id == LEDGER, KpiDayDone.day >= first, KpiDayDone.day <= last)
        ).all())
        todo |= {(LEDGER, first + dt.timedelta(days=i)) for i in range((last - first).days + 1)} - {(LEDGER, d) for d in done_ledger}
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


def any_done(session: Session) -> bool:
    """Whether any day of the rollup is computed (not: a new database or one just migrated)."""
    return session.exec(select(KpiDayDone.day).limit(1)).first() is not None


def refresh(bind, *, location_id: int | None, start: dt.date, end: dt.date, ledger_before: dt.date | None = None,
            ledger_days: tuple[dt.date, dt.date] | None = None) -> None:
    """Make the rollup exact for the location's (or every location's) days ``start``..``end``
    and for every dirty day, in a transaction of its own (committed by session_scope): the rollup
    is a cache of committed facts, refreshed apart from the dashboard's reads so that SQLite's
    write lock is not held while they run (tests/test_transactions_owned.py allows this one)."""
    with session_scope(bind) as session:
        zones = dict(session.exec(select(Location.id, Location.timezone)).all())
        if location_id is not None:
            zones = {lid: tz for lid, tz in zones.items() if lid == location_id}
        if any_done(session):
            todo, dirty_ids = stale_days(session, zones, start, end, ledger_before=ledger_before, ledger_days=ledger_days)
            if not todo and not dirty_ids:
                return
        for_write(session)
        if session.get_bind().dialect.name == "postgresql":  # one refresher at a time (SQLite: for_write's lock)
            session.exec(select(func.pg_advisory_xact_lock(70012)))
        if not any_done(session):
            # Nothing computed yet (a new or just migrated database, or a bulk load): no dirty
            # row can matter, and there may be millions. Dropped before any day is computed, so
            # a change committed from here on keeps its own row; the days read it when computed.
            session.exec(delete(KpiDirty))
        todo, dirty_ids = stale_days(session, zones, start, end, ledger_before=ledger_before, ledger_days=ledger_days)  # again, locked
        all_zones = dict(session.exec(select(Location.id, Location.timezone)).all())
        for lid, day in sorted(todo):
            if lid == LEDGER:
                recompute_ledger_day(session, day=day)
            else:
                recompute_day(session, location_id=lid, day=day, tz=all_zones[lid], zones=all_zones)
        for i in range(0, len(dirty_ids), 500):
            session.exec(delete(KpiDirty).where(KpiDirty.id.in_(dirty_ids[i:i + 500])))
        session.flush()


def is_exact(session: Session, *, zones: dict[int, str], start: dt.date, end: dt.date) -> bool:
    """Whether, as ``session`` sees the database, the rollup holds every day of the range and
    no visit of it changed since: read in the caller's own transaction, so a caller whose
    snapshot predates the refresh (or a change committed since) gets False, not old figures."""
    todo, _ = stale_days(session, zones, start, end)
    return not any(lid in zones and start <= day <= end for lid, day in todo)
