"""Note templates: per discipline and visit kind, in SOAP or DAP form, with structured
fields of kinds text, number, choice, scale, checklist and body chart.

The templates below ship with the app (version 0); an admin edits them, or adds new ones,
and every save is a new version (``note_template``, never changed: database rule). A note
is pinned to the version it was written with (``note_form.template_version``), so editing
or retiring a template never changes a note already written. The note's free-text
sections stay as they are (a DAP note writes its Data in the first section and has no
Objective). Field values are stored per note (``note_field``) and lock with the signed note.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from sqlmodel import Session, select

from clinic_app.db import for_write
from clinic_app.models import Appointment, AppointmentType, Note, NoteField, NoteForm, NoteTemplate, Provider
from clinic_app.services.charting.charting import commit_note, editable_note
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput
from clinic_app.services.platform.permissions import require

KINDS = ("text", "number", "choice", "scale", "checklist", "body_chart")
KIND_WORDS = {
    "text": "Text", "number": "Number", "choice": "Choice (pick one)", "scale": "Scale (row of buttons)",
    "checklist": "Checklist (tick any)", "body_chart": "Body chart",
}
SECTIONS = ("subjective", "objective", "assessment", "plan")
FORMS = ("SOAP", "DAP")
MAX_TEXT = 2_000
MAX_FIELDS = 40
MAX_OPTIONS = 20
CODE_RE = re.compile(r"^[A-Z][A-Z0-9-]{1,23}$")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


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
    version: int = 0  # 0 = as shipped in code; 1, 2, ... = admin-saved versions
    retired: bool = False
    labels: tuple[tuple[str, str], ...] = ()  # the admin's own section names, if any

    @property
    def section_labels(self) -> dict[str, str]:
        return labels_for(self.form, dict(self.labels))


def labels_for(form: str, own: dict[str, str] | None = None) -> dict[str, str]:
    """The four note sections' names in a form, with an admin's own names where given."""
    if form == "DAP":
        labels = {"subjective": "Data", "objective": "", "assessment": "Assessment", "plan": "Plan"}
    else:
        labels = {"subjective": "Subjective", "objective": "Objective", "assessment": "Assessment", "plan": "Plan"}
    for section, label in (own or {}).items():
        if section in labels and labels[section] and (label or "").strip():
            labels[section] = label.strip()
    return labels


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



# -- versions ---------------------------------------------------------------------------
def _from_row(row: NoteTemplate) -> Template:
    return Template(
        code=row.code, name=row.name, discipline=row.discipline, visit_kinds=tuple(json.loads(row.visit_kinds)),
        form=row.form, version=row.version, retired=row.retired,
        labels=tuple(sorted(json.loads(row.section_labels).items())),
        fields=tuple(
            TemplateField(f["key"], f["label"], f["section"], f["kind"], tuple(f.get("options", ())), int(f.get("low", 0)),
                          int(f.get("high", 10)), f.get("unit", ""))
            for f in json.loads(row.fields)
        ),
    )


def catalogue(session: Session) -> dict[str, Template]:
    """Every template's current version by code (built-in ones an admin has not edited as
    shipped), retired ones included."""
    current = dict(TEMPLATES)
    for row in session.exec(select(NoteTemplate).order_by(NoteTemplate.code, NoteTemplate.version)):
        current[row.code] = _from_row(row)
    return current


def template(session: Session, code: str) -> Template:
    """A template's current version by code; InvalidInput if there is none or it is retired."""
    code = (code or "").strip().upper()
    found = catalogue(session).get(code)
    if found is None:
        raise InvalidInput(f"{code or 'That'} is not one of the clinic's note templates.")
    if found.retired:
        raise InvalidInput(f"The {found.name} template is retired; choose another.")
    return found


def _version(session: Session, code: str, version: int | None) -> Template:
    if not version:
        return TEMPLATES.get(code, TEMPLATES["SOAP"])
    row = session.exec(select(NoteTemplate).where(NoteTemplate.code == code, NoteTemplate.version == version)).first()
    return _from_row(row) if row else TEMPLATES["SOAP"]


def templates_for(session: Session, *, appointment_id: int) -> list[Template]:
    """The templates that fit a visit (its clinician's discipline and its kind), best first."""
    appointment = session.get(Appointment, appointment_id)
    discipline = session.get(Provider, appointment.provider_id).discipline
    kind = session.get(AppointmentType, appointment.appointment_type_id).name

    def fit(t: Template) -> int:
        return (2 if t.discipline == discipline else 0) + (1 if kind in t.visit_kinds else 0)

    usable = [t for t in catalogue(session).values() if t.discipline in ("", discipline) and not t.retired]
    return sorted(usable, key=lambda t: (-fit(t), t.code))


def form_of(session: Session, *, note_id: int) -> Template:
    """The template version a note is written with (plain SOAP until one is chosen)."""
    row = session.exec(select(NoteForm).where(NoteForm.note_id == note_id)).first()
    return _version(session, row.template_code, row.template_version) if row else TEMPLATES["SOAP"]


def values(session: Session, *, note_id: int) -> dict[str, str]:
    """The note's structured field values by key (checklists as JSON lists)."""
    return {f.key: f.value for f in session.exec(select(NoteField).where(NoteField.note_id == note_id))}


def use_template(session: Session, *, actor: Actor, note_id: int, code: str) -> Template:
    """Write a draft with a template's current version. Values of fields it also has are kept."""
    chosen = template(session, code)
    note = editable_note(session, actor=actor, note_id=note_id)
    row = session.exec(select(NoteForm).where(NoteForm.note_id == note.id)).first() or NoteForm(note_id=note.id, template_code="")
    if chosen.form == "DAP" and (note.objective or "").strip():
        raise InvalidInput("A DAP note has no Objective section: move that text to Data first, then choose the template.")
    row.template_code, row.template_version = chosen.code, chosen.version or None
    session.add(row)
    commit_note(session)
    return chosen


# -- admin editing ----------------------------------------------------------------------
def listing(session: Session, *, actor: Actor, discipline: str = "", visit_kind: str = "") -> list[Template]:
    """Current templates for the admin, optionally those usable by a discipline and a visit kind."""
    require(actor.role, "template.edit")
    shown = []
    for t in sorted(catalogue(session).values(), key=lambda t: (t.retired, t.discipline, t.name)):
        if discipline and t.discipline not in ("", discipline):
            continue
        if visit_kind and t.visit_kinds and visit_kind not in t.visit_kinds:
            continue
        shown.append(t)
    return shown


def _slug(label: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:36] or "field"
    return slug if slug[0].isalpha() else f"f_{slug}"[:36]


def _whole(value, what: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{what}: enter a whole number.") from None


def _check_field(n: int, raw: dict, form: str, labels: dict[str, str]) -> TemplateField:
    label = str(raw.get("label") or "").strip()
    where = f"Field {n}" + (f" ({label})" if label else "")
    if not label:
        raise InvalidInput(f"{where}: give it a label.")
    if len(label) > 80:
        raise InvalidInput(f"{where}: a label is at most 80 characters.")
    section = str(raw.get("section") or "").strip().lower()
    if section not in SECTIONS:
        raise InvalidInput(f"{where}: choose the note section it belongs to.")
    if form == "DAP" and section == "objective":
        raise InvalidInput(f"{where}: a DAP note has no Objective section; put it under Data, Assessment or Plan.")
    kind = str(raw.get("kind") or "").strip()
    if kind not in KINDS:
        raise InvalidInput(f"{where}: choose its kind ({', '.join(KIND_WORDS.values())}).")
    options: tuple[str, ...] = ()
    low, high, unit = 0, 10, ""
    if kind in ("choice", "checklist"):
        given = raw.get("options") or ()
        given = given.splitlines() if isinstance(given, str) else given
        options = tuple(o.strip() for o in given if o and o.strip())
        if len(options) < 2:
            raise InvalidInput(f"{where}: a {kind} needs at least two options, one per line.")
        if len(options) > MAX_OPTIONS:
            raise InvalidInput(f"{where}: at most {MAX_OPTIONS} options.")
        if len(set(options)) != len(options):
            raise InvalidInput(f"{where}: an option is listed twice.")
        if any(len(o) > 60 for o in options):
            raise InvalidInput(f"{where}: an option is at most 60 characters.")
    if kind in ("number", "scale"):
        low, high = _whole(raw.get("low", 0), f"{where}, lowest"), _whole(raw.get("high", 10), f"{where}, highest")
        if not low < high:
            raise InvalidInput(f"{where}: the lowest value must be below the highest.")
        if kind == "scale" and not (low >= 0 and high <= 10):
            raise InvalidInput(f"{where}: a scale runs within 0 to 10 (one button per point).")
        if kind == "number" and not (low >= -100_000 and high <= 100_000):
            raise InvalidInput(f"{where}: keep the range within -100,000 to 100,000.")
    if kind == "number":
        unit = str(raw.get("unit") or "").strip()
        if len(unit) > 20:
            raise InvalidInput(f"{where}: a unit is at most 20 characters.")
    key = str(raw.get("key") or "").strip()
    return TemplateField(key if KEY_RE.match(key) else "", label, section, kind, options, low, high, unit)


def _spec(t: Template) -> dict:
    """What an admin edits, comparable between versions."""
    return {
        "name": t.name, "discipline": t.discipline, "visit_kinds": list(t.visit_kinds), "form": t.form,
        "labels": t.section_labels, "retired": t.retired,
        "fields": [
            {"key": f.key, "label": f.label, "section": f.section, "kind": f.kind, "options": list(f.options),
             "low": f.low, "high": f.high, "unit": f.unit}
            for f in t.fields
        ],
    }


def _add_version(session: Session, *, actor: Actor, spec: dict, code: str, version: int, detail: str) -> Template:
    row = NoteTemplate(
        code=code, version=version, name=spec["name"], discipline=spec["discipline"], visit_kinds=json.dumps(spec["visit_kinds"]),
        form=spec["form"], section_labels=json.dumps(spec["labels"]), fields=json.dumps(spec["fields"]), retired=spec["retired"],
        created_by_user_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="update", entity="note_template", entity_id=row.id, detail=f"{code} v{version}: {detail}")
    commit_note(session)
    return _from_row(row)


def check_edit(current, *, code: str, expected_version: int | None, what: str, name: str) -> None:
    """The rules of saving a versioned form (a note template, an intake form): a new one
    (``expected_version`` None) takes a free code; an edit names the version it was opened at,
    and is refused if someone saved another since. ``current``: the code's newest version, or None;
    ``what``: "a template", "an intake form"; ``name``: the current version's name in words."""
    if expected_version is None:
        if current is not None:
            raise InvalidInput(f"The clinic already has {what} {code}; open it to edit it, or choose another code.")
        return
    if current is None:
        raise InvalidInput(f"There is no {what.split(' ', 1)[1]} {code} to edit.")
    if current.version != expected_version:
        raise InvalidInput(
            f"{name} was saved by someone else since you opened it (it is now version {current.version}); "
            "reopen it to see their changes, then make yours again."
        )


def _current_for_edit(session: Session, code: str, expected_version: int | None) -> Template | None:
    current = catalogue(session).get(code)
    check_edit(current, code=code, expected_version=expected_version, what="a template",
               name=current.name if current else "")
    return current


def save_template(
    session: Session, *, actor: Actor, code: str, name: str, discipline: str, visit_kinds: list[str], form: str,
    section_labels: dict[str, str], fields: list[dict], expected_version: int | None,
) -> tuple[Template, bool]:
    """Save a template as its next version (admin); (template, whether a version was added).

    ``expected_version`` is the version the admin opened (None for a new template): if
    someone saved another since, nothing is written. Notes keep the version they were
    written with; new notes get this one.
    """
    for_write(session)
    require(actor.role, "template.edit")
    code = (code or "").strip().upper()
    if not CODE_RE.match(code):
        raise InvalidInput("A template code is 2-24 capital letters, digits or dashes, starting with a letter (e.g. OT-EVAL).")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Give the template a name.")
    if len(name) > 120:
        raise InvalidInput("A template name is at most 120 characters.")
    if form not in FORMS:
        raise InvalidInput("Choose the note's form: SOAP (Subjective, Objective, Assessment, Plan) or DAP (Data, Assessment, Plan).")
    discipline = (discipline or "").strip().lower()
    if len(discipline) > 40:
        raise InvalidInput("A discipline is at most 40 characters.")
    known_kinds = set(session.exec(select(AppointmentType.name)))
    kinds = [k.strip() for k in visit_kinds if k and k.strip()]
    unknown = [k for k in kinds if k not in known_kinds]
    if unknown:
        raise InvalidInput(f"{unknown[0]!r} is not one of the clinic's visit kinds.")
    labels = {s: str((section_labels or {}).get(s) or "").strip() for s in SECTIONS}
    if any(len(v) > 40 for v in labels.values()):
        raise InvalidInput("A section name is at most 40 characters.")
    if len(fields) > MAX_FIELDS:
        raise InvalidInput(f"A template has at most {MAX_FIELDS} fields.")
    shown_labels = labels_for(form, labels)
    checked = [_check_field(n, raw, form, shown_labels) for n, raw in enumerate(fields, start=1)]
    if sum(f.kind == "body_chart" for f in checked) > 1:
        raise InvalidInput("A template has one body chart at most.")
    seen_labels: set[tuple[str, str]] = set()
    for f in checked:
        if (f.section, f.label.lower()) in seen_labels:
            raise InvalidInput(f"Two fields in {shown_labels[f.section]} are named {f.label!r}; rename one.")
        seen_labels.add((f.section, f.label.lower()))
    # Keys: an edited field keeps its key (so values carry over between versions); a new one gets one from its label.
    used: set[str] = set()
    keyed = []
    for f in checked:
        key = f.key if f.key and f.key not in used else ""
        if not key:
            base = _slug(f.label)
            key, n = base, 2
            while key in used:
                key, n = f"{base}_{n}", n + 1
        used.add(key)
        keyed.append(TemplateField(key, f.label, f.section, f.kind, f.options, f.low, f.high, f.unit))
    current = _current_for_edit(session, code, expected_version)
    draft = Template(code=code, name=name, discipline=discipline, visit_kinds=tuple(kinds), form=form, fields=tuple(keyed),
                     labels=tuple(sorted((s, v) for s, v in labels.items() if v)))
    spec = _spec(draft)
    if current is not None and _spec(current) | {"retired": False} == spec | {"retired": False}:
        return current, False
    spec["retired"] = bool(current and current.retired)
    version = (current.version if current else 0) + 1
    return _add_version(session, actor=actor, spec=spec, code=code, version=version, detail="saved"), True


def set_retired(session: Session, *, actor: Actor, code: str, retired: bool, expected_version: int) -> Template:
    """Retire a template (not offered for new notes) or bring it back, as its next version."""
    for_write(session)
    require(actor.role, "template.edit")
    code = (code or "").strip().upper()
    current = _current_for_edit(session, code, expected_version)
    if current.retired == retired:
        return current
    if retired and code == "SOAP":
        raise InvalidInput("The plain SOAP template is every note's fallback; it cannot be retired.")
    spec = _spec(current) | {"retired": retired}
    return _add_version(session, actor=actor, spec=spec, code=code, version=current.version + 1,
                        detail="retired" if retired else "back in use")


def history(session: Session, *, actor: Actor, code: str) -> list[NoteTemplate]:
    """A template's saved versions, newest first."""
    require(actor.role, "template.edit")
    return list(session.exec(select(NoteTemplate).where(NoteTemplate.code == code).order_by(NoteTemplate.version.desc())))


def _clean(spec: TemplateField, value) -> str:
    if spec.kind == "body_chart":
        raise InvalidInput(f"{spec.label}: mark the regions on the body chart figure.")
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


def stage_field(session: Session, note: Note, key: str, value) -> str | None:
    """Check one structured field of a draft against its kind and put it in the session
    (the caller commits); returns the value to store, or None when it is stored already."""
    chosen = form_of(session, note_id=note.id)
    spec = next((f for f in chosen.fields if f.key == key), None)
    if spec is None:
        raise InvalidInput(f"The {chosen.name} template has no field {key!r}.")
    stored = _clean(spec, value)
    row = session.exec(select(NoteField).where(NoteField.note_id == note.id, NoteField.key == key)).first()
    if row is not None and row.value == stored:
        return None
    if row is None:
        row = NoteField(note_id=note.id, key=key, value=stored)
    row.value = stored
    session.add(row)
    return stored


def save_field(session: Session, *, actor: Actor, note_id: int, key: str, value) -> str:
    """Save one structured field of a draft, checked against its kind; returns the stored value."""
    signed = session.get(Note, note_id)
    if signed is not None and signed.signed_at is not None and signed.provider_id == actor.provider_id:
        # A debounced autosave arriving after the signature that carried the same value.
        current = values(session, note_id=note_id).get(key)
        if current is not None and current == str(value if value is not None else "").strip():
            return current
    note = editable_note(session, actor=actor, note_id=note_id)
    staged = stage_field(session, note, key, value)
    if staged is None:
        return values(session, note_id=note.id)[key]
    commit_note(session)
    return staged


# -- shared with other forms built from the same field kinds (services/portal/intake.py) ---------
def check_field(n: int, raw: dict) -> TemplateField:
    """One admin-typed field checked as a template field is (label, kind, options, range, unit);
    the note section is not checked here (forms without sections pass none)."""
    return _check_field(n, {**raw, "section": raw.get("section") or "subjective"}, "SOAP", labels_for("SOAP"))


def clean_value(spec: TemplateField, value) -> str:
    """A value typed for a field, checked against its kind as a note field's is; the text to store."""
    return _clean(spec, value)
