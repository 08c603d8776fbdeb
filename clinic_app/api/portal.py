"""Patients signing in to the portal over HTTP, so that the server sets their cookie itself.

- ``POST /portal/auth/sign-in`` (e-mail, password): counted against the client's and the
  e-mail's portal limits first (429 past them, before any hashing), then checked on the hashing
  pool; on success the ``portal_session`` cookie is set (HttpOnly, SameSite=Strict, Secure over
  HTTPS) and the answer says to go to /portal/home. A failure's count (lock-out) is committed.
- ``POST /portal/auth/welcome`` (token, password): sets the password from an invitation link
  (one use, counted against the client's one-time link limit) and signs the patient in.
- ``POST /portal/auth/sign-out`` ends the cookie's portal session and clears the cookie.
- ``GET /portal/documents/<id>.pdf``: a document the clinic shared (services/portal/care.py),
  for the cookie's patient only: another patient's id is 404, as one that does not exist;
  no session goes to the sign-in page. Each download is audited.

The pages send the forms with /clinic-login.js, as the staff's sign-in page does. The portal
cookie is its own: the staff's session gate never reads it, and the portal never reads theirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http.cookies import SimpleCookie

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from clinic_app import db, settings
from clinic_app.services.platform import auth, limits
from clinic_app.services.platform.errors import BadCredentials, ClinicError, NotFound
from clinic_app.services.portal import accounts, care

PORTAL_COOKIE = "portal_session"
PORTAL_HOME = "/portal/home"
PORTAL_SIGN_IN = "/portal"


def _secure(request: Request) -> bool:
    if settings.SECURE_COOKIES in ("on", "off"):
        return settings.SECURE_COOKIES == "on"
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def portal_token(cookie_header: str) -> str:
    """The portal session token in a Cookie header ('' if none)."""
    if not cookie_header:
        return ""
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # a malformed header is no session
        return ""
    morsel = jar.get(PORTAL_COOKIE)
    return morsel.value if morsel is not None else ""


class PortalSignIn:
    def __init__(self, get_engine: Callable[[], Engine] = db.engine) -> None:
        self.get_engine = get_engine

    def _signed_in(self, request: Request, token: str) -> Response:
        response = JSONResponse({"ok": True, "to": PORTAL_HOME}) if _wants_json(request) \
            else RedirectResponse(PORTAL_HOME, 303)
        response.set_cookie(PORTAL_COOKIE, token, max_age=settings.SESSION_HOURS * 3600, path="/",
                            secure=_secure(request), httponly=True, samesite="strict")
        return response

    def _refused(self, request: Request, status: int, words: str, code: str, back: str,
                 headers: dict | None = None) -> Response:
        if _wants_json(request):
            return JSONResponse({"ok": False, "error": words}, status, headers=headers)
        return RedirectResponse(f"{back}?failed={code}", 303)

    async def sign_in(self, request: Request) -> Response:
        try:
            form = await request.form()
        except Exception:
            return JSONResponse({"ok": False, "error": "The sign-in form was not understood; reload the page."}, 400)
        email = str(form.get("email", ""))[:120]
        password = str(form.get("password", ""))[:256]
        source = _client(request)
        try:
            accounts.check_sign_in_rate(client=source, email=email)

            def work():
                with Session(self.get_engine(), expire_on_commit=False) as session:
                    try:
                        account = accounts.authenticate(session, email=email, password=password, source=source)
                    except ClinicError:
                        session.commit()  # the failure's count and audit row stay
                        raise
                    token = accounts.start_session(session, account=account)
                    session.commit()
                    return token

            token = await limits.hash_pool().run(work)
        except limits.TooManyAttempts as exc:
            return self._refused(request, 429, str(exc), "limited", PORTAL_SIGN_IN, {"Retry-After": "60"})
        except limits.Busy as exc:
            return self._refused(request, 503, str(exc), "busy", PORTAL_SIGN_IN, {"Retry-After": "2"})
        except (auth.AccountLocked, BadCredentials) as exc:
            return self._refused(request, 401, str(exc), "bad", PORTAL_SIGN_IN)
        return self._signed_in(request, token)

    async def welcome(self, request: Request) -> Response:
        try:
            form = await request.form()
        except Exception:
            return JSONResponse({"ok": False, "error": "The form was not understood; reload the page."}, 400)
        link = str(form.get("token", ""))[:100]
        password = str(form.get("password", ""))[:256]
        again = str(form.get("password_again", ""))[:256]
        if password != again:
            return self._refused(request, 400, "The two passwords differ; type the same one twice.", "differ",
                                 "/portal/welcome")
        try:
            accounts.check_token_rate(client=_client(request))

            def work():
                with Session(self.get_engine(), expire_on_commit=False) as session:
                    account = accounts.accept_invitation(session, token=link, password=password)
                    token = accounts.start_session(session, account=account)
                    session.commit()
                    return token

            token = await limits.hash_pool().run(work)
        except limits.TooManyAttempts as exc:
            return self._refused(request, 429, str(exc), "limited", "/portal/welcome", {"Retry-After": "60"})
        except limits.Busy as exc:
            return self._refused(request, 503, str(exc), "busy", "/portal/welcome", {"Retry-After": "2"})
        except ClinicError as exc:
            return self._refused(request, 400, str(exc), "bad", "/portal/welcome")
        return self._signed_in(request, token)

    async def sign_out(self, request: Request) -> Response:
        token = portal_token(request.headers.get("cookie", ""))

        def work():
            with Session(self.get_engine(), expire_on_commit=False) as session:
                accounts.end_session(session, token=token)
                session.commit()

        if token:
            await asyncio.to_thread(work)
        response = JSONResponse({"ok": True, "to": PORTAL_SIGN_IN}) if _wants_json(request) \
            else RedirectResponse(PORTAL_SIGN_IN, 303)
        response.delete_cookie(PORTAL_COOKIE, path="/", secure=_secure(request), httponly=True, samesite="strict")
        return response

    def routes(self) -> list[Route]:
        return [
            Route("/portal/auth/sign-in", self.sign_in, methods=["POST"]),
            Route("/portal/auth/welcome", self.welcome, methods=["POST"]),
            Route("/portal/auth/sign-out", self.sign_out, methods=["POST"]),
        ]


class PortalDocuments:
    """The PDFs of documents the clinic shared with the signed-in patient."""

    def __init__(self, get_engine: Callable[[], Engine] = db.engine) -> None:
        self.get_engine = get_engine

    async def download(self, request: Request) -> Response:
        token = portal_token(request.headers.get("cookie", ""))
        document_id = request.path_params["document_id"]

        def work():
            with Session(self.get_engine(), expire_on_commit=False) as session:
                me = accounts.check_session(session, token=token)
                if me is None:
                    session.commit()  # an idle or ended session is marked so
                    return None
                found = care.document_pdf(session, me, document_id=document_id)
                session.commit()  # the download's audit row
                return found

        try:
            found = await asyncio.to_thread(work)
        except NotFound as exc:
            return Response(str(exc), 404, media_type="text/plain; charset=utf-8")
        if found is None:
            return RedirectResponse(PORTAL_SIGN_IN, 303)
        name, data = found
        return Response(data, media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})

    def routes(self) -> list[Route]:
        return [Route("/portal/documents/{document_id:int}.pdf", self.download, methods=["GET"])]
