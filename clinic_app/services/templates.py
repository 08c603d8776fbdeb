"""Note templates: per discipline and visit kind, in SOAP or DAP form, with structured
fields of kinds text, number, choice, scale and checklist.

The templates below ship with the app; the note's free-text sections stay as they are
(a DAP note writes its Data in the first section and has no Objective). Field values
are stored per note (``note_field``) and lock with the note when it is signed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlmodel import Session, select

from clinic_app.models import Appointment, AppointmentType, NoteField, NoteForm, Provider
from clinic_app.services.actor import Actor
from clinic_app.services.charting import _commit, editable_note
from clinic_app.services.errors import InvalidInput

KINDS = ("text", "number", "choice", "scale", "checklist")
MAX_TEXT = 2_000


@dataclass(frozen=True)
class TemplateField:
    key: str
    label: str
    section: str  # subjective / objective / assessment / plan
    kind: str
    options: tuple[str, ...] = ()
    low: int = 0
    high: int = 10
    unit: str = ""


@dataclass(frozen=True)
class Template:
    code: str
    name: str
    discipline: str  # "" = any
    visit_kinds: tuple[str, ...]  # appointment type names; () = any
    form: str  # "SOAP" or "DAP"
    fields: tuple[TemplateField, ...] = field(default_factory=tuple)

    @property
    def section_labels(self) -> dict[str, str]:
        if self.form == "DAP":
            return {"subjective": "Data", "objective": "", "assessment": "Assessment", "plan": "Plan"}
        return {"subjective": "Subjective", "objective": "Objective", "assessment": "Assessment", "plan": "Plan"}


_INTERVENTIONS = ("Therapeutic exercise", "Manual therapy", "Neuromuscular re-education", "Gait training", "Modalities")
TEMPLATES = {
    t.code: t
    for t in (
        Template(
            code="SOAP", name="SOAP note (free text)", discipline="", visit_kinds=(), form="SOAP",
        ),
        Template(
            code="PT-EVAL", name="Physiotherapy initial evaluation (SOAP)", discipline="physiotherapy",
            visit_kinds=("Initial evaluation", "Re-evaluation"), form="SOAP",
            fields=(
                TemplateField("mechanism", "Mechanism of injury", "subjective", "text"),
                TemplateField("pain_now", "Pain now (0-10)", "subjective", "scale", low=0, high=10),
                TemplateField("rom_deg", "Active range of motion", "objective", "number", low=0, high=180, unit="degrees"),
                TemplateField("strength", "Strength (manual muscle test)", "objective", "choice",
                              options=("5/5", "4/5", "3/5", "2/5", "1/5", "0/5")),
                TemplateField("potential", "Rehabilitation potential", "assessment", "choice", options=("Good", "Fair", "Poor")),
                TemplateField("frequency", "Frequency and duration", "plan", "text"),
            ),
        ),
        Template(
            code="PT-DAILY", name="Physiotherapy daily note (SOAP)", discipline="physiotherapy",
            visit_kinds=("Treatment",), form="SOAP",
            fields=(
                TemplateField("pain_now", "Pain now (0-10)", "subjective", "scale", low=0, high=10),
                TemplateField("hep", "Home exercises done", "subjective", "choice",
                              options=("Daily", "Most days", "Rarely", "Not started")),
                TemplateField("rom_deg", "Active range of motion", "objective", "number", low=0, high=180, unit="degrees"),
                TemplateField("interventions", "Interventions", "objective", "checklist", options=_INTERVENTIONS),
                TemplateField("tolerance", "Tolerated treatment", "assessment", "choice", options=("Well", "Fair", "Poorly")),
                TemplateField("next", "Next visit", "plan", "text"),
            ),
        ),
        Template(
            code="PSY-DAP", name="Psychotherapy session (DAP)", discipline="psychotherapy", visit_kinds=(), form="DAP",
            fields=(
                TemplateField("mood", "Mood", "subjective", "choice", options=("Euthymic", "Depressed", "Anxious", "Irritable")),
                TemplateField("distress", "Distress (0-10)", "subjective", "scale", low=0, high=10),
                TemplateField("risk", "Risk screen", "assessment", "checklist",
                              options=("No suicidal or homicidal ideation", "Passive suicidal ideation",
                                       "Active suicidal ideation", "Homicidal ideation")),
                TemplateField("homework", "Homework", "plan", "text"),
            ),
        ),
    )
}


def template(code: str) -> Template:
    """A template by code; InvalidInput if there is none."""
    found = TEMPLATES.get((code or "").strip().upper())
    if found is None:
        raise InvalidInput(f"{code or 'That'} is not one of the clinic's note templates.")
    return found


def templates_for(session: Session, *, appointment_id: int) -> list[Template]:
    """The templates that fit a visit (its clinician's discipline and its kind), best first."""
    appointment = session.get(Appointment, appointment_id)
    discipline = session.get(Provider, appointment.provider_id).discipline
    kind = session.get(AppointmentType, appointment.appointment_type_id).name

    def fit(t: Template) -> int:
        return (2 if t.discipline == discipline else 0) + (1 if kind in t.visit_kinds else 0)

    usable = [t for t in TEMPLATES.values() if t.discipline in ("", discipline)]
    return sorted(usable, key=lambda t: (-fit(t), t.code))


def form_of(session: Session, *, note_id: int) -> Template:
    """The template a note is written with (plain SOAP until one is chosen)."""
    row = session.exec(select(NoteForm).where(NoteForm.note_id == note_id)).first()
    return TEMPLATES.get(row.template_code, TEMPLATES["SOAP"]) if row else TEMPLATES["SOAP"]


def values(session: Session, *, note_id: int) -> dict[str, str]:
    """The note's structured field values by key (checklists as JSON lists)."""
    return {f.key: f.value for f in session.exec(select(NoteField).where(NoteField.note_id == note_id))}


def use_template(session: Session, *, actor: Actor, note_id: int, code: str) -> Template:
    """Write a draft with a template. Values of fields the new template also has are kept."""
    chosen = template(code)
    note = editable_note(session, actor=actor, note_id=note_id)
    row = session.exec(select(NoteForm).where(NoteForm.note_id == note.id)).first() or NoteForm(note_id=note.id, template_code="")
    if chosen.form == "DAP" and (note.objective or "").strip():
        session.rollback()
        raise InvalidInput("A DAP note has no Objective section: move that text to Data first, then choose the template.")
    row.template_code = chosen.code
    session.add(row)
    _commit(session)
    return chosen


def _clean(spec: TemplateField, value) -> str:
    if spec.kind == "checklist":
        picked = [str(v) for v in (value if isinstance(value, list | tuple) else json.loads(value or "[]"))]
        unknown = [v for v in picked if v not in spec.options]
        if unknown:
            raise InvalidInput(f"{spec.label}: {unknown[0]!r} is not one of its choices.")
        return json.dumps([o for o in spec.options if o in picked])
    text = str(value if value is not None else "").strip()
    if text == "":
        return ""
    if spec.kind in ("number", "scale"):
        try:
            number = float(text) if spec.kind == "number" else int(text)
        except ValueError:
            number = None
        if number is None or not spec.low <= number <= spec.high:
            whole = "a whole number" if spec.kind == "scale" else "a number"
            raise InvalidInput(f"{spec.label}: enter {whole} from {spec.low} to {spec.high}{' ' + spec.unit if spec.unit else ''}.")
        return f"{number:g}"
    if spec.kind == "choice":
        if text not in spec.options:
            raise InvalidInput(f"{spec.label}: choose one of {', '.join(spec.options)}.")
        return text
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{spec.label}: over {MAX_TEXT:,} characters; shorten it.")
    return text


def save_field(session: Session, *, actor: Actor, note_id: int, key: str, value) -> str:
    """Save one structured field of a draft, checked against its kind; returns the stored value."""
    note = editable_note(session, actor=actor, note_id=note_id)
    chosen = form_of(session, note_id=note.id)
    spec = next((f for f in chosen.fields if f.key == key), None)
    if spec is None:
        session.rollback()
        raise InvalidInput(f"The {chosen.name} template has no field {key!r}.")
    try:
        stored = _clean(spec, value)
    except InvalidInput:
        session.rollback()
        raise
    row = session.exec(select(NoteField).where(NoteField.note_id == note.id, NoteField.key == key)).first()
    if row is None:
        row = NoteField(note_id=note.id, key=key, value=stored)
    row.value = stored
    session.add(row)
    _commit(session)
    return stored
