"""Editing the insurance coverages and episodes of care of the patient being edited."""

from __future__ import annotations

import dataclasses

import reflex as rx

from clinic_app.services.frontdesk import cases
from clinic_app.services.platform.clock import parse_day
from clinic_app.services.platform.errors import ClinicError, InvalidInput
from clinic_app.services.platform.money import plain
from clinic_app.services.revenue import payers
from clinic_app.state.auth import current_actor
from clinic_app.state.common import in_db


@dataclasses.dataclass
class CoverageRow:
    """One coverage as the edit panel shows it; the editable fields are text as typed."""

    id: int
    label: str
    copay: str
    ends: str


@dataclasses.dataclass
class CaseRow:
    """One open episode of care; the editable fields are text as typed."""

    id: int
    title: str
    visits: str
    auth_end: str


def _coverages(session, patient_id: int) -> list[CoverageRow]:
    return [
        CoverageRow(
            id=c.id, label=f"{p.name}, member {c.member_id} ({'primary' if c.priority == 1 else 'secondary'}, "
                           f"from {c.effective_from})",
            copay="" if c.copay_cents is None else f"{plain(c.copay_cents)}",
            ends=c.effective_to.isoformat() if c.effective_to else "",
        )
        for c, p in payers.coverages_of(session, patient_id=patient_id)
    ]


def _cases(session, patient_id: int) -> list[CaseRow]:
    return [
        CaseRow(id=c.id, title=c.title, visits="" if c.authorized_visits is None else str(c.authorized_visits),
                auth_end=c.auth_end.isoformat() if c.auth_end else "")
        for c in cases.cases_of(session, patient_id=patient_id)
    ]


class RecordEditState(rx.State):
    """Coverages and episodes of the patient in the edit panel; what was typed stays on an error."""

    patient_id: int = 0
    coverages: list[CoverageRow] = []
    episodes: list[CaseRow] = []
    message: str = ""
    message_is_error: bool = False

    @rx.event
    async def load(self, patient_id: int):
        try:
            await current_actor(self, "patient.register")
            pid = int(patient_id)
            self.coverages, self.episodes = await in_db(lambda s: (_coverages(s, pid), _cases(s, pid)))
        except (ClinicError, ValueError) as exc:
            self.message, self.message_is_error = str(exc), True
            return
        self.patient_id, self.message = pid, ""

    @rx.event
    def set_coverage(self, index: int, name: str, value: str):
        if 0 <= int(index) < len(self.coverages) and name in ("copay", "ends"):
            rows = list(self.coverages)
            rows[int(index)] = dataclasses.replace(rows[int(index)], **{name: str(value)[:12]})
            self.coverages = rows

    @rx.event
    def set_episode(self, index: int, name: str, value: str):
        if 0 <= int(index) < len(self.episodes) and name in ("title", "visits", "auth_end"):
            rows = list(self.episodes)
            rows[int(index)] = dataclasses.replace(rows[int(index)], **{name: str(value)[:120]})
            self.episodes = rows

    @rx.event
    async def save_coverage(self, index: int):
        try:
            actor = await current_actor(self, "coverage.edit")
            row = self.coverages[int(index)]
            ends = parse_day(row.ends) if row.ends.strip() else None
            changed = await in_db(lambda s: payers.update_coverage(
                s, actor=actor, coverage_id=row.id, copay=row.copay.strip(), effective_to=ends,
            ))
        except (ClinicError, IndexError) as exc:
            self.message, self.message_is_error = str(exc), True
            return
        self.message, self.message_is_error = f"Saved insurance: {', '.join(changed).replace('_cents', '').replace('_', ' ')}.", False

    @rx.event
    async def save_episode(self, index: int):
        try:
            actor = await current_actor(self, "patient.register")
            row = self.episodes[int(index)]
            visits = row.visits.strip()
            if visits and not visits.isdigit():
                raise InvalidInput("Authorised visits must be a number from 0 to 500.")
            auth_end = parse_day(row.auth_end) if row.auth_end.strip() else None
            changed = await in_db(lambda s: cases.update_case(
                s, actor=actor, case_id=row.id, title=row.title, authorized_visits=int(visits) if visits else None,
                auth_end=auth_end,
            ))
        except (ClinicError, IndexError) as exc:
            self.message, self.message_is_error = str(exc), True
            return
        self.message, self.message_is_error = f"Saved episode: {', '.join(changed).replace('_', ' ')}.", False
