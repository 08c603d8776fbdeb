"""The working hours and time off panel on the board (reception and admin)."""

from __future__ import annotations

import reflex as rx

from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform.clock import at_local, parse_day, parse_time
from clinic_app.services.platform.errors import ClinicError, InvalidInput
from clinic_app.state.auth import as_id, current_actor
from clinic_app.state.calendar import CalendarState
from clinic_app.state.common import in_db
from clinic_app.state.screen import Section

DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _text(windows: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in windows)


def _parse(day: str, text: str) -> list[tuple[str, str]]:
    windows = []
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if "-" not in part:
            raise InvalidInput(f"{day}: write hours like 08:00-12:00, 13:00-17:00 (or leave empty).")
        start, end = (x.strip() for x in part.split("-", 1))
        windows.append((start.zfill(5), end.zfill(5)))
    return windows


class HoursSection(Section, CalendarState):
    """What the hours panel holds; nothing typed is lost on an error."""

    provider_id: str = ""
    days: list[str] = [""] * 7
    day_names: list[str] = DAY_NAMES
    off_from_day: str = ""
    off_from_time: str = "09:00"
    off_until_day: str = ""
    off_until_time: str = "17:00"
    off_reason: str = ""

    @rx.event
    async def start(self):
        calendar = await self.get_state(CalendarState)
        try:
            await current_actor(self, "provider.hours")
        except ClinicError as exc:
            return calendar._fail(exc)
        calendar.show_panel("hours")
        self.provider_id = calendar.filter_provider_id or (calendar.providers[0].value if calendar.providers else "")
        self.off_from_day = self.off_until_day = calendar.day
        self.off_from_time, self.off_until_time, self.off_reason = "09:00", "17:00", ""
        self._clear()
        await self._load()
        return None

    async def _load(self) -> None:
        if not self.provider_id:
            return
        provider_id = int(self.provider_id)
        hours = await in_db(lambda s: scheduling.hours_of(s, provider_id=provider_id))
        self.days = [_text(hours.get(d, [])) for d in range(7)]

    @rx.event
    async def close(self):
        (await self.get_state(CalendarState))._close_panel()

    @rx.event
    async def set_provider(self, value: str):
        self.provider_id = str(value)
        await self._load()

    @rx.event
    def set_day(self, index: int, value: str):
        if 0 <= int(index) <= 6:
            days = list(self.days)
            days[int(index)] = str(value)[:80]
            self.days = days

    @rx.event
    def set_off(self, name: str, value: str):
        if name in ("off_from_day", "off_from_time", "off_until_day", "off_until_time", "off_reason"):
            setattr(self, name, str(value)[:120])

    @rx.event
    async def save_hours(self):
        try:
            actor = await current_actor(self, "provider.hours")
            provider_id = as_id(self.provider_id)
            week = {d: _parse(DAY_NAMES[d], text) for d, text in enumerate(self.days)}
            await in_db(lambda s: scheduling.set_week_hours(s, actor=actor, provider_id=provider_id, week=week))
        except ClinicError as exc:
            return self._fail(exc)
        self._ok("Working hours saved.")
        calendar = await self.get_state(CalendarState)
        return await calendar._reload()

    @rx.event
    async def add_time_off(self):
        try:
            actor = await current_actor(self, "provider.hours")
            provider_id = as_id(self.provider_id)
            calendar = await self.get_state(CalendarState)
            tz = calendar.location_zone()
            starts = at_local(parse_day(self.off_from_day), parse_time(self.off_from_time), tz)
            ends = at_local(parse_day(self.off_until_day), parse_time(self.off_until_time), tz)
            reason = self.off_reason
            await in_db(lambda s: scheduling.add_time_off(
                s, actor=actor, provider_id=provider_id, starts_at=starts, ends_at=ends, reason=reason))
        except ClinicError as exc:
            return self._fail(exc)
        self._ok("Time off added.")
        self.off_reason = ""
        return await calendar._reload()
