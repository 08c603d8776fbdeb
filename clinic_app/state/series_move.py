"""Moving this visit of a series and every later one, from the Move panel."""

from __future__ import annotations

import reflex as rx

from clinic_app.services.frontdesk import recurring
from clinic_app.services.frontdesk.recurring import SeriesConflict
from clinic_app.services.platform.errors import ClinicError
from clinic_app.state.auth import as_id
from clinic_app.state.calendar import CalendarState, PlannedVisit
from clinic_app.state.common import in_db
from clinic_app.state.move import MoveSection
from clinic_app.state.screen import FAILED, Section


class SeriesMoveSection(Section, CalendarState):
    """The per-visit report of a "this and following" move; the Move panel holds the choices."""

    plan: list[PlannedVisit] = []
    has_conflicts: bool = False

    async def _change(self) -> dict:
        move = await self.get_state(MoveSection)
        time, minutes = move.choice()
        return {"appointment_id": move.selected_id, "time": time, "duration_minutes": minutes,
                "provider_id": as_id(move.move_provider_id)}

    def _show(self, occurrences) -> None:
        self.plan = [PlannedVisit(label=o.label, problem=o.problem) for o in occurrences]
        self.has_conflicts = any(not o.ok for o in occurrences)

    @rx.event
    async def check(self):
        try:
            change = await self._change()
        except ClinicError as exc:
            return self._fail(exc)
        plan = await self._act("appointment.reschedule",
                               lambda s, a: recurring.plan_following_change(s, actor=a, **change))
        if plan is FAILED:
            return None
        self._show([o for o, *_ in plan])
        bad = sum(1 for p in self.plan if p.problem)
        if bad:
            return self._fail(f"{len(plan)} visits from this one on: {bad} cannot move (listed); nothing was saved.")
        return self._ok(f"{len(plan)} visits from this one on: all can move.")

    @rx.event
    async def save(self, skip: bool = False):
        try:
            change = await self._change()
            reason = (await self.get_state(MoveSection)).move_reason
            actor = await self._actor("appointment.reschedule")

            def work(session):
                moved, skipped = recurring.change_following(
                    session, actor=actor, reason=reason, skip_conflicts=bool(skip), **change,
                )
                return [a.id for a in moved], [o.label for o in skipped]

            moved, skipped = await in_db(work)
        except SeriesConflict as exc:
            self._show(exc.occurrences)
            return self._fail(exc)
        except ClinicError as exc:
            return self._fail(exc)
        self.plan, self.has_conflicts = [], False
        text = f"Moved {len(moved)} visits of the series."
        if skipped:
            text += f" Left where they were: {', '.join(skipped)}."
        from clinic_app.state.booking import show_visit

        return await show_visit(self, change["appointment_id"], text)
