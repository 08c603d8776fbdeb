"""Intake and consent before the first visit.

- **Forms** are built by the admin from the note templates' field kinds (text, number,
  choice, scale, checklist; checked by ``services.charting.templates.check_field``) plus a
  ``consent`` block (a text the patient signs with a drawn signature). Each save is a new
  version (``intake_form``, never changed: database rule) holding its FHIR R4 Questionnaire;
  a form names the appointment types that need it before the visit.
- **Answers** are a QuestionnaireResponse per visit and form (``intake_response``), pinned to
  the version first answered: saved in part (``in-progress``) as often as the patient likes,
  then ``completed`` once every required field is answered and every consent signed.
  Completed answers are final (database rule).
- **Consents** are kept as a PDF with the signed text, the signature image and the time, and
  the PDF's SHA-256 beside it (``intake_consent``): never changed or deleted (database rule).
- **Links**: ``issue_link`` makes a random token bound to one visit, kept only as its SHA-256;
  it ends at the end of the visit's day (the location's zone) or when the visit's intake is
  complete. Nothing about the patient is shown until they confirm their date of birth
  (``confirm_birth_date``: rate-limited per link, and the link locks after repeated misses).

These functions never commit: the caller (a screen's ``in_db``, the CLI, the reminder
sender) owns the transaction.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import json
import re
import secrets
from dataclasses import dataclass, field

from fpdf import FPDF
from PIL import Image, UnidentifiedImageError
from sqlmodel import Session, select

from clinic_app import settings
from clinic_app.db import for_write, utcnow
from clinic_app.models import (
    Appointment,
    AppointmentType,
    IntakeConsent,
    IntakeForm,
    IntakeLink,
    IntakeResponse,
    Location,
    Patient,
    Provider,
)
from clinic_app.services.charting import templates
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import day_bounds, local, local_day
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NotFound
from clinic_app.services.platform.limits import RateLimiter, TooManyAttempts, limiter
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue.statements import latin1

KINDS = ("text", "number", "choice", "scale", "checklist", "consent")
KIND_WORDS = {**{k: w for k, w in templates.KIND_WORDS.items() if k in KINDS}, "consent": "Consent (signed)"}
# FHIR R4 Questionnaire item types of each field kind.
ITEM_TYPES = {"text": "text", "number": "decimal", "choice": "choice", "scale": "integer", "checklist": "choice",
              "consent": "attachment"}
CODE_RE = templates.CODE_RE
FORM_URL = "urn:clinic-app:intake"
CONSENT_URL = "urn:clinic-app:intake-consent"
MAX_FIELDS = 40
MAX_CONSENT_TEXT = 10_000
MAX_SIGNATURE_BYTES = 300_000
DOB_TRIES_PER_MINUTE = 5
DOB_MISSES_BEFORE_LOCK = 10
SOURCE = "intake link"


# -- forms ------------------------------------------------------------------------------
@dataclass(frozen=True)
class IntakeField:
    key: str
    label: str
    kind: str
    required: bool = False
    options: tuple[str, ...] = ()
    low: int = 0
    high: int = 10
    unit: str = ""
    text: str = ""  # a consent's text

    def as_template_field(self) -> templates.TemplateField:
        return templates.TemplateField(self.key, self.label, "subjective", self.kind, self.options, self.low, self.high,
                                       self.unit)


@dataclass(frozen=True)
class Form:
    id: int
    code: str
    version: int
    title: str
    visit_kinds: tuple[str, ...]
    fields: tuple[IntakeField, ...]
    retired: bool = False


def _spec_fields(fields: tuple[IntakeField, ...]) -> list[dict]:
    return [
        {"key": f.key, "label": f.label, "kind": f.kind, "required": f.required, "options": list(f.options), "low": f.low,
         "high": f.high, "unit": f.unit, "text": f.text}
        for f in fields
    ]


def _from_row(row: IntakeForm) -> Form:
    return Form(
        id=row.id, code=row.code, version=row.version, title=row.title, visit_kinds=tuple(json.loads(row.visit_kinds)),
        retired=row.retired,
        fields=tuple(
            IntakeField(f["key"], f["label"], f["kind"], bool(f.get("required")), tuple(f.get("options", ())),
                        int(f.get("low", 0)), int(f.get("high", 10)), f.get("unit", ""), f.get("text", ""))
            for f in json.loads(row.fields)
        ),
    )


def questionnaire(form: Form, *, created_at: dt.datetime | None = None) -> dict:
    """The form version as a FHIR R4 Questionnaire."""
    items = []
    for f in form.fields:
        item: dict = {"linkId": f.key, "text": f.label, "type": ITEM_TYPES[f.kind], "required": f.required}
        if f.kind in ("choice", "checklist"):
            item["answerOption"] = [{"valueString": o} for o in f.options]
            if f.kind == "checklist":
                item["repeats"] = True
        if f.kind in ("number", "scale"):
            value = "valueInteger" if f.kind == "scale" else "valueDecimal"
            item["extension"] = [
                {"url": "http://hl7.org/fhir/StructureDefinition/minValue", value: f.low},
                {"url": "http://hl7.org/fhir/StructureDefinition/maxValue", value: f.high},
            ]
            if f.unit:
                item["extension"].append({"url": "http://hl7.org/fhir/StructureDefinition/questionnaire-unit",
                                          "valueCoding": {"display": f.unit}})
        if f.kind == "consent":
            item["item"] = [{"linkId": f"{f.key}.text", "text": f.text, "type": "display"}]
        items.append(item)
    resource = {
        "resourceType": "Questionnaire", "url": f"{FORM_URL}:{form.code}", "version": str(form.version),
        "name": re.sub(r"[^A-Za-z0-9]", "", form.code.title()) or "Intake", "title": form.title,
        "status": "retired" if form.retired else "active", "subjectType": ["Patient"],
        "code": [{"system": FORM_URL, "code": form.code}], "item": items,
    }
    if created_at is not None:
        resource["date"] = created_at.astimezone(dt.UTC).isoformat()
    return resource


def catalogue(session: Session) -> dict[str, Form]:
    """Every form's current version by code, retired ones included."""
    current: dict[str, Form] = {}
    for row in session.exec(select(IntakeForm).order_by(IntakeForm.code, IntakeForm.version)):
        current[row.code] = _from_row(row)
    return current


def listing(session: Session, *, actor: Actor) -> list[Form]:
    """The current forms for the admin, in use first."""
    require(actor.role, "template.edit")
    return sorted(catalogue(session).values(), key=lambda f: (f.retired, f.title.lower()))


def history(session: Session, *, actor: Actor, code: str) -> list[IntakeForm]:
    """A form's saved versions, newest first."""
    require(actor.role, "template.edit")
    return list(session.exec(select(IntakeForm).where(IntakeForm.code == code).order_by(IntakeForm.version.desc())))


def _check_field(n: int, raw: dict) -> IntakeField:
    kind = str(raw.get("kind") or "").strip()
    required = str(raw.get("required", "")).lower() in ("1", "true", "yes", "on")
    key = str(raw.get("key") or "").strip()
    key = key if templates.KEY_RE.match(key) else ""
    if kind == "consent":
        label = str(raw.get("label") or "").strip()
        where = f"Field {n}" + (f" ({label})" if label else "")
        if not label:
            raise InvalidInput(f"{where}: give it a label.")
        if len(label) > 80:
            raise InvalidInput(f"{where}: a label is at most 80 characters.")
        text = str(raw.get("text") or "").strip()
        if not text:
            raise InvalidInput(f"{where}: write the text the patient signs.")
        if len(text) > MAX_CONSENT_TEXT:
            raise InvalidInput(f"{where}: a consent's text is at most {MAX_CONSENT_TEXT:,} characters.")
        return IntakeField(key, label, "consent", True, text=text)  # a consent is always signed
    if kind not in KINDS:
        label = str(raw.get("label") or "").strip()
        raise InvalidInput(f"Field {n}" + (f" ({label})" if label else "")
                           + f": choose its kind ({', '.join(KIND_WORDS.values())}).")
    checked = templates.check_field(n, raw)
    return IntakeField(key, checked.label, checked.kind, required, checked.options, checked.low, checked.high, checked.unit)


def _current_for_edit(session: Session, code: str, expected_version: int | None) -> Form | None:
    current = catalogue(session).get(code)
    templates.check_edit(current, code=code, expected_version=expected_version, what="an intake form",
                         name=current.title if current else "")
    return current


def _add_version(session: Session, *, actor: Actor, form: Form, detail: str) -> Form:
    row = IntakeForm(
        code=form.code, version=form.version, title=form.title, visit_kinds=json.dumps(list(form.visit_kinds)),
        fields=json.dumps(_spec_fields(form.fields)), questionnaire="{}", retired=form.retired,
        created_by_user_id=actor.user_id,
    )
    row.questionnaire = json.dumps(questionnaire(form, created_at=row.created_at))
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="update", entity="intake_form", entity_id=row.id,
                 detail=f"{form.code} v{form.version}: {detail}")
    return _from_row(row)


def save_form(
    session: Session, *, actor: Actor, code: str, title: str, visit_kinds: list[str], fields: list[dict],
    expected_version: int | None,
) -> tuple[Form, bool]:
    """Save an intake form as its next version (admin); (form, whether a version was added).

    ``expected_version`` is the version the admin opened (None for a new form): if someone
    saved another since, nothing is written. Answers keep the version they answered.
    """
    for_write(session)
    require(actor.role, "template.edit")
    code = (code or "").strip().upper()
    if not CODE_RE.match(code):
        raise InvalidInput("A form code is 2-24 capital letters, digits or dashes, starting with a letter (e.g. NEW-PATIENT).")
    title = (title or "").strip()
    if not title:
        raise InvalidInput("Give the form a title.")
    if len(title) > 120:
        raise InvalidInput("A form title is at most 120 characters.")
    known = set(session.exec(select(AppointmentType.name)))
    kinds = sorted({k.strip() for k in visit_kinds if k and k.strip()})
    unknown = [k for k in kinds if k not in known]
    if unknown:
        raise InvalidInput(f"{unknown[0]!r} is not one of the clinic's appointment types.")
    if not fields:
        raise InvalidInput("Add at least one field to the form.")
    if len(fields) > MAX_FIELDS:
        raise InvalidInput(f"A form has at most {MAX_FIELDS} fields.")
    checked = [_check_field(n, raw) for n, raw in enumerate(fields, start=1)]
    seen: set[str] = set()
    for f in checked:
        if f.label.lower() in seen:
            raise InvalidInput(f"Two fields are named {f.label!r}; rename one.")
        seen.add(f.label.lower())
    used: set[str] = set()
    keyed = []
    for f in checked:  # an edited field keeps its key, so answers carry over between versions
        key = f.key if f.key and f.key not in used else ""
        if not key:
            base = re.sub(r"[^a-z0-9]+", "_", f.label.lower()).strip("_")[:36] or "field"
            base = base if base[0].isalpha() else f"f_{base}"[:36]
            key, n = base, 2
            while key in used:
                key, n = f"{base}_{n}", n + 1
        used.add(key)
        keyed.append(IntakeField(key, f.label, f.kind, f.required, f.options, f.low, f.high, f.unit, f.text))
    current = _current_for_edit(session, code, expected_version)
    draft = Form(id=0, code=code, version=(current.version if current else 0) + 1, title=title, visit_kinds=tuple(kinds),
                 fields=tuple(keyed), retired=bool(current and current.retired))
    if current is not None and (current.title, current.visit_kinds, current.fields) == (title, tuple(kinds), tuple(keyed)):
        return current, False
    return _add_version(session, actor=actor, form=draft, detail="saved"), True


def set_retired(session: Session, *, actor: Actor, code: str, retired: bool, expected_version: int) -> Form:
    """Retire a form (no longer asked for) or bring it back, as its next version."""
    for_write(session)
    require(actor.role, "template.edit")
    current = _current_for_edit(session, (code or "").strip().upper(), expected_version)
    if current.retired == retired:
        return current
    changed = Form(id=0, code=current.code, version=current.version + 1, title=current.title,
                   visit_kinds=current.visit_kinds, fields=current.fields, retired=retired)
    return _add_version(session, actor=actor, form=changed, detail="retired" if retired else "back in use")


# -- which forms a visit needs ---------------------------------------------------------------
def _needed(session: Session, appointment: Appointment) -> list[Form]:
    kind = session.get(AppointmentType, appointment.appointment_type_id).name
    return [f for f in catalogue(session).values() if not f.retired and kind in f.visit_kinds]


def _responses(session: Session, appointment_id: int) -> dict[str, IntakeResponse]:
    return {r.form_code: r for r in session.exec(select(IntakeResponse).where(IntakeResponse.appointment_id == appointment_id))}


def _completed_codes(session: Session, patient_id: int) -> set[str]:
    # A form completed for any earlier visit counts: it is asked for before the first visit.
    return set(session.exec(select(IntakeResponse.form_code).where(IntakeResponse.patient_id == patient_id,
                                                                   IntakeResponse.status == "completed")))


def pending_forms(session: Session, *, appointment_id: int) -> list[Form]:
    """The forms a visit's type needs that the patient has not completed yet."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That appointment no longer exists.")
    done = _completed_codes(session, appointment.patient_id)
    return [f for f in _needed(session, appointment) if f.code not in done]


def status_words(session: Session, *, appointment_id: int) -> str:
    """"Intake complete", "Intake pending: <form>, ..." or "" (the visit's type needs no form)."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        return ""
    needed = _needed(session, appointment)
    answered = {code for code, r in _responses(session, appointment_id).items() if r.status == "completed"}
    if not needed and not answered:
        return ""
    pending = [f.title for f in pending_forms(session, appointment_id=appointment_id)]
    return "Intake pending: " + ", ".join(pending) if pending else "Intake complete"


# -- links -------------------------------------------------------------------------------
def _digest(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def issue_link(session: Session, *, appointment_id: int) -> str:
    """A new link token for a visit's intake (shown once: only its SHA-256 is stored).

    It opens the visit's forms until the end of the visit's day (the location's zone), or
    until every form the visit needs is complete."""
    for_write(session)
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That appointment no longer exists.")
    tz = session.get(Location, appointment.location_id).timezone
    token = secrets.token_urlsafe(32)
    ends = day_bounds(local_day(appointment.starts_at, tz), tz)[1]
    session.add(IntakeLink(appointment_id=appointment.id, token_sha256=_digest(token), expires_at=ends))
    session.flush()
    return token


def link_url(token: str) -> str:
    """The patient's URL for a token (``CLINIC_PUBLIC_URL`` is the app's address as patients reach it)."""
    return f"{settings.patient_base_url()}/intake?token={token}"


def reminder_link(session: Session, *, appointment_id: int) -> str | None:
    """For a confirmation or reminder e-mail: a new intake link when the visit still needs a
    form, else None."""
    if not pending_forms(session, appointment_id=appointment_id):
        return None
    return link_url(issue_link(session, appointment_id=appointment_id))


def _open_link(session: Session, token: str, now: dt.datetime) -> IntakeLink:
    link = session.exec(select(IntakeLink).where(IntakeLink.token_sha256 == _digest(token))).first() if token else None
    if link is None:
        raise NotFound("This link is not valid. Use the link in your newest e-mail from the clinic, or call us.")
    if link.used_at is not None:
        raise NotFound("Your forms for this visit are complete; this link is no longer needed. Thank you.")
    if link.expires_at <= now:
        raise NotFound("This link has expired. Please call the clinic for a new one.")
    if link.failed_checks >= DOB_MISSES_BEFORE_LOCK:
        raise TooManyAttempts("This link is locked after too many wrong dates of birth. Please call the clinic.")
    return link


def _birth_date(value) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise InvalidInput("Enter your date of birth as year-month-day, for example 1980-01-31.") from None


def confirm_birth_date(
    session: Session, *, token: str, birth_date, limiter_: RateLimiter | None = None, now: dt.datetime | None = None,
) -> bool:
    """Whether ``birth_date`` is the patient's, before anything about them is shown.

    At most DOB_TRIES_PER_MINUTE tries per link and minute (TooManyAttempts beyond), and a
    link locks after DOB_MISSES_BEFORE_LOCK misses. A miss is counted in the caller's
    transaction (it commits: this returns False rather than raising)."""
    now = now or utcnow()
    for_write(session)
    link = _open_link(session, token, now)
    use = limiter_ or limiter()
    if use.hit(f"intake-dob:{link.token_sha256[:32]}", now.timestamp()) > DOB_TRIES_PER_MINUTE:
        raise TooManyAttempts(f"Too many tries; wait {use.seconds_left(now.timestamp())} seconds and try again.")
    day = _birth_date(birth_date)
    patient = session.get(Patient, session.get(Appointment, link.appointment_id).patient_id)
    if patient.birth_date == day:
        return True
    link.failed_checks += 1
    session.add(link)
    return False


def _confirmed(session: Session, token: str, birth_date, now: dt.datetime) -> tuple[IntakeLink, Appointment, Patient]:
    link = _open_link(session, token, now)
    appointment = session.get(Appointment, link.appointment_id)
    patient = session.get(Patient, appointment.patient_id)
    if patient.birth_date != _birth_date(birth_date):
        raise NotAllowed("Confirm your date of birth first.")
    return link, appointment, patient


# -- the patient's answers ----------------------------------------------------------------
@dataclass
class FormToFill:
    form: Form
    status: str  # "not started", "in-progress", "completed"
    answers: dict[str, object] = field(default_factory=dict)  # key -> text (a list for a checklist)


@dataclass
class VisitIntake:
    first_name: str
    visit_words: str
    forms: list[FormToFill]


def _form_version(session: Session, form_id: int) -> Form:
    return _from_row(session.get(IntakeForm, form_id))


def answers_of(response: dict) -> dict[str, object]:
    """A QuestionnaireResponse's answers by linkId (text; a list for a repeating item)."""
    out: dict[str, object] = {}
    for item in response.get("item", []):
        values = []
        for answer in item.get("answer", []):
            for key, value in answer.items():
                if key == "valueAttachment":
                    values.append(value.get("title", "signed"))
                elif key.startswith("value"):
                    values.append(f"{value:g}" if isinstance(value, float) else str(value))
        out[item["linkId"]] = values if len(values) != 1 else values[0]
    return out


def visit_intake(session: Session, *, token: str, birth_date, now: dt.datetime | None = None) -> VisitIntake:
    """What the patient fills for the link's visit (after their date of birth is confirmed)."""
    _, appointment, patient = _confirmed(session, token, birth_date, now or utcnow())
    location = session.get(Location, appointment.location_id)
    provider = session.get(Provider, appointment.provider_id)
    when = local(appointment.starts_at, location.timezone)
    responses = _responses(session, appointment.id)
    forms = []
    for f in pending_forms(session, appointment_id=appointment.id):
        r = responses.get(f.code)
        forms.append(FormToFill(form=_form_version(session, r.form_id) if r else f, status=r.status if r else "not started",
                                answers=answers_of(json.loads(r.response)) if r else {}))
    return VisitIntake(first_name=patient.first_name,
                       visit_words=f"{when:%A %d %B %Y} at {when:%H:%M} with {provider.name}, {location.name}",
                       forms=forms)


def _answer_json(f: IntakeField, stored: str) -> list[dict]:
    if stored == "":
        return []
    if f.kind == "checklist":
        return [{"valueString": v} for v in json.loads(stored)]
    if f.kind == "number":
        return [{"valueDecimal": float(stored)}]
    if f.kind == "scale":
        return [{"valueInteger": int(stored)}]
    return [{"valueString": stored}]


def _signature(f: IntakeField, data_url) -> bytes:
    text = str(data_url or "")
    prefix = "data:image/png;base64,"
    if not text.startswith(prefix):
        raise InvalidInput(f"{f.label}: sign in the box with your finger or mouse.")
    try:
        png = base64.b64decode(text[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{f.label}: the signature did not arrive; sign again.") from None
    if len(png) > MAX_SIGNATURE_BYTES:
        raise InvalidInput(f"{f.label}: the signature image is too large; clear it and sign again.")
    try:
        image = Image.open(io.BytesIO(png))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError):
        raise InvalidInput(f"{f.label}: the signature did not arrive; sign again.") from None
    if image.format != "PNG" or image.width > 2000 or image.height > 1000:
        raise InvalidInput(f"{f.label}: the signature did not arrive; sign again.")
    if image.convert("RGBA").getchannel("A").getbbox() is None:
        raise InvalidInput(f"{f.label}: sign in the box with your finger or mouse.")
    return png


def consent_pdf(*, clinic: str, title: str, text: str, patient_name: str, birth_date: dt.date, signature_png: bytes,
                signed_at: dt.datetime, tz: str) -> bytes:
    """The signed consent: the clinic, the text signed, who signed, the signature and the time."""
    pdf = FPDF(format="Letter")
    pdf.set_title(latin1(title))
    pdf.set_creator("clinic_app")
    pdf.set_creation_date(signed_at)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, latin1(clinic), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, latin1(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.cell(0, 6, latin1(f"Signed by: {patient_name} (born {birth_date.isoformat()})"), new_x="LMARGIN", new_y="NEXT")
    shown = local(signed_at, tz)
    pdf.cell(0, 6, latin1(f"Signed at: {shown:%Y-%m-%d %H:%M %Z} ({signed_at.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ})"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.cell(0, 6, "Signature:", new_x="LMARGIN", new_y="NEXT")
    pdf.image(io.BytesIO(signature_png), w=80)
    return bytes(pdf.output())


def save_answers(
    session: Session, *, token: str, birth_date, form_code: str, answers: dict, signatures: dict | None = None,
    complete: bool = False, now: dt.datetime | None = None,
) -> IntakeResponse:
    """Save the patient's answers to one form of the link's visit.

    Every value is checked against its field's kind (InvalidInput naming the field; nothing
    saved). Partial saves are ``in-progress``; ``complete`` also needs every required field
    answered and every consent signed (``signatures``: consent key -> PNG data URL), then
    keeps each consent as a PDF with its SHA-256 and makes the answers final. When the
    visit's last form is complete the link is used up."""
    now = now or utcnow()
    for_write(session)
    link, appointment, patient = _confirmed(session, token, birth_date, now)
    code = (form_code or "").strip().upper()
    row = _responses(session, appointment.id).get(code)
    if row is not None and row.status == "completed":
        raise NotAllowed("This form is already complete and can no longer be changed.")
    if row is None:
        current = next((f for f in pending_forms(session, appointment_id=appointment.id) if f.code == code), None)
        if current is None:
            raise NotFound("This visit does not ask for that form.")
        form = current
    else:
        form = _form_version(session, row.form_id)  # answers keep the version they began with
    items, missing = [], []
    for f in form.fields:
        if f.kind == "consent":
            continue
        stored = templates.clean_value(f.as_template_field(), (answers or {}).get(f.key, [] if f.kind == "checklist" else ""))
        answered = _answer_json(f, stored)
        if answered:
            items.append({"linkId": f.key, "text": f.label, "answer": answered})
        elif f.required:
            missing.append(f.label)
    consents = [f for f in form.fields if f.kind == "consent"]
    if complete:
        unsigned = [f.label for f in consents if not (signatures or {}).get(f.key)]
        if missing or unsigned:
            named = missing + [f"{label} (signature)" for label in unsigned]
            raise InvalidInput(("Please answer: " if missing else "Please sign: ") + "; ".join(named) + ".")
    if row is None:
        row = IntakeResponse(appointment_id=appointment.id, patient_id=patient.id, form_id=form.id, form_code=form.code,
                             response="{}")
        session.add(row)
        session.flush()
    pngs = {f.key: _signature(f, (signatures or {}).get(f.key)) for f in consents} if complete else {}
    location = session.get(Location, appointment.location_id)
    for f in consents if complete else ():
        text = consent_pdf(clinic=location.name, title=f.label, text=f.text,
                           patient_name=f"{patient.first_name} {patient.last_name}", birth_date=patient.birth_date,
                           signature_png=pngs[f.key], signed_at=now, tz=location.timezone)
        consent = IntakeConsent(response_id=row.id, patient_id=patient.id, link_id=f.key, title=f.label, text=f.text,
                                signature_png=pngs[f.key], signed_at=now, pdf=text, sha256=hashlib.sha256(text).hexdigest())
        session.add(consent)
        session.flush()
        audit.record(session, actor=None, action="create", entity="intake_consent", entity_id=consent.id,
                     patient_id=patient.id, detail=f"{form.code} v{form.version}: {f.label} signed", source=SOURCE)
        items.append({"linkId": f.key, "text": f.label, "answer": [{"valueAttachment": {
            "contentType": "application/pdf", "url": f"{CONSENT_URL}:{consent.id}", "size": len(text),
            "title": f"{f.label} (signed PDF)", "creation": now.astimezone(dt.UTC).isoformat()}}]})
    order = {f.key: i for i, f in enumerate(form.fields)}
    items.sort(key=lambda i: order[i["linkId"]])
    row.status = "completed" if complete else "in-progress"
    row.response = json.dumps({
        "resourceType": "QuestionnaireResponse", "questionnaire": f"{FORM_URL}:{form.code}|{form.version}",
        "status": row.status, "subject": {"reference": f"Patient/{patient.id}"},
        "encounter": {"reference": f"Encounter/{appointment.id}"}, "authored": now.astimezone(dt.UTC).isoformat(),
        "author": {"reference": f"Patient/{patient.id}"}, "item": items,
    })
    row.updated_at = now
    row.completed_at = now if complete else None
    session.add(row)
    session.flush()
    audit.record(session, actor=None, action="update", entity="intake_response", entity_id=row.id, patient_id=patient.id,
                 detail=f"{form.code} v{form.version}: {'completed' if complete else 'saved'}", source=SOURCE)
    if complete and not pending_forms(session, appointment_id=appointment.id):
        link.used_at = now
        session.add(link)
    return row


# -- staff -------------------------------------------------------------------------------
@dataclass
class AnsweredForm:
    response_id: int
    title: str
    version: int
    status: str
    when: dt.datetime
    answers: list[tuple[str, str]]  # (label, answer in words)
    consents: list[tuple[int, str, dt.datetime]]  # (consent id, title, signed at)


def _own_patient(session: Session, actor: Actor, patient_id: int) -> None:
    seen = session.exec(select(Appointment.id).where(Appointment.patient_id == patient_id,
                                                     Appointment.provider_id == actor.provider_id)).first()
    if actor.provider_id is None or seen is None:
        raise NotAllowed("This patient is not one of yours.")


def patient_answers(session: Session, *, actor: Actor, patient_id: int) -> list[AnsweredForm]:
    """A patient's intake answers and signed consents, newest first (the chart's Record)."""
    require(actor.role, "chart.view")
    _own_patient(session, actor, patient_id)
    out = []
    rows = session.exec(select(IntakeResponse).where(IntakeResponse.patient_id == patient_id)
                        .order_by(IntakeResponse.updated_at.desc(), IntakeResponse.id.desc()))
    for r in rows:
        form = _form_version(session, r.form_id)
        given = answers_of(json.loads(r.response))
        answers = []
        for f in form.fields:
            if f.kind == "consent":
                continue
            value = given.get(f.key, "")
            answers.append((f.label, ", ".join(value) if isinstance(value, list) else (str(value) or "Not answered")))
        consents = [(c.id, c.title, c.signed_at) for c in session.exec(
            select(IntakeConsent).where(IntakeConsent.response_id == r.id).order_by(IntakeConsent.id))]
        out.append(AnsweredForm(response_id=r.id, title=form.title, version=form.version,
                                status="Completed" if r.status == "completed" else "In progress",
                                when=r.completed_at or r.updated_at, answers=answers, consents=consents))
    return out


def open_consent(session: Session, *, actor: Actor, consent_id: int) -> IntakeConsent:
    """A signed consent's PDF, checked against its SHA-256. Audited as a view."""
    for_write(session)
    row = session.get(IntakeConsent, consent_id)
    if row is None:
        raise NotFound("That consent does not exist.")
    require(actor.role, "chart.view")
    _own_patient(session, actor, row.patient_id)
    if hashlib.sha256(row.pdf).hexdigest() != row.sha256:
        raise InvalidInput(f"The {row.title} PDF does not match the checksum taken when it was signed; tell an admin.")
    audit.record(session, actor=actor, action="view", entity="intake_consent", entity_id=row.id, patient_id=row.patient_id)
    return row
