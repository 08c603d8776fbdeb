"""Signing in and out, and who the current browser's user is."""

from __future__ import annotations

import reflex as rx

from clinic_app.db import session_scope
from clinic_app.live import registry
from clinic_app.models import User
from clinic_app.services import auth
from clinic_app.services.actor import Actor
from clinic_app.services.errors import BadCredentials, ClinicError, NotAllowed
from clinic_app.services.permissions import HOME_ROUTE, allowed, require

SESSION_COOKIE = "clinic_session"


class AuthState(rx.State):
    """The signed-in user. Identity lives in backend-only vars the browser cannot set."""

    session_token: str = rx.Cookie("", name=SESSION_COOKIE, same_site="strict", max_age=12 * 3600)
    user_name: str = ""
    role: str = ""
    login_error: str = ""

    _user_id: int = 0
    _role: str = ""
    _provider_id: int | None = None
    _location_id: int | None = None

    def _remember(self, user: User) -> None:
        self._user_id = user.id
        self._role = user.role
        self._provider_id = user.provider_id
        self._location_id = user.location_id
        self.user_name = user.full_name
        self.role = user.role

    def _forget(self) -> None:
        self._user_id = 0
        self._role = ""
        self._provider_id = None
        self._location_id = None
        self.user_name = ""
        self.role = ""

    def actor(self) -> Actor | None:
        """The signed-in user as services see them, resolving the session cookie if needed."""
        if not self._user_id and self.session_token:
            with session_scope() as session:
                user = auth.user_for_token(session, token=self.session_token)
                if user is not None:
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
    def sign_in(self, form: dict):
        """Check the credentials and open a session; a bad password says so and nothing more."""
        username = str(form.get("username", ""))[:64]
        password = str(form.get("password", ""))[:256]
        try:
            with session_scope() as session:
                user = auth.authenticate(
                    session, username=username, password=password, source=self.router.session.client_ip or ""
                )
                token = auth.start_session(session, user=user)
        except BadCredentials as exc:
            self.login_error = str(exc)
            return None
        self.login_error = ""
        self.session_token = token
        self._remember(user)
        return rx.redirect(HOME_ROUTE[user.role])

    @rx.event
    def sign_out(self):
        """End the session here and on the server."""
        with session_scope() as session:
            auth.end_session(session, token=self.session_token)
        registry.forget(self.router.session.client_token)
        self._forget()
        self.session_token = ""
        return [rx.remove_cookie(SESSION_COOKIE), rx.redirect("/login")]

    @rx.event
    def open_login(self):
        """On the sign-in page: a signed-in user goes straight to their home page."""
        actor = self.actor()
        if actor is not None:
            return rx.redirect(HOME_ROUTE[actor.role])
        return None

    @rx.event
    def go_home(self):
        """The root page sends each role to its own surface."""
        actor = self.actor()
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
    actor = auth_state.actor()
    if actor is None:
        raise NotAllowed("Your session has ended; sign in again.")
    require(actor.role, action)
    return actor


async def page_actor(state: rx.State, action: str) -> tuple[Actor | None, rx.event.EventSpec | None]:
    """For on_load: the actor, or the redirect to send instead (sign in, or their own page)."""
    auth_state = await state.get_state(AuthState)
    actor = auth_state.actor()
    if actor is None:
        return None, rx.redirect("/login")
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
