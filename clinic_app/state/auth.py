"""Signing in and out, and who the current browser's user is."""

from __future__ import annotations

import time

import reflex as rx

from clinic_app import settings
from clinic_app.models import User
from clinic_app.services import auth
from clinic_app.services.actor import Actor
from clinic_app.services.errors import BadCredentials, ClinicError, NotAllowed
from clinic_app.services.permissions import HOME_ROUTE, allowed, require
from clinic_app.state import live_push
from clinic_app.state.common import in_db

SESSION_COOKIE = "clinic_session"
PASSWORD_ROUTE = "/account/password"
# How often a handler re-checks the session in the database (ended elsewhere, idle,
# deactivated); in between it trusts the backend vars.
RECHECK_SECONDS = 60


class AuthState(rx.State):
    """The signed-in user. Identity lives in backend-only vars the browser cannot set."""

    session_token: str = rx.Cookie("", name=SESSION_COOKIE, same_site="strict", max_age=settings.SESSION_HOURS * 3600)
    user_name: str = ""
    role: str = ""
    login_error: str = ""
    idle_minutes: int = settings.IDLE_MINUTES

    _user_id: int = 0
    _role: str = ""
    _provider_id: int | None = None
    _location_id: int | None = None
    _must_change: bool = False
    _checked_at: float = 0.0

    def _remember(self, user: User) -> None:
        self._user_id = user.id
        self._role = user.role
        self._provider_id = user.provider_id
        self._location_id = user.location_id
        self._must_change = user.must_change_password
        self._checked_at = time.monotonic()
        self.user_name = user.full_name
        self.role = user.role

    def _forget(self) -> None:
        self._user_id = 0
        self._role = ""
        self._provider_id = None
        self._location_id = None
        self._must_change = False
        self._checked_at = 0.0
        self.user_name = ""
        self.role = ""

    async def actor(self) -> Actor | None:
        """The signed-in user as services see them; re-checks the session once a minute."""
        stale = time.monotonic() - self._checked_at > RECHECK_SECONDS
        if self.session_token and (not self._user_id or stale):
            token = self.session_token
            user = await in_db(lambda s: auth.user_for_token(s, token=token))
            if user is None:
                self._forget()
            else:
                self._remember(user)
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

    @rx.event
    async def sign_in(self, form: dict):
        """Check the credentials and open a session; a bad password says so and nothing more."""
        username = str(form.get("username", ""))[:64]
        password = str(form.get("password", ""))[:256]
        source = self.router.session.client_ip or ""

        def work(session):
            user = auth.authenticate(session, username=username, password=password, source=source)
            return user, auth.start_session(session, user=user)

        try:
            user, token = await in_db(work)
        except (BadCredentials, auth.AccountLocked) as exc:
            self.login_error = str(exc)
            return None
        self.login_error = ""
        self.session_token = token
        self._remember(user)
        return rx.redirect(PASSWORD_ROUTE if user.must_change_password else HOME_ROUTE[user.role])

    @rx.event
    async def sign_out(self):
        """End the session here and on the server."""
        token = self.session_token
        await in_db(lambda s: auth.end_session(s, token=token))
        await live_push.forget(self.router.session.client_token)
        self._forget()
        self.session_token = ""
        return [rx.remove_cookie(SESSION_COOKIE), rx.redirect("/login")]

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
