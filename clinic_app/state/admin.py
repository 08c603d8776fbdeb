"""Admin screens: user accounts and the audit log; and everyone's own password."""

from __future__ import annotations

import dataclasses
import datetime as dt

import reflex as rx
from sqlmodel import select

from clinic_app.db import utcnow
from clinic_app.models import ROLES, Provider
from clinic_app.services.platform import audit, auth
from clinic_app.services.platform.clock import parse_day
from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.platform.permissions import HOME_ROUTE
from clinic_app.state.auth import AuthState, as_id, current_actor, page_actor
from clinic_app.state.common import Option, in_db

PAGE = 50


@dataclasses.dataclass
class UserRow:
    id: int
    username: str
    full_name: str
    role: str
    status: str
    active: bool
    locked: bool
    label: str


@dataclasses.dataclass
class AuditRow:
    id: int
    at: str
    user: str
    role: str
    action: str
    record: str
    patient: str
    source: str
    detail: str


class UsersState(rx.State):
    """The admin's list of accounts and the new-account form."""

    users: list[UserRow] = []
    providers: list[Option] = []
    roles: list[str] = list(ROLES)
    message: str = ""
    message_is_error: bool = False
    temp_password: str = ""

    @rx.event
    async def load(self):
        actor, redirect = await page_actor(self, "user.manage")
        if redirect:
            return redirect
        return await self._refresh(actor)

    async def _refresh(self, actor):
        def work(session):
            providers = session.exec(select(Provider).where(Provider.active).order_by(Provider.name)).all()
            return auth.list_users(session, actor=actor), providers

        users, providers = await in_db(work)
        now = utcnow()
        self.users = [
            UserRow(
                id=u.id, username=u.username, full_name=u.full_name, role=u.role, active=u.active,
                locked=bool(u.locked_until and u.locked_until > now),
                status=("Inactive" if not u.active else "Locked" if u.locked_until and u.locked_until > now
                        else "Must change password" if u.must_change_password else "Active"),
                label=u.full_name + " (" + u.username + ")",
            )
            for u in users
        ]
        self.providers = [Option(value=str(p.id), label=p.name) for p in providers]
        return None

    @rx.event
    async def create(self, form: dict):
        """Create an account with a temporary password the person must change."""
        try:
            actor = await current_actor(self, "user.create")
            role = str(form.get("role", ""))
            provider = str(form.get("provider_id", "") or "")
            args = {
                "username": str(form.get("username", ""))[:64],
                "full_name": str(form.get("full_name", ""))[:120],
                "password": str(form.get("password", ""))[:256],
                "role": role,
                "provider_id": as_id(provider) if role == "clinician" and provider else None,
            }
            user = await in_db(lambda s: auth.create_user(s, actor=actor, **args))
        except ClinicError as exc:
            return self._fail(exc)
        self._ok(f"Created {user.username}; they must change the password at first sign-in.")
        return await self._refresh(actor)

    async def _manage(self, change, done: str):
        try:
            actor = await current_actor(self, "user.manage")
            await in_db(lambda s: change(s, actor))
        except ClinicError as exc:
            return self._fail(exc)
        self._ok(done)
        return await self._refresh(actor)

    @rx.event
    async def deactivate(self, user_id: int):
        uid = as_id(user_id)
        return await self._manage(lambda s, a: auth.set_active(s, actor=a, user_id=uid, active=False), "Account deactivated; its sessions ended.")

    @rx.event
    async def reactivate(self, user_id: int):
        uid = as_id(user_id)
        return await self._manage(lambda s, a: auth.set_active(s, actor=a, user_id=uid, active=True), "Account reactivated.")

    @rx.event
    async def unlock(self, user_id: int):
        uid = as_id(user_id)
        return await self._manage(lambda s, a: auth.unlock(s, actor=a, user_id=uid), "Account unlocked.")

    @rx.event
    def set_temp_password(self, value: str):
        self.temp_password = str(value)[:256]

    @rx.event
    async def reset_password(self, user_id: int):
        uid, temporary = as_id(user_id), self.temp_password
        result = await self._manage(
            lambda s, a: auth.reset_password(s, actor=a, user_id=uid, temporary=temporary),
            "Temporary password set; the person must change it at next sign-in.",
        )
        if not self.message_is_error:
            self.temp_password = ""
        return result

    def _fail(self, exc: Exception):
        self.message = str(exc)
        self.message_is_error = True

    def _ok(self, text: str):
        self.message = text
        self.message_is_error = False


class AuditState(rx.State):
    """The admin's audit log search."""

    rows: list[AuditRow] = []
    total: int = 0
    user_id: str = ""
    patient_id: str = ""
    action: str = ""
    since: str = ""
    until: str = ""
    message: str = ""
    _before: list[int] = []

    @rx.event
    async def load(self):
        _, redirect = await page_actor(self, "audit.view")
        if redirect:
            return redirect
        self._before = []
        return await self._search(None)

    @rx.event
    async def search(self, form: dict):
        self.user_id = str(form.get("user_id", "")).strip()[:10]
        self.patient_id = str(form.get("patient_id", "")).strip()[:10]
        self.action = str(form.get("action", "")).strip()[:40]
        self.since = str(form.get("since", "")).strip()[:10]
        self.until = str(form.get("until", "")).strip()[:10]
        self._before = []
        return await self._search(None)

    @rx.event
    async def older(self):
        if self.rows:
            self._before = [*self._before, self.rows[-1].id]
            return await self._search(self.rows[-1].id)
        return None

    @rx.event
    async def newest(self):
        self._before = []
        return await self._search(None)

    async def _search(self, before_id):
        try:
            actor = await current_actor(self, "audit.view")
            filters = {
                "user_id": as_id(self.user_id) if self.user_id else None,
                "patient_id": as_id(self.patient_id) if self.patient_id else None,
                "action": self.action,
                "since": dt.datetime.combine(parse_day(self.since), dt.time(0), tzinfo=dt.UTC) if self.since else None,
                "until": dt.datetime.combine(parse_day(self.until) + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC) if self.until else None,
            }
            rows, total = await in_db(lambda s: audit.search(s, actor=actor, before_id=before_id, limit=PAGE, **filters))
        except ClinicError as exc:
            self.message = str(exc)
            return None
        self.message = ""
        self.total = total
        self.rows = [
            AuditRow(
                id=r.id, at=r.at.strftime("%Y-%m-%d %H:%M:%S"), user=str(r.user_id or "-"), role=r.role or "-",
                action=r.action, record=f"{r.entity} {r.entity_id or ''}".strip(), patient=str(r.patient_id or ""),
                source=r.source, detail=r.detail,
            )
            for r in rows
        ]
        return None


class AccountState(rx.State):
    """Changing one's own password (forced after an admin set it)."""

    message: str = ""
    message_is_error: bool = False

    @rx.event
    async def load(self):
        auth_state = await self.get_state(AuthState)
        if await auth_state.actor() is None:
            return rx.redirect("/login")
        return None

    @rx.event
    async def change(self, form: dict):
        auth_state = await self.get_state(AuthState)
        actor = await auth_state.actor()
        if actor is None:
            return rx.redirect("/login")
        current = str(form.get("current", ""))[:256]
        new = str(form.get("new", ""))[:256]
        if new != str(form.get("repeat", ""))[:256]:
            self.message, self.message_is_error = "The new passwords differ; type the same one twice.", True
            return None
        try:
            keep = auth_state.session_id()  # this session goes on; the account's others end
            await in_db(lambda s: auth.change_password(s, user_id=actor.user_id, current=current, new=new, keep_session=keep))
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return None
        auth_state._must_change = False
        self.message, self.message_is_error = "Password changed.", False
        return rx.redirect(HOME_ROUTE[actor.role])
