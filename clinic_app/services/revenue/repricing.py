"""The price basis of charges, and re-pricing unbilled visits when insurance changes.

A charge is priced at signing from the fee schedule of the payer covering the patient on
the date of service, or at the self-pay rates (``pricing.unit_price``). When the desk
records insurance later (or changes or ends it), the visits it covers that are not billed
yet are priced again from the schedule that now applies: each changed charge gets a
``charge_price`` row (the new price, the price it replaces, which schedule, why, who,
when), its new price, and an audit row, in the same transaction as the coverage change.
Billed visits keep their price (their claim or bill carries it).

The claim scrubber refuses a charge whose latest price came from another schedule than
the claim's payer (``pricing_problems``), so a visit priced as self-pay never goes out on
a claim at the self-pay price. Charges captured before migration 0021 have no recorded
basis; the scrubber cannot judge them and lets them pass until they are re-priced.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import Appointment, Charge, ChargePrice, Coverage, Fee, Location, Patient, Payer
from clinic_app.services.frontdesk.scheduling import publish_change
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local_day
from clinic_app.services.platform.errors import NotFound
from clinic_app.services.platform.money import dollars
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue.pricing import coverage_on, unit_price

# A span of service dates: (first day, last day or None for open-ended).
DaySpan = tuple[dt.date, dt.date | None]


@dataclass
class Repriced:
    """One visit whose charges were priced again."""

    appointment_id: int
    service_date: dt.date
    before_cents: int
    after_cents: int
    schedule: str  # "Acme Health's fee schedule" or "the self-pay rates"




def schedule_words(payer: Payer | None) -> str:
    """The schedule a price came from, in words."""
    return f"{payer.name}'s fee schedule" if payer is not None else "the self-pay rates"


def basis_on(session: Session, *, patient_id: int, day: dt.date) -> Coverage | None:
    """The coverage whose payer prices the patient's visits on ``day`` (None: self-pay)."""
    return coverage_on(session, patient_id=patient_id, day=day)


def record_capture(session: Session, *, charges: list[Charge], coverage: Coverage | None, user_id: int | None,
                   now: dt.datetime) -> None:
    """Record the price basis of charges just captured at signing (the caller's transaction)."""
    session.flush()
    session.add_all(
        ChargePrice(
            charge_id=c.id, payer_id=coverage.payer_id if coverage else None, coverage_id=coverage.id if coverage else None,
            unit_price_cents=c.unit_price_cents, amount_cents=c.amount_cents, reason="priced at signing",
            user_id=user_id, at=now,
        )
        for c in charges
    )


def latest_prices(session: Session, *, charge_ids: list[int]) -> dict[int, ChargePrice]:
    """Each charge's latest pricing row (charges priced before 0021 and never since: absent)."""
    if not charge_ids:
        return {}
    newest = (
        select(func.max(ChargePrice.id)).where(ChargePrice.charge_id.in_(charge_ids)).group_by(ChargePrice.charge_id)
    )
    rows = session.exec(select(ChargePrice).where(ChargePrice.id.in_(newest)))
    return {row.charge_id: row for row in rows}


def pricing_problems(session: Session, *, charges: list[Charge], payer: Payer | None) -> list[str]:
    """Claim lines whose price came from another schedule than the claim's payer's."""
    if payer is None:
        return []
    latest = latest_prices(session, charge_ids=[c.id for c in charges])
    problems = []
    for c in charges:
        row = latest.get(c.id)
        if row is None or row.payer_id == payer.id:
            continue
        priced_by = session.get(Payer, row.payer_id) if row.payer_id else None
        problems.append(
            f"Line {c.line_no} ({c.code}) is priced from {schedule_words(priced_by)} "
            f"({dollars(c.unit_price_cents)} a unit), not {schedule_words(payer)}; re-price the visit "
            "(patient profile, Insurance, \"Re-price unbilled visits\") and claim it again."
        )
    return problems


def _covered(day: dt.date, spans: list[DaySpan]) -> bool:
    return any(start <= day and (end is None or day <= end) for start, end in spans)


def _fee(session: Session, charge: Charge) -> Fee:
    fee = session.exec(select(Fee).where(Fee.code == charge.code)).first()
    # A code no longer on the fee list keeps its price as its standard fee.
    return fee or Fee(code=charge.code, amount_cents=charge.unit_price_cents)


def reprice_visits(
    session: Session, *, actor: Actor, patient_id: int, spans: list[DaySpan] | None, reason: str,
    now: dt.datetime | None = None,
) -> list[Repriced]:
    """Price the unbilled visits of a patient on days in ``spans`` (all days: None) again from
    the schedule that applies now. Joins the caller's transaction; returns what changed."""
    now = now or utcnow()
    visits = session.exec(
        select(Appointment, Location)
        .join(Location, Location.id == Appointment.location_id)
        .where(Appointment.patient_id == patient_id, Appointment.status == "ready_to_bill")
        .order_by(Appointment.starts_at)
        .with_for_update(of=Appointment)
    ).all()
    done: list[Repriced] = []
    for appointment, location in visits:
        day = local_day(appointment.starts_at, location.timezone)
        if spans is not None and not _covered(day, spans):
            continue
        charges = list(session.exec(select(Charge).where(Charge.appointment_id == appointment.id).order_by(Charge.line_no)))
        latest = latest_prices(session, charge_ids=[c.id for c in charges])
        coverage = basis_on(session, patient_id=patient_id, day=day)
        payer = session.get(Payer, coverage.payer_id) if coverage else None
        before = sum(c.amount_cents for c in charges)
        changed = False
        for charge in charges:
            price = unit_price(session, fee=_fee(session, charge), patient_id=patient_id, day=day)
            row = latest.get(charge.id)
            same_basis = row is not None and row.payer_id == (payer.id if payer else None)
            if price == charge.unit_price_cents and (same_basis or row is None):
                continue
            session.add(ChargePrice(
                charge_id=charge.id, payer_id=payer.id if payer else None, coverage_id=coverage.id if coverage else None,
                unit_price_cents=price, amount_cents=price * charge.units, previous_unit_price_cents=charge.unit_price_cents,
                previous_amount_cents=charge.amount_cents, reason=reason[:200], user_id=actor.user_id, at=now,
            ))
            session.flush()  # the database lets the charge change only to its latest recorded price
            if price != charge.unit_price_cents:
                audit.record(
                    session, actor=actor, action="update", entity="charge", entity_id=charge.id, patient_id=patient_id,
                    detail=f"re-priced {charge.code} {charge.unit_price_cents}->{price} a unit: {reason}"[:200],
                )
                charge.unit_price_cents, charge.amount_cents = price, price * charge.units
                session.add(charge)
                session.flush()
            changed = True
        if changed:
            done.append(Repriced(
                appointment_id=appointment.id, service_date=day, before_cents=before,
                after_cents=sum(c.amount_cents for c in charges), schedule=schedule_words(payer),
            ))
    return done


def announce(session: Session, repriced: list[Repriced]) -> None:
    """After the commit: open boards and billing queues show the visits' new totals."""
    for item in repriced:
        publish_change(session, session.get(Appointment, item.appointment_id))


def words(repriced: list[Repriced]) -> str:
    """What re-pricing did, for the message beside the button pressed ("" when nothing)."""
    if not repriced:
        return ""
    before, after = sum(r.before_cents for r in repriced), sum(r.after_cents for r in repriced)
    visits = "1 unbilled visit" if len(repriced) == 1 else f"{len(repriced)} unbilled visits"
    schedules = sorted({r.schedule for r in repriced})
    return f"Re-priced {visits} from {' and '.join(schedules)}: {dollars(before)} -> {dollars(after)}."


def made_at(session: Session, *, patient_id: int, at: dt.datetime) -> list[Repriced]:
    """The re-pricing of a patient's visits done by the change made at ``at`` (for its message)."""
    rows = session.exec(
        select(ChargePrice, Charge, Appointment, Location)
        .join(Charge, Charge.id == ChargePrice.charge_id)
        .join(Appointment, Appointment.id == Charge.appointment_id)
        .join(Location, Location.id == Appointment.location_id)
        .where(Appointment.patient_id == patient_id, ChargePrice.at == at, ChargePrice.previous_amount_cents.is_not(None))
        .order_by(Appointment.starts_at, ChargePrice.id)
    ).all()
    visits: dict[int, Repriced] = {}
    for price, _charge, appointment, location in rows:
        payer = session.get(Payer, price.payer_id) if price.payer_id else None
        item = visits.setdefault(appointment.id, Repriced(
            appointment_id=appointment.id, service_date=local_day(appointment.starts_at, location.timezone),
            before_cents=0, after_cents=0, schedule=schedule_words(payer),
        ))
        item.before_cents += price.previous_amount_cents
        item.after_cents += price.amount_cents
    return list(visits.values())


def reprice_unbilled(session: Session, *, actor: Actor, patient_id: int, now: dt.datetime | None = None) -> list[Repriced]:
    """Price every unbilled visit of a patient again from the schedule that applies now
    (e.g. after a coverage was imported or merged in without re-pricing), in one transaction."""
    for_write(session)
    require(actor.role, "coverage.edit")
    if session.get(Patient, patient_id) is None:
        raise NotFound("That patient no longer exists.")
    repriced = reprice_visits(session, actor=actor, patient_id=patient_id, spans=None,
                              reason="re-priced from the patient's coverage", now=now)
    session.flush()
    announce(session, repriced)
    return repriced
