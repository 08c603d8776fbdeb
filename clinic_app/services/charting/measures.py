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
from clinic_app.models import Appointment, HomeMeasure, MeasureResult, Note, OutcomeMeasure
from clinic_app.services.charting.charting import editable_note, readable_note
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput, from_db_error
from clinic_app.services.platform.permissions import require


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
    scoring: str  # "sum", "mean", or "percent" (of the highest possible total)
    mcid: float
    higher_is_better: bool
    labels_editable: bool = False  # PSFS: the patient names the activities

    active: bool = True

    @property
    def range_words(self) -> str:
        return f"{self.item_min} to {self.item_max}"

    @property
    def score_range(self) -> tuple[float, float]:
        """The lowest and highest score the measure can give."""
        if self.scoring == "percent":
            return 0.0, 100.0
        if self.scoring == "mean":
            return float(self.item_min), float(self.item_max)
        return float(self.item_min * self.max_items), float(self.item_max * self.max_items)

    @property
    def scoring_words(self) -> str:
        low, high = self.score_range
        how = {"sum": "sum of the items", "mean": "mean of the items", "percent": "percent of the highest possible total"}
        return f"{how[self.scoring]}, {low:g} to {high:g}, {'higher' if self.higher_is_better else 'lower'} is better"


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
        higher_is_better=row.higher_is_better, active=row.active,
    )


def definitions(session: Session) -> list[MeasureDef]:
    """Every measure a clinician may record: the built-in ones, then the clinic's own."""
    rows = session.exec(select(OutcomeMeasure).where(OutcomeMeasure.active).order_by(OutcomeMeasure.code))
    return [*BUILTIN.values(), *(_from_row(r) for r in rows)]


def definition(session: Session, code: str, *, retired_too: bool = False) -> MeasureDef:
    """One measure by its code; InvalidInput if the clinic has no such measure (in use,
    unless ``retired_too``: scores already recorded are still shown)."""
    code = (code or "").strip().upper()
    if code in BUILTIN:
        return BUILTIN[code]
    row = session.exec(select(OutcomeMeasure).where(OutcomeMeasure.code == code)).first()
    if row is not None and not row.active and not retired_too:
        raise InvalidInput(f"{code} is retired; the clinic no longer records it.")
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
    if not (name or "").strip():
        raise InvalidInput("Give the measure a name.")
    if scoring not in ("sum", "mean", "percent"):
        raise InvalidInput("Scoring must be the sum or the mean of the items, or a percent of the highest possible total.")
    if not -1000 <= item_min < item_max <= 1000:
        raise InvalidInput("The lowest item score must be below the highest (both within -1,000 to 1,000).")
    if not mcid > 0:
        raise InvalidInput("The minimal clinically important difference must be above 0.")
    draft = MeasureDef(code=code, name=name, items=tuple(items), min_items=len(items), max_items=len(items), item_min=item_min,
                       item_max=item_max, scoring=scoring, mcid=mcid, higher_is_better=higher_is_better)
    low, high = draft.score_range
    if mcid >= high - low:
        raise InvalidInput(f"The MCID ({mcid:g}) must be smaller than the whole score range ({low:g} to {high:g}).")
    if session.exec(select(OutcomeMeasure).where(OutcomeMeasure.code == code)).first() is not None:
        raise InvalidInput(f"The clinic already has a measure {code}.")
    row = OutcomeMeasure(
        code=code, name=(name or code).strip()[:120], items="\n".join(items), item_min=item_min, item_max=item_max,
        scoring=scoring, mcid=mcid, higher_is_better=higher_is_better,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="create", entity="outcome_measure", entity_id=row.id, detail=code)
    session.flush()
    return row


def clinic_measures(session: Session, *, actor: Actor) -> list[MeasureDef]:
    """The clinic's own measures, retired ones too, for the admin."""
    require(actor.role, "measure.define")
    return [_from_row(r) for r in session.exec(select(OutcomeMeasure).order_by(OutcomeMeasure.code))]


def set_active(session: Session, *, actor: Actor, code: str, active: bool) -> MeasureDef:
    """Retire a clinic-defined measure (no longer offered; scores kept and shown) or bring it back.
    A measure is never edited: its scores would stop meaning the same; define a new one instead."""
    for_write(session)
    require(actor.role, "measure.define")
    row = session.exec(select(OutcomeMeasure).where(OutcomeMeasure.code == (code or "").strip().upper())).first()
    if row is None:
        raise InvalidInput(f"{code} is not one of the clinic's own measures (built-in ones cannot be retired).")
    row.active = active
    session.add(row)
    audit.record(session, actor=actor, action="update", entity="outcome_measure", entity_id=row.id,
                 detail=f"{row.code} {'back in use' if active else 'retired'}")
    session.flush()
    return _from_row(row)


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
    if defn.scoring == "percent":
        result = (total - defn.item_min * len(clean)) / ((defn.item_max - defn.item_min) * len(clean)) * 100
    else:
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
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise (from_db_error(exc) or InvalidInput("That score conflicts with the saved note; reload it.")) from exc
    return row


def remove(session: Session, *, actor: Actor, note_id: int, code: str) -> None:
    """Take a measure off a draft note."""
    note = editable_note(session, actor=actor, note_id=note_id)
    row = session.exec(select(MeasureResult).where(MeasureResult.note_id == note.id, MeasureResult.measure_code == code)).first()
    if row is not None:
        session.delete(row)
    session.flush()


@dataclass
class TrendPoint:
    visit_at: dt.datetime
    score: float
    change: float  # since the first score of the trend
    words: str
    by_patient: bool = False  # answered by the patient at home (the portal), not at a visit


def trend(session: Session, *, actor: Actor, note_id: int, code: str) -> list[TrendPoint]:
    """A measure's scores across the patient's visits, oldest first, up to the given note's
    visit, each with its change since the first and whether that change is clinically important."""
    require(actor.role, "chart.view")
    note = readable_note(session, actor=actor, note_id=note_id)
    defn = definition(session, code, retired_too=True)
    here = session.get(Appointment, note.appointment_id)
    rows = session.exec(
        select(MeasureResult, Appointment)
        .join(Note, Note.id == MeasureResult.note_id)
        .join(Appointment, Appointment.id == Note.appointment_id)
        .where(MeasureResult.patient_id == note.patient_id, MeasureResult.measure_code == defn.code,
               Appointment.starts_at <= here.starts_at)
        .order_by(Appointment.starts_at)
    ).all()
    # Scores the patient reported at home (the portal) up to the next visit after this one.
    following = session.exec(
        select(Appointment.starts_at).where(Appointment.patient_id == note.patient_id,
                                            Appointment.starts_at > here.starts_at,
                                            Appointment.status.not_in(("cancelled", "no_show")))
        .order_by(Appointment.starts_at).limit(1)
    ).first()
    home = select(HomeMeasure).where(HomeMeasure.patient_id == note.patient_id, HomeMeasure.measure_code == defn.code,
                                     HomeMeasure.answered_at.is_not(None))
    if following is not None:
        home = home.where(HomeMeasure.answered_at < following)
    scored = sorted([(a.starts_at, r.score, False) for r, a in rows]
                    + [(h.answered_at, h.score, True) for h in session.exec(home)], key=lambda p: p[0])
    if not scored:
        return []
    first = scored[0][1]
    points = []
    for at, value, by_patient in scored:
        change = round(value - first, 2)
        words = change_words(defn, change)
        points.append(TrendPoint(at, value, change, f"Reported by the patient at home. {words}" if by_patient else words,
                                 by_patient))
    return points


def change_words(defn: MeasureDef, change: float) -> str:
    """A change since the first score, in words: direction, size, and clinical importance."""
    if change == 0:
        return "No change since the first score."
    better = (change > 0) == defn.higher_is_better
    size = abs(change)
    points = f"{size:g} point{'' if size == 1 else 's'}"
    where = "above" if size > defn.mcid else "at" if size == defn.mcid else "below"
    verdict = "clinically important" if size >= defn.mcid else "not clinically important yet" if better else "not clinically important"
    return f"{'Improved' if better else 'Worse'} by {points} since the first score, {where} the MCID of {defn.mcid:g}: {verdict}."


def results(session: Session, *, note_id: int) -> list[MeasureResult]:
    """The measures recorded with a note."""
    return list(session.exec(select(MeasureResult).where(MeasureResult.note_id == note_id).order_by(MeasureResult.measure_code)))

