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
from clinic_app.services.platform.errors import ClinicError, InvalidInput
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
    reset_user_id: int = 0  # the account the temporary-password dialog is open for
    reset_label: str = ""
    reset_message: str = ""

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
    def ask_reset(self, user_id: int):
        """Open the temporary-password dialog for one account (named from the list, not the event)."""
        try:
            uid = as_id(user_id)
        except ClinicError as exc:
            return self._fail(exc)
        row = next((u for u in self.users if u.id == uid), None)
        if row is None:
            return self._fail("That account is not in the list; reload the page.")
        self.reset_user_id, self.reset_label, self.reset_message = uid, row.label, ""
        return None

    @rx.event
    def close_reset(self, is_open: bool = False):
        if not is_open:
            self._close_reset()

    def _close_reset(self) -> None:
        self.reset_user_id, self.reset_label, self.reset_message = 0, "", ""

    @rx.event
    async def reset_password(self, form: dict):
        """Set the typed temporary password on the account the dialog names, in one step."""
        uid, temporary = self.reset_user_id, str(form.get("temporary", ""))[:256]
        if not uid:
            return None
        try:
            actor = await current_actor(self, "user.manage")
            await in_db(lambda s: auth.reset_password(s, actor=actor, user_id=uid, temporary=temporary))
        except ClinicError as exc:
            self.reset_message = str(exc)  # beside the field, in the dialog; nothing changed
            return None
        label = self.reset_label
        self._close_reset()
        self._ok(f"Temporary password set for {label}; they must change it at their next sign-in.")
        return await self._refresh(actor)

    def _fail(self, exc: Exception):
        self.message = str(exc)
        self.message_is_error = True

    def _ok(self, text: str):
        self.message = text
        self.message_is_error = False


class AuditState(rx.State):
    """The admin's audit log search: by user (username or name), patient (name or MRN, as
    the desk searches), action and UTC date range; its rows as CSV. The log is only read."""

    rows: list[AuditRow] = []
    total: int = 0
    user: str = ""
    patient: str = ""
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
        self.user = str(form.get("user", "")).strip()[:120]
        self.patient = str(form.get("patient", "")).strip()[:80]
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

    def _criteria(self) -> dict:
        since = parse_day(self.since) if self.since else None
        until = parse_day(self.until) if self.until else None
        if since and until and until < since:
            raise InvalidInput("The end date is before the start date; swap them.")
        return {
            "user": self.user,
            "patient": self.patient,
            "action": self.action,
            "since": dt.datetime.combine(since, dt.time(0), tzinfo=dt.UTC) if since else None,
            "until": dt.datetime.combine(until + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC) if until else None,
        }

    async def _search(self, before_id):
        try:
            actor = await current_actor(self, "audit.view")
            criteria = self._criteria()

            def work(session):
                rows, total = audit.search(session, actor=actor, before_id=before_id, limit=PAGE, **criteria)
                return audit.as_table(session, rows), total

            table, total = await in_db(work)
        except ClinicError as exc:
            self.message = str(exc)
            return None
        self.message = ""
        self.total = total
        self.rows = [
            AuditRow(id=int(r["id"]), at=r["when_utc"], user=r["user"], role=r["role"], action=r["action"],
                     record=r["record"], patient=r["patient"], source=r["from"], detail=r["detail"])
            for r in table
        ]
        return None

    @rx.event
    async def download(self):
        """The search shown (all its rows, up to the export limit, newest first) as CSV."""
        try:
            actor = await current_actor(self, "audit.view")
            criteria = self._criteria()

            def work(session):
                rows, _ = audit.search(session, actor=actor, limit=audit.EXPORT_LIMIT, **criteria)
                return audit.to_csv(audit.as_table(session, rows))

            data = await in_db(work)
        except ClinicError as exc:
            self.message = str(exc)
            return None
        return rx.download(data=data, filename=f"audit-log-{utcnow():%Y-%m-%d-%H%M}.csv", mime_type="text/csv")


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
