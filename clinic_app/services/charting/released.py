"""Documents a clinician shares with the patient: the visit summary of a signed note, which the
patient then finds under "Documents from the clinic" in the portal (services/portal/care.py).

Only a signed note is shared (a draft may still change); the note's own clinician, or the
clinician who supervises them, shares it and may stop sharing it, with the permission to sign
notes. The PDF is made from the signed note (which the database keeps unchanged) each time the
patient downloads it. Every release, withdrawal and download is audited.

Never commits: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import Appointment, Location, Note, Patient, Provider, ReleasedDocument
from clinic_app.services.charting import charting, codes, history
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.platform.permissions import require

VISIT_SUMMARY = "visit_summary"


@dataclass(frozen=True)
class Sharing:
    """Whether a note's visit summary is shared with the patient, for the chart's button."""

    shared: bool
    since: dt.datetime | None = None


def _visit_words(session: Session, note: Note) -> tuple[str, str, str]:
    """(the visit's local date as words, its ISO date, the clinician's name)."""
    appointment = session.get(Appointment, note.appointment_id)
    location = session.get(Location, appointment.location_id)
    provider = session.get(Provider, note.provider_id)
    when = local(appointment.starts_at, location.timezone)
    return f"{when:%d %B %Y}".lstrip("0"), when.date().isoformat(), provider.name if provider else "your clinician"


def _signed_note(session: Session, actor: Actor, note_id: int) -> Note:
    require(actor.role, "note.sign")
    note = charting.own_or_supervised(session, actor=actor, note_id=note_id, lock=True)  # their own, or a supervisee's
    if note.signed_at is None:
        raise InvalidInput("Sign the note first: only a signed note's summary can be shared with the patient.")
    return note


def _row(session: Session, note_id: int) -> ReleasedDocument | None:
    return session.exec(select(ReleasedDocument).where(ReleasedDocument.note_id == note_id,
                                                       ReleasedDocument.kind == VISIT_SUMMARY)).first()


def share_visit_summary(session: Session, *, actor: Actor, note_id: int,
                        now: dt.datetime | None = None) -> ReleasedDocument:
    """Share a signed note's visit summary with the patient (again, after "Stop sharing")."""
    for_write(session)
    note = _signed_note(session, actor, note_id)
    now = now or utcnow()
    day, _, clinician = _visit_words(session, note)
    row = _row(session, note.id) or ReleasedDocument(patient_id=note.patient_id, note_id=note.id, kind=VISIT_SUMMARY,
                                                     title="", released_by_user_id=actor.user_id, released_at=now)
    if row.id is not None and row.withdrawn_at is None:
        raise InvalidInput("This visit summary is already shared with the patient.")
    row.title = f"Visit summary, {day}, {clinician}"[:120]
    row.released_by_user_id, row.released_at = actor.user_id, now
    row.withdrawn_at, row.withdrawn_by_user_id = None, None
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="release", entity="released_document", entity_id=row.id,
                 patient_id=note.patient_id, detail=f"visit summary of note {note.id}")
    return row


def stop_sharing(session: Session, *, actor: Actor, note_id: int, now: dt.datetime | None = None) -> ReleasedDocument:
    """Take a shared visit summary back: the patient no longer sees it in the portal."""
    for_write(session)
    note = _signed_note(session, actor, note_id)
    row = _row(session, note.id)
    if row is None or row.withdrawn_at is not None:
        raise InvalidInput("This visit summary is not shared with the patient.")
    row.withdrawn_at, row.withdrawn_by_user_id = now or utcnow(), actor.user_id
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="withdraw", entity="released_document", entity_id=row.id,
                 patient_id=note.patient_id, detail=f"visit summary of note {note.id}")
    return row


def sharing(session: Session, *, note_id: int) -> Sharing:
    """Whether the note's visit summary is shared now (the chart reads it with the note)."""
    row = _row(session, note_id)
    return Sharing(True, row.released_at) if row is not None and row.withdrawn_at is None else Sharing(False)


def shared_with(session: Session, *, patient_ids: frozenset[int]) -> list[ReleasedDocument]:
    """The documents shared now with these patients, newest first."""
    return list(session.exec(
        select(ReleasedDocument).where(ReleasedDocument.patient_id.in_(patient_ids or {0}),
                                       ReleasedDocument.withdrawn_at.is_(None))
        .order_by(ReleasedDocument.released_at.desc(), ReleasedDocument.id.desc())
    ).all())


def visit_day(session: Session, *, document: ReleasedDocument) -> str:
    """The visit's date at its location, ISO (the portal's list shows it)."""
    return _visit_words(session, session.get(Note, document.note_id))[1]


def summary_pdf(session: Session, *, document: ReleasedDocument) -> bytes:
    """The visit summary's PDF, made from the signed note: for whom, the visit, who signed it,
    the note's sections, its diagnoses and addenda."""
    note = session.get(Note, document.note_id)
    if note is None or note.signed_at is None:
        raise NotFound("That document is no longer available; please ask the clinic.")
    patient = session.get(Patient, note.patient_id)
    day, _, clinician = _visit_words(session, note)
    signed = charting.signatures(session, note=note)
    lines = [f"For {patient.first_name} {patient.last_name}", f"Visit on {day} with {clinician}",
             f"Signed by {signed['signed_by'] or clinician}"]
    sections = [(heading, text.strip()) for heading, text in (
        ("What you told us", note.subjective), ("What we found", note.objective),
        ("Assessment", note.assessment), ("Plan", note.plan)) if text.strip()]
    diagnoses = [f"{d.code} {codes.describe_icd10(d.code)}".strip() for d in charting.diagnoses(session, note_id=note.id)]
    if diagnoses:
        sections.append(("Diagnoses", "\n".join(diagnoses)))
    sections += [(f"Addendum by {a['author']}", a["text"]) for a in charting.addenda(session, note_id=note.id)]
    return history.printed_document(title="Visit summary", lines=lines, sections=sections,
                                    footer="Questions about this summary? Message the clinic in the portal or call us.")
