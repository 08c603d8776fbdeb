"""The portal's "My care": the signed-in patient's visits, home exercise programme (and its
PDF), and the outcome measures their clinician asked them to fill in at home.

Everything here is scoped to ``me.acting_for`` (one of ``me.patient_ids``): another patient's id gets NotFound, the same
words as an id that does not exist. The clinician's side (asking for a measure, withdrawing
it, the chart's list) is here too, checked with the chart's permissions.

Never commits: the caller owns the transaction (state.common.in_db, db.session_scope()).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace

from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import Appointment, CarePlan, HomeExercise, HomeMeasure, Location, Patient, ReleasedDocument
from clinic_app.services.charting import history, measures, released
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NotFound
from clinic_app.services.platform.permissions import require
from clinic_app.services.portal import booking
from clinic_app.services.portal.accounts import Me, portal_actor

OPEN_PER_PATIENT = 10  # measures waiting for a patient at once
# The desk's words for a visit after it, as a patient reads them.
PATIENT_WORDS = {"In session": "Attended", "Ready to bill": "Attended", "Billed": "Attended"}


@dataclass(frozen=True)
class Exercise:
    id: int
    name: str
    dosage: str  # sets/reps as the clinician wrote them, e.g. "3 x 10, twice a day"
    instructions: str


@dataclass(frozen=True)
class Item:
    """One question of a measure the patient fills in."""

    index: int
    label: str  # the measure's own item text ("" for a PSFS activity the patient names)
    label_editable: bool
    item_min: int
    item_max: int


@dataclass(frozen=True)
class AskedMeasure:
    """A measure asked of the patient: waiting (``items`` to fill in) or answered (``score``)."""

    id: int
    code: str
    name: str
    asked: str  # "Tue 12 Mar 2030"
    items: tuple[Item, ...]
    max_items: int
    score: float | None
    answered: str  # "" until answered
    status: str  # in words


# -- the patient's side -----------------------------------------------------------------------
def visits(session: Session, me: Me, *, now: dt.datetime | None = None) -> tuple[list[booking.Visit], list[booking.Visit]]:
    """(upcoming, past) visits of the signed-in patient, times in the location's zone."""
    now = now or utcnow()
    past = [replace(v, status=PATIENT_WORDS.get(v.status, v.status))
            for v in booking.visits(session, me, upcoming=False, now=now, limit=20)]
    return booking.visits(session, me, now=now), past


def exercises(session: Session, me: Me) -> list[Exercise]:
    """The patient's current home exercise programme, in the clinician's order."""
    rows = session.exec(select(HomeExercise).where(HomeExercise.patient_id == me.acting_for, HomeExercise.active)
                        .order_by(HomeExercise.id))
    return [Exercise(r.id, r.name, r.dosage, r.instructions) for r in rows]


def clinic_zone(session: Session) -> str:
    # Dates the patient reads are shown in the clinic's zone (the first location's; the
    # portal has no "home location" per patient yet).
    location = session.exec(select(Location).order_by(Location.id)).first()
    return location.timezone if location else "UTC"


def _day(when: dt.datetime | None, zone: str) -> str:
    return f"{local(when, zone):%a %d %b %Y}" if when else ""


def _asked(session: Session, row: HomeMeasure, zone: str) -> AskedMeasure:
    defn = measures.definition(session, row.measure_code, retired_too=True)
    items = tuple(
        Item(index=i, label="" if defn.labels_editable else label, label_editable=defn.labels_editable,
             item_min=defn.item_min, item_max=defn.item_max)
        for i, label in enumerate(defn.items)
    )
    answered = row.answered_at is not None
    return AskedMeasure(
        id=row.id, code=defn.code, name=defn.name, asked=_day(row.assigned_at, zone), items=() if answered else items,
        max_items=defn.max_items, score=row.score, answered=_day(row.answered_at, zone),
        status=(f"Answered on {_day(row.answered_at, zone)}: score {row.score:g}" if answered
                else "Withdrawn by the clinic" if row.withdrawn else "Waiting for your answers"),
    )


def asked_measures(session: Session, me: Me, *, answered_too: bool = True) -> list[AskedMeasure]:
    """The measures the clinic asked the patient to fill in: waiting ones first, then the
    answered ones (latest first); withdrawn ones are not shown."""
    rows = session.exec(select(HomeMeasure).where(HomeMeasure.patient_id == me.acting_for, ~HomeMeasure.withdrawn)
                        .order_by(HomeMeasure.assigned_at.desc(), HomeMeasure.id.desc())).all()
    zone = clinic_zone(session)
    waiting = [_asked(session, r, zone) for r in rows if r.answered_at is None]
    done = [_asked(session, r, zone) for r in rows if r.answered_at is not None] if answered_too else []
    return [*waiting, *done]


def _mine(session: Session, me: Me, home_measure_id: int) -> HomeMeasure:
    row = session.get(HomeMeasure, home_measure_id) if isinstance(home_measure_id, int) else None
    if row is None or row.patient_id != me.acting_for or row.withdrawn:
        raise NotFound("That questionnaire is not in your account.")
    return row


def answer(session: Session, me: Me, *, home_measure_id: int, values: list[int | str],
           labels: list[str] | None = None, now: dt.datetime | None = None) -> HomeMeasure:
    """Score the patient's answers with the measure's own rules (services/charting/measures.py)
    and keep them: the score joins the chart's trend, reported by the patient. Once only."""
    for_write(session)
    row = _mine(session, me, home_measure_id)
    if row.answered_at is not None:
        raise InvalidInput("You have already answered this questionnaire; thank you.")
    defn = measures.definition(session, row.measure_code, retired_too=True)
    total, clean, used = measures.score(defn, values, labels)
    row.item_values, row.item_labels, row.score = json.dumps(clean), json.dumps(used), total
    row.answered_at = now or utcnow()
    session.add(row)
    audit.record(session, actor=portal_actor(me), action="update", entity="home_measure", entity_id=row.id,
                 patient_id=row.patient_id, detail=f"{defn.code} answered")
    session.flush()
    return row


def programme_pdf(session: Session, me: Me, *, today: dt.date) -> bytes:
    """The patient's home exercise programme as the same PDF the chart prints."""
    for_write(session)
    items = exercises(session, me)
    if not items:
        raise InvalidInput("Your clinician has not given you home exercises yet.")
    patient = session.get(Patient, me.acting_for)
    plan = session.exec(select(CarePlan).where(CarePlan.patient_id == me.acting_for)
                        .order_by(CarePlan.recorded_at.desc(), CarePlan.id.desc())).first()
    data = history.programme_document(
        patient_name=f"{patient.first_name} {patient.last_name}", by="your clinic", today=today,
        plan=history.plan_words(plan) if plan is not None else "",
        items=[(e.name, e.dosage, e.instructions) for e in items],
    )
    audit.record(session, actor=portal_actor(me), action="print", entity="home_exercise", patient_id=me.acting_for,
                 detail=f"{len(items)} exercises, downloaded in the portal")
    return data


# -- documents from the clinic ----------------------------------------------------------------
DOCUMENTS_PATH = "/portal/documents"


@dataclass(frozen=True)
class Document:
    """A document the clinic shared: the visit's date, its title, where to download it."""

    id: int
    day: str  # the visit's date, ISO
    title: str
    url: str


def documents(session: Session, me: Me) -> list[Document]:
    """The documents clinicians have shared with the patient the account acts for (and not taken
    back), newest first. A download checks only that the account may see the patient's records
    (the link's request carries no tab's choice of whose records)."""
    return [Document(d.id, released.visit_day(session, document=d), d.title, f"{DOCUMENTS_PATH}/{d.id}.pdf")
            for d in released.shared_with(session, patient_ids=frozenset({me.acting_for}))]


def document_pdf(session: Session, me: Me, *, document_id: int) -> tuple[str, bytes]:
    """(file name, PDF) of a shared document; NotFound for another patient's or a withdrawn one,
    the same words as one that never existed. Audited as a download."""
    for_write(session)
    row = session.get(ReleasedDocument, document_id)
    if row is None or row.patient_id not in me.patient_ids or row.withdrawn_at is not None:
        raise NotFound("That document is not available; it may have been withdrawn. Please ask the clinic.")
    data = released.summary_pdf(session, document=row)
    audit.record(session, actor=portal_actor(me), action="download", entity="released_document", entity_id=row.id,
                 patient_id=row.patient_id, detail=row.title)
    return f"visit-summary-{released.visit_day(session, document=row)}.pdf", data


# -- the clinician's side ---------------------------------------------------------------------
def assign(session: Session, *, actor: Actor, patient_id: int, code: str, now: dt.datetime | None = None) -> HomeMeasure:
    """Ask the patient to fill in a measure at home (one waiting of each measure at a time)."""
    for_write(session)
    require(actor.role, "note.edit")
    if session.get(Patient, patient_id) is None:
        raise NotFound("That patient is not in the records.")
    # Minimum necessary, as the chart: a clinician asks only their own patients.
    seen = session.exec(select(Appointment.id).where(Appointment.patient_id == patient_id,
                                                     Appointment.provider_id == actor.provider_id)).first()
    if actor.provider_id is None or seen is None:
        raise NotAllowed("This patient is not one of yours.")
    defn = measures.definition(session, code)
    waiting = session.exec(select(HomeMeasure).where(HomeMeasure.patient_id == patient_id, ~HomeMeasure.withdrawn,
                                                     HomeMeasure.answered_at.is_(None))).all()
    if any(r.measure_code == defn.code for r in waiting):
        raise InvalidInput(f"{defn.code} is already waiting for the patient's answers.")
    if len(waiting) >= OPEN_PER_PATIENT:
        raise InvalidInput(f"The patient already has {OPEN_PER_PATIENT} questionnaires waiting; withdraw one first.")
    row = HomeMeasure(patient_id=patient_id, measure_code=defn.code, assigned_by_user_id=actor.user_id,
                      assigned_at=now or utcnow())
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="create", entity="home_measure", entity_id=row.id, patient_id=patient_id,
                 detail=f"{defn.code} asked at home")
    return row


def withdraw(session: Session, *, actor: Actor, home_measure_id: int) -> None:
    """Take back a measure the patient has not answered yet."""
    for_write(session)
    require(actor.role, "note.edit")
    row = session.get(HomeMeasure, home_measure_id)
    if row is None or row.withdrawn:
        raise NotFound("That questionnaire is no longer waiting.")
    if row.answered_at is not None:
        raise InvalidInput("The patient has answered it already; the score stays in the record.")
    row.withdrawn = True
    session.add(row)
    audit.record(session, actor=actor, action="update", entity="home_measure", entity_id=row.id,
                 patient_id=row.patient_id, detail=f"{row.measure_code} withdrawn")


@dataclass(frozen=True)
class ChartRow:
    id: int
    code: str
    words: str  # "NPRS asked Tue 12 Mar 2030: waiting for the patient" / "... reported by the patient ...: 3"
    waiting: bool


def for_chart(session: Session, *, actor: Actor, patient_id: int, zone: str) -> list[ChartRow]:
    """The measures asked of the patient at home, for the chart's Measures section."""
    require(actor.role, "chart.view")
    rows = session.exec(select(HomeMeasure).where(HomeMeasure.patient_id == patient_id, ~HomeMeasure.withdrawn)
                        .order_by(HomeMeasure.assigned_at.desc(), HomeMeasure.id.desc()).limit(20)).all()
    return [
        ChartRow(r.id, r.measure_code,
                 f"{r.measure_code} asked {_day(r.assigned_at, zone)}: "
                 + (f"reported by the patient on {_day(r.answered_at, zone)}, score {r.score:g}" if r.answered_at
                    else "waiting for the patient"),
                 r.answered_at is None)
        for r in rows
    ]


def reported_codes(session: Session, *, patient_id: int) -> list[str]:
    """Codes of the measures the patient has answered at home."""
    rows = session.exec(select(HomeMeasure.measure_code).where(HomeMeasure.patient_id == patient_id,
                                                               HomeMeasure.answered_at.is_not(None)).distinct())
    return sorted(set(rows))
