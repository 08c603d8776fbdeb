"""Moving this visit of a series and every later one, from the Move panel."""

from __future__ import annotations

import reflex as rx

from clinic_app.services import board, recurring
from clinic_app.services.errors import ClinicError
from clinic_app.services.recurring import SeriesConflict
from clinic_app.state.auth import as_id, current_actor
from clinic_app.state.calendar import CalendarState, PlannedVisit
from clinic_app.state.common import in_db


class SeriesMoveState(rx.State):
    """The per-visit report of a "this and following" move; the Move panel holds the choices."""

    plan: list[PlannedVisit] = []
    has_conflicts: bool = False

    async def _change(self) -> dict:
        calendar = await self.get_state(CalendarState)
        minutes = calendar._move_choice()
        return {
            "appointment_id": calendar.selected_id, "time": calendar.move_time,
            "duration_minutes": minutes, "provider_id": as_id(calendar.move_provider_id),
        }

    def _show(self, occurrences) -> None:
        self.plan = [PlannedVisit(label=o.label, problem=o.problem) for o in occurrences]
        self.has_conflicts = any(not o.ok for o in occurrences)

    @rx.event
    async def check(self):
        calendar = await self.get_state(CalendarState)
        try:
            actor = await current_actor(self, "appointment.reschedule")
            change = await self._change()
            plan = await in_db(lambda s: recurring.plan_following_change(s, actor=actor, **change))
        except ClinicError as exc:
            return calendar._fail(exc)
        self._show([o for o, *_ in plan])
        bad = sum(1 for p in self.plan if p.problem)
        return calendar._ok(f"{len(plan)} visits from this one on: "
                            + (f"{bad} cannot move (listed); nothing was saved." if bad else "all can move."))

    @rx.event
    async def save(self, skip: bool = False):
        calendar = await self.get_state(CalendarState)
        try:
            actor = await current_actor(self, "appointment.reschedule")
            change = await self._change()
            reason = calendar.move_reason

            def work(session):
                moved, skipped = recurring.change_following(
                    session, actor=actor, reason=reason, skip_conflicts=bool(skip), **change,
                )
                return [board.card(session, appointment_id=a.id) for a in moved], [o.label for o in skipped]

            rows, skipped = await in_db(work)
        except SeriesConflict as exc:
            self._show(exc.occurrences)
            return calendar._fail(exc)
        except ClinicError as exc:
            return calendar._fail(exc)
        for row in rows:
            calendar.apply_card(row)
        self.plan, self.has_conflicts = [], False
        calendar.move_open = False
        text = f"Moved {len(rows)} visits of the series."
        if skipped:
            text += f" Left where they were: {', '.join(skipped)}."
        return calendar._ok(text)
