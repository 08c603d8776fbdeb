"""Revenue reports: AR aging, clean-claim rate, denial rate by reason, payments by
period, each exportable as CSV. Every figure is derived from the ledger and the claim
history; nothing here is stored.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import func
from sqlmodel import Session, select

from clinic_app.models import Adjustment, Claim, ClaimEvent, LedgerEntry, LinePosting, Patient, Payer
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local_day
from clinic_app.services.platform.money import plain
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue.era import CARC_WORDS

BUCKETS = ("0-30", "31-60", "61-90", "90+")


def _bucket(age_days: int) -> str:
    if age_days <= 30:
        return "0-30"
    if age_days <= 60:
        return "31-60"
    if age_days <= 90:
        return "61-90"
    return "90+"


def ar_aging(session: Session, *, actor: Actor, as_of: dt.date) -> dict[str, list[dict]]:
    """Open balances by payer and by patient, aged by date of service.

    Entries not tied to a visit (a patient's payment on account) show as "unapplied".
    """
    require(actor.role, "billing.reports")
    rows = session.exec(
        select(LedgerEntry.payer_id, LedgerEntry.patient_id, LedgerEntry.service_date, func.sum(LedgerEntry.amount_cents))
        .group_by(LedgerEntry.payer_id, LedgerEntry.patient_id, LedgerEntry.service_date)
    ).all()
    payer_names = {p.id: p.name for p in session.exec(select(Payer))}
    patient_ids = {patient_id for payer_id, patient_id, _, _ in rows if payer_id is None}
    patients = {
        p.id: f"{p.last_name}, {p.first_name} ({p.mrn})"
        for p in session.exec(select(Patient).where(Patient.id.in_(patient_ids)))
    } if patient_ids else {}
    tables: dict[str, dict[str, dict]] = {"by_payer": {}, "by_patient": {}}
    for payer_id, patient_id, service_date, total in rows:
        if not total:
            continue
        if payer_id is None:
            table, name = tables["by_patient"], patients[patient_id]
        else:
            table, name = tables["by_payer"], payer_names[payer_id]
        row = table.setdefault(name, {"name": name, **dict.fromkeys(BUCKETS, 0), "unapplied": 0, "total": 0})
        column = "unapplied" if service_date is None else _bucket((as_of - service_date).days)
        row[column] += int(total)
        row["total"] += int(total)
    return {key: sorted((r for r in table.values() if r["total"] or any(r[b] for b in BUCKETS)), key=lambda r: r["name"]) for key, table in tables.items()}


def _events(session: Session) -> dict[int, list[ClaimEvent]]:
    by_claim: dict[int, list[ClaimEvent]] = {}
    for event in session.exec(select(ClaimEvent).order_by(ClaimEvent.claim_id, ClaimEvent.id)):
        by_claim.setdefault(event.claim_id, []).append(event)
    return by_claim


def clean_claim_rate(session: Session, *, actor: Actor, start: dt.datetime, end: dt.datetime) -> dict:
    """Claims first submitted in [start, end) and answered: the share accepted or paid first time.

    Claims not yet answered are counted apart (``pending``), not as failures.
    """
    require(actor.role, "billing.reports")
    clean = answered = pending = 0
    for events in _events(session).values():
        submitted = [i for i, e in enumerate(events) if e.to_status == "submitted"]
        if not submitted or not (start <= events[submitted[0]].at < end):
            continue
        following = events[submitted[0] + 1:]
        if not following:
            pending += 1
            continue
        answered += 1
        clean += following[0].to_status in ("accepted", "paid")
    return {"clean": clean, "answered": answered, "pending": pending, "rate": clean / answered if answered else None}


def denial_rate(session: Session, *, actor: Actor, start: dt.datetime, end: dt.datetime) -> dict:
    """Denied / adjudicated claims in [start, end) (by the time of the answer), and denials by CARC reason."""
    require(actor.role, "billing.reports")
    adjudicated: set[int] = set()
    denied: set[int] = set()
    for claim_id, events in _events(session).items():
        for e in events:
            if e.to_status in ("paid", "denied") and start <= e.at < end:
                adjudicated.add(claim_id)
                if e.to_status == "denied":
                    denied.add(claim_id)
    reasons: dict[str, set[int]] = {}
    if denied:
        for claim_id, group, reason in session.exec(
            select(LinePosting.claim_id, Adjustment.group_code, Adjustment.reason_code)
            .join(LinePosting, LinePosting.id == Adjustment.line_posting_id)
            .where(LinePosting.claim_id.in_(denied), Adjustment.group_code != "PR")
        ):
            reasons.setdefault(f"{group}-{reason}", set()).add(claim_id)
    by_reason = [
        {"reason": code, "words": CARC_WORDS.get(code.split("-", 1)[1], ""), "claims": len(ids),
         "share_of_denials": len(ids) / len(denied)}
        for code, ids in sorted(reasons.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    return {
        "adjudicated": len(adjudicated), "denied": len(denied),
        "rate": len(denied) / len(adjudicated) if adjudicated else None, "by_reason": by_reason,
    }


def payments_by_period(
    session: Session, *, actor: Actor, start: dt.date, end: dt.date, grain: str = "month", tz: str = "America/New_York",
) -> list[dict]:
    """Money received per day, week (from Monday) or month in the clinic's time zone,
    from insurance and from patients, net of reversals and refunds."""
    require(actor.role, "billing.reports")
    if grain not in ("day", "week", "month"):
        grain = "month"
    # A day either side in UTC holds every local day of the range, whatever the zone.
    low = dt.datetime.combine(start - dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    high = dt.datetime.combine(end + dt.timedelta(days=2), dt.time(0), tzinfo=dt.UTC)
    rows = session.exec(
        select(LedgerEntry.created_at, LedgerEntry.method, LedgerEntry.amount_cents)
        .where(LedgerEntry.kind.in_(("payment", "refund")), LedgerEntry.created_at >= low, LedgerEntry.created_at < high)
    ).all()
    periods: dict[str, dict] = {}
    for created_at, method, cents in rows:
        day = local_day(created_at, tz)
        if not (start <= day <= end):
            continue
        if grain == "day":
            key = day.isoformat()
        elif grain == "week":
            key = (day - dt.timedelta(days=day.weekday())).isoformat()
        else:
            key = day.strftime("%Y-%m")
        row = periods.setdefault(key, {"period": key, "insurance": 0, "patient": 0, "total": 0})
        column = "insurance" if method == "insurance" else "patient"
        row[column] -= cents
        row["total"] -= cents
    return [periods[k] for k in sorted(periods)]


def claims_by_status(session: Session, *, actor: Actor) -> dict[str, int]:
    """How many claims are in each status."""
    require(actor.role, "billing.view")
    return dict(session.exec(select(Claim.status, func.count()).group_by(Claim.status)).all())


def to_csv(rows: list[dict], columns: list[str], *, money_columns: tuple[str, ...] = ()) -> str:
    """Rows as CSV text with a header; money columns in dollars (1234.50)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([f"{plain(row[c])}" if c in money_columns else csv_safe(row[c]) for c in columns])
    return out.getvalue()


def csv_safe(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    # A cell starting with = + - @ would run as a formula in a spreadsheet.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def aging_csv(session: Session, *, actor: Actor, as_of: dt.date, by: str = "payer") -> str:
    """The AR aging report as CSV, by payer or by patient."""
    report = ar_aging(session, actor=actor, as_of=as_of)
    money = (*BUCKETS, "unapplied", "total")
    return to_csv(report["by_patient" if by == "patient" else "by_payer"], ["name", *money], money_columns=money)


def payments_csv(rows: list[dict]) -> str:
    """Payments by period (``payments_by_period``) as CSV."""
    money = ("insurance", "patient", "total")
    return to_csv(rows, ["period", *money], money_columns=money)
