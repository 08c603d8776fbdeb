"""The session gate: every event of every tab is checked against the server's session first.

Reflex runs each app middleware's ``preprocess`` before an event's handler, under the tab's
state lock, with the headers of the socket the event came over (the websocket handshake:
the ``clinic_session`` cookie, HttpOnly, as the server set it). ``SessionGate`` checks that
cookie's session there, for every event including the connect's hydrate, whatever handler
follows (services/auth.check_session: exists, not ended, not expired, not idle, account
active, password unchanged since it began), and fills in AuthState's backend vars. So:

- no live session is nobody, whatever the tab's state remembers; a client token without the
  cookie (someone else's tab token on another socket) is nobody;
- a tab whose state belongs to a session that is no longer the live one (ended, or another
  user signed in on this browser) has its whole state tree reset before anything else runs,
  so nothing of the previous user is sent; if no session is live it is sent to sign-in with a
  new client token;
- ending a session anywhere (sign-out, idle log-off, deactivation, password change) is
  published on the live bus (SessionsEnded); each worker resets the state of the tabs of it
  that it holds and sends them to sign-in at once, and they get no more live pushes.

The Reflex internals this relies on (Middleware.preprocess, the socket events ``new_token``
and ``state_mismatch`` of Reflex's frontend, the event namespace's token manager) are
reached through state/reflex_adapter.py only; tests/e2e/test_sessions.py drives them with a
real socket client.
"""

from __future__ import annotations

import logging

import reflex as rx

from clinic_app.api.guard import session_token
from clinic_app.live import get_bus
from clinic_app.live.events import SessionsEnded
from clinic_app.live.tabs import tabs
from clinic_app.services.platform import auth
from clinic_app.state import live_push
from clinic_app.state import reflex_adapter as rxa
from clinic_app.state.auth import AuthState
from clinic_app.state.common import in_db
from clinic_app.state.reflex_adapter import Middleware, State, StateUpdate
from clinic_app.state.reflex_adapter import held_socket as _current_sid

log = logging.getLogger(__name__)
SIGN_IN = "/login"


class SessionGate(Middleware):
    """Checks the tab's session before every event (see the module's docstring)."""

    async def preprocess(self, app, state, event) -> StateUpdate | None:
        root = rxa.root_of(state)
        auth_state = await root.get_state(AuthState)
        token = session_token(root.router.headers.cookie)
        tab = rxa.client_token(root)
        sid = rxa.socket_id(root)
        live = await in_db(lambda s: auth.check_session(s, token=token)) if token else None
        bound = auth_state._session_id
        if bound and (live is None or live.id != bound):
            # This tab's state belongs to a session that is over (or to another user): nothing
            # of it may reach the browser, this event included.
            await reset_tree(root)
            await _forget(tab)
            if live is None:
                await send_to_sign_in(tab, sid)
                return StateUpdate()  # the event does not run
        if live is None:
            auth_state._forget()
            return None
        auth_state._remember(live)
        tabs().bind(tab, sid, live.id)
        return None


def _tree(cls: type[rx.State]) -> list[type[rx.State]]:
    found = []
    for sub in cls.get_substates():
        found.append(sub)
        found.extend(_tree(sub))
    return found


async def reset_tree(root: rx.State) -> None:
    """Every state of the tab back to its defaults (backend vars too); the router's data stays.

    Substates not loaded yet (the Redis state manager loads them lazily) are loaded first, so
    that none keeps a previous user's data for a later event to send."""
    for cls in _tree(type(root)):
        await root.get_state(cls)
    for child in list(root.substates.values()):
        child.reset()


async def _forget(tab: str) -> None:
    tabs().unbind(tab)
    await live_push.forget(tab)


async def send_to_sign_in(tab: str, sid: str) -> None:
    """Send the browser tab on socket ``sid`` to sign-in with a new client token: Reflex's
    ``new_token`` (the tab's identity from now on), a redirect to the sign-in page, and
    ``state_mismatch`` with no cooldown, on which the production frontend reloads the page,
    so that nothing of the previous page stays in the browser's memory either."""
    try:
        await rxa.send_to_page(sid, SIGN_IN)
    except Exception:  # the socket went away meanwhile: it has nothing to be told
        log.debug("could not tell a tab to sign in again", exc_info=True)


async def end_this_tab(state: rx.State) -> None:
    """The tab of ``state`` (whose lock its event holds) signed out: reset it and send it on."""
    root = rxa.root_of(state)
    tab = rxa.client_token(root)
    await reset_tree(root)
    await _forget(tab)
    await send_to_sign_in(tab, rxa.socket_id(root))


async def end_tabs(session_ids: tuple[int, ...]) -> int:
    """Reset and send to sign-in the tabs of these sessions that this worker holds."""
    ended = 0
    for session_id in session_ids:
        for tab, _sid in tabs().of_session(session_id):
            try:
                async with rxa.state_of(tab, State) as root:
                    auth_state = await root.get_state(AuthState)
                    if auth_state._session_id != session_id:
                        continue  # handled already (the tab signed out itself, or moved on)
                    await reset_tree(root)
            except Exception:
                log.exception("could not reset a tab of an ended session")
            await _forget(tab)
            await send_to_sign_in(tab, _current_sid(tab))
            ended += 1
    return ended


async def listen() -> None:
    """The worker's listener for ended sessions: runs for the app's lifetime."""
    async for event in get_bus().listen():
        if isinstance(event, SessionsEnded):
            try:
                await end_tabs(event.session_ids)
            except Exception:
                log.exception("ending the tabs of %s failed", event)


def install(app: rx.App) -> None:
    """The gate in front of every event, and the listener, on ``app``."""
    rxa.install(app)
    app.add_middleware(SessionGate(), index=0)
    app.register_lifespan_task(listen)

