"""Body chart: the regions marked at this visit (tap a region, choose symptom and
intensity), and the last visit's marks for comparison."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import reflex as rx
from sqlmodel import Session

from clinic_app.models import Note
from clinic_app.services.charting import body_chart
from clinic_app.services.platform.actor import Actor
from clinic_app.state.chart import ChartSection, ChartState, chart_section

UNMARKED = "#e5e7eb"


def intensity_fill(intensity: int) -> str:
    """Yellow 0-3, orange 4-6, red 7-10."""
    return "#fde68a" if intensity <= 3 else "#fb923c" if intensity <= 6 else "#dc2626"


@chart_section
class BodyChartSection(ChartSection, ChartState):
    """The figure's marks and the form for the tapped region."""

    _order: ClassVar[int] = 4

    symptoms: list[str] = list(body_chart.SYMPTOMS)
    intensities: list[str] = [str(n) for n in range(11)]
    region_fill: dict[str, str] = dict.fromkeys(body_chart.REGIONS, UNMARKED)
    selected_region: str = ""
    selected_region_label: str = ""
    mark_symptom: str = "pain"
    mark_intensity: str = ""
    body_marks: list[str] = []
    previous_marks: list[str] = []
    previous_marks_label: str = ""

    def _load(self, session: Session, actor: Actor) -> None:
        note = session.get(Note, self.note_id)
        marks = body_chart.marks(session, note_id=note.id)
        fill = dict.fromkeys(body_chart.REGIONS, UNMARKED)
        for m in marks:
            fill[m.region] = intensity_fill(m.intensity)
        self.region_fill = fill
        self.body_marks = [body_chart.describe(m) for m in marks]
        when, previous = body_chart.last_visit_marks(session, note=note)
        self.previous_marks = [body_chart.describe(m) for m in previous]
        self.previous_marks_label = (
            f"Last visit ({self._when(dt.datetime.fromisoformat(when))[:10]}):" if when and previous else ""
        )

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
        region, symptom, intensity, note_id = self.selected_region, self.mark_symptom, self.mark_intensity, self.note_id
        await self._change(
            "note.edit",
            lambda s, a: body_chart.mark_region(s, actor=a, note_id=note_id, region=region, symptom=symptom,
                                                intensity=intensity),
            done=f"Marked {body_chart.REGIONS.get(region, 'the region')}: {symptom} {intensity}/10.",
        )

    @rx.event
    async def clear_region(self):
        region, note_id = self.selected_region, self.note_id
        await self._change("note.edit", lambda s, a: body_chart.clear_region(s, actor=a, note_id=note_id, region=region),
                           done=f"Cleared {body_chart.REGIONS.get(region, 'the region')}.")
