"""The portal's "My care" page (/portal/care): the signed-in patient's visits, home exercise
programme (with its PDF), and the outcome measures their clinician asked them to fill in.

As state/portal.py: who the patient is comes from the ``portal_session`` cookie, checked on
every event before anything is read; no session, and the tab's data is dropped and it goes
to the portal's sign-in. Every read and write goes through services/portal/care.py, scoped
to that patient.
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from clinic_app.api.portal import PORTAL_SIGN_IN
from clinic_app.db import utcnow
from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.portal import care
from clinic_app.services.portal.accounts import Me
from clinic_app.state.common import in_db, today_at
from clinic_app.state.portal import PortalScreen


@dataclasses.dataclass
class CareVisit:
    id: int
    when: str
    what: str
    who: str
    where: str
    status: str


@dataclasses.dataclass
class CareExercise:
    name: str
    dosage: str
    instructions: str


@dataclasses.dataclass
class CareDocument:
    """A document the clinic shared: the visit's date, its title, its download link."""

    day: str
    title: str
    url: str
    link_label: str


@dataclasses.dataclass
class AnswerRow:
    """One item of the measure being answered."""

    index: int
    label: str
    label_editable: bool
    value: str
    field_label: str
    hint: str


@dataclasses.dataclass
class AskedRow:
    id: int
    code: str
    name: str
    asked: str
    status: str
    waiting: bool
    start_label: str


class PortalCareState(PortalScreen, rx.State):
    """My care: visits, exercises, measures to answer."""

    name: str = ""
    upcoming: list[CareVisit] = []
    past: list[CareVisit] = []
    exercises: list[CareExercise] = []
    documents: list[CareDocument] = []
    asked: list[AskedRow] = []
    # The measure being answered.
    answering_id: int = 0
    answering_name: str = ""
    answer_rows: list[AnswerRow] = []
    can_add_row: bool = False
    _max_items: int = 0


    async def _refresh(self, me: Me) -> None:
        now = utcnow()

        def work(s):
            upcoming, past = care.visits(s, me, now=now)
            return upcoming, past, care.exercises(s, me), care.asked_measures(s, me), care.documents(s, me)

        upcoming, past, exercises, asked, documents = await in_db(work)
        row = lambda v: CareVisit(v.id, v.when, v.what, v.who, v.where, v.status)  # noqa: E731
        self.upcoming, self.past = [row(v) for v in upcoming], [row(v) for v in past]
        self.exercises = [CareExercise(e.name, e.dosage, e.instructions) for e in exercises]
        self.documents = [CareDocument(d.day, d.title, d.url, f"Download {d.title} (PDF)") for d in documents]
        self.asked = [AskedRow(a.id, a.code, a.name, a.asked, a.status, not a.answered,
                               f"Answer {a.name} ({a.code})") for a in asked]

    @rx.event
    async def load(self):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        self.name = me.name
        self.message, self.message_is_error = "", False
        self.answering_id, self.answer_rows = 0, []
        await self._refresh(me)
        return None

    @staticmethod
    def _answer_row(item: care.Item, n: int) -> AnswerRow:
        label = item.label or f"Activity {n + 1}"
        return AnswerRow(index=n, label="" if item.label_editable else item.label, label_editable=item.label_editable,
                         value="", field_label=f"{label}: your score ({item.item_min} to {item.item_max})",
                         hint=f"Whole number from {item.item_min} to {item.item_max}")

    @rx.event
    async def start_answer(self, home_measure_id: int):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        wanted = int(home_measure_id)
        found = await in_db(lambda s: next((a for a in care.asked_measures(s, me, answered_too=False)
                                            if a.id == wanted), None))
        if found is None:
            self._fail("That questionnaire is not waiting for you any more.")
            return None
        self.message = ""
        self.answering_id, self.answering_name = found.id, f"{found.name} ({found.code})"
        self.answer_rows = [self._answer_row(item, n) for n, item in enumerate(found.items)]
        self._max_items = found.max_items
        self.can_add_row = len(found.items) < found.max_items
        return None

    @rx.event
    def set_value(self, index: int, value: str):
        self.answer_rows = [dataclasses.replace(r, value=str(value)[:4]) if r.index == int(index) else r
                            for r in self.answer_rows]

    @rx.event
    def set_label(self, index: int, value: str):
        self.answer_rows = [dataclasses.replace(r, label=str(value)[:80]) if r.index == int(index) else r
                            for r in self.answer_rows]

    @rx.event
    def add_row(self):
        """PSFS: another activity (up to the measure's most)."""
        n = len(self.answer_rows)
        if n < self._max_items and self.answer_rows:
            first = self.answer_rows[0]
            self.answer_rows = [*self.answer_rows, dataclasses.replace(
                first, index=n, label="", value="",
                field_label=first.field_label.replace("Activity 1", f"Activity {n + 1}"))]
        self.can_add_row = len(self.answer_rows) < self._max_items

    @rx.event
    def stop_answer(self):
        self.answering_id, self.answer_rows = 0, []

    @rx.event
    async def send_answer(self):
        """Score the answers (the measure's own checks) and keep them; typed values stay on error."""
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        wanted = self.answering_id
        values = [r.value for r in self.answer_rows]
        labels = [r.label for r in self.answer_rows] if any(r.label_editable for r in self.answer_rows) else None
        try:
            row = await in_db(lambda s: care.answer(s, me, home_measure_id=wanted, values=values, labels=labels))
        except ClinicError as exc:
            self._fail(exc)
            return None
        self.answering_id, self.answer_rows = 0, []
        self._ok(f"Thank you: your answers are sent to your clinician (score {row.score:g}).")
        await self._refresh(me)
        return None

    @rx.event
    async def download_programme(self):
        """The home exercise programme as a PDF, the same as the clinic prints."""
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        try:
            pdf = await in_db(lambda s: care.programme_pdf(s, me, today=today_at(care.clinic_zone(s))))
        except ClinicError as exc:
            self._fail(exc)
            return None
        return rx.download(data=pdf, filename="home-exercise-programme.pdf")
