"""The portal's sign-in over HTTP (api/portal.py): its own HttpOnly cookie, set from the
invitation link or the sign-in form; limits before any hashing; a staff cookie is no portal
session and a portal cookie no staff session."""

from __future__ import annotations

import datetime as dt

import pytest
from starlette.testclient import TestClient

from clinic_app.api import build_api
from clinic_app.api.guard import Guard
from clinic_app.api.portal import PORTAL_COOKIE
from clinic_app.db import utcnow
from clinic_app.services.platform import auth, limits
from clinic_app.services.portal import accounts

JSON = {"Accept": "application/json"}
PASSWORD = "Sunny-day-2030"


@pytest.fixture
def web(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "_limiter", limits.RateLimiter())  # counts of this test only
    with TestClient(Guard(build_api(lambda: engine, export_dir=tmp_path / "x"), lambda: engine),
                    base_url="http://clinic.test") as client:
        yield client


@pytest.fixture
def invitation(session, clinic):
    found = accounts.invite(session, actor=clinic.reception, patient_id=clinic.patients[0].id,
                            email="cara@example.com", now=utcnow() - dt.timedelta(hours=1))
    session.commit()
    return found


def test_welcome_sets_the_password_once_and_signs_in_with_an_httponly_cookie(web, session, invitation):
    form = {"token": invitation.token, "password": PASSWORD, "password_again": "other-password-1"}
    assert web.post("/portal/auth/welcome", data=form, headers=JSON).status_code == 400
    r = web.post("/portal/auth/welcome", data={**form, "password_again": PASSWORD}, headers=JSON)
    assert r.status_code == 200 and r.json() == {"ok": True, "to": "/portal/home"}
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{PORTAL_COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    token = r.cookies[PORTAL_COOKIE]
    assert accounts.check_session(session, token=token) is not None
    assert auth.check_session(session, token=token) is None  # never a staff session
    again = web.post("/portal/auth/welcome", data={**form, "password_again": PASSWORD}, headers=JSON)
    assert again.status_code == 400 and "already used" in again.json()["error"]


def test_sign_in_and_out(web, session, clinic, invitation):
    web.post("/portal/auth/welcome", data={"token": invitation.token, "password": PASSWORD, "password_again": PASSWORD})
    web.cookies.clear()
    bad = web.post("/portal/auth/sign-in", data={"email": "cara@example.com", "password": "wrong-pass-1"}, headers=JSON)
    assert bad.status_code == 401 and bad.json()["error"] == "E-mail or password is incorrect."
    staff = web.post("/portal/auth/sign-in", data={"email": "reception", "password": "correct horse battery"}, headers=JSON)
    assert staff.status_code == 401  # a staff account is no portal account
    ok = web.post("/portal/auth/sign-in", data={"email": "Cara@example.com", "password": PASSWORD}, headers=JSON)
    assert ok.status_code == 200 and ok.json()["to"] == "/portal/home"
    token = ok.cookies[PORTAL_COOKIE]
    assert accounts.check_session(session, token=token).patient_id == clinic.patients[0].id
    out = web.post("/portal/auth/sign-out", headers=JSON)
    session.rollback()  # a fresh read of what the request committed
    assert out.status_code == 200 and accounts.check_session(session, token=token) is None


def test_portal_sign_ins_and_link_uses_are_limited_before_any_hashing(web, session, invitation, monkeypatch):
    monkeypatch.setattr(accounts, "SIGN_INS_PER_EMAIL", 3)
    hashed = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda p, h: hashed.append(1) or real(p, h))
    codes = [web.post("/portal/auth/sign-in", data={"email": "x@example.com", "password": "guess-guess-1"},
                      headers=JSON).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429] and len(hashed) == 3
    monkeypatch.setattr(accounts, "TOKEN_USES_PER_CLIENT", 2)
    codes = [web.post("/portal/auth/welcome", data={"token": "forged", "password": PASSWORD, "password_again": PASSWORD},
                      headers=JSON).status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    r = web.post("/portal/auth/welcome", data={"token": invitation.token, "password": PASSWORD,
                                               "password_again": PASSWORD}, headers=JSON)
    assert r.status_code == 429  # even the right link waits: this client is over its limit
