"""Outcome measures: definitions, automatic scoring, results per visit, and trends.

Built in (DOMAIN.md): NPRS (0-10 pain, MCID 2), the Patient-Specific Functional Scale
(3-5 activities the patient names, each 0-10, score = mean, MCID 2) and LEFS (20 items
0-4, total 0-80, MCID 9). A clinic defines others (items, sum or mean, MCID), e.g.
licensed questionnaires under its own licence: no copyrighted item text is shipped.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import Appointment, MeasureResult, Note, OutcomeMeasure
from clinic_app.services import audit
from clinic_app.services.actor import Actor
from clinic_app.services.charting import editable_note, readable_note
from clinic_app.services.errors import InvalidInput, from_db_error
from clinic_app.services.permissions import require


@dataclass(frozen=True)
class MeasureDef:
    """What a measure asks and how it is scored."""

    code: str
    name: str
    items: tuple[str, ...]  # default item labels, in order
    min_items: int
    max_items: int
    item_min: int
    item_max: int
    scoring: str  # "sum" or "mean"
    mcid: float
    higher_is_better: bool
    labels_editable: bool = False  # PSFS: the patient names the activities

    @property
    def range_words(self) -> str:
        return f"{self.item_min} to {self.item_max}"


BUILTIN = {
    "NPRS": MeasureDef(
        code="NPRS", name="Numeric Pain Rating Scale", items=("Pain now (0 = no pain, 10 = worst imaginable)",),
        min_items=1, max_items=1, item_min=0, item_max=10, scoring="sum", mcid=2, higher_is_better=False,
    ),
    "PSFS": MeasureDef(
        code="PSFS", name="Patient-Specific Functional Scale", items=("Activity 1", "Activity 2", "Activity 3"),
        min_items=3, max_items=5, item_min=0, item_max=10, scoring="mean", mcid=2, higher_is_better=True,
        labels_editable=True,
    ),
    # LEFS item text is on the clinic's own form; the app records the 20 item scores.
    "LEFS": MeasureDef(
        code="LEFS", name="Lower Extremity Functional Scale", items=tuple(f"Item {i}" for i in range(1, 21)),
        min_items=20, max_items=20, item_min=0, item_max=4, scoring="sum", mcid=9, higher_is_better=True,
    ),
}
CODE_RE = re.compile(r"^[A-Z][A-Z0-9-]{1,15}$")
MAX_LABEL = 80


def _from_row(row: OutcomeMeasure) -> MeasureDef:
    items = tuple(line for line in row.items.splitlines() if line.strip())
    return MeasureDef(
        code=row.code, name=row.name, items=items, min_items=len(items), max_items=len(items),
        item_min=row.item_min, item_max=row.item_max, scoring=row.scoring, mcid=row.mcid,
        higher_is_better=row.higher_is_better,
    )


def definitions(session: Session) -> list[MeasureDef]:
    """Every measure a clinician may record: the built-in ones, then the clinic's own."""
    rows = session.exec(select(OutcomeMeasure).where(OutcomeMeasure.active).order_by(OutcomeMeasure.code))
    return [*BUILTIN.values(), *(_from_row(r) for r in rows)]


def definition(session: Session, code: str) -> MeasureDef:
    """One measure by its code; InvalidInput if the clinic has no such measure."""
    code = (code or "").strip().upper()
    if code in BUILTIN:
        return BUILTIN[code]
    row = session.exec(select(OutcomeMeasure).where(OutcomeMeasure.code == code, OutcomeMeasure.active)).first()
    if row is None:
        raise InvalidInput(f"{code or 'That'} is not one of the clinic's outcome measures.")
    return _from_row(row)


def define_measure(
    session: Session, *, actor: Actor, code: str, name: str, items: list[str], item_min: int, item_max: int,
    scoring: str, mcid: float, higher_is_better: bool = True,
) -> OutcomeMeasure:
    """Add a clinic-defined measure (admin)."""
    for_write(session)
    require(actor.role, "measure.define")
    code = (code or "").strip().upper()
    if not CODE_RE.match(code):
        raise InvalidInput("A measure code is 2-16 capital letters, digits or dashes, starting with a letter (e.g. ODI).")
    if code in BUILTIN:
        raise InvalidInput(f"{code} is built in already.")
    items = [i.strip()[:MAX_LABEL] for i in items if i and i.strip()]
    if not 1 <= len(items) <= 100:
        raise InvalidInput("A measure needs from 1 to 100 items, one per line.")
    if scoring not in ("sum", "mean"):
        raise InvalidInput("Scoring must be the sum or the mean of the items.")
    if not item_min < item_max:
        raise InvalidInput("The lowest item score must be below the highest.")
    if not mcid > 0:
        raise InvalidInput("The minimal clinically important difference must be above 0.")
    if session.exec(select(OutcomeMeasure).where(OutcomeMeasure.code == code)).first() is not None:
        raise InvalidInput(f"The clinic already has a measure {code}.")
    row = OutcomeMeasure(
        code=code, name=(name or code).strip()[:120], items="\n".join(items), item_min=item_min, item_max=item_max,
        scoring=scoring, mcid=mcid, higher_is_better=higher_is_better,
    )
    session.add(row)
    session.commit()
    return row


def score(defn: MeasureDef, values: list[int | str], labels: list[str] | None = None) -> tuple[float, list[int], list[str]]:
    """(score, item values, item labels) of a filled-in measure; InvalidInput naming the item at fault."""
    labels = list(labels) if labels is not None else list(defn.items)
    pairs = list(zip(labels, values, strict=False))
    if defn.labels_editable:
        # PSFS: rows with neither an activity nor a score are simply unused.
        pairs = [(label.strip(), v) for label, v in pairs if label.strip() or str(v).strip()]
    if not defn.min_items <= len(pairs) <= defn.max_items:
        count = str(defn.min_items) if defn.min_items == defn.max_items else f"{defn.min_items} to {defn.max_items}"
        raise InvalidInput(f"{defn.code} needs {count} item(s); {len(pairs)} given.")
    clean: list[int] = []
    for n, (label, value) in enumerate(pairs, start=1):
        name = label or f"item {n}"
        if defn.labels_editable and not label:
            raise InvalidInput(f"{defn.code}: name activity {n}.")
        try:
            number = int(str(value).strip())
        except ValueError:
            number = None
        if number is None or not defn.item_min <= number <= defn.item_max:
            raise InvalidInput(f"{defn.code}, {name}: enter a whole number from {defn.range_words}.")
        clean.append(number)
    total = sum(clean)
    result = total / len(clean) if defn.scoring == "mean" else float(total)
    return round(result, 2), clean, [label[:MAX_LABEL] for label, _ in pairs]


def record(
    session: Session, *, actor: Actor, note_id: int, code: str, values: list[int | str], labels: list[str] | None = None,
) -> MeasureResult:
    """Score a measure and store it with the visit's draft note (replacing an earlier entry)."""
    defn = definition(session, code)
    total, clean, used_labels = score(defn, values, labels)
    note = editable_note(session, actor=actor, note_id=note_id)
    row = session.exec(select(MeasureResult).where(MeasureResult.note_id == note.id, MeasureResult.measure_code == defn.code)).first()
    if row is None:
        row = MeasureResult(note_id=note.id, patient_id=note.patient_id, measure_code=defn.code, recorded_by_user_id=actor.user_id,
                            item_values="", item_labels="", score=0)
    row.item_values, row.item_labels, row.score = json.dumps(clean), json.dumps(used_labels), total
    row.recorded_at, row.recorded_by_user_id = utcnow(), actor.user_id
    session.add(row)
    audit.record(session, actor=actor, action="update", entity="measure_result", entity_id=note.id, patient_id=note.patient_id,
                 detail=defn.code)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise (from_db_error(exc) or InvalidInput("That score conflicts with the saved note; reload it.")) from exc
    return row


def remove(session: Session, *, actor: Actor, note_id: int, code: str) -> None:
    """Take a measure off a draft note."""
    note = editable_note(session, actor=actor, note_id=note_id)
    row = session.exec(select(MeasureResult).where(MeasureResult.note_id == note.id, MeasureResult.measure_code == code)).first()
    if row is not None:
        session.delete(row)
    session.commit()


@dataclass
class TrendPoint:
    visit_at: dt.datetime
    score: float
    change: float  # since the first score of the trend
    words: str


def trend(session: Session, *, actor: Actor, note_id: int, code: str) -> list[TrendPoint]:
    """A measure's scores across the patient's visits, oldest first, up to the given note's
    visit, each with its change since the first and whether that change is clinically important."""
    require(actor.role, "chart.view")
    note = readable_note(session, actor=actor, note_id=note_id)
    defn = definition(session, code)
    here = session.get(Appointment, note.appointment_id)
    rows = session.exec(
        select(MeasureResult, Appointment)
        .join(Note, Note.id == MeasureResult.note_id)
        .join(Appointment, Appointment.id == Note.appointment_id)
        .where(MeasureResult.patient_id == note.patient_id, MeasureResult.measure_code == defn.code,
               Appointment.starts_at <= here.starts_at)
        .order_by(Appointment.starts_at)
    ).all()
    if not rows:
        return []
    first = rows[0][0].score
    points = []
    for result, appointment in rows:
        change = round(result.score - first, 2)
        points.append(TrendPoint(appointment.starts_at, result.score, change, change_words(defn, change)))
    return points


def change_words(defn: MeasureDef, change: float) -> str:
    """A change since the first score, in words: direction, size, and clinical importance."""
    if change == 0:
        return "No change since the first score."
    better = (change > 0) == defn.higher_is_better
    size = f"{abs(change):g} point(s)"
    important = abs(change) >= defn.mcid
    verdict = (
        f"clinically important (MCID {defn.mcid:g})" if important else f"below the clinically important change of {defn.mcid:g}"
    )
    return f"{'Better' if better else 'Worse'} by {size} since the first score: {verdict}."


def results(session: Session, *, note_id: int) -> list[MeasureResult]:
    """The measures recorded with a note."""
    return list(session.exec(select(MeasureResult).where(MeasureResult.note_id == note_id).order_by(MeasureResult.measure_code)))

