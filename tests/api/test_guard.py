"""The HTTP layer (issue 12): security headers, body limits before parsing and before
authentication work, the /_upload check, signing in over HTTP (the HttpOnly cookie, rate
limits, the hashing pool) and attachment downloads. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
import time

import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from clinic_app import settings
from clinic_app.api import build_api
from clinic_app.api.guard import UPLOAD_MAX_BYTES, Guard
from clinic_app.live.tabs import tabs
from clinic_app.models import AuditLog, User, UserSession
from clinic_app.services.charting import history
from clinic_app.services.platform import api_tokens, auth, limits
from tests.conftest import PASSWORD


@pytest.fixture
def fresh_limits(monkeypatch):
    """A limiter and a hashing pool of this test's own."""
    monkeypatch.setattr(limits, "_limiter", limits.RateLimiter(None, window=3600))  # no window ends mid-test
    monkeypatch.setattr(limits, "_pool", limits.HashPool(1, 4))


@pytest.fixture
def web(engine, tmp_path, fresh_limits):
    """The app's own routes behind the guard, and a stand-in for Reflex's /_upload that says
    whether it was reached and how much of the body it read."""
    reached: list[int] = []

    async def upload(request):
        body = await request.body()
        reached.append(len(body))
        return PlainTextResponse("uploaded")

    inner = build_api(lambda: engine, export_dir=tmp_path / "exports")
    inner.router.routes.append(Route("/_upload", upload, methods=["POST"]))
    with TestClient(Guard(inner, lambda: engine), base_url="http://clinic.test") as client:
        client.reached = reached
        yield client


JSON = {"Accept": "application/json"}  # as the sign-in page's script asks


def _cookie(session, username: str) -> tuple[str, int]:
    user = session.exec(select(User).where(User.username == username)).one()
    token = auth.start_session(session, user=user)
    session.commit()  # the test is the caller
    row = session.exec(select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id.desc())).first()
    return token, row.id


def test_every_response_carries_the_security_headers(web):
    r = web.get("/fhir/metadata")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in r.headers["permissions-policy"]
    csp = r.headers["content-security-policy"]
    for rule in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'"):
        assert rule in csp
    scripts = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in scripts and "*" not in scripts and "data:" not in scripts
    assert r.headers["cache-control"] == "no-store"


def test_a_pages_inline_scripts_are_allowed_by_their_hashes_and_no_other(engine):
    script = b"window.__ready = true;"
    page = b"<!doctype html><html><head><script>" + script + b"</script><script src=\"/app.js\"></script></head></html>"
    seen_encoding = []

    async def html(request):
        seen_encoding.append(request.headers.get("accept-encoding"))
        return HTMLResponse(page)

    app = Starlette(routes=[Route("/board", html)])
    with TestClient(Guard(app, lambda: engine)) as client:
        r = client.get("/board", headers={"Accept-Encoding": "gzip"})
    digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
    assert f"script-src 'self' 'unsafe-eval' 'sha256-{digest}';" in r.headers["content-security-policy"]
    assert r.content == page and seen_encoding == [None]  # read whole, uncompressed, to hash it


def _csp_of(client, path: str) -> dict[str, str]:
    csp = client.get(path).headers["content-security-policy"]
    return {part.split()[0]: part.strip() for part in csp.split(";") if part.strip()}


def test_stripe_js_may_run_on_the_portals_pages_only_when_stripe_is_the_gateway(engine, monkeypatch):
    async def html(request):
        return HTMLResponse(b"<!doctype html><html><body>page</body></html>")

    app = Starlette(routes=[Route("/portal/pay", html), Route("/portal", html), Route("/board", html)])
    with TestClient(Guard(app, lambda: engine)) as client:
        assert _csp_of(client, "/portal/pay")["frame-src"] == "frame-src 'none'"  # the local gateway needs nothing
        monkeypatch.setenv("CLINIC_PAYMENT_GATEWAY", "stripe")
        # The portal moves between its pages without loading a document: its first page's policy is the Pay page's.
        for path in ("/portal/pay", "/portal"):
            csp = _csp_of(client, path)
            assert "https://js.stripe.com" in csp["script-src"] and "'unsafe-inline'" not in csp["script-src"]
            assert csp["frame-src"] == "frame-src https://js.stripe.com https://hooks.stripe.com"
            assert "https://api.stripe.com" in csp["connect-src"]
        board = _csp_of(client, "/board")  # staff pages never run Stripe's script
        assert "stripe" not in board["script-src"] and board["frame-src"] == "frame-src 'none'"
        monkeypatch.setenv("STRIPE_JS_URL", "http://127.0.0.1:9/v3/")  # a test stand-in: its origin only
        assert "'unsafe-eval' http://127.0.0.1:9" in _csp_of(client, "/portal/pay")["script-src"]


def test_a_body_over_the_limit_is_refused_before_it_is_read_or_the_token_checked(web, session, clinic):
    _, secret = api_tokens.create_token(session, actor=clinic.admin, username="admin", scopes="system/*.write", days=5)
    session.commit()
    audits = session.exec(select(AuditLog.id)).all()
    big = b"[" + b"1," * (settings.FHIR_MAX_BYTES // 2) + b"1]"
    # Declared too long: 413 at once, no token looked at (no refusal audited).
    r = web.post("/fhir", content=big, headers={"Authorization": "Bearer wrong", "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["issue"][0]["code"] == "too-long"
    session.rollback()
    assert session.exec(select(AuditLog.id)).all() == audits

    # Chunked (no length): cut off at the limit as it streams in.
    def chunks():
        for _ in range(40):
            yield b"1," * 50_000

    r = web.post("/fhir", content=chunks(), headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 413


def test_the_token_is_checked_before_the_body_is_parsed(web, session, clinic):
    r = web.post("/fhir/Patient", content=b"{not json at all", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401  # not 400: the body was never parsed


def test_json_nested_too_deeply_is_a_clear_400_not_a_crash(web, session, clinic):
    _, secret = api_tokens.create_token(session, actor=clinic.admin, username="admin", scopes="system/*.write", days=5)
    session.commit()
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    for depth in (100, 100_000):
        body = b'{"resourceType": "Patient", "x": ' + b"[" * depth + b"]" * depth + b"}"
        r = web.post("/fhir/Patient", content=body, headers=headers)
        assert r.status_code == 400 and "nested too deeply" in r.text, (depth, r.text[:200])


def test_an_upload_needs_a_live_session_cookie_for_the_tab_it_names(web, session, clinic):
    mine, my_session = _cookie(session, "clin")
    theirs, _ = _cookie(session, "reception")
    tabs().bind("tab-of-the-clinician", "sid-1", my_session)
    body = b"x" * 1000
    headers = {"Reflex-Client-Token": "tab-of-the-clinician", "Reflex-Event-Handler": "chart.upload"}
    assert web.post("/_upload", content=body, headers=headers).status_code == 401  # the token alone
    r = web.post("/_upload", content=body, headers={**headers, "Cookie": f"clinic_session={theirs}"})
    assert r.status_code == 403  # someone else's session
    assert web.reached == []  # neither reached Reflex's handler
    r = web.post("/_upload", content=body, headers={**headers, "Cookie": f"clinic_session={mine}"})
    assert r.status_code == 200 and web.reached == [1000]
    too_big = b"x" * (UPLOAD_MAX_BYTES + 1)
    r = web.post("/_upload", content=too_big, headers={**headers, "Cookie": f"clinic_session={mine}"})
    assert r.status_code == 413 and web.reached == [1000]
    auth.end_session(session, token=mine)
    session.commit()  # the test is the caller
    r = web.post("/_upload", content=body, headers={**headers, "Cookie": f"clinic_session={mine}"})
    assert r.status_code == 401
    tabs().unbind("tab-of-the-clinician")


def test_signing_in_sets_an_httponly_strict_cookie_and_says_where_to_go(web, session, clinic):
    r = web.post("/auth/sign-in", data={"username": "reception", "password": "wrong password"}, headers=JSON)
    assert r.status_code == 401 and r.json() == {"ok": False, "error": "Username or password is incorrect."}
    assert "set-cookie" not in r.headers
    r = web.post("/auth/sign-in", data={"username": "reception", "password": PASSWORD}, headers=JSON)
    assert r.status_code == 200 and r.json() == {"ok": True, "to": "/board"}
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("clinic_session=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/" in cookie and "Secure" not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert auth.check_session(session, token=token).user.username == "reception"
    r = web.post("/auth/sign-in", data={"username": "biller", "password": PASSWORD}, headers={**JSON, "X-Forwarded-Proto": "https"})
    assert "Secure" in r.headers["set-cookie"]
    # Signing out ends the session and clears the cookie.
    r = web.post("/auth/sign-out", headers={"Cookie": f"clinic_session={token}"})
    assert r.status_code == 200 and 'clinic_session=""' in r.headers["set-cookie"]
    session.rollback()
    assert auth.check_session(session, token=token) is None


def test_sign_in_attempts_are_limited_per_client_and_per_username_before_any_hashing(web, session, clinic, monkeypatch):
    monkeypatch.setattr(settings, "SIGN_INS_PER_USERNAME", 3)
    monkeypatch.setattr(settings, "SIGN_INS_PER_CLIENT", 5)
    hashed = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda p, h: hashed.append(1) or real(p, h))
    codes = [web.post("/auth/sign-in", data={"username": "manager", "password": "guess"}, headers=JSON).status_code
             for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429] and len(hashed) == 3
    r = web.post("/auth/sign-in", data={"username": "biller", "password": PASSWORD}, headers=JSON)
    assert r.status_code == 429 and "wait" in r.json()["error"]  # this client is over its 5 as well
    assert len(hashed) == 3


def test_hashing_runs_on_its_own_bounded_pool_at_a_lower_priority(monkeypatch):
    import os

    pool = limits.HashPool(1, 2)
    release = threading.Event()
    niceness = []

    def slow():
        niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        release.wait(5)
        return "done"

    async def scenario():
        first = asyncio.ensure_future(pool.run(slow))
        second = asyncio.ensure_future(pool.run(lambda: "queued"))
        await asyncio.sleep(0.1)
        with pytest.raises(limits.Busy):
            await pool.run(lambda: "refused")
        release.set()
        return await first, await second

    box: dict = {}  # in a thread of its own: a browser test may have left an event loop running in this one
    runner = threading.Thread(target=lambda: box.setdefault("result", asyncio.run(scenario())))
    runner.start()
    runner.join(30)
    assert box["result"] == ("done", "queued")
    assert niceness[0] >= 10


def test_the_rate_limiter_counts_per_window_in_process_and_in_redis():
    import os
    import uuid

    local = limits.RateLimiter(None, window=60)
    assert [local.hit("k", now=120.0) for _ in range(3)] == [1, 2, 3]
    assert local.hit("k", now=185.0) == 1  # the next window starts again
    os.environ["CLINIC_LIVE_CHANNEL"] = f"clinic:test:{uuid.uuid4().hex}"
    try:
        shared = limits.RateLimiter("redis://127.0.0.1:6379/0", window=60)
        other_worker = limits.RateLimiter("redis://127.0.0.1:6379/0", window=60)
        now = time.time()
        assert shared.hit("client:10.0.0.1", now) == 1 and other_worker.hit("client:10.0.0.1", now) == 2
    finally:
        os.environ.pop("CLINIC_LIVE_CHANNEL", None)


def test_an_attachment_downloads_as_a_file_to_whom_may_see_it(web, session, clinic):
    from tests.services.helpers import book
    from tests.services.test_history import PDF

    patient = book(session, clinic, "09:00").patient_id
    row = history.add_attachment(session, actor=clinic.clinician, patient_id=patient, filename="scan 1.pdf", data=PDF)
    session.commit()
    mine, _ = _cookie(session, "clin")
    theirs, _ = _cookie(session, "clin2")
    assert web.get(f"/attachments/{row.id}").status_code == 401
    assert web.get(f"/attachments/{row.id}", headers={"Cookie": f"clinic_session={theirs}"}).status_code == 403
    r = web.get(f"/attachments/{row.id}", headers={"Cookie": f"clinic_session={mine}"})
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["content-disposition"] == "attachment; filename*=UTF-8''scan%201.pdf"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert r.headers["content-type"] == "application/pdf"


def test_the_cookie_parser_reads_only_the_session_cookie():
    from clinic_app.api.guard import session_token

    assert session_token("theme=dark; clinic_session=abc_DEF-1; other=2") == "abc_DEF-1"
    assert session_token("") == "" and session_token("clinic_session") == "" and session_token('x="unterminated') == ""
    assert json.dumps(session_token("a=1"))  == '""'


def test_a_form_sent_before_the_pages_script_ran_is_answered_with_redirects(web, session, clinic):
    r = web.post("/auth/sign-in", data={"username": "reception", "password": "wrong password"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?failed=bad" and "set-cookie" not in r.headers
    r = web.post("/auth/sign-in", data={"username": "reception", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/board" and "HttpOnly" in r.headers["set-cookie"]


def test_a_page_loaded_with_an_ended_sessions_cookie_expires_the_cookie(engine, session, clinic):
    """Sign-out over the socket ends the session but cannot touch the HttpOnly cookie: the next
    page the browser loads (the sign-in page the tab is sent to) clears it; a live one stays."""
    token, _ = _cookie(session, "reception")
    session.commit()
    app = Starlette(routes=[Route("/login", lambda request: HTMLResponse("<html></html>"))])
    with TestClient(Guard(app, lambda: engine)) as client:
        live = client.get("/login", headers={"Cookie": f"clinic_session={token}"})
        assert "set-cookie" not in live.headers
        auth.end_session(session, token=token)
        session.commit()
        ended = client.get("/login", headers={"Cookie": f"clinic_session={token}"})
        assert ended.status_code == 200
        cleared = ended.headers["set-cookie"]
        assert cleared.startswith("clinic_session=;") and "Max-Age=0" in cleared and "HttpOnly" in cleared
        assert "set-cookie" not in client.get("/login").headers  # no cookie, nothing to clear
