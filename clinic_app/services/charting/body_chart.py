"""The body chart: regions of a front and a back figure marked with a symptom and a 0-10
intensity, stored per note (locked with it) and compared with the last signed note."""

from __future__ import annotations

from sqlmodel import Session, select

from clinic_app.models import Appointment, BodyMark, Note
from clinic_app.services.charting.charting import commit_note, editable_note
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput

SYMPTOMS = ("pain", "stiffness", "numbness", "tingling", "weakness", "swelling")

# Region key -> its name in words. Keys end in _f (front) or _b (back); the drawing of each
# region lives in components/body_chart.py.
_PAIRED = {
    "shoulder": "shoulder", "arm": "upper arm", "forearm": "forearm and hand", "hip": "hip", "thigh": "thigh",
    "knee": "knee", "leg": "lower leg", "foot": "ankle and foot",
}
_BACK_PAIRED = {
    "scapula": "shoulder blade", "arm": "upper arm", "forearm": "forearm and hand", "buttock": "buttock",
    "thigh": "hamstring", "knee": "back of knee", "calf": "calf", "heel": "heel",
}
REGIONS: dict[str, str] = {
    "head_f": "Head (front)", "neck_f": "Neck (front)", "chest_f": "Chest", "abdomen_f": "Abdomen",
    **{f"{side[0]}_{k}_f": f"{side.title()} {v} (front)" for k, v in _PAIRED.items() for side in ("right", "left")},
    "head_b": "Head (back)", "neck_b": "Neck (back)", "upper_back_b": "Upper back", "lower_back_b": "Lower back",
    **{f"{side[0]}_{k}_b": f"{side.title()} {v} (back)" for k, v in _BACK_PAIRED.items() for side in ("right", "left")},
}


def marks(session: Session, *, note_id: int) -> list[BodyMark]:
    """A note's marks in region order."""
    order = list(REGIONS)
    rows = list(session.exec(select(BodyMark).where(BodyMark.note_id == note_id)))
    return sorted(rows, key=lambda m: order.index(m.region) if m.region in order else len(order))


def describe(mark: BodyMark) -> str:
    """'Right knee (front): pain 6/10'."""
    return f"{REGIONS.get(mark.region, mark.region)}: {mark.symptom} {mark.intensity}/10"


def mark_region(session: Session, *, actor: Actor, note_id: int, region: str, symptom: str, intensity: int | str) -> BodyMark:
    """Mark (or re-mark) a region of a draft's body chart."""
    if region not in REGIONS:
        raise InvalidInput("Tap a region of the figure first.")
    if symptom not in SYMPTOMS:
        raise InvalidInput(f"Choose the symptom: {', '.join(SYMPTOMS)}.")
    try:
        value = int(str(intensity).strip())
    except ValueError:
        value = -1
    if not 0 <= value <= 10:
        raise InvalidInput("Intensity is a whole number from 0 to 10.")
    note = editable_note(session, actor=actor, note_id=note_id)
    row = session.exec(select(BodyMark).where(BodyMark.note_id == note.id, BodyMark.region == region)).first()
    row = row or BodyMark(note_id=note.id, region=region, symptom=symptom, intensity=value)
    row.symptom, row.intensity = symptom, value
    session.add(row)
    commit_note(session)
    return row


def clear_region(session: Session, *, actor: Actor, note_id: int, region: str) -> None:
    """Take the mark off a region of a draft."""
    note = editable_note(session, actor=actor, note_id=note_id)
    row = session.exec(select(BodyMark).where(BodyMark.note_id == note.id, BodyMark.region == region)).first()
    if row is not None:
        session.delete(row)
    commit_note(session)


def last_visit_marks(session: Session, *, note: Note) -> tuple[str, list[BodyMark]]:
    """The marks of the patient's previous signed note with this clinician, for comparison:
    (the visit's date and time in UTC as ISO text, or '' if none; its marks)."""
    here = session.get(Appointment, note.appointment_id)
    row = session.exec(
        select(Note, Appointment)
        .join(Appointment, Appointment.id == Note.appointment_id)
        .where(Note.patient_id == note.patient_id, Note.provider_id == note.provider_id, Note.id != note.id,
               Note.signed_at.is_not(None), Appointment.starts_at < here.starts_at)
        .order_by(Appointment.starts_at.desc())
    ).first()
    if row is None:
        return "", []
    previous, appointment = row
    return appointment.starts_at.isoformat(), marks(session, note_id=previous.id)
