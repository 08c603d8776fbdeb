"""The billing queue: signed visits with their charges, waiting to be billed.

A visit leaves the queue on a claim (services/revenue/claims.py) or billed to the patient
(self-pay, here). Billing an insured visit to the patient needs a reason, and a visit
billed to the patient by mistake is reopened: its charge is reversed on the ledger and
it is back in the queue, to be claimed.
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
    Charge,
    Claim,
    Coverage,
    LedgerEntry,
    Location,
    Patient,
    Payer,
    Provider,
)
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import hhmm, local_day
from clinic_app.services.platform.errors import IllegalTransition, InvalidInput, NotFound
from clinic_app.services.platform.money import amount
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import claims, pricing, repricing

MAX_REASON = 120  # a ledger entry's reason holds 120 characters


def coverage_words(session: Session, coverage: Coverage | None) -> str:
    """The coverage as a biller names it: "Acme Health, member M100001" ("" for none)."""
    if coverage is None:
        return ""
    payer = session.get(Payer, coverage.payer_id)
    return f"{payer.name}, member {coverage.member_id}"


def _row(session: Session, appointment: Appointment, patient: Patient, provider: Provider, location: Location,
         charges: list[Charge]) -> dict:
    tz = location.timezone
    day = local_day(appointment.starts_at, tz)
    coverage = pricing.coverage_on(session, patient_id=patient.id, day=day)
    return {
        "id": appointment.id,
        "patient_name": f"{patient.last_name}, {patient.first_name}",
        "mrn": patient.mrn,
        "provider_name": provider.name,
        "service_date": day.isoformat(),
        # The active primary coverage on the date of service: such a visit is claimed.
        "coverage": coverage_words(session, coverage),
        "time_label": hhmm(appointment.starts_at, tz),
        "status": appointment.status,
        "status_label": scheduling.STATUS_LABELS[appointment.status],
        "charges": [
            {
                "code": c.code,
                "units": c.units,
                "amount": f"{amount(c.amount_cents)}",
                "diagnoses": c.diagnosis_codes.replace(",", ", "),
            }
            for c in charges
        ],
        "total_cents": sum(c.amount_cents for c in charges),
        "total": f"{amount(sum(c.amount_cents for c in charges))}",
    }


def _rows(session: Session, where) -> list[dict]:
    rows = session.exec(
        select(Appointment, Patient, Provider, Location)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(Provider, Provider.id == Appointment.provider_id)
        .join(Location, Location.id == Appointment.location_id)
        .where(*where)
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    ids = [r[0].id for r in rows]
    charges: dict[int, list[Charge]] = {i: [] for i in ids}
    if ids:
        for c in session.exec(select(Charge).where(Charge.appointment_id.in_(ids)).order_by(Charge.line_no)):
            charges[c.appointment_id].append(c)
    return [_row(session, *r, charges[r[0].id]) for r in rows]


def queue(session: Session, *, actor: Actor, location_id: int) -> list[dict]:
    """Visits of a location that are ready to bill, oldest first, with their charges."""
    for_write(session)
    require(actor.role, "billing.view")
    rows = _rows(session, [Appointment.location_id == location_id, Appointment.status == "ready_to_bill"])
    audit.record(session, actor=actor, action="view", entity="billing_queue", entity_id=location_id, detail=f"{len(rows)} visits")
    session.flush()
    return rows


def queue_row(session: Session, *, appointment_id: int) -> dict | None:
    """One visit's queue row (for pushing a change), whatever its status."""
    rows = _rows(session, [Appointment.id == appointment_id])
    return rows[0] if rows else None


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(what)
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"The reason is too long (at most {MAX_REASON} characters).")
    return reason


def mark_billed(session: Session, *, actor: Actor, appointment_id: int, reason: str = "") -> Appointment:
    """Bill a ready-to-bill visit to the patient (self-pay): its charges go on their ledger.

    A visit the patient's insurance covers is claimed instead; billing it to the patient
    takes a reason (e.g. the patient asked to pay themselves), kept on the ledger entry,
    the visit's history and the audit log.
    """
    for_write(session)
    require(actor.role, "billing.mark_billed")
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That visit no longer exists.")
    location = session.get(Location, appointment.location_id)
    day = local_day(appointment.starts_at, location.timezone)
    reason = (reason or "").strip()
    if appointment.status == "ready_to_bill":
        coverage = pricing.coverage_on(session, patient_id=appointment.patient_id, day=day)
        if coverage is not None:
            reason = _reason(
                reason, f"{coverage_words(session, coverage)} covers this visit: create a claim, "
                "or say why the patient pays it themselves.",
            )
        elif len(reason) > MAX_REASON:
            raise InvalidInput(f"The reason is too long (at most {MAX_REASON} characters).")
        charges = session.exec(select(Charge).where(Charge.appointment_id == appointment_id)).all()
        session.add(
            LedgerEntry(
                patient_id=appointment.patient_id, appointment_id=appointment_id, kind="charge",
                amount_cents=sum(c.amount_cents for c in charges), user_id=actor.user_id, service_date=day,
                reason=f"billed to patient: {reason}"[:MAX_REASON] if reason else "billed to patient",
            )
        )
        session.flush()
        if reason:
            audit.record(session, actor=actor, action="bill_patient", entity="appointment", entity_id=appointment_id,
                         patient_id=appointment.patient_id, detail=f"insured visit billed to the patient: {reason}"[:200])
    # Commits the ledger charge with the move to billed (or rolls both back).
    appointment = scheduling.transition(session, actor=actor, appointment_id=appointment_id, to_status="billed",
                                        reason=reason)
    claims.announce(session, "visit billed to the patient")  # AR aging changes
    return appointment


@dataclass(frozen=True)
class Reopened:
    """A visit back in the queue: what was reversed and how it was priced again (words, or "")."""

    appointment: Appointment
    reversed_cents: int
    repriced: str


def reopen_for_billing(
    session: Session, *, actor: Actor, appointment_id: int, reason: str, now: dt.datetime | None = None,
) -> Reopened:
    """Undo billing a visit to the patient: reverse its self-pay charge and put it back in the queue.

    The ledger keeps the original charge and its reversal (nothing is deleted). The visit is
    priced again from the schedule that applies now (coverage found after it was billed to
    the patient), so that it can be claimed. A visit on a claim is not reopened here: the
    claim is corrected and sent again instead.
    """
    for_write(session)
    require(actor.role, "billing.mark_billed")
    reason = _reason(reason, "Say why the visit is reopened for billing.")
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That visit no longer exists.")
    if appointment.status != "billed":
        raise IllegalTransition(
            f"The visit is {scheduling.STATUS_LABELS[appointment.status]}; only a billed visit can be reopened for billing."
        )
    claim = session.exec(select(Claim).where(Claim.appointment_id == appointment_id).order_by(Claim.id)).first()
    if claim is not None:
        raise IllegalTransition(
            f"The visit is on claim {claim.number} ({claims.STATUS_LABELS[claim.status]}); "
            "correct and resend that claim instead of reopening the visit."
        )
    now = now or utcnow()
    billed = list(session.exec(
        select(LedgerEntry).where(
            LedgerEntry.appointment_id == appointment_id, LedgerEntry.kind == "charge", LedgerEntry.claim_id.is_(None),
            LedgerEntry.payer_id.is_(None), LedgerEntry.reverses_id.is_(None),
        ).order_by(LedgerEntry.id)
    ))
    reversed_ids = set(session.exec(
        select(LedgerEntry.reverses_id).where(LedgerEntry.reverses_id.in_([e.id for e in billed]))
    ))
    reversed_cents = 0
    for entry in billed:
        if entry.id in reversed_ids:
            continue
        reversed_cents += entry.amount_cents
        reversal = LedgerEntry(
            patient_id=entry.patient_id, appointment_id=appointment_id, kind="charge", amount_cents=-entry.amount_cents,
            service_date=entry.service_date, reason=f"reverses #{entry.id}: reopened for billing: {reason}"[:MAX_REASON],
            reverses_id=entry.id, user_id=actor.user_id, created_at=now,
        )
        session.add(reversal)
        session.flush()
        audit.record(session, actor=actor, action="ledger:charge", entity="ledger_entry", entity_id=reversal.id,
                     patient_id=entry.patient_id, detail=f"reverses #{entry.id}")
    changed = session.execute(
        update(Appointment).where(Appointment.id == appointment_id, Appointment.status == "billed")
        .values(status="ready_to_bill")
    ).rowcount
    if changed != 1:
        raise IllegalTransition("Someone else changed this visit meanwhile; reload the page.")
    session.add(AppointmentEvent(appointment_id=appointment_id, from_status="billed", to_status="ready_to_bill",
                                 user_id=actor.user_id, at=now, note=f"reopened for billing: {reason}"[:200]))
    audit.record(session, actor=actor, action="reopen_for_billing", entity="appointment", entity_id=appointment_id,
                 patient_id=appointment.patient_id, detail=reason[:200])
    day = local_day(appointment.starts_at, session.get(Location, appointment.location_id).timezone)
    repriced = [r for r in repricing.reprice_visits(session, actor=actor, patient_id=appointment.patient_id, spans=[(day, day)],
                                                    reason="re-priced when reopened for billing", now=now)
                if r.appointment_id == appointment_id]
    session.flush()
    session.refresh(appointment)
    scheduling.publish_change(session, appointment)  # back in every billing page's queue
    claims.announce(session, "visit reopened for billing")  # AR aging changes
    return Reopened(appointment=appointment, reversed_cents=reversed_cents, repriced=repricing.words(repriced))


def billed_to_patients(session: Session, *, actor: Actor, location_id: int, limit: int = 20) -> list[dict]:
    """A location's visits billed to the patient (on no claim), newest first: what can be reopened."""
    require(actor.role, "billing.view")
    on_claim = select(Claim.appointment_id)
    rows = session.exec(
        select(Appointment, Patient, Provider, Location)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(Provider, Provider.id == Appointment.provider_id)
        .join(Location, Location.id == Appointment.location_id)
        .where(Appointment.location_id == location_id, Appointment.status == "billed", Appointment.id.not_in(on_claim))
        .order_by(Appointment.starts_at.desc(), Appointment.id.desc())
        .limit(limit)
    ).all()
    out = []
    for appointment, patient, _provider, location in rows:
        billed = session.exec(
            select(LedgerEntry.amount_cents).where(LedgerEntry.appointment_id == appointment.id, LedgerEntry.kind == "charge",
                                                   LedgerEntry.claim_id.is_(None), LedgerEntry.payer_id.is_(None))
        ).all()
        day = local_day(appointment.starts_at, location.timezone)
        out.append({
            "id": appointment.id, "patient_name": f"{patient.last_name}, {patient.first_name}", "mrn": patient.mrn,
            "service_date": day.isoformat(), "billed": f"{amount(sum(billed))}",
            "coverage": coverage_words(session, pricing.coverage_on(session, patient_id=patient.id, day=day)),
        })
    return out
