"""The admin's API token screen: create (the secret shown once), list, revoke."""

from __future__ import annotations

import dataclasses

import reflex as rx

from clinic_app.services.platform import api_tokens
from clinic_app.services.platform.errors import ClinicError
from clinic_app.state.auth import as_id, current_actor, page_actor
from clinic_app.state.common import in_db


@dataclasses.dataclass
class TokenRow:
    id: int
    username: str
    role: str
    label: str
    scopes: str
    expires: str
    state: str
    revoke_label: str


class ApiTokenState(rx.State):
    """Tokens for the FHIR API."""

    rows: list[TokenRow] = []
    username: str = ""
    scopes: str = "user/*.read"
    days: str = "30"
    label: str = ""
    new_token: str = ""
    message: str = ""
    is_error: bool = False

    @rx.event
    async def load(self):
        _, redirect = await page_actor(self, "api_token.create")
        if redirect:
            return redirect
        self.new_token = ""
        await self._refresh()

    async def _refresh(self) -> None:
        actor = await current_actor(self, "api_token.create")
        rows = await in_db(lambda s: api_tokens.list_tokens(s, actor=actor))
        self.rows = [TokenRow(**r, revoke_label=f"Revoke token {r['id']} of {r['username']}") for r in rows]

    @rx.event
    def set_username(self, value: str):
        self.username = value

    @rx.event
    def set_scopes(self, value: str):
        self.scopes = value

    @rx.event
    def set_days(self, value: str):
        self.days = value

    @rx.event
    def set_label(self, value: str):
        self.label = value

    @rx.event
    async def create(self, form_data: dict):
        # The inputs are controlled (their values are in this state); form_data is unused.
        self.new_token = ""
        try:
            actor = await current_actor(self, "api_token.create")
            days = int(self.days) if self.days.strip().isascii() and self.days.strip().isdigit() else -1
            username, scopes, label = self.username, self.scopes, self.label
            row, token = await in_db(lambda s: api_tokens.create_token(
                s, actor=actor, username=username, scopes=scopes, days=days, label=label,
            ))
            self.new_token = token
            self.message, self.is_error = f"Token {row.id} created for {self.username.strip().lower()}. Copy it now: it is shown once.", False
            self.label = ""
            await self._refresh()
        except ClinicError as exc:
            self.message, self.is_error = str(exc), True

    @rx.event
    def forget_token(self):
        self.new_token = ""

    @rx.event
    async def revoke(self, token_id):
        try:
            actor = await current_actor(self, "api_token.create")
            wanted = as_id(token_id)
            await in_db(lambda s: api_tokens.revoke_token(s, actor=actor, token_id=wanted))
            self.message, self.is_error = f"Token {token_id} revoked.", False
            await self._refresh()
        except ClinicError as exc:
            self.message, self.is_error = str(exc), True
