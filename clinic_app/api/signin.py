"""Signing in over HTTP, so that the server sets the session cookie itself.

``POST /auth/sign-in`` (the sign-in page's form, sent by /clinic-login.js): the attempt is
counted against the client's and the username's limits first (429 past them, before any
password is hashed), then the password is checked on the hashing pool (services/platform/limits.py).
On success the answer sets ``clinic_session`` HttpOnly, SameSite=Strict, Path=/, Secure over
HTTPS (``CLINIC_SECURE_COOKIES``), and says where to go; the page then loads that address
afresh, so its socket opens with the cookie (the socket's handshake is what the session gate
reads, state/sessions.py). The token never reaches the page's JavaScript or the Reflex state.

``POST /auth/sign-out`` ends the cookie's session and clears the cookie.

``GET /attachments/{id}`` sends a chart attachment to a signed-in clinician who may see it,
as a download (Content-Disposition: attachment, nosniff, a sandboxing CSP), never rendered as
a page of the app.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import Callable

from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from clinic_app import db, settings
from clinic_app.api.guard import SESSION_COOKIE, session_token
from clinic_app.services.charting import history
from clinic_app.services.platform import auth, limits
from clinic_app.services.platform.errors import BadCredentials, ClinicError, NotFound
from clinic_app.services.platform.permissions import HOME_ROUTE

log = logging.getLogger(__name__)
SLOW_SECONDS = 5.0  # a sign-in slower than this is logged with where its time went

PASSWORD_ROUTE = "/account/password"


def _secure(request: Request) -> bool:
    if settings.SECURE_COOKIES == "on":
        return True
    if settings.SECURE_COOKIES == "off":
        return False
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


class SignIn:
    def __init__(self, get_engine: Callable[[], Engine] = db.engine) -> None:
        self.get_engine = get_engine

    async def sign_in(self, request: Request) -> Response:
        try:
            form = await request.form()
        except Exception:
            return JSONResponse({"ok": False, "error": "The sign-in form was not understood; reload the page."}, 400)
        username = str(form.get("username", ""))[:64]
        password = str(form.get("password", ""))[:256]
        source = _client(request)
        asked, started = time.monotonic(), [0.0]
        try:
            limits.check_sign_in(client=source, username=username)

            def work():
                started[0] = time.monotonic()
                with db.session_scope(self.get_engine()) as session:
                    try:
                        user = auth.authenticate(session, username=username, password=password, source=source)
                    except ClinicError:
                        # A refused sign-in is kept: its audit record and the failed-attempt count
                        # that locks the account after repeated tries.
                        session.commit()
                        raise
                    return user, auth.start_session(session, user=user)

            try:
                user, token = await limits.hash_pool().run(work)
            finally:
                done = time.monotonic()
                if done - asked > SLOW_SECONDS:
                    log.warning("a sign-in took %.1f s: %.1f s waiting for the hashing pool, %.1f s checking and "
                                "recording it", done - asked, (started[0] or done) - asked, done - (started[0] or done))
        except limits.TooManyAttempts as exc:
            return self._refused(request, 429, str(exc), "limited", {"Retry-After": "60"})
        except limits.Busy as exc:
            return self._refused(request, 503, str(exc), "busy", {"Retry-After": "2"})
        except auth.AccountLocked as exc:
            return self._refused(request, 401, str(exc), "locked")
        except BadCredentials as exc:
            return self._refused(request, 401, str(exc), "bad")
        to = PASSWORD_ROUTE if user.must_change_password else HOME_ROUTE[user.role]
        # The page's script asks for JSON; a form sent before the script was there (a fast click on
        # the page as first drawn) gets the browser's way: a redirect.
        response = JSONResponse({"ok": True, "to": to}) if _wants_json(request) else RedirectResponse(to, 303)
        response.set_cookie(SESSION_COOKIE, token, max_age=settings.SESSION_HOURS * 3600, path="/",
                            secure=_secure(request), httponly=True, samesite="strict")
        return response

    def _refused(self, request: Request, status: int, words: str, code: str, headers: dict | None = None) -> Response:
        if _wants_json(request):
            return JSONResponse({"ok": False, "error": words}, status, headers=headers)
        return RedirectResponse(f"/login?failed={code}", 303)  # the page says it in words (clinic-login.js)

    async def sign_out(self, request: Request) -> Response:
        token = session_token(request.headers.get("cookie", ""))

        def work():
            with db.session_scope(self.get_engine()) as session:
                auth.end_session(session, token=token)

        if token:
            await asyncio.to_thread(work)
        response = JSONResponse({"ok": True, "to": "/login"})
        response.delete_cookie(SESSION_COOKIE, path="/", secure=_secure(request), httponly=True, samesite="strict")
        return response

    async def attachment(self, request: Request) -> Response:
        token = session_token(request.headers.get("cookie", ""))
        raw = request.path_params.get("attachment_id", "")

        def work():
            with db.session_scope(self.get_engine()) as session:
                live = auth.check_session(session, token=token)
                if live is None:
                    return None
                wanted = int(raw) if raw.isdigit() else 0
                return history.open_attachment(session, actor=auth.actor_for(live.user, _client(request)),
                                               attachment_id=wanted)

        try:
            row = await asyncio.to_thread(work)
        except NotFound as exc:
            return Response(str(exc), 404, media_type="text/plain")
        except ClinicError as exc:
            return Response(str(exc), 403, media_type="text/plain")
        if row is None:
            return Response("Sign in first.", 401, media_type="text/plain")
        quoted = urllib.parse.quote(row.filename, safe="")
        return Response(row.data, media_type=row.content_type, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        })

    def routes(self) -> list[Route]:
        return [
            Route("/auth/sign-in", self.sign_in, methods=["POST"]),
            Route("/auth/sign-out", self.sign_out, methods=["POST"]),
            Route("/attachments/{attachment_id}", self.attachment, methods=["GET"]),
        ]
