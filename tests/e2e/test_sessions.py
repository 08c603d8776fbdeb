"""Sessions end when they should (issue 12, breaks 1-3 and 6), seen from real Socket.IO tabs.

Each tab is a socket client speaking Reflex's protocol (bench/live_latency.py's lean client)
against the app started as `make run` starts it, signed in the way a browser is: the
HttpOnly ``clinic_session`` cookie in the websocket handshake. A tab is "sent to sign-in"
when the server tells it ``new_token`` (its client token from now on) and ``state_mismatch``
(on which the browser reloads the page).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid

import aiohttp
import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from bench.live_latency import NAMESPACE, Browser, LeanSocket, reflex_names
from clinic_app.db import make_engine
from clinic_app.models import Appointment, Attachment, AuditLog, Provider, User
from clinic_app.services.platform import auth
from tests.e2e.conftest import PASSWORD, seed_e2e_clinic
from tests.e2e.test_forged_events import _run  # one scenario in a thread and event loop of its own

pytestmark = pytest.mark.e2e
SIGNED_OUT = {"new_token", "state_mismatch"}


class _Recording(LeanSocket):
    """The lean client, also keeping the names of the socket events other than "event"."""

    def __init__(self, tab: Tab) -> None:
        super().__init__(tab._on_update)
        self.tab = tab

    async def _read(self) -> None:
        prefix = f"42{NAMESPACE},"
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = message.data
            if data.startswith(prefix):
                name, *args = json.loads(data[len(prefix):])
                if name == "event" and args:
                    self.on_event(args[0], time.perf_counter())
                else:
                    self.tab.signals.append(name)
            elif data == "2":
                await self.ws.send_str("3")
            elif data.startswith(f"40{NAMESPACE}"):
                self.connected.set()
            elif data.startswith(f"44{NAMESPACE}"):
                self.error = data
                self.connected.set()


class Tab(Browser):
    """A browser tab: keeps every delta it was sent (raw too) and the socket events it got."""

    def __init__(self, base: str, path: str, session_token: str, client_token: str | None = None) -> None:
        super().__init__(base, reflex_names(), path, session_token)
        if client_token:
            self.client_token = client_token
        self.lean = _Recording(self)
        self.vars: dict[str, dict] = {}
        self.raw: list[str] = []
        self.signals: list[str] = []

    def on_delta(self, delta: dict, now: float) -> None:
        self.raw.append(json.dumps(delta))
        for state, values in delta.items():
            self.vars.setdefault(state, {}).update(values)

    def var(self, state: type, name: str):
        return self.vars.get(state.get_full_name(), {}).get(name + self.names.marker)

    def seen(self) -> str:
        return "\n".join(self.raw)

    def signed_out(self) -> bool:
        return set(self.signals) >= SIGNED_OUT

    async def until(self, what: str, predicate, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout:.0f} s (signals {self.signals}, last delta "
                                     f"{self.raw[-1][:300] if self.raw else 'none'})")
            await asyncio.sleep(0.1)

    async def send_to(self, state: type, handler: str, payload: dict | None = None) -> None:
        await self.send(f"{state.get_full_name()}.{handler}", payload or {})


@pytest.fixture(scope="module")
def clinic_app(app_server):
    """The app, the e2e clinic, and accounts of this module's own (at the e2e location)."""
    base, db = app_server
    seed_e2e_clinic(db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        desk = s.exec(select(User).where(User.username == "e2e_desk")).one()
        provider = s.exec(select(Provider).where(Provider.name == "Erin Test, PT")).one()
        for username, role in (("s12_desk", "reception"), ("s12_desk2", "reception"), ("s12_clin", "clinician"),
                               ("s12_admin", "admin"), ("s12_pw", "manager")):
            auth.create_user(s, actor=None, username=username, full_name=f"{username} person", password=PASSWORD, role=role,
                             provider_id=provider.id if role == "clinician" else None, location_id=desk.location_id)
        visit = s.exec(select(Appointment).where(Appointment.provider_id == provider.id)).first()
        s.commit()  # the seed is the caller: it commits what the services wrote
    yield base, engine, visit.id
    engine.dispose()


def _session_of(engine, username: str) -> str:
    with Session(engine) as s:
        token = auth.start_session(s, user=s.exec(select(User).where(User.username == username)).one())
        s.commit()  # the test is the caller: the session it started is kept
        return token


def _states():
    from clinic_app.state.admin import AccountState, UsersState
    from clinic_app.state.api_tokens import ApiTokenState
    from clinic_app.state.auth import AuthState
    from clinic_app.state.calendar import CalendarState
    from clinic_app.state.chart import ChartState

    return AuthState, CalendarState, ChartState, UsersState, ApiTokenState, AccountState


def test_a_deactivated_users_open_tab_is_reset_sent_to_sign_in_and_gets_no_more_pushes(clinic_app):
    """Break 1: after an admin deactivated the account, its tab searched patients 70 s later and
    kept getting live pushes with patient names."""
    base, engine, visit_id = clinic_app
    auth_state, calendar, _chart, users, _tokens, _account = _states()
    from clinic_app.state.booking import BookingSection as booking
    from clinic_app.state.visit import VisitSection as visit
    with Session(engine) as s:
        desk_id = s.exec(select(User.id).where(User.username == "s12_desk")).one()
        s.commit()  # the seed is the caller: it commits what the services wrote

    async def scenario():
        desk = Tab(base, "/board", _session_of(engine, "s12_desk"))
        other = Tab(base, "/board", _session_of(engine, "s12_desk2"))
        admin = Tab(base, "/admin/users", _session_of(engine, "s12_admin"))
        for tab in (desk, other, admin):
            await tab.connect()
        await desk.until("the desk's board", lambda: desk.var(calendar, "rows"))
        await other.until("the other desk's board", lambda: other.var(calendar, "rows"))
        await admin.until("the user list", lambda: admin.var(users, "users"))
        assert "Quill" in desk.seen() and desk.var(auth_state, "user_name") == "s12_desk person"
        await admin.send_to(users, "deactivate", {"user_id": desk_id})
        await desk.until("the deactivated tab sent to sign-in", desk.signed_out, 10)
        after = len(desk.raw)
        # The tab ignores it (a script, a stale page) and goes on sending events on its socket.
        await desk.send_to(booking, "search_patients", {"text": "Qui"})
        await other.send_to(visit, "open", {"appointment_id": visit_id})
        await other.send_to(visit, "check_in")  # a change pushed to boards
        await other.until("the other desk's check-in", lambda: "arrived" in other.seen(), 10)
        await asyncio.sleep(2)
        return desk.raw[after:], desk

    later, _desk = _run(scenario())
    pushed = "\n".join(later)
    assert "Quill" not in pushed and "arrived" not in pushed, pushed[:500]
    assert "Your session has ended; sign in again." in pushed
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(AuditLog).where(
            AuditLog.user_id == desk_id, AuditLog.action == "search")).one() == 0
        s.get(User, desk_id).active = True  # for whatever runs after
        s.commit()


def test_a_client_token_is_not_a_password(clinic_app):
    """Break 2: whoever held a tab's client token got its user once the owner's socket was gone
    (a note was read), and /_upload took it while the owner was connected."""
    base, engine, _visit = clinic_app
    _auth_state, _calendar, chart, *_ = _states()
    token = _session_of(engine, "s12_clin")
    with Session(engine) as s:
        attachments = s.exec(select(func.count()).select_from(Attachment)).one()
        s.commit()  # the seed is the caller: it commits what the services wrote

    async def scenario():
        owner = Tab(base, "/chart", token)
        await owner.connect()
        await owner.until("the clinician's day", lambda: owner.var(chart, "visits"))
        assert "Quill" in owner.seen()
        # While the owner is connected, an upload naming the owner's tab: no cookie, or another's.
        handler = f"{chart.get_full_name()}.upload_attachment"
        files = {"files": ("scan.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image/png")}
        headers = {"Reflex-Client-Token": owner.client_token, "Reflex-Event-Handler": handler}
        async with httpx.AsyncClient(base_url=base) as http:
            bare = await http.post("/_upload", files=files, headers=headers)
        async with httpx.AsyncClient(base_url=base) as http:
            stranger = await http.post("/_upload", files=files, headers={
                **headers, "Cookie": f"clinic_session={_session_of(engine, 's12_desk2')}"})
        await owner.close()
        await asyncio.sleep(0.5)
        # Someone else takes the owner's client token on a socket of their own.
        thief = Tab(base, "/chart", "", client_token=owner.client_token)
        await thief.connect()
        await thief.until("the stolen tab told to sign in", thief.signed_out, 10)
        await thief.send_to(chart, "load")
        await asyncio.sleep(1.5)
        return bare.status_code, stranger.status_code, thief

    bare, stranger, thief = _run(scenario())
    assert (bare, stranger) == (401, 403)
    assert "Quill" not in thief.seen() and "s12_clin person" not in thief.seen()
    assert token not in thief.seen()
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Attachment)).one() == attachments
        s.commit()  # the seed is the caller: it commits what the services wrote


def test_signing_out_resets_the_tab_so_the_next_user_of_it_gets_nothing_of_the_last(clinic_app):
    """Break 3: after sign-out the same tab (the sign-in page, then the next user signing in on
    it) was sent the previous user's data, the user list, an API token's secret."""
    base, engine, _visit = clinic_app
    auth_state, _calendar, _chart, _users, tokens, _account = _states()

    async def scenario():
        admin = Tab(base, "/api-tokens", _session_of(engine, "s12_admin"))
        await admin.connect()
        await admin.until("the token page", lambda: admin.var(tokens, "rows") is not None)
        await admin.send_to(tokens, "set_username", {"value": "e2e_desk"})
        await admin.send_to(tokens, "create", {"form_data": {}})
        await admin.until("a new token's secret", lambda: admin.var(tokens, "new_token"))
        secret = admin.var(tokens, "new_token")
        await admin.send_to(auth_state, "sign_out")
        await admin.until("the signed-out tab sent to sign-in", admin.signed_out, 10)
        await admin.close()
        # The same tab (its old client token), first on the sign-in page, then as the next user.
        page = Tab(base, "/login", "", client_token=admin.client_token)
        await page.connect()
        await asyncio.sleep(1.5)
        await page.close()
        nxt = Tab(base, "/board", _session_of(engine, "e2e_desk"), client_token=admin.client_token)
        await nxt.connect()
        await nxt.until("the next user's board", lambda: nxt.var(_calendar, "rows") is not None)
        await asyncio.sleep(1)
        await nxt.close()
        return secret, page.seen() + nxt.seen()

    secret, seen = _run(scenario())
    assert secret.startswith("clk_") or len(secret) > 20
    assert secret not in seen and "s12_admin person" not in seen and "s12_pw" not in seen


def test_a_password_change_ends_the_accounts_other_tabs_and_an_idle_session_ends_its_tab(clinic_app):
    """Break 6 (other sessions stayed valid after a password change) and break 1's idle log-off."""
    base, engine, _visit = clinic_app
    auth_state, _calendar, _chart, _users, _tokens, account = _states()

    async def scenario():
        here = Tab(base, "/account/password", _session_of(engine, "s12_pw"))
        there = Tab(base, "/account/password", _session_of(engine, "s12_pw"))
        for tab in (here, there):
            await tab.connect()
            await tab.until("signed in", lambda tab=tab: tab.var(auth_state, "user_name") == "s12_pw person")
        await here.send_to(account, "change", {"form": {"current": PASSWORD, "new": "fresh secret 91", "repeat": "fresh secret 91"}})
        await there.until("the other tab sent to sign-in", there.signed_out, 10)
        await here.until("the change confirmed", lambda: here.var(account, "message") == "Password changed.")
        assert not here.signed_out()
        # The tab that changed it goes on; then it idles past the limit.
        with engine.begin() as conn:
            conn.execute(text("UPDATE user_session SET last_seen_at = :t WHERE ended_at IS NULL AND user_id = "
                              "(SELECT id FROM \"user\" WHERE username = 's12_pw')"),
                         {"t": (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)).replace(tzinfo=None)})
        await here.send_to(account, "load")
        await here.until("the idle tab sent to sign-in", here.signed_out, 10)
        for tab in (here, there):
            await tab.close()

    _run(scenario())
    with Session(engine) as s:
        actions = s.exec(select(AuditLog.action).where(AuditLog.action.like("session_%"))).all()
        s.commit()  # the seed is the caller: it commits what the services wrote
    assert "session_idle_timeout" in actions


def test_every_response_is_hardened_and_nothing_big_is_read_before_its_checks(clinic_app):
    """Break 5 (bodies read and parsed before authentication) and break 7 (headers, CORS),
    on the app as it runs."""
    base, _engine, _visit = clinic_app
    with httpx.Client(base_url=base, timeout=30, headers={"Connection": "close"}) as http:
        page = http.get("/login")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        evil = {"Origin": "https://evil.example"}
        assert "access-control-allow-origin" not in http.get("/ping", headers=evil).headers
        preflight = http.options("/fhir/Patient", headers={**evil, "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in preflight.headers
        started = time.monotonic()
        big = http.post("/fhir", content=b"[" + b"0," * 4_500_000 + b"0]", headers={"Content-Type": "application/json"})
        assert big.status_code == 413

        def chunks():
            for _ in range(90):
                yield b"0," * 50_000

        assert http.post("/fhir", content=chunks()).status_code in (401, 413)
        upload = http.post("/_upload", content=b"x" * 20_000_000, headers={"Reflex-Client-Token": str(uuid.uuid4()),
                                                                            "Reflex-Event-Handler": "x"})
        assert upload.status_code in (401, 413)
        assert time.monotonic() - started < 20


def test_signing_in_in_a_browser_sets_a_cookie_no_script_can_read(page, clinic_app):
    import re

    from playwright.sync_api import expect

    base, *_ = clinic_app
    page.goto(base + "/login")
    page.get_by_label("Username").fill("s12_desk2")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Calendar board")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "clinic_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "clinic_session" not in page.evaluate("() => document.cookie")
    before = page.evaluate("() => sessionStorage.getItem('token')")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/?$"))
    page.wait_for_function("(old) => sessionStorage.getItem('token') && sessionStorage.getItem('token') !== old", arg=before)
