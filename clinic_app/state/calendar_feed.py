"""A clinician's private calendar feed, on their own account page (services/portal/calendar.py):
turn it on (a new secret address, shown once), make a new one, turn it off."""

from __future__ import annotations

import reflex as rx

from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.portal import calendar
from clinic_app.state.auth import AuthState
from clinic_app.state.common import in_db


class CalendarFeedState(rx.State):
    has_schedule: bool = False
    feed_on: bool = False
    feed_url: str = ""  # only right after it was made: the secret is kept hashed
    feed_message: str = ""
    feed_message_is_error: bool = False

    async def _actor(self):
        return await (await self.get_state(AuthState)).actor()

    @rx.event
    async def load(self):
        actor = await self._actor()
        self.feed_url, self.feed_message = "", ""
        self.has_schedule = actor is not None and actor.provider_id is not None
        self.feed_on = bool(self.has_schedule and await in_db(lambda s: calendar.feed_is_on(s, actor=actor)))

    @rx.event
    async def turn_on(self):
        actor = await self._actor()
        if actor is None:
            return rx.redirect("/login")
        try:
            secret = await in_db(lambda s: calendar.turn_on_feed(s, actor=actor))
        except ClinicError as exc:
            self.feed_message, self.feed_message_is_error = str(exc), True
            return None
        self.feed_on, self.feed_url = True, calendar.feed_path(secret)
        self.feed_message, self.feed_message_is_error = (
            "Calendar feed on. Copy the address below into your calendar app now; it is shown only once.", False)
        return None

    @rx.event
    async def turn_off(self):
        actor = await self._actor()
        if actor is None:
            return rx.redirect("/login")
        try:
            await in_db(lambda s: calendar.turn_off_feed(s, actor=actor))
        except ClinicError as exc:
            self.feed_message, self.feed_message_is_error = str(exc), True
            return None
        self.feed_on, self.feed_url = False, ""
        self.feed_message, self.feed_message_is_error = "Calendar feed off: its address no longer works.", False
        return None
