"""The clinician's chart on a tablet: today's list, the visit note, signing."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from typing import Any

import reflex as rx

from clinic_app.live import registry
from clinic_app.live.events import chart_topic
from clinic_app.models import Location, Note, Provider
from clinic_app.services import board, body_chart, charting, history, measures, scheduling, templates
from clinic_app.services.clock import hhmm, local
from clinic_app.services.codes import describe_icd10, search_icd10
from clinic_app.services.errors import ClinicError, DraftConflict
from clinic_app.state.auth import as_id, current_actor, page_actor
from clinic_app.state.common import in_db, today_at
from clinic_app.state.live_push import client_token


@dataclasses.dataclass
class Visit:
    """A row of the clinician's day list."""

    id: int
    patient_name: str
    type_name: str
    start_label: str
    status: str
    status_label: str
    open_label: str


@dataclasses.dataclass
class Diagnosis:
    code: str
    description: str


@dataclasses.dataclass
class Procedure:
    code: str
    units: int
    minutes_label: str
    modifiers: str


@dataclasses.dataclass
class Addendum:
    heading: str
    text: str


@dataclasses.dataclass
class MeasureRow:
    """One item of the measure being filled in."""

    index: int
    label: str
    value: str
    label_editable: bool
    field_label: str


@dataclasses.dataclass
class TrendRow:
    when: str
    score: str
    words: str


@dataclasses.dataclass
class MeasureShown:
    """A measure scored at this visit, with its trend across the patient's visits."""

    code: str
    heading: str
    trend: list[TrendRow]
    latest_words: str
    # For the trend chart: one point per visit, and the score the MCID reaches from the first.
    points: list[dict[str, Any]]
    target: float
    target_words: str
    low: float
    high: float


@dataclasses.dataclass
class TemplateOption:
    code: str
    name: str


@dataclasses.dataclass
class FieldShown:
    """A structured field of the note's template, as the page shows it."""

    key: str
    label: str
    kind: str
    value: str
    options: list[str]
    checked: list[str]
    field_id: str


@dataclasses.dataclass
class RecordRow:
    """A problem, allergy or medication line with the button that ends it."""

    id: int
    text: str
    action_label: str


@dataclasses.dataclass
class GoalRow:
    id: int
    text: str
    status: str
    status_label: str


@dataclasses.dataclass
class IcdHit:
    code: str
    description: str
    add_label: str


@dataclasses.dataclass
class CosignItem:
    note_id: int
    label: str


class ChartState(rx.State):
    """One clinician's chart screen."""

    day: str = ""
    visits: list[Visit] = []
    message: str = ""
    message_is_error: bool = False

    appointment_id: int = 0
    note_id: int = 0
    patient_name: str = ""
    visit_label: str = ""
    visit_status: str = ""
    visit_status_label: str = ""
    signed_label: str = ""
    subjective: str = ""
    objective: str = ""
    assessment: str = ""
    plan: str = ""
    diagnoses: list[Diagnosis] = []
    procedures: list[Procedure] = []
    new_diagnosis: str = ""
    new_procedure: str = ""
    new_units: str = "1"
    new_minutes: str = ""
    new_modifiers: str = ""
    assistant_words: str = ""  # "CQ is added to every line: ..." on a PTA's or OTA's note
    saved_label: str = ""
    unit_warnings: list[str] = []
    signature_lines: list[str] = []
    can_cosign: bool = False
    own_note: bool = True
    addenda: list[Addendum] = []
    new_addendum: str = ""
    awaiting_cosign: list[CosignItem] = []
    # Set when another device saved a section this device was editing (see save_draft).
    conflict_field: str = ""
    conflict_text: str = ""
    measure_codes: list[str] = []
    measure_code: str = ""
    measure_name: str = ""
    measure_rows: list[MeasureRow] = []
    measure_can_add_row: bool = False
    measure_results: list[MeasureShown] = []
    template_options: list[TemplateOption] = []
    template_code: str = ""
    label_subjective: str = "Subjective"
    label_objective: str = "Objective"
    label_assessment: str = "Assessment"
    label_plan: str = "Plan"
    fields: list[FieldShown] = []
    problems: list[RecordRow] = []
    allergies: list[RecordRow] = []
    medications: list[RecordRow] = []
    allergy_words: str = ""
    icd_query: str = ""
    icd_hits: list[IcdHit] = []
    new_substance: str = ""
    new_reaction: str = ""
    new_med_name: str = ""
    new_med_class: str = "other"
    new_med_dose: str = ""
    drug_classes: list[str] = list(history.DRUG_CLASSES)
    # A safety alert waiting for the clinician's "Record anyway" ("medication" / "allergy").
    pending_confirm: str = ""
    pending_alert: str = ""
    _patient_id: int = 0
    goals: list[GoalRow] = []
    exercises: list[RecordRow] = []
    attachments: list[RecordRow] = []
    # The attachment shown in the page (an image inline, a PDF in an embedded viewer).
    viewer_id: int = 0
    viewer_name: str = ""
    viewer_src: str = ""
    viewer_is_pdf: bool = False
    new_ex_name: str = ""
    new_ex_dosage: str = ""
    new_ex_instructions: str = ""
    goal_statuses: list[str] = list(history.GOAL_STATUSES)
    new_goal_term: str = "short"
    new_goal_text: str = ""
    new_goal_date: str = ""
    care_plan_text: str = "No frequency or duration of care set."
    plan_per_week: str = ""
    plan_weeks: str = ""
    plan_start: str = ""
    # Body chart.
    symptoms: list[str] = list(body_chart.SYMPTOMS)
    intensities: list[str] = [str(n) for n in range(11)]
    region_fill: dict[str, str] = dict.fromkeys(body_chart.REGIONS, "#e5e7eb")
    selected_region: str = ""
    selected_region_label: str = ""
    mark_symptom: str = "pain"
    mark_intensity: str = ""
    body_marks: list[str] = []
    previous_marks: list[str] = []
    previous_marks_label: str = ""

    _tz: str = "UTC"
    # Each section as this device last loaded or saved it: the base of the conflict check.
    _base: dict[str, str] = {}

    @rx.event
    async def load(self):
        """on_load: today's visits of the signed-in clinician."""
        actor, redirect = await page_actor(self, "chart.view")
        if redirect:
            return redirect

        def work(session):
            provider = session.get(Provider, actor.provider_id) if actor.provider_id else None
            if provider is None:
                raise ClinicError("Your account is not linked to a provider; ask an admin.")
            self._tz = session.get(Location, provider.location_id).timezone
            self.day = today_at(self._tz).isoformat()
            rows = board.provider_day(session, actor=actor, day=today_at(self._tz))
            self._load_awaiting(session, actor)
            return rows

        try:
            rows = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        self.visits = [self._visit(r) for r in rows]
        self._provider_id = actor.provider_id or 0
        registry.show(client_token(self), "chart", [chart_topic(actor.provider_id, self.day)])
        if self.appointment_id:
            return await self.open_visit(self.appointment_id)
        return None

    @staticmethod
    def _visit(row: dict) -> Visit:
        return Visit(
            id=row["id"], patient_name=row["patient_name"], type_name=row["type_name"],
            start_label=row["start_label"], status=row["status"], status_label=row["status_label"],
            open_label=f"Open note: {row['patient_name']} at {row['start_label']}",
        )

    _provider_id: int = 0

    def apply_card(self, row: dict) -> None:
        """A pushed change to one of today's visits (e.g. reception checked the patient in)."""
        visits = [v for v in self.visits if v.id != row["id"]]
        # A visit moved to another day or provider leaves this list (reception's Move).
        if row.get("day") == self.day and row.get("provider_id") == self._provider_id:
            visits.append(self._visit(row))
        elif len(visits) == len(self.visits):
            return
        visits.sort(key=lambda v: (v.start_label, v.id))
        self.visits = visits
        if row["id"] == self.appointment_id:
            self.visit_status = row["status"]
            self.visit_status_label = row["status_label"]

    def _load_awaiting(self, session, actor) -> None:
        self.awaiting_cosign = [
            CosignItem(
                note_id=w["note_id"],
                label=f"Review and co-sign: {w['patient_name']}, by {w['author']}, signed {self._when(w['signed_at'])}",
            )
            for w in charting.awaiting_cosignature(session, actor=actor)
        ]

    def _when(self, moment) -> str:
        return local(moment, self._tz).strftime("%Y-%m-%d %H:%M")

    @rx.event
    async def open_visit(self, appointment_id: int):
        """Open (or start) the note of one of the clinician's visits."""
        try:
            actor = await current_actor(self, "chart.view")
            wanted = as_id(appointment_id)
            await in_db(lambda s: self._show_note(s, charting.open_note(s, actor=actor, appointment_id=wanted), actor))
        except ClinicError as exc:
            return self._fail(exc)
        self.message = ""
        self.measure_code, self.measure_rows = "", []
        return None

    @rx.event
    async def open_for_cosign(self, note_id: int):
        """Open a signed note of a clinician this user supervises, to read and co-sign it."""
        try:
            actor = await current_actor(self, "chart.view")
            wanted = as_id(note_id)
            await in_db(lambda s: self._show_note(s, charting.read_note(s, actor=actor, note_id=wanted), actor))
        except ClinicError as exc:
            return self._fail(exc)
        self.message = ""
        self.measure_code, self.measure_rows = "", []
        return None

    def _show_note(self, session, note, actor) -> None:
        # Called inside in_db's work, on a worker thread: this tab's state is held for the
        # running event meanwhile, so setting its vars from there is safe (see sign).
        row = board.card(session, appointment_id=note.appointment_id)
        self.appointment_id = note.appointment_id
        self.note_id = note.id
        self.patient_name = row["patient_name"]
        self.visit_label = f"{row['type_name']}, {row['start_label']}-{row['end_label']}"
        self.visit_status = row["status"]
        self.visit_status_label = row["status_label"]
        self.signed_label = f"Signed at {hhmm(note.signed_at, self._tz)}; the note is locked." if note.signed_at else ""
        self.subjective, self.objective = note.subjective, note.objective
        self.assessment, self.plan = note.assessment, note.plan
        self._base = {f: getattr(note, f) for f in charting.SOAP_FIELDS}
        self.conflict_field, self.conflict_text = "", ""
        self.diagnoses = [
            Diagnosis(code=d.code, description=describe_icd10(d.code)) for d in charting.diagnoses(session, note_id=note.id)
        ]
        self.procedures = [
            Procedure(code=p.code, units=p.units, minutes_label=f"{p.minutes} min" if p.minutes else "",
                      modifiers=("modifiers " + p.modifiers.replace(",", ", ")) if p.modifiers else "")
            for p in charting.procedures(session, note_id=note.id)
        ]
        automatic = charting.assistant_modifier(session, provider_id=note.provider_id)
        self.assistant_words = (
            f"{automatic} is added to every line when the charges are captured: this note is by a therapy assistant."
            if automatic else ""
        )
        self.unit_warnings = [] if note.signed_at else charting.unit_warnings(session, note_id=note.id)
        self.own_note = note.provider_id == actor.provider_id
        sig = charting.signatures(session, note=note)
        lines = []
        if sig["signed_at"]:
            by = f" by {sig['signed_by']}" if sig["signed_by"] else ""
            lines.append(f"Signed{by} on {self._when(sig['signed_at'])}.")
            if sig["cosigned_at"]:
                lines.append(f"Co-signed by {sig['cosigned_by']} on {self._when(sig['cosigned_at'])}.")
            elif sig["needs_cosignature"]:
                lines.append(f"Awaiting co-signature by {sig['supervisor']}; the visit is billed after it.")
        self.signature_lines = lines
        self.can_cosign = bool(sig["signed_at"] and sig["needs_cosignature"] and not self.own_note)
        self.addenda = [
            Addendum(heading=f"Addendum by {a['author']}, {self._when(a['created_at'])}", text=a["text"])
            for a in charting.addenda(session, note_id=note.id)
        ]
        self.saved_label = ""
        self._show_measures(session, note, actor)
        self._show_template(session, note)
        self._patient_id = note.patient_id
        self._show_record(session, actor)
        self._show_body_chart(session, note)

    def _show_body_chart(self, session, note) -> None:
        marks = body_chart.marks(session, note_id=note.id)
        fill = dict.fromkeys(body_chart.REGIONS, "#e5e7eb")
        for m in marks:
            fill[m.region] = "#fde68a" if m.intensity <= 3 else "#fb923c" if m.intensity <= 6 else "#dc2626"
        self.region_fill = fill
        self.body_marks = [body_chart.describe(m) for m in marks]
        when, previous = body_chart.last_visit_marks(session, note=note)
        self.previous_marks = [body_chart.describe(m) for m in previous]
        self.previous_marks_label = (
            f"Last visit ({self._when(dt.datetime.fromisoformat(when))[:10]}):" if when and previous else ""
        )

    # -- body chart -----------------------------------------------------------------
    @rx.event
    def select_region(self, region: str):
        region = str(region)
        if region in body_chart.REGIONS:
            self.selected_region, self.selected_region_label = region, body_chart.REGIONS[region]

    @rx.event
    def set_mark_symptom(self, symptom: str):
        self.mark_symptom = str(symptom)[:16]

    @rx.event
    def set_mark_intensity(self, value: str):
        self.mark_intensity = str(value)[:2]

    @rx.event
    async def mark_region(self):
        region, symptom, intensity = self.selected_region, self.mark_symptom, self.mark_intensity
        if await self._codes(lambda s, a: body_chart.mark_region(s, actor=a, note_id=self.note_id, region=region,
                                                                 symptom=symptom, intensity=intensity)):
            self._ok(f"Marked {body_chart.REGIONS[region]}: {symptom} {intensity}/10.")

    @rx.event
    async def clear_region(self):
        region = self.selected_region
        if await self._codes(lambda s, a: body_chart.clear_region(s, actor=a, note_id=self.note_id, region=region)):
            self._ok(f"Cleared {body_chart.REGIONS.get(region, 'the region')}.")

    def _show_record(self, session, actor) -> None:
        if not self.own_note:
            self.problems, self.allergies, self.medications, self.allergy_words = [], [], [], ""
            self.goals, self.exercises, self.attachments = [], [], []
            self.viewer_id, self.viewer_name, self.viewer_src = 0, "", ""
            return
        record = history.summary(session, actor=actor, patient_id=self._patient_id)
        self.problems = [
            RecordRow(id=p.id, text=f"{p.code} {describe_icd10(p.code)}", action_label=f"Resolve {p.code}")
            for p in record["problems"]
        ]
        self.allergies = [
            RecordRow(id=a.id, text=a.substance + (f" ({a.reaction})" if a.reaction else ""), action_label="")
            for a in record["allergies"]
        ]
        self.medications = [
            RecordRow(id=m.id, text=f"{m.name} {m.dose} [{m.drug_class}]".replace("  ", " "), action_label=f"Stop {m.name}")
            for m in record["medications"]
        ]
        self.goals = [
            GoalRow(
                id=g.id, status=g.status, status_label=f"Status of goal: {g.text}",
                text=f"{'Short' if g.term == 'short' else 'Long'}-term: {g.text}, by {g.target_date.isoformat()}",
            )
            for g in history.goals(session, actor=actor, patient_id=self._patient_id)
        ]
        plan = history.care_plan(session, actor=actor, patient_id=self._patient_id)
        self.care_plan_text = ("Plan of care: " + history.plan_words(plan)) if plan else "No frequency or duration of care set."
        self.plan_per_week, self.plan_weeks, self.plan_start = (
            (str(plan.visits_per_week), str(plan.duration_weeks), plan.starts_on.isoformat()) if plan else ("", "", ""))
        self.exercises = [
            RecordRow(id=e.id, text=e.name + (f" ({e.dosage})" if e.dosage else ""), action_label=f"Stop {e.name}")
            for e in history.exercises(session, actor=actor, patient_id=self._patient_id)
        ]
        self.attachments = [
            RecordRow(id=a.id, text=f"{a.filename} ({a.size_bytes / 1024:,.0f} KB, {self._when(a.uploaded_at)})",
                      action_label=f"View {a.filename}")
            for a in history.attachments(session, actor=actor, patient_id=self._patient_id)
        ]
        self.allergy_words = (
            "Allergies: " + "; ".join(a.text for a in self.allergies) if self.allergies else "No allergies recorded."
        )

    # -- problem list, allergies, medications --------------------------------------------
    @rx.event
    def search_icd(self, text: str):
        """Offline ICD-10-CM search by words or code (billable codes only)."""
        self.icd_query = str(text)[:60]
        self.icd_hits = [
            IcdHit(code=c, description=d, add_label=f"Add {c} to problems") for c, d in search_icd10(self.icd_query, limit=8)
        ]

    async def _record(self, change, done: str) -> bool:
        try:
            actor = await current_actor(self, "note.edit")

            def work(session):
                change(session, actor)
                self._show_record(session, actor)

            await in_db(work)
        except history.NeedsConfirmation as exc:
            self.pending_alert = str(exc)
            self._fail(exc)
            return False
        except ClinicError as exc:
            self.pending_confirm, self.pending_alert = "", ""
            self._fail(exc)
            return False
        self.pending_confirm, self.pending_alert = "", ""
        self._ok(done)
        return True

    @rx.event
    async def add_problem(self, code: str):
        code = str(code)
        if await self._record(lambda s, a: history.add_problem(s, actor=a, patient_id=self._patient_id, code=code),
                              f"{code} added to the problem list."):
            self.icd_query, self.icd_hits = "", []

    @rx.event
    async def resolve_problem(self, problem_id: int):
        await self._record(lambda s, a: history.resolve_problem(s, actor=a, problem_id=as_id(problem_id)), "Problem resolved.")

    @rx.event
    def set_new_substance(self, text: str):
        self.new_substance = str(text)[:80]

    @rx.event
    def set_new_reaction(self, text: str):
        self.new_reaction = str(text)[:120]

    @rx.event
    def set_new_med_name(self, text: str):
        self.new_med_name = str(text)[:80]

    @rx.event
    def set_new_med_class(self, text: str):
        self.new_med_class = str(text)[:40]

    @rx.event
    def set_new_med_dose(self, text: str):
        self.new_med_dose = str(text)[:80]

    @rx.event
    async def add_allergy(self, confirm: bool = False):
        substance, reaction = self.new_substance, self.new_reaction
        self.pending_confirm = "allergy"
        if await self._record(
            lambda s, a: history.add_allergy(s, actor=a, patient_id=self._patient_id, substance=substance,
                                             reaction=reaction, confirm=bool(confirm)),
            f"Allergy to {substance.strip()} recorded.",
        ):
            self.new_substance, self.new_reaction = "", ""

    @rx.event
    async def add_medication(self, confirm: bool = False):
        name, drug_class, dose = self.new_med_name, self.new_med_class, self.new_med_dose
        self.pending_confirm = "medication"
        if await self._record(
            lambda s, a: history.add_medication(s, actor=a, patient_id=self._patient_id, name=name, drug_class=drug_class,
                                                dose=dose, confirm=bool(confirm)),
            f"{name.strip()} added to the medications.",
        ):
            self.new_med_name, self.new_med_dose, self.new_med_class = "", "", "other"

    @rx.event
    async def record_anyway(self):
        """The clinician has read the alert and records the entry."""
        if self.pending_confirm == "medication":
            return await self.add_medication(confirm=True)
        if self.pending_confirm == "allergy":
            return await self.add_allergy(confirm=True)
        return None

    @rx.event
    def cancel_pending(self):
        self.pending_confirm, self.pending_alert, self.message = "", "", ""

    @rx.event
    def set_new_goal_term(self, term: str):
        self.new_goal_term = str(term)[:5]

    @rx.event
    def set_new_goal_text(self, text: str):
        self.new_goal_text = str(text)[:200]

    @rx.event
    def set_new_goal_date(self, text: str):
        self.new_goal_date = str(text)[:10]

    @rx.event
    async def add_goal(self):
        term, text, target = self.new_goal_term, self.new_goal_text, self.new_goal_date
        today = today_at(self._tz)
        if await self._record(
            lambda s, a: history.add_goal(s, actor=a, patient_id=self._patient_id, term=term, text=text,
                                          target_date=target, today=today),
            "Goal added.",
        ):
            self.new_goal_text, self.new_goal_date = "", ""

    @rx.event
    def set_plan_per_week(self, text: str):
        self.plan_per_week = str(text)[:2]

    @rx.event
    def set_plan_weeks(self, text: str):
        self.plan_weeks = str(text)[:2]

    @rx.event
    def set_plan_start(self, text: str):
        self.plan_start = str(text)[:10]

    @rx.event
    async def save_care_plan(self):
        per_week, weeks, start = self.plan_per_week, self.plan_weeks, self.plan_start
        today = today_at(self._tz)
        await self._record(
            lambda s, a: history.set_care_plan(s, actor=a, patient_id=self._patient_id, visits_per_week=per_week,
                                               duration_weeks=weeks, starts_on=start, today=today),
            "Plan of care saved.",
        )

    @rx.event
    async def set_goal_status(self, goal_id: int, status: str):
        await self._record(lambda s, a: history.set_goal_status(s, actor=a, goal_id=as_id(goal_id), status=str(status)),
                           f"Goal marked {status}.")

    @rx.event
    def set_new_ex_name(self, text: str):
        self.new_ex_name = str(text)[:80]

    @rx.event
    def set_new_ex_dosage(self, text: str):
        self.new_ex_dosage = str(text)[:80]

    @rx.event
    def set_new_ex_instructions(self, text: str):
        self.new_ex_instructions = str(text)[:400]

    @rx.event
    async def add_exercise(self):
        name, dosage, instructions = self.new_ex_name, self.new_ex_dosage, self.new_ex_instructions
        if await self._record(
            lambda s, a: history.add_exercise(s, actor=a, patient_id=self._patient_id, name=name, dosage=dosage,
                                              instructions=instructions),
            f"{name.strip()} added to the home programme.",
        ):
            self.new_ex_name, self.new_ex_dosage, self.new_ex_instructions = "", "", ""

    @rx.event
    async def stop_exercise(self, exercise_id: int):
        await self._record(lambda s, a: history.stop_exercise(s, actor=a, exercise_id=as_id(exercise_id)),
                           "Exercise taken out of the programme.")

    @rx.event
    async def print_home_programme(self):
        """Download the home exercise programme as a PDF for the patient."""
        try:
            actor = await current_actor(self, "chart.view")
            patient_id, today = self._patient_id, today_at(self._tz)
            pdf = await in_db(lambda s: history.home_programme_pdf(s, actor=actor, patient_id=patient_id, today=today))
        except ClinicError as exc:
            return self._fail(exc)
        self._ok("Home exercise programme ready to print.")
        return rx.download(data=pdf, filename="home-exercise-programme.pdf")

    @rx.event
    async def upload_attachment(self, files: list[rx.UploadFile]):
        """Attach the chosen files to the patient's chart (each checked on its own)."""
        done, refused = [], []
        for file in files:
            data = await file.read()
            name = getattr(file, "name", None) or getattr(file, "filename", None) or "file"
            ok = await self._record(
                lambda s, a, name=name, data=data: history.add_attachment(
                    s, actor=a, patient_id=self._patient_id, filename=name, data=data, note_id=self.note_id or None),
                f"{name} attached.",
            )
            (done if ok else refused).append(self.message)
        if refused:
            self.message = " ".join(refused)
            self.message_is_error = True
        elif done:
            self._ok(" ".join(done))
        return rx.clear_selected_files("attachment-upload")

    @rx.event
    async def open_attachment(self, attachment_id: int):
        """Download an attachment (its checksum is checked first)."""
        try:
            actor = await current_actor(self, "chart.view")
            wanted = as_id(attachment_id)
            row = await in_db(lambda s: history.open_attachment(s, actor=actor, attachment_id=wanted))
            data, filename = row.data, row.filename
        except ClinicError as exc:
            return self._fail(exc)
        return rx.download(data=data, filename=filename)

    @rx.event
    async def view_attachment(self, attachment_id: int):
        """Show an attachment in the page: an image inline, a PDF in an embedded viewer (checksum checked first)."""
        try:
            actor = await current_actor(self, "chart.view")
            wanted = as_id(attachment_id)
            row = await in_db(lambda s: history.open_attachment(s, actor=actor, attachment_id=wanted))
            data, filename, kind = row.data, row.filename, row.content_type
        except ClinicError as exc:
            return self._fail(exc)
        self.viewer_id, self.viewer_name, self.viewer_is_pdf = int(attachment_id), filename, kind == "application/pdf"
        self.viewer_src = f"data:{kind};base64,{base64.b64encode(data).decode()}"
        return None

    @rx.event
    def close_viewer(self):
        self.viewer_id, self.viewer_name, self.viewer_src = 0, "", ""

    @rx.event
    async def stop_medication(self, medication_id: int):
        await self._record(lambda s, a: history.stop_medication(s, actor=a, medication_id=as_id(medication_id)),
                           "Medication stopped.")

    def _show_template(self, session, note) -> None:
        form = templates.form_of(session, note_id=note.id)
        self.template_options = [
            TemplateOption(code=t.code, name=t.name) for t in templates.templates_for(session, appointment_id=note.appointment_id)
        ]
        self.template_code = form.code
        labels = form.section_labels
        self.label_subjective, self.label_objective = labels["subjective"], labels["objective"]
        self.label_assessment, self.label_plan = labels["assessment"], labels["plan"]
        stored = templates.values(session, note_id=note.id)
        shown = []
        for f in form.fields:
            value = stored.get(f.key, "")
            options = [str(n) for n in range(f.low, f.high + 1)] if f.kind == "scale" else list(f.options)
            checked = json.loads(value or "[]") if f.kind == "checklist" else []
            label = f"{labels[f.section] or f.section.title()}: {f.label}" + (f" ({f.unit})" if f.unit else "")
            shown.append(FieldShown(key=f.key, label=label, kind=f.kind, value=value if f.kind != "checklist" else "",
                                    options=options, checked=checked, field_id=f"field-{f.key}"))
        self.fields = shown

    # -- templates --------------------------------------------------------------------
    @rx.event
    async def choose_template(self, code: str):
        """Write this draft with another template (values of shared fields are kept)."""
        if await self._codes(lambda s, a: templates.use_template(s, actor=a, note_id=self.note_id, code=str(code))):
            self._ok(f"Template: {next((t.name for t in self.template_options if t.code == self.template_code), str(code))}.")

    async def _save_field(self, key: str, value):
        try:
            actor = await current_actor(self, "note.edit")
            note_id = as_id(self.note_id)
            stored = await in_db(lambda s: templates.save_field(s, actor=actor, note_id=note_id, key=str(key), value=value))
        except ClinicError as exc:
            self.saved_label = "Not saved"
            return self._fail(exc)
        self.saved_label = "Draft saved"
        if self.message_is_error:
            self.message = ""
        return stored

    @rx.event
    async def save_field(self, key: str, value: str):
        """Autosave a text, number, choice or scale field; what was typed stays if it is refused."""
        key, value = str(key), str(value)
        self.fields = [dataclasses.replace(f, value=value) if f.key == key else f for f in self.fields]
        result = await self._save_field(key, value)
        return None if isinstance(result, str) else result

    @rx.event
    async def toggle_check(self, key: str, option: str, checked: bool):
        """Tick or untick one item of a checklist field."""
        key, option = str(key), str(option)
        current = next((f for f in self.fields if f.key == key), None)
        if current is None:
            return None
        picked = [o for o in current.options if (o == option and checked) or (o != option and o in current.checked)]
        result = await self._save_field(key, picked)
        if isinstance(result, str):
            self.fields = [dataclasses.replace(f, checked=json.loads(result)) if f.key == key else f for f in self.fields]
            return None
        return result

    def _show_measures(self, session, note, actor) -> None:
        self.measure_codes = [d.code for d in measures.definitions(session)]
        shown = []
        for result in measures.results(session, note_id=note.id):
            defn = measures.definition(session, result.measure_code, retired_too=True)
            points = measures.trend(session, actor=actor, note_id=note.id, code=result.measure_code)
            first = points[0].score if points else result.score
            target = round(first + defn.mcid if defn.higher_is_better else first - defn.mcid, 2)
            shown.append(MeasureShown(
                code=defn.code,
                heading=f"{defn.name} ({defn.code}): {result.score:g}",
                trend=[TrendRow(when=self._when(p.visit_at)[:10], score=f"{p.score:g}", words=p.words) for p in points],
                latest_words=points[-1].words if points else "",
                points=[{"visit": self._when(p.visit_at)[:10], "score": p.score} for p in points],
                target=target,
                target_words=(f"Dashed line: {target:g}, the first score {'plus' if defn.higher_is_better else 'minus'} "
                              f"the MCID of {defn.mcid:g} ({'higher' if defn.higher_is_better else 'lower'} is better)."),
                low=min(defn.score_range[0], target), high=max(defn.score_range[1], target),
            ))
        self.measure_results = shown

    # -- outcome measures -------------------------------------------------------------
    @rx.event
    async def choose_measure(self, code: str):
        """Show the items of the chosen measure to fill in."""
        try:
            await current_actor(self, "note.edit")
            defn = await in_db(lambda s: measures.definition(s, str(code)))
        except ClinicError as exc:
            return self._fail(exc)
        self.measure_code, self.measure_name = defn.code, defn.name
        self.measure_rows = [self._measure_row(defn, i, label) for i, label in enumerate(defn.items)]
        self.measure_can_add_row = len(defn.items) < defn.max_items
        return None

    @staticmethod
    def _measure_row(defn, index: int, label: str) -> MeasureRow:
        editable = defn.labels_editable
        return MeasureRow(
            index=index, label="" if editable else label, value="", label_editable=editable,
            field_label=f"{label} score ({defn.item_min}-{defn.item_max})" if not editable
            else f"Activity {index + 1} score ({defn.item_min}-{defn.item_max})",
        )

    @rx.event
    def set_measure_value(self, index: int, value: str):
        self.measure_rows = [
            dataclasses.replace(r, value=str(value)[:3]) if r.index == int(index) else r for r in self.measure_rows
        ]

    @rx.event
    def set_measure_label(self, index: int, value: str):
        self.measure_rows = [
            dataclasses.replace(r, label=str(value)[:80]) if r.index == int(index) else r for r in self.measure_rows
        ]

    @rx.event
    async def add_measure_row(self):
        """PSFS: another activity (up to five)."""
        code = self.measure_code
        try:
            defn = await in_db(lambda s: measures.definition(s, code))
        except ClinicError as exc:
            return self._fail(exc)
        if len(self.measure_rows) < defn.max_items:
            n = len(self.measure_rows)
            self.measure_rows = [*self.measure_rows, self._measure_row(defn, n, f"Activity {n + 1}")]
        self.measure_can_add_row = len(self.measure_rows) < defn.max_items
        return None

    @rx.event
    async def score_measure(self):
        """Score the filled-in measure and store it with this visit (typed values stay on error)."""
        code = self.measure_code
        values = [r.value for r in self.measure_rows]
        labels = [r.label for r in self.measure_rows] if any(r.label_editable for r in self.measure_rows) else None
        try:
            actor = await current_actor(self, "note.edit")
            note_id, appointment_id = as_id(self.note_id), self.appointment_id

            def work(session):
                result = measures.record(session, actor=actor, note_id=note_id, code=code, values=values, labels=labels)
                note = charting.open_note(session, actor=actor, appointment_id=appointment_id)
                self._show_measures(session, note, actor)
                return result

            result = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        self.measure_code, self.measure_rows = "", []
        return self._ok(f"{code} scored: {result.score:g}.")

    @rx.event
    def close_note(self):
        self.appointment_id = 0
        self.note_id = 0

    # -- autosave ------------------------------------------------------------------
    async def _save(self, field: str, text: str, *, overwrite: bool = False):
        text = str(text)
        setattr(self, field, text)  # keep what was typed even if saving fails
        try:
            actor = await current_actor(self, "note.edit")
            note_id, base_text = as_id(self.note_id), None if overwrite else self._base.get(field, "")
            await in_db(lambda s: charting.save_draft(s, actor=actor, note_id=note_id, field=field, text=text,
                                                      base_text=base_text))
        except DraftConflict as exc:
            self.saved_label = "Not saved"
            self.conflict_field, self.conflict_text = field, exc.saved_text
            return self._fail(exc)
        except ClinicError as exc:
            self.saved_label = "Not saved"
            return self._fail(exc)
        self._base = {**self._base, field: text}
        self.saved_label = "Draft saved"
        if self.conflict_field == field:
            self.conflict_field, self.conflict_text = "", ""
            self.message = ""
        return None

    @rx.event
    async def keep_my_text(self):
        """Resolve a conflict by saving this device's text over the other device's."""
        field = self.conflict_field
        if field not in charting.SOAP_FIELDS:
            return None
        result = await self._save(field, getattr(self, field), overwrite=True)
        if self.conflict_field == "":
            self._ok(f"Your {field} text is saved.")
        return result

    @rx.event
    def use_other_text(self):
        """Resolve a conflict by taking the text the other device saved (this device's text is dropped)."""
        field = self.conflict_field
        if field not in charting.SOAP_FIELDS:
            return
        setattr(self, field, self.conflict_text)
        self._base = {**self._base, field: self.conflict_text}
        self.conflict_field, self.conflict_text = "", ""
        self._ok(f"The {field} section now shows the other device's text.")

    @rx.event
    async def save_subjective(self, text: str):
        return await self._save("subjective", text)

    @rx.event
    async def save_objective(self, text: str):
        return await self._save("objective", text)

    @rx.event
    async def save_assessment(self, text: str):
        return await self._save("assessment", text)

    @rx.event
    async def save_plan(self, text: str):
        return await self._save("plan", text)

    @rx.event
    async def copy_forward(self):
        """Fill empty sections and add diagnoses from the patient's last signed note."""
        copied: list[str] = []

        def change(session, actor):
            copied.extend(charting.copy_forward(session, actor=actor, note_id=as_id(self.note_id)))

        if await self._codes(change):
            self._ok("Copied from the last signed note: " + "; ".join(copied) + ". Sections you had written were kept.")

    # -- codes ------------------------------------------------------------------------
    @rx.event
    def set_new_diagnosis(self, text: str):
        self.new_diagnosis = str(text)[:12]

    @rx.event
    def set_new_procedure(self, text: str):
        self.new_procedure = str(text)[:8]

    @rx.event
    def set_new_units(self, text: str):
        self.new_units = str(text)[:3]

    @rx.event
    def set_new_minutes(self, text: str):
        self.new_minutes = str(text)[:3]

    @rx.event
    def set_new_modifiers(self, text: str):
        self.new_modifiers = str(text)[:20]

    @rx.event
    def set_new_addendum(self, text: str):
        self.new_addendum = str(text)[:5000]

    async def _codes(self, change) -> bool:
        try:
            actor = await current_actor(self, "note.edit")
            appointment_id = self.appointment_id

            def work(session):
                change(session, actor)
                self._show_note(session, charting.open_note(session, actor=actor, appointment_id=appointment_id), actor)

            await in_db(work)
        except ClinicError as exc:
            self._fail(exc)
            return False
        self.message = ""
        return True

    @rx.event
    async def add_diagnosis(self):
        code = self.new_diagnosis
        if await self._codes(lambda s, a: charting.add_diagnosis(s, actor=a, note_id=self.note_id, code=code)):
            self.new_diagnosis = ""

    @rx.event
    async def remove_diagnosis(self, code: str):
        await self._codes(lambda s, a: charting.remove_diagnosis(s, actor=a, note_id=self.note_id, code=str(code)))

    @rx.event
    async def add_procedure(self):
        code, units, minutes, modifiers = self.new_procedure, self.new_units, self.new_minutes, self.new_modifiers
        if await self._codes(
            lambda s, a: charting.add_procedure(s, actor=a, note_id=self.note_id, code=code, units=units, minutes=minutes,
                                                modifiers=modifiers)
        ):
            self.new_procedure = ""
            self.new_units = "1"
            self.new_minutes = ""
            self.new_modifiers = ""

    @rx.event
    async def apply_suggested_units(self):
        """Set timed codes' units to what their minutes support."""
        if await self._codes(lambda s, a: charting.apply_suggested_units(s, actor=a, note_id=self.note_id)):
            self._ok("Units now follow the minutes.")

    @rx.event
    async def remove_procedure(self, code: str):
        await self._codes(lambda s, a: charting.remove_procedure(s, actor=a, note_id=self.note_id, code=str(code)))

    # -- session and signing --------------------------------------------------------
    @rx.event
    async def start_session(self):
        try:
            actor = await current_actor(self, "appointment.start_session")
            appointment_id = as_id(self.appointment_id)

            def work(session):
                scheduling.transition(session, actor=actor, appointment_id=appointment_id, to_status="in_session")
                return board.card(session, appointment_id=appointment_id)

            row = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        self.apply_card(row)
        return self._ok("Session started.")

    @rx.event
    async def sign(self):
        """Sign the note: it locks, the visit becomes ready to bill, charges are captured."""
        try:
            actor = await current_actor(self, "note.sign")
            note_id = as_id(self.note_id)

            def work(session):
                # On a worker thread, so that every other socket is served meanwhile (the
                # live fan-out of this very signature among them); this tab's state is
                # held for this event, so setting its vars here is safe.
                charges = charting.sign_note(session, actor=actor, note_id=note_id)
                self._show_note(session, session.get(Note, note_id), actor)
                self.apply_card(board.card(session, appointment_id=self.appointment_id))
                return charges

            charges = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        if not charges:
            return self._ok("Note signed and locked. It goes to billing when your supervisor co-signs it.")
        return self._ok(self._charges_text("Note signed.", charges))

    @staticmethod
    def _charges_text(head: str, charges) -> str:
        total = sum(c.amount_cents for c in charges)
        return f"{head} {len(charges)} charge line(s), ${total / 100:,.2f}, sent to billing."

    @rx.event
    async def cosign(self):
        """Co-sign a supervised clinician's signed note: the visit becomes ready to bill."""
        try:
            actor = await current_actor(self, "note.cosign")
            note_id = as_id(self.note_id)

            def work(session):
                charges = charting.cosign_note(session, actor=actor, note_id=note_id)
                self._show_note(session, charting.read_note(session, actor=actor, note_id=note_id), actor)
                self._load_awaiting(session, actor)
                return charges

            charges = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        return self._ok(self._charges_text("Note co-signed.", charges))

    @rx.event
    async def add_addendum(self):
        """Add the typed addendum to the signed note; the original stays as it was."""
        text = self.new_addendum
        try:
            actor = await current_actor(self, "note.addendum")
            note_id = as_id(self.note_id)

            def work(session):
                charting.add_addendum(session, actor=actor, note_id=note_id, text=text)
                self._show_note(session, charting.read_note(session, actor=actor, note_id=note_id), actor)

            await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)  # the typed addendum stays in the box
        self.new_addendum = ""
        return self._ok("Addendum added.")

    def _fail(self, exc: Exception):
        self.message = str(exc)
        self.message_is_error = True

    def _ok(self, text: str):
        self.message = text
        self.message_is_error = False
