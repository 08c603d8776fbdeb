"""Who the current browser tab's user is, as the server's session says.

The session credential is the ``clinic_session`` cookie, set HttpOnly by the server at sign-in
(api/signin.py) and never part of the state sent to the browser. Reflex hands a state the
headers of the socket its events came over; the session gate (state/sessions.py) checks the
cookie among them against the server's session on every event, before the handler runs, and
fills in the backend vars below; ``current_actor`` and ``page_actor`` read them.
"""

from __future__ import annotations

import time

import reflex as rx

from clinic_app import settings
from clinic_app.api.guard import SESSION_COOKIE, session_token
from clinic_app.services.platform import auth
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import ClinicError, NotAllowed
from clinic_app.services.platform.permissions import HOME_ROUTE, allowed, require
from clinic_app.state.common import in_db

__all__ = ["SESSION_COOKIE", "AuthState", "as_id", "current_actor", "page_actor"]
PASSWORD_ROUTE = "/account/password"
# The gate checked the session at the start of this event; a handler still running this long
# after (a background task) checks it again.
RECHECK_SECONDS = 2.0


class AuthState(rx.State):
    """The signed-in user. Identity lives in backend-only vars the browser cannot set."""

    user_name: str = ""
    role: str = ""
    idle_minutes: int = settings.IDLE_MINUTES

    _session_id: int = 0  # the server session this tab's state belongs to (0: nobody's)
    _user_id: int = 0
    _role: str = ""
    _provider_id: int | None = None
    _location_id: int | None = None
    _must_change: bool = False
    _checked_at: float = 0.0  # time.time() of the last session check

    def _remember(self, live: auth.LiveSession) -> None:
        user = live.user
        self._session_id = live.id
        self._user_id = user.id
        self._role = user.role
        self._provider_id = user.provider_id
        self._location_id = user.location_id
        self._must_change = user.must_change_password
        self._checked_at = time.time()
        if self.user_name != user.full_name:
            self.user_name = user.full_name
        if self.role != user.role:
            self.role = user.role

    def _forget(self) -> None:
        self._user_id = 0
        self._role = ""
        self._provider_id = None
        self._location_id = None
        self._must_change = False
        self._checked_at = time.time()
        if self.user_name:
            self.user_name = ""
        if self.role:
            self.role = ""

    def _cookie(self) -> str:
        """The session token the socket of this event was opened with ('' if none)."""
        return session_token(self.router.headers.cookie)

    async def _check(self) -> auth.LiveSession | None:
        token = self._cookie()
        if not token:
            return None
        return await in_db(lambda s: auth.check_session(s, token=token))

    async def actor(self) -> Actor | None:
        """The signed-in user as services see them (None: nobody)."""
        if time.time() - self._checked_at > RECHECK_SECONDS:
            live = await self._check()
            if live is None or live.id != self._session_id:
                self._forget()
            else:
                self._remember(live)
        if not self._user_id:
            return None
        return Actor(
            user_id=self._user_id,
            role=self._role,
            name=self.user_name,
            provider_id=self._provider_id,
            location_id=self._location_id,
            source=self.router.session.client_ip or "",
        )

    def session_id(self) -> int | None:
        """The server session this tab acts in (None when nobody is signed in)."""
        return self._session_id or None

    @rx.event
    async def sign_out(self):
        """End the session on the server: every open tab of it (this one first) is reset and
        sent to sign-in with a new client token."""
        from clinic_app.state import sessions

        token = self._cookie()
        if token:
            await in_db(lambda s: auth.end_session(s, token=token))
        await sessions.end_this_tab(self)

    @rx.event
    async def open_login(self):
        """On the sign-in page: a signed-in user goes straight to their home page."""
        actor = await self.actor()
        if actor is not None:
            return rx.redirect(PASSWORD_ROUTE if self._must_change else HOME_ROUTE[actor.role])
        return None

    @rx.event
    async def go_home(self):
        """The root page sends each role to its own surface."""
        actor = await self.actor()
        return rx.redirect(HOME_ROUTE[actor.role] if actor else "/login")

    @rx.var
    def home_route(self) -> str:
        return HOME_ROUTE.get(self.role, "/login")


async def current_actor(state: rx.State, action: str) -> Actor:
    """The signed-in actor if they may do ``action``; NotAllowed otherwise.

    Every event handler that reads or changes clinic data starts with this, so a
    forged event from a role that may not send it changes nothing.
    """
    auth_state = await state.get_state(AuthState)
    actor = await auth_state.actor()
    if actor is None:
        raise NotAllowed("Your session has ended; sign in again.")
    if auth_state._must_change:
        raise NotAllowed("Change your password first.")
    require(actor.role, action)
    return actor


async def page_actor(state: rx.State, action: str) -> tuple[Actor | None, rx.event.EventSpec | None]:
    """For on_load: the actor, or the redirect to send instead (sign in, change password, own page)."""
    auth_state = await state.get_state(AuthState)
    actor = await auth_state.actor()
    if actor is None:
        return None, rx.redirect("/login")
    if auth_state._must_change:
        return None, rx.redirect(PASSWORD_ROUTE)
    if not allowed(actor.role, action):
        return None, rx.redirect(HOME_ROUTE[actor.role])
    return actor, None


def as_id(value) -> int:
    """An id from an event payload, refusing anything else (payloads can be forged)."""
    try:
        number = int(str(value))
    except (TypeError, ValueError) as exc:
        raise ClinicError("That request was not understood; reload the page.") from exc
    if number <= 0:
        raise ClinicError("That request was not understood; reload the page.")
    return number
