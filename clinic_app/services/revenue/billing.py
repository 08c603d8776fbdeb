"""The billing queue: signed visits with their charges, waiting to be billed."""

from __future__ import annotations

from sqlmodel import Session, select

from clinic_app.db import for_write
from clinic_app.models import Appointment, Charge, LedgerEntry, Location, Patient, Provider
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import hhmm, local_day
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import claims


def _row(appointment: Appointment, patient: Patient, provider: Provider, location: Location, charges: list[Charge]) -> dict:
    tz = location.timezone
    return {
        "id": appointment.id,
        "patient_name": f"{patient.last_name}, {patient.first_name}",
        "mrn": patient.mrn,
        "provider_name": provider.name,
        "service_date": local_day(appointment.starts_at, tz).isoformat(),
        "time_label": hhmm(appointment.starts_at, tz),
        "status": appointment.status,
        "status_label": scheduling.STATUS_LABELS[appointment.status],
        "charges": [
            {
                "code": c.code,
                "units": c.units,
                "amount": f"{c.amount_cents / 100:,.2f}",
                "diagnoses": c.diagnosis_codes.replace(",", ", "),
            }
            for c in charges
        ],
        "total_cents": sum(c.amount_cents for c in charges),
        "total": f"{sum(c.amount_cents for c in charges) / 100:,.2f}",
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
    return [_row(*r, charges[r[0].id]) for r in rows]


def queue(session: Session, *, actor: Actor, location_id: int) -> list[dict]:
    """Visits of a location that are ready to bill, oldest first, with their charges."""
    for_write(session)
    require(actor.role, "billing.view")
    rows = _rows(session, [Appointment.location_id == location_id, Appointment.status == "ready_to_bill"])
    audit.record(session, actor=actor, action="view", entity="billing_queue", entity_id=location_id, detail=f"{len(rows)} visits")
    session.commit()
    return rows


def queue_row(session: Session, *, appointment_id: int) -> dict | None:
    """One visit's queue row (for pushing a change), whatever its status."""
    rows = _rows(session, [Appointment.id == appointment_id])
    return rows[0] if rows else None


def mark_billed(session: Session, *, actor: Actor, appointment_id: int) -> Appointment:
    """Bill a ready-to-bill visit to the patient (self-pay): its charges go on their ledger."""
    for_write(session)
    require(actor.role, "billing.mark_billed")
    appointment = session.get(Appointment, appointment_id)
    if appointment is not None and appointment.status == "ready_to_bill":
        charges = session.exec(select(Charge).where(Charge.appointment_id == appointment_id)).all()
        location = session.get(Location, appointment.location_id)
        session.add(
            LedgerEntry(
                patient_id=appointment.patient_id, appointment_id=appointment_id, kind="charge",
                amount_cents=sum(c.amount_cents for c in charges), user_id=actor.user_id,
                service_date=local_day(appointment.starts_at, location.timezone), reason="billed to patient",
            )
        )
        session.flush()
    # Commits the ledger charge with the move to billed (or rolls both back).
    appointment = scheduling.transition(session, actor=actor, appointment_id=appointment_id, to_status="billed")
    claims.announce("visit billed to the patient")  # AR aging changes
    return appointment
