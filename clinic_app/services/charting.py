"""Visit notes: drafts that autosave, codes, and signing.

Signing is one transaction: the note is locked, the visit becomes ready to bill and
its charges are captured. It happens once; a second attempt (a double tap, a second
tablet) finds the note signed and changes nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import Appointment, AppointmentEvent, Charge, Location, Note, NoteDiagnosis, NoteProcedure
from clinic_app.services import audit, payers
from clinic_app.services.actor import Actor
from clinic_app.services.clock import hhmm, local_day
from clinic_app.services.codes import fee_for, normalise_icd10
from clinic_app.services.errors import (
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NoteAlreadySigned,
    NotFound,
    from_db_error,
)
from clinic_app.services.permissions import require
from clinic_app.services.scheduling import STATUS_LABELS, publish_change

SOAP_FIELDS = ("subjective", "objective", "assessment", "plan")
MAX_FIELD = 20_000
MAX_DIAGNOSES = 12  # a claim holds up to 12
MAX_PROCEDURES = 12
MAX_UNITS = 24
# Visits whose note a clinician may open and write.
CHARTABLE = ("booked", "arrived", "in_session", "ready_to_bill", "billed")


def _own_appointment(session: Session, actor: Actor, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That visit no longer exists.")
    if appointment.provider_id != actor.provider_id:
        # Clinicians see their own patients' visits only (minimum necessary).
        raise NotAllowed("This visit belongs to another clinician.")
    return appointment


def _draft(session: Session, actor: Actor, note_id: int, *, lock: bool = False) -> Note:
    for_write(session)
    require(actor.role, "note.edit")
    query = select(Note).where(Note.id == note_id)
    if lock:
        query = query.with_for_update()
    note = session.exec(query).first()
    if note is None:
        raise NotFound("That note no longer exists.")
    if note.provider_id != actor.provider_id:
        raise NotAllowed("This note belongs to another clinician.")
    if note.signed_at is not None:
        raise NoteAlreadySigned("This note is signed and can no longer be changed.")
    return note


def open_note(session: Session, *, actor: Actor, appointment_id: int) -> Note:
    """The visit's note, created as an empty draft the first time. Audited as a view."""
    for_write(session)
    require(actor.role, "chart.view")
    appointment = _own_appointment(session, actor, appointment_id)
    if appointment.status not in CHARTABLE:
        raise InvalidInput("This visit was cancelled or missed; there is no note to write.")
    note = session.exec(select(Note).where(Note.appointment_id == appointment_id)).first()
    if note is None:
        note = Note(
            appointment_id=appointment_id,
            patient_id=appointment.patient_id,
            provider_id=appointment.provider_id,
        )
        session.add(note)
        try:
            session.flush()
        except IntegrityError:
            # The same note was created a moment ago from another device: use that one.
            session.rollback()
            note = session.exec(select(Note).where(Note.appointment_id == appointment_id)).one()
    audit.record(
        session, actor=actor, action="view", entity="note", entity_id=note.id,
        patient_id=note.patient_id,
    )
    session.commit()
    return note


def save_draft(session: Session, *, actor: Actor, note_id: int, field: str, text: str) -> Note:
    """Autosave one SOAP field of a draft."""
    if field not in SOAP_FIELDS:
        raise InvalidInput(f"Unknown note section {field!r}.")
    text = text or ""
    if len(text) > MAX_FIELD:
        raise InvalidInput(
            f"The {field} section is over {MAX_FIELD:,} characters; shorten it or split it."
        )
    note = _draft(session, actor, note_id, lock=True)
    if getattr(note, field) == text:
        session.rollback()
        return note
    setattr(note, field, text)
    note.updated_at = utcnow()
    session.add(note)
    _commit(session)
    return note


def diagnoses(session: Session, *, note_id: int) -> list[NoteDiagnosis]:
    """A note's diagnoses in claim order."""
    return list(session.exec(select(NoteDiagnosis).where(NoteDiagnosis.note_id == note_id).order_by(NoteDiagnosis.id)))


def procedures(session: Session, *, note_id: int) -> list[NoteProcedure]:
    """A note's procedure lines in entry order."""
    return list(session.exec(select(NoteProcedure).where(NoteProcedure.note_id == note_id).order_by(NoteProcedure.id)))


def add_diagnosis(session: Session, *, actor: Actor, note_id: int, code: str) -> NoteDiagnosis:
    """Add a billable ICD-10-CM code to a draft."""
    code = normalise_icd10(code)
    note = _draft(session, actor, note_id, lock=True)
    existing = diagnoses(session, note_id=note.id)
    if any(d.code == code for d in existing):
        raise InvalidInput(f"{code} is already on this note.")
    if len(existing) >= MAX_DIAGNOSES:
        raise InvalidInput(f"A note can carry at most {MAX_DIAGNOSES} diagnoses.")
    row = NoteDiagnosis(note_id=note.id, code=code)
    session.add(row)
    _commit(session)
    return row


def remove_diagnosis(session: Session, *, actor: Actor, note_id: int, code: str) -> None:
    """Remove a code from a draft."""
    _draft(session, actor, note_id, lock=True)
    row = session.exec(select(NoteDiagnosis).where(NoteDiagnosis.note_id == note_id, NoteDiagnosis.code == code)).first()
    if row is not None:
        session.delete(row)
    _commit(session)


def add_procedure(session: Session, *, actor: Actor, note_id: int, code: str, units: int | str) -> NoteProcedure:
    """Add a procedure code with units to a draft (the code must be on the fee list)."""
    try:
        units = int(str(units).strip())
    except ValueError as exc:
        raise InvalidInput("Units must be a whole number from 1 to 24.") from exc
    if not 1 <= units <= MAX_UNITS:
        raise InvalidInput("Units must be a whole number from 1 to 24.")
    fee = fee_for(session, code)
    note = _draft(session, actor, note_id, lock=True)
    existing = procedures(session, note_id=note.id)
    if any(p.code == fee.code for p in existing):
        raise InvalidInput(f"{fee.code} is already on this note; change its units instead.")
    if len(existing) >= MAX_PROCEDURES:
        raise InvalidInput(f"A note can carry at most {MAX_PROCEDURES} procedure lines.")
    row = NoteProcedure(note_id=note.id, code=fee.code, units=units)
    session.add(row)
    _commit(session)
    return row


def remove_procedure(session: Session, *, actor: Actor, note_id: int, code: str) -> None:
    """Remove a procedure line from a draft."""
    _draft(session, actor, note_id, lock=True)
    row = session.exec(select(NoteProcedure).where(NoteProcedure.note_id == note_id, NoteProcedure.code == code)).first()
    if row is not None:
        session.delete(row)
    _commit(session)


def _commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise (from_db_error(exc) or InvalidInput("That change conflicts with the saved note.")) from exc


def sign_note(session: Session, *, actor: Actor, note_id: int, now: dt.datetime | None = None) -> list[Charge]:
    """Sign a note: lock it, make the visit ready to bill, capture its charges. All or nothing."""
    for_write(session)
    require(actor.role, "note.sign")
    now = now or utcnow()
    note = session.exec(select(Note).where(Note.id == note_id).with_for_update()).first()
    if note is None:
        raise NotFound("That note no longer exists.")
    if note.provider_id != actor.provider_id:
        raise NotAllowed("Only the visit's own clinician can sign this note.")
    if note.signed_at is not None:
        session.rollback()
        raise NoteAlreadySigned("This note is already signed; its charges were captured then.")
    appointment = session.get(Appointment, note.appointment_id)
    if appointment.status != "in_session":
        raise IllegalTransition(
            f"The visit is {STATUS_LABELS[appointment.status]}; start the session before signing."
        )
    if not any((getattr(note, f) or "").strip() for f in SOAP_FIELDS):
        raise InvalidInput("The note is empty; write at least one section before signing.")
    dx = diagnoses(session, note_id=note.id)
    lines = procedures(session, note_id=note.id)
    if not dx:
        raise InvalidInput("Add at least one diagnosis (ICD-10-CM) before signing.")
    if not lines:
        raise InvalidInput("Add at least one procedure code before signing.")

    # Conditional updates: if another device signed first, neither matches and we stop.
    signed = session.execute(
        update(Note).where(Note.id == note.id, Note.signed_at.is_(None)).values(signed_at=now, signed_by_user_id=actor.user_id)
    ).rowcount
    moved = session.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id, Appointment.status == "in_session")
        .values(status="ready_to_bill")
    ).rowcount
    if signed != 1 or moved != 1:
        session.rollback()
        raise NoteAlreadySigned("This note was signed a moment ago on another device.")
    pointers = ",".join(d.code for d in dx[:4])
    # Priced for the payer covering the patient on the date of service (or self-pay).
    service_day = local_day(appointment.starts_at, session.get(Location, appointment.location_id).timezone)
    charges = []
    for line_no, line in enumerate(lines, start=1):
        fee = fee_for(session, line.code)
        price = payers.unit_price(session, fee=fee, patient_id=appointment.patient_id, day=service_day)
        charge = Charge(
            appointment_id=appointment.id,
            note_id=note.id,
            line_no=line_no,
            code=line.code,
            units=line.units,
            unit_price_cents=price,
            amount_cents=price * line.units,
            diagnosis_codes=pointers,
            created_at=now,
        )
        session.add(charge)
        charges.append(charge)
    session.add(
        AppointmentEvent(
            appointment_id=appointment.id, from_status="in_session", to_status="ready_to_bill",
            user_id=actor.user_id, at=now, note="note signed",
        )
    )
    audit.record(
        session, actor=actor, action="sign", entity="note", entity_id=note.id,
        patient_id=note.patient_id, detail=f"{len(charges)} charge lines",
    )
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise NoteAlreadySigned("This note was signed a moment ago on another device.") from exc
    session.refresh(appointment)
    publish_change(session, appointment)
    return charges


def signed_label(note: Note, tz: str) -> str:
    """'Signed 14:05' in the location's time, or ''."""
    return f"Signed {hhmm(note.signed_at, tz)}" if note.signed_at else ""
