"""Clinicians' charting set-up (admin): who is a therapy assistant (their services carry
CQ or CO) and who supervises an assistant's or student's notes (co-signature)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from clinic_app.db import for_write
from clinic_app.models import Appointment, ClinicianSupervision, Note, NoteCosignature, Provider
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.platform.permissions import require

ASSISTANT_KINDS = {"": "Not an assistant", "PTA": "Physical therapist assistant (CQ)", "OTA": "Occupational therapy assistant (CO)"}


@dataclass
class RosterRow:
    id: int
    name: str
    discipline: str
    assistant_kind: str
    supervisor_id: int | None
    supervisor_name: str


def roster(session: Session, *, actor: Actor) -> list[RosterRow]:
    """Active providers with their assistant kind and supervisor."""
    require(actor.role, "clinician.setup")
    providers = list(session.exec(select(Provider).where(Provider.active).order_by(Provider.name)))
    names = {p.id: p.name for p in providers}
    supervisors = dict(session.exec(select(ClinicianSupervision.provider_id, ClinicianSupervision.supervisor_provider_id)).all())
    return [
        RosterRow(id=p.id, name=p.name, discipline=p.discipline, assistant_kind=p.assistant_kind,
                  supervisor_id=supervisors.get(p.id), supervisor_name=names.get(supervisors.get(p.id), ""))
        for p in providers
    ]


def _provider(session: Session, provider_id: int) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None or not provider.active:
        raise NotFound("That clinician is not on the clinic's list.")
    return provider


def set_assistant_kind(session: Session, *, actor: Actor, provider_id: int, kind: str) -> Provider:
    """Mark a provider as a physical or occupational therapy assistant (or not). Charges
    captured from then on carry CQ/CO; charges already captured are final and unchanged."""
    for_write(session)
    require(actor.role, "clinician.setup")
    kind = (kind or "").strip().upper()
    if kind not in ASSISTANT_KINDS:
        raise InvalidInput("Choose PTA, OTA, or not an assistant.")
    provider = _provider(session, provider_id)
    provider.assistant_kind = kind
    session.add(provider)
    audit.record(session, actor=actor, action="update", entity="provider", entity_id=provider.id,
                 detail=f"assistant kind: {kind or 'none'}")
    session.flush()
    return provider


def awaiting_count(session: Session, *, provider_id: int) -> int:
    """Signed notes of a provider still waiting for their supervisor's co-signature."""
    return session.exec(
        select(func.count(Note.id))
        .join(Appointment, Appointment.id == Note.appointment_id)
        .outerjoin(NoteCosignature, NoteCosignature.note_id == Note.id)
        .where(Note.provider_id == provider_id, Note.signed_at.is_not(None), NoteCosignature.id.is_(None),
               Appointment.status == "in_session")
    ).one()


def set_supervisor(session: Session, *, actor: Actor, provider_id: int, supervisor_provider_id: int | None) -> None:
    """Give an assistant or student a supervising clinician (or none). Refused while any of
    their signed notes waits for the current supervisor's co-signature, so no note is left
    unbillable or passed to someone who did not supervise that care."""
    for_write(session)
    require(actor.role, "clinician.setup")
    provider = _provider(session, provider_id)
    row = session.exec(select(ClinicianSupervision).where(ClinicianSupervision.provider_id == provider.id)).first()
    current = row.supervisor_provider_id if row else None
    if supervisor_provider_id == current:
        return
    if supervisor_provider_id is not None:
        supervisor = _provider(session, supervisor_provider_id)
        if supervisor.id == provider.id:
            raise InvalidInput(f"{provider.name} cannot supervise themselves.")
        if session.exec(select(ClinicianSupervision).where(ClinicianSupervision.provider_id == supervisor.id)).first():
            raise InvalidInput(f"{supervisor.name} is supervised themselves; choose a clinician who signs on their own.")
        if session.exec(select(ClinicianSupervision).where(ClinicianSupervision.supervisor_provider_id == provider.id)).first():
            raise InvalidInput(f"{provider.name} supervises others; a supervisor cannot also be supervised.")
    waiting = awaiting_count(session, provider_id=provider.id) if row else 0
    if waiting:
        raise InvalidInput(
            f"{waiting} signed note(s) of {provider.name} await co-signature by {session.get(Provider, current).name}; "
            "they must be co-signed before the supervisor changes."
        )
    if row is not None and supervisor_provider_id is None:
        session.delete(row)
    else:
        row = row or ClinicianSupervision(provider_id=provider.id, supervisor_provider_id=supervisor_provider_id)
        row.supervisor_provider_id = supervisor_provider_id
        session.add(row)
    audit.record(session, actor=actor, action="update", entity="clinician_supervision", entity_id=provider.id,
                 detail=f"supervisor: {supervisor_provider_id or 'none'}")
    session.flush()
