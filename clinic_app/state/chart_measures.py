"""Measures: outcome measures scored at this visit, with their trend across the episode."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import reflex as rx
from sqlmodel import Session

from clinic_app.services.charting import measures
from clinic_app.services.platform.actor import Actor
from clinic_app.services.portal import care
from clinic_app.state.chart import ChartSection, ChartState, chart_section
from clinic_app.state.screen import FAILED


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
class HomeRow:
    """A measure asked of the patient at home (the portal): waiting, or what they reported."""

    id: int
    words: str
    waiting: bool
    withdraw_label: str


@chart_section
class MeasuresSection(ChartSection, ChartState):
    """The measure being filled in, and the scores of this visit."""

    _order: ClassVar[int] = 3

    measure_codes: list[str] = []
    measure_code: str = ""
    measure_name: str = ""
    measure_rows: list[MeasureRow] = []
    measure_can_add_row: bool = False
    measure_results: list[MeasureShown] = []
    # Outcome measures at home: the one to ask for, and those asked (state of each).
    home_code: str = ""
    home_rows: list[HomeRow] = []

    def _load(self, session: Session, actor: Actor) -> None:
        self.measure_codes = [d.code for d in measures.definitions(session)]
        shown = []
        note_id = self.note_id
        patient_id = self._patient_id
        scored = [(r.measure_code, r.score, "") for r in measures.results(session, note_id=note_id)]
        # Measures the patient answered at home and not scored at this visit: their trend too.
        at_visit = {code for code, _, _ in scored}
        home = care.reported_codes(session, patient_id=patient_id) if patient_id and self.own_note else []
        scored.extend((code, None, " (reported by the patient)") for code in home if code not in at_visit)
        for code, score, by_whom in scored:
            defn = measures.definition(session, code, retired_too=True)
            points = measures.trend(session, actor=actor, note_id=note_id, code=code)
            if score is None:
                if not points:
                    continue
                score = points[-1].score
            first = points[0].score if points else score
            target = round(first + defn.mcid if defn.higher_is_better else first - defn.mcid, 2)
            shown.append(MeasureShown(
                code=defn.code,
                heading=f"{defn.name} ({defn.code}): {score:g}{by_whom}",
                trend=[TrendRow(when=self._when(p.visit_at)[:10], score=f"{p.score:g}", words=p.words) for p in points],
                latest_words=points[-1].words if points else "",
                points=[{"visit": self._when(p.visit_at)[:10], "score": p.score} for p in points],
                target=target,
                target_words=(f"Dashed line: {target:g}, the first score {'plus' if defn.higher_is_better else 'minus'} "
                              f"the MCID of {defn.mcid:g} ({'higher' if defn.higher_is_better else 'lower'} is better)."),
                low=min(defn.score_range[0], target), high=max(defn.score_range[1], target),
            ))
        self.measure_results = shown
        self.home_rows = [
            HomeRow(id=r.id, words=r.words, waiting=r.waiting, withdraw_label=f"Withdraw {r.code} asked at home")
            for r in (care.for_chart(session, actor=actor, patient_id=patient_id, zone=self._tz)
                      if patient_id and self.own_note else [])
        ]

    @staticmethod
    def _row(defn, index: int, label: str) -> MeasureRow:
        editable = defn.labels_editable
        return MeasureRow(
            index=index, label="" if editable else label, value="", label_editable=editable,
            field_label=f"{label} score ({defn.item_min}-{defn.item_max})" if not editable
            else f"Activity {index + 1} score ({defn.item_min}-{defn.item_max})",
        )

    @rx.event
    async def choose_measure(self, code: str):
        """Show the items of the chosen measure to fill in."""
        code = str(code)
        defn = await self._act("note.edit", lambda s, a: measures.definition(s, code))
        if defn is FAILED:
            return
        self._clear()
        self.measure_code, self.measure_name = defn.code, defn.name
        self.measure_rows = [self._row(defn, i, label) for i, label in enumerate(defn.items)]
        self.measure_can_add_row = len(defn.items) < defn.max_items

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
        defn = await self._act("note.edit", lambda s, a: measures.definition(s, code))
        if defn is FAILED:
            return
        if len(self.measure_rows) < defn.max_items:
            n = len(self.measure_rows)
            self.measure_rows = [*self.measure_rows, self._row(defn, n, f"Activity {n + 1}")]
        self.measure_can_add_row = len(self.measure_rows) < defn.max_items

    @rx.event
    async def score_measure(self):
        """Score the filled-in measure and store it with this visit (typed values stay on error)."""
        code, note_id = self.measure_code, self.note_id
        values = [r.value for r in self.measure_rows]
        labels = [r.label for r in self.measure_rows] if any(r.label_editable for r in self.measure_rows) else None
        result = await self._change(
            "note.edit",
            lambda s, a: measures.record(s, actor=a, note_id=note_id, code=code, values=values, labels=labels),
            done=lambda r: f"{code} scored: {r.score:g}.",
        )
        if result is not FAILED:
            self.measure_code, self.measure_rows = "", []

    # -- outcome measures at home (the patient answers them in the portal) -----------------------
    @rx.event
    def set_home_code(self, code: str):
        self.home_code = str(code)[:16]

    @rx.event
    async def ask_at_home(self):
        """Ask the patient to fill in the chosen measure at home, in the portal."""
        code, patient_id = self.home_code, self._patient_id
        result = await self._change(
            "note.edit", lambda s, a: care.assign(s, actor=a, patient_id=patient_id, code=code),
            done=lambda r: f"{r.measure_code} asked: the patient fills it in on the portal's My care page.",
        )
        if result is not FAILED:
            self.home_code = ""

    @rx.event
    async def withdraw_home(self, home_measure_id: int):
        wanted = int(home_measure_id)
        await self._change("note.edit", lambda s, a: care.withdraw(s, actor=a, home_measure_id=wanted),
                           done="Withdrawn: the patient no longer sees it.")
