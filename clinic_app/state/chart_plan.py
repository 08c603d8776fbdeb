"""Plan & HEP: treatment goals, frequency and duration of care, and the home exercise
programme (printed as a PDF for the patient)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import reflex as rx
from sqlmodel import Session

from clinic_app.services.charting import history
from clinic_app.services.platform.actor import Actor
from clinic_app.state.auth import as_id
from clinic_app.state.chart import ChartSection, ChartState, chart_section
from clinic_app.state.common import today_at
from clinic_app.state.screen import FAILED

NO_PLAN = "No frequency or duration of care set."


@dataclasses.dataclass
class GoalRow:
    id: int
    text: str
    status: str
    status_label: str


@dataclasses.dataclass
class ExerciseRow:
    id: int
    text: str
    action_label: str


@chart_section
class PlanSection(ChartSection, ChartState):
    """The patient's plan of care, kept across visits."""

    _order: ClassVar[int] = 5

    goals: list[GoalRow] = []
    goal_statuses: list[str] = list(history.GOAL_STATUSES)
    new_goal_term: str = "short"
    new_goal_text: str = ""
    new_goal_date: str = ""
    care_plan_text: str = NO_PLAN
    plan_per_week: str = ""
    plan_weeks: str = ""
    plan_start: str = ""
    exercises: list[ExerciseRow] = []
    new_ex_name: str = ""
    new_ex_dosage: str = ""
    new_ex_instructions: str = ""

    def _load(self, session: Session, actor: Actor) -> None:
        if not self.own_note:  # a supervisee's note read for co-signature: their patient's plan is theirs
            self.goals, self.exercises, self.care_plan_text = [], [], NO_PLAN
            return
        patient_id = self._patient_id
        self.goals = [
            GoalRow(id=g.id, status=g.status, status_label=f"Status of goal: {g.text}",
                    text=f"{'Short' if g.term == 'short' else 'Long'}-term: {g.text}, by {g.target_date.isoformat()}")
            for g in history.goals(session, actor=actor, patient_id=patient_id)
        ]
        plan = history.care_plan(session, actor=actor, patient_id=patient_id)
        self.care_plan_text = ("Plan of care: " + history.plan_words(plan)) if plan else NO_PLAN
        self.plan_per_week, self.plan_weeks, self.plan_start = (
            (str(plan.visits_per_week), str(plan.duration_weeks), plan.starts_on.isoformat()) if plan else ("", "", ""))
        self.exercises = [
            ExerciseRow(id=e.id, text=e.name + (f" ({e.dosage})" if e.dosage else ""), action_label=f"Stop {e.name}")
            for e in history.exercises(session, actor=actor, patient_id=patient_id)
        ]

    # -- goals ---------------------------------------------------------------------------------
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
        self.message_at = "goals"
        term, text, target, patient_id = self.new_goal_term, self.new_goal_text, self.new_goal_date, self._patient_id
        today = today_at(self._tz)
        done = await self._change(
            "note.edit",
            lambda s, a: history.add_goal(s, actor=a, patient_id=patient_id, term=term, text=text, target_date=target,
                                          today=today),
            done="Goal added.",
        )
        if done is not FAILED:
            self.new_goal_text, self.new_goal_date = "", ""

    @rx.event
    async def set_goal_status(self, goal_id: int, status: str):
        self.message_at = "goals"
        status = str(status)
        await self._change("note.edit", lambda s, a: history.set_goal_status(s, actor=a, goal_id=as_id(goal_id), status=status),
                           done=f"Goal marked {status}.")

    # -- frequency and duration ------------------------------------------------------------------
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
        self.message_at = "care"
        per_week, weeks, start, patient_id = self.plan_per_week, self.plan_weeks, self.plan_start, self._patient_id
        today = today_at(self._tz)
        await self._change(
            "note.edit",
            lambda s, a: history.set_care_plan(s, actor=a, patient_id=patient_id, visits_per_week=per_week,
                                               duration_weeks=weeks, starts_on=start, today=today),
            done="Plan of care saved.",
        )

    # -- home exercise programme -------------------------------------------------------------------
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
        self.message_at = "exercises"
        name, dosage, instructions = self.new_ex_name, self.new_ex_dosage, self.new_ex_instructions
        patient_id = self._patient_id
        done = await self._change(
            "note.edit",
            lambda s, a: history.add_exercise(s, actor=a, patient_id=patient_id, name=name, dosage=dosage,
                                              instructions=instructions),
            done=f"{name.strip()} added to the home programme.",
        )
        if done is not FAILED:
            self.new_ex_name, self.new_ex_dosage, self.new_ex_instructions = "", "", ""

    @rx.event
    async def stop_exercise(self, exercise_id: int):
        self.message_at = "exercises"
        await self._change("note.edit", lambda s, a: history.stop_exercise(s, actor=a, exercise_id=as_id(exercise_id)),
                           done="Exercise taken out of the programme.")

    @rx.event
    async def print_home_programme(self):
        """Download the home exercise programme as a PDF for the patient."""
        self.message_at = "exercises"
        patient_id, today = self._patient_id, today_at(self._tz)
        pdf = await self._act("chart.view", lambda s, a: history.home_programme_pdf(s, actor=a, patient_id=patient_id,
                                                                                    today=today),
                              done="Home exercise programme ready to print.")
        if pdf is FAILED:
            return None
        return rx.download(data=pdf, filename="home-exercise-programme.pdf")
