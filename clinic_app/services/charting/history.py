"""The patient's problem list, allergies and medications, with safety alerts.

Alerts: a medication whose name or class matches a recorded allergy, an allergy to
a medication the patient takes, and duplicate therapy (a second active medication of
the same name or therapeutic class). An alert stops the entry until the clinician
confirms it (``confirm=True``); nothing is saved before that.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import (
    Appointment,
    Attachment,
    CarePlan,
    HomeExercise,
    Patient,
    PatientAllergy,
    PatientMedication,
    PatientProblem,
    PlanGoal,
    Provider,
)
from clinic_app.services.charting.codes import normalise_icd10
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import parse_day
from clinic_app.services.platform.errors import ClinicError, InvalidInput, NotAllowed, NotFound
from clinic_app.services.platform.permissions import require

# Classes checked for duplicate therapy; "other" is never flagged by class alone.
DRUG_CLASSES = (
    "NSAID", "opioid", "muscle relaxant", "corticosteroid", "anticoagulant", "SSRI", "SNRI", "benzodiazepine",
    "gabapentinoid", "other",
)


class NeedsConfirmation(ClinicError):
    """A safety alert: the entry is saved only when the clinician confirms it."""


def _own_patient(session: Session, actor: Actor, patient_id: int) -> None:
    # Clinicians see the charts of patients they see (minimum necessary).
    seen = session.exec(
        select(Appointment.id).where(Appointment.patient_id == patient_id, Appointment.provider_id == actor.provider_id)
    ).first()
    if actor.provider_id is None or seen is None:
        raise NotAllowed("This patient is not one of yours.")


def summary(session: Session, *, actor: Actor, patient_id: int) -> dict:
    """Active problems, allergies and medications of a patient."""
    require(actor.role, "chart.view")
    _own_patient(session, actor, patient_id)
    return {
        "problems": list(session.exec(select(PatientProblem).where(
            PatientProblem.patient_id == patient_id, PatientProblem.status == "active").order_by(PatientProblem.id))),
        "allergies": list(session.exec(select(PatientAllergy).where(
            PatientAllergy.patient_id == patient_id, PatientAllergy.active).order_by(PatientAllergy.id))),
        "medications": list(session.exec(select(PatientMedication).where(
            PatientMedication.patient_id == patient_id, PatientMedication.active).order_by(PatientMedication.id))),
    }


def _write(session: Session, actor: Actor, patient_id: int) -> None:
    for_write(session)
    require(actor.role, "note.edit")
    _own_patient(session, actor, patient_id)


def add_problem(session: Session, *, actor: Actor, patient_id: int, code: str) -> PatientProblem:
    """Put a billable ICD-10-CM code on the problem list."""
    code = normalise_icd10(code)
    _write(session, actor, patient_id)
    active = session.exec(select(PatientProblem).where(
        PatientProblem.patient_id == patient_id, PatientProblem.code == code, PatientProblem.status == "active")).first()
    if active is not None:
        raise InvalidInput(f"{code} is already on the problem list.")
    row = PatientProblem(patient_id=patient_id, code=code, recorded_by_user_id=actor.user_id)
    session.add(row)
    audit.record(session, actor=actor, action="create", entity="patient_problem", patient_id=patient_id, detail=code)
    session.flush()
    return row


def resolve_problem(session: Session, *, actor: Actor, problem_id: int) -> None:
    """Mark a problem resolved (it stays in the record)."""
    row = session.get(PatientProblem, problem_id)
    if row is None:
        raise NotFound("That problem is no longer on the list.")
    _write(session, actor, row.patient_id)
    row.status, row.resolved_at = "resolved", utcnow()
    session.add(row)
    audit.record(session, actor=actor, action="update", entity="patient_problem", entity_id=row.id, patient_id=row.patient_id)
    session.flush()


def _matches(a: str, b: str) -> bool:
    a, b = a.strip().lower(), b.strip().lower()
    return bool(a and b) and (a in b or b in a)


def medication_alerts(session: Session, *, patient_id: int, name: str, drug_class: str) -> list[str]:
    """What a clinician must know before recording this medication."""
    alerts = []
    for allergy in session.exec(select(PatientAllergy).where(PatientAllergy.patient_id == patient_id, PatientAllergy.active)):
        if _matches(allergy.substance, name) or (drug_class != "other" and _matches(allergy.substance, drug_class)):
            reaction = f" ({allergy.reaction})" if allergy.reaction else ""
            alerts.append(f"Allergy alert: the patient is allergic to {allergy.substance}{reaction}.")
    for med in session.exec(select(PatientMedication).where(PatientMedication.patient_id == patient_id, PatientMedication.active)):
        if med.name.lower() == name.strip().lower():
            alerts.append(f"Duplicate: {med.name} is already on the medication list.")
        elif drug_class != "other" and med.drug_class == drug_class:
            alerts.append(f"Duplicate therapy: {med.name} is in the same class ({drug_class}).")
    return alerts


def add_medication(
    session: Session, *, actor: Actor, patient_id: int, name: str, drug_class: str = "other", dose: str = "",
    confirm: bool = False,
) -> PatientMedication:
    """Record a medication; NeedsConfirmation with the alerts unless ``confirm``."""
    name, dose = (name or "").strip(), (dose or "").strip()
    if not name or len(name) > 80:
        raise InvalidInput("Enter the medication's name (up to 80 characters).")
    if drug_class not in DRUG_CLASSES:
        raise InvalidInput(f"Choose the medication's class from the list ({', '.join(DRUG_CLASSES)}).")
    if len(dose) > 80:
        raise InvalidInput("The dose is over 80 characters; shorten it.")
    _write(session, actor, patient_id)
    alerts = medication_alerts(session, patient_id=patient_id, name=name, drug_class=drug_class)
    if alerts and not confirm:
        raise NeedsConfirmation(" ".join(alerts) + " Confirm to record it anyway.")
    row = PatientMedication(patient_id=patient_id, name=name, drug_class=drug_class, dose=dose, recorded_by_user_id=actor.user_id)
    session.add(row)
    audit.record(session, actor=actor, action="create", entity="patient_medication", patient_id=patient_id,
                 detail="confirmed alert" if alerts else "")
    session.flush()
    return row


def add_allergy(
    session: Session, *, actor: Actor, patient_id: int, substance: str, reaction: str = "", confirm: bool = False,
) -> PatientAllergy:
    """Record an allergy; NeedsConfirmation if the patient takes a matching medication, unless ``confirm``."""
    substance, reaction = (substance or "").strip(), (reaction or "").strip()
    if not substance or len(substance) > 80:
        raise InvalidInput("Enter the substance the patient is allergic to (up to 80 characters).")
    if len(reaction) > 120:
        raise InvalidInput("The reaction is over 120 characters; shorten it.")
    _write(session, actor, patient_id)
    recorded = session.exec(select(PatientAllergy).where(PatientAllergy.patient_id == patient_id, PatientAllergy.active)).all()
    if any(a.substance.lower() == substance.lower() for a in recorded):
        raise InvalidInput(f"An allergy to {substance} is already recorded.")
    taking = [m for m in session.exec(select(PatientMedication).where(PatientMedication.patient_id == patient_id, PatientMedication.active))
              if _matches(substance, m.name) or (m.drug_class != "other" and _matches(substance, m.drug_class))]
    if taking and not confirm:
        raise NeedsConfirmation(
            f"Allergy alert: the patient takes {', '.join(m.name for m in taking)}. Confirm to record the allergy anyway."
        )
    row = PatientAllergy(patient_id=patient_id, substance=substance, reaction=reaction, recorded_by_user_id=actor.user_id)
    session.add(row)
    audit.record(session, actor=actor, action="create", entity="patient_allergy", patient_id=patient_id)
    session.flush()
    return row


def stop_medication(session: Session, *, actor: Actor, medication_id: int) -> None:
    """Mark a medication no longer taken (it stays in the record)."""
    row = session.get(PatientMedication, medication_id)
    if row is None:
        raise NotFound("That medication is no longer on the list.")
    _write(session, actor, row.patient_id)
    row.active = False
    session.add(row)
    audit.record(session, actor=actor, action="update", entity="patient_medication", entity_id=row.id, patient_id=row.patient_id)
    session.flush()


GOAL_STATUSES = ("active", "met", "partly met", "not met", "discontinued")


def goals(session: Session, *, actor: Actor, patient_id: int) -> list[PlanGoal]:
    """The patient's treatment-plan goals: short term first, then by target date."""
    require(actor.role, "chart.view")
    _own_patient(session, actor, patient_id)
    rows = session.exec(select(PlanGoal).where(PlanGoal.patient_id == patient_id))
    return sorted(rows, key=lambda g: (g.term != "short", g.target_date, g.id))


def care_plan(session: Session, *, actor: Actor, patient_id: int) -> CarePlan | None:
    """The patient's current frequency and duration of care (the latest saved), if any."""
    require(actor.role, "chart.view")
    _own_patient(session, actor, patient_id)
    return session.exec(
        select(CarePlan).where(CarePlan.patient_id == patient_id).order_by(CarePlan.recorded_at.desc(), CarePlan.id.desc())
    ).first()


def plan_words(plan: CarePlan) -> str:
    """'2 visits a week for 6 weeks from 2030-03-12'."""
    visits = "1 visit" if plan.visits_per_week == 1 else f"{plan.visits_per_week} visits"
    weeks = "1 week" if plan.duration_weeks == 1 else f"{plan.duration_weeks} weeks"
    return f"{visits} a week for {weeks} from {plan.starts_on.isoformat()}"


def _whole(text: str | int, what: str, low: int, high: int) -> int:
    try:
        number = int(str(text).strip())
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise InvalidInput(f"Enter the {what} as a whole number from {low} to {high}.")
    return number


def set_care_plan(
    session: Session, *, actor: Actor, patient_id: int, visits_per_week: str | int, duration_weeks: str | int,
    starts_on: str, today: dt.date,
) -> CarePlan:
    """Save the frequency and duration of care; an earlier plan is kept as history."""
    per_week = _whole(visits_per_week, "visits per week", 1, 7)
    weeks = _whole(duration_weeks, "duration in weeks", 1, 52)
    start = parse_day(starts_on) if str(starts_on or "").strip() else today
    if start < today - dt.timedelta(days=365):
        raise InvalidInput(f"The plan's start {start.isoformat()} is more than a year ago; check the date.")
    _write(session, actor, patient_id)
    row = CarePlan(patient_id=patient_id, visits_per_week=per_week, duration_weeks=weeks, starts_on=start,
                   recorded_by_user_id=actor.user_id)
    session.add(row)
    audit.record(session, actor=actor, action="create", entity="care_plan", patient_id=patient_id, detail=plan_words(row))
    session.flush()
    return row


def add_goal(
    session: Session, *, actor: Actor, patient_id: int, term: str, text: str, target_date: str, today: dt.date,
) -> PlanGoal:
    """Add a short- or long-term goal with a target date that is not in the past."""
    text = (text or "").strip()
    if term not in ("short", "long"):
        raise InvalidInput("Choose whether the goal is short term or long term.")
    if not text or len(text) > 200:
        raise InvalidInput("Write the goal (up to 200 characters), e.g. 'Climb one flight of stairs without pain'.")
    target = parse_day(target_date)
    if target < today:
        raise InvalidInput(f"The target date {target.isoformat()} is in the past; choose today or later.")
    _write(session, actor, patient_id)
    row = PlanGoal(patient_id=patient_id, term=term, text=text, target_date=target, recorded_by_user_id=actor.user_id)
    session.add(row)
    audit.record(session, actor=actor, action="create", entity="plan_goal", patient_id=patient_id)
    session.flush()
    return row


def set_goal_status(session: Session, *, actor: Actor, goal_id: int, status: str) -> None:
    """Record where a goal stands (met, partly met, not met, discontinued, or active again)."""
    if status not in GOAL_STATUSES:
        raise InvalidInput(f"A goal is {', '.join(GOAL_STATUSES)}.")
    row = session.get(PlanGoal, goal_id)
    if row is None:
        raise NotFound("That goal no longer exists.")
    _write(session, actor, row.patient_id)
    row.status = status
    session.add(row)
    audit.record(session, actor=actor, action="update", entity="plan_goal", entity_id=row.id, patient_id=row.patient_id,
                 detail=status)
    session.flush()


# -- home exercise programme ---------------------------------------------------------------
def exercises(session: Session, *, actor: Actor, patient_id: int) -> list[HomeExercise]:
    """The patient's current home exercises, in the order they were added."""
    require(actor.role, "chart.view")
    _own_patient(session, actor, patient_id)
    return list(session.exec(select(HomeExercise).where(HomeExercise.patient_id == patient_id, HomeExercise.active)
                             .order_by(HomeExercise.id)))


def add_exercise(
    session: Session, *, actor: Actor, patient_id: int, name: str, dosage: str = "", instructions: str = "",
) -> HomeExercise:
    """Add an exercise to the home programme."""
    name, dosage, instructions = (name or "").strip(), (dosage or "").strip(), (instructions or "").strip()
    if not name or len(name) > 80:
        raise InvalidInput("Name the exercise (up to 80 characters), e.g. 'Heel raises'.")
    if len(dosage) > 80:
        raise InvalidInput("The dosage is over 80 characters; shorten it (e.g. '3 x 10, twice a day').")
    if len(instructions) > 400:
        raise InvalidInput("The instructions are over 400 characters; shorten them.")
    _write(session, actor, patient_id)
    row = HomeExercise(patient_id=patient_id, name=name, dosage=dosage, instructions=instructions,
                       recorded_by_user_id=actor.user_id)
    session.add(row)
    audit.record(session, actor=actor, action="create", entity="home_exercise", patient_id=patient_id)
    session.flush()
    return row


def stop_exercise(session: Session, *, actor: Actor, exercise_id: int) -> None:
    """Take an exercise out of the current programme (it stays in the record)."""
    row = session.get(HomeExercise, exercise_id)
    if row is None:
        raise NotFound("That exercise is no longer in the programme.")
    _write(session, actor, row.patient_id)
    row.active = False
    session.add(row)
    session.flush()


def _latin(text: str) -> str:
    # The PDF's built-in fonts are Latin-1; anything else prints as '?'.
    return text.encode("latin-1", "replace").decode("latin-1")


def home_programme_pdf(session: Session, *, actor: Actor, patient_id: int, today: dt.date) -> bytes:
    """The patient's home exercise programme as a printable PDF. Audited as a print of PHI."""
    for_write(session)
    items = exercises(session, actor=actor, patient_id=patient_id)
    if not items:
        raise InvalidInput("Add at least one exercise before printing the programme.")
    patient = session.get(Patient, patient_id)
    provider = session.get(Provider, actor.provider_id)
    plan = care_plan(session, actor=actor, patient_id=patient_id)
    data = programme_document(patient_name=f"{patient.first_name} {patient.last_name}",
                              by=provider.name if provider else actor.name, today=today,
                              plan=plan_words(plan) if plan is not None else "",
                              items=[(i.name, i.dosage, i.instructions) for i in items])
    audit.record(session, actor=actor, action="print", entity="home_exercise", patient_id=patient_id,
                 detail=f"{len(items)} exercises")
    session.flush()
    return data


def programme_document(*, patient_name: str, by: str, today: dt.date, plan: str,
                       items: list[tuple[str, str, str]]) -> bytes:
    """The home exercise programme's PDF: (name, dosage, instructions) of each exercise. The
    chart prints it and the patient downloads it from the portal."""
    lines = [f"For {patient_name}", f"From {by}, {today.isoformat()}"] + ([f"Plan of care: {plan}"] if plan else [])
    sections = [(f"{n}. {name}" + (f"  ({dosage})" if dosage else ""), instructions)
                for n, (name, dosage, instructions) in enumerate(items, start=1)]
    return printed_document(title="Home exercise programme", lines=lines, sections=sections,
                            footer="Stop an exercise and call the clinic if it causes sharp or increasing pain.")


def printed_document(*, title: str, lines: list[str], sections: list[tuple[str, str]], footer: str = "") -> bytes:
    """A plain Letter PDF for a patient: a title, the lines under it (for whom, from whom, when),
    then headed sections of text and a footer. The home programme and the visit summary use it."""
    from fpdf import FPDF  # imported here: only printing needs it

    pdf = FPDF(format="Letter")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _latin(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 12)
    for line in lines:
        pdf.cell(0, 7, _latin(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for heading, text in sections:
        pdf.set_font("Helvetica", "B", 13)
        pdf.multi_cell(0, 7, _latin(heading), new_x="LMARGIN", new_y="NEXT")
        if text:
            pdf.set_font("Helvetica", "", 12)
            pdf.multi_cell(0, 6, _latin(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    if footer:
        pdf.set_font("Helvetica", "I", 10)
        pdf.multi_cell(0, 5, _latin(footer), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


# -- attachments ---------------------------------------------------------------------------
MAX_ATTACHMENT = 5 * 1024 * 1024
# The type is read from the file's first bytes, not from its name or what the browser says.
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"%PDF-", "application/pdf"))


# A picture this many pixels or more is refused before it is decoded (a decompression bomb).
MAX_PIXELS = 50_000_000
# PDF names that make a document act when opened or clicked, or carry other files: such a PDF
# is refused (the chart shows PDFs in the page).
_PDF_ACTIVE = frozenset({"/JavaScript", "/JS", "/Launch", "/EmbeddedFile", "/EmbeddedFiles", "/RichMedia", "/XFA",
                         "/SubmitForm", "/ImportData", "/GoToE", "/GoToR", "/Sound", "/Movie"})


def check_content(name: str, content_type: str, data: bytes) -> None:
    """InvalidInput unless the file is whole what its first bytes say: a PNG or JPEG that decodes
    completely, or a PDF that reads as one and holds no scripts, launch or form actions or
    embedded files (checked in every object, compressed object streams included)."""
    if content_type == "application/pdf":
        _check_pdf(name, data)
    else:
        _check_image(name, content_type, data)


def _check_image(name: str, content_type: str, data: bytes) -> None:
    import io

    from PIL import Image, UnidentifiedImageError

    expected = {"image/png": "PNG", "image/jpeg": "JPEG"}[content_type]
    words = "PNG" if expected == "PNG" else "JPEG"
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != expected:
                raise InvalidInput(f"{name} is not a {words} image; only PNG and JPEG images can be attached.")
            width, height = image.size
            if width * height >= MAX_PIXELS:
                raise InvalidInput(f"{name} is {width} x {height} pixels; pictures can be up to 50 megapixels.")
            image.load()  # every pixel decoded: a header glued onto something else does not pass
        with Image.open(io.BytesIO(data)) as image:
            image.verify()  # chunk checksums (PNG)
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidInput(f"{name} is not a readable {words} image (it may be damaged or another kind of file).") from exc


def _check_pdf(name: str, data: bytes) -> None:
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # repairs of sloppy files are not news
    unreadable = InvalidInput(f"{name} is not a readable PDF (it may be damaged or another kind of file).")
    readers = []
    # Read as its cross-reference table says, and again with the table rebuilt from every object
    # in the file (as a viewer repairs a damaged file): what either finds is checked.
    for blob in (data, data + b"\nstartxref\n0\n%%EOF\n"):
        try:
            readers.append(PdfReader(io.BytesIO(blob), strict=False))
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            continue
    if not readers:
        raise unreadable
    pages = 0
    try:
        for reader in readers:
            if reader.is_encrypted:
                raise InvalidInput(f"{name} is password-protected, so it cannot be checked; attach an unprotected copy.")
            objects: list = [reader.trailer]
            for generation, numbers in reader.xref.items():
                objects += [IndirectObject(number, generation, reader) for number in numbers]
            objects += [IndirectObject(number, 0, reader) for number in getattr(reader, "xref_objStm", {})]
            seen: set[int] = set()
            while objects:
                item = objects.pop()
                if isinstance(item, IndirectObject):
                    if item.idnum in seen:
                        continue
                    seen.add(item.idnum)
                    item = item.get_object()
                if isinstance(item, DictionaryObject):
                    for key, value in item.items():
                        active = key if key in _PDF_ACTIVE else value if isinstance(value, NameObject) and value in _PDF_ACTIVE else None
                        if active:
                            raise InvalidInput(f"{name} holds scripts, actions or embedded files ({active}); such PDFs "
                                               "cannot be attached. Print it to a new PDF and attach that.")
                        objects.append(value)
                elif isinstance(item, ArrayObject):
                    objects.extend(item)
            pages = max(pages, len(reader.pages))
    except InvalidInput:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise unreadable from exc
    if pages < 1:
        raise InvalidInput(f"{name} has no pages.")


def attachments(session: Session, *, actor: Actor, patient_id: int) -> list[Attachment]:
    """The patient's attachments, newest first (without loading their bytes into the page)."""
    require(actor.role, "chart.view")
    _own_patient(session, actor, patient_id)
    return list(session.exec(select(Attachment).where(Attachment.patient_id == patient_id).order_by(Attachment.id.desc())))


def add_attachment(session: Session, *, actor: Actor, patient_id: int, filename: str, data: bytes,
                   note_id: int | None = None) -> Attachment:
    """Attach a PNG, JPEG or PDF of up to 5 MB to the patient's chart, with its SHA-256."""
    name = (filename or "file").replace("\\", "/").rsplit("/", 1)[-1].strip()[:120] or "file"
    if not data:
        raise InvalidInput(f"{name} is empty; choose the file again.")
    if len(data) > MAX_ATTACHMENT:
        raise InvalidInput(f"{name} is {len(data) / 1048576:.1f} MB; attachments can be up to 5 MB.")
    content_type = next((kind for magic, kind in _SIGNATURES if data.startswith(magic)), None)
    if content_type is None:
        raise InvalidInput(f"{name} is not a PNG or JPEG image or a PDF; only those can be attached.")
    check_content(name, content_type, data)
    digest = hashlib.sha256(data).hexdigest()
    _write(session, actor, patient_id)
    same = session.exec(select(Attachment).where(Attachment.patient_id == patient_id, Attachment.sha256 == digest)).first()
    if same is not None:
        raise InvalidInput(f"This file is already attached as {same.filename}.")
    row = Attachment(patient_id=patient_id, note_id=note_id, filename=name, content_type=content_type, size_bytes=len(data),
                     sha256=digest, data=data, uploaded_by_user_id=actor.user_id)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="create", entity="attachment", entity_id=row.id, patient_id=patient_id)
    session.flush()
    return row


def open_attachment(session: Session, *, actor: Actor, attachment_id: int) -> Attachment:
    """An attachment with its bytes, checked against its SHA-256. Audited as a view."""
    for_write(session)
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound("That attachment no longer exists.")
    require(actor.role, "chart.view")
    _own_patient(session, actor, row.patient_id)
    if hashlib.sha256(row.data).hexdigest() != row.sha256:
        raise InvalidInput(f"{row.filename} does not match the checksum taken at upload; it may be damaged. Tell an admin.")
    audit.record(session, actor=actor, action="view", entity="attachment", entity_id=row.id, patient_id=row.patient_id)
    session.flush()
    return row
