"""What every surface state shares: the message beside the action, the actor, one transaction.

A surface is a ``Screen`` (the page's top state: its permission and its load) with
``Section`` substates, one per part of the page (the chart's note, codes, measures...;
the board's booking, move, series... panels). Each section keeps its own message, shown
next to its own controls, and reloads only itself, so an edit in one section neither
reads nor sends the others (Reflex loads only the substate an event touches and its
parents).

A handler is short: check the permission, run the service, show the result::

    @rx.event
    async def add_code(self):
        code = self.new_code
        if await self._act("note.edit", lambda s, a: charting.add_code(s, actor=a, code=code),
                           done=f"{code} added.") is not FAILED:
            self.new_code = ""

``_act`` shows a refused action's reason (a ``ClinicError``: its text is written for staff)
as this section's message and returns ``FAILED``; anything else is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar

import reflex as rx
from sqlmodel import Session

from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import ClinicError
from clinic_app.state.auth import current_actor, page_actor
from clinic_app.state.common import in_db

T = TypeVar("T")


class _Failed:
    """The result of an action the rules refused (its reason is on screen)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "FAILED"


FAILED: Final = _Failed()


class Feedback(rx.State, mixin=True):
    """The methods a screen and its sections share; each declares its own message vars."""

    def _ok(self, text: str) -> None:
        self.message = text
        self.message_is_error = False

    def _fail(self, exc: Exception | str) -> None:
        self.message = str(exc)
        self.message_is_error = True

    def _clear(self) -> None:
        self.message = ""
        self.message_is_error = False

    async def _actor(self, permission: str) -> Actor:
        """The signed-in actor if they may do ``permission`` (NotAllowed otherwise)."""
        return await current_actor(self, permission)

    async def _act(
        self,
        permission: str,
        work: Callable[[Session, Actor], T],
        *,
        done: str | Callable[[T], str] | None = None,
    ) -> T | _Failed:
        """Check ``permission``, run ``work(session, actor)`` in one transaction off the event
        loop, and show the outcome here: ``done`` (or its text for the result) on success,
        the domain error's message on refusal (then ``FAILED``, and nothing was changed)."""
        try:
            actor = await current_actor(self, permission)
            result = await in_db(lambda session: work(session, actor))
        except ClinicError as exc:
            self._fail(exc)
            return FAILED
        if done is not None:
            self._ok(done(result) if callable(done) else done)
        return result


class Screen(Feedback, mixin=True):
    """A surface's top state: the page's permission, its load, the page-wide message."""

    _permission: ClassVar[str] = ""
    message: str = ""
    message_is_error: bool = False

    @rx.event
    async def load(self):
        """on_load: sign-in, password change or the user's own page first; then ``_refresh``."""
        actor, redirect = await page_actor(self, self._permission)
        if redirect:
            return redirect
        try:
            return await self._refresh(actor)
        except ClinicError as exc:
            self._fail(exc)
            return None

    async def _refresh(self, actor: Actor) -> Any:
        raise NotImplementedError


class Section(Feedback, mixin=True):
    """A part of a screen (a substate of it) with its own message beside its own controls."""

    message: str = ""
    message_is_error: bool = False
