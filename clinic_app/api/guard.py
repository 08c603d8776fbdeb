"""The HTTP layer in front of everything the backend serves (pages, /fhir, /_upload, /auth).

- **Security headers** on every response: a Content-Security-Policy Reflex's frontend works
  under (scripts only from the app itself and the inline scripts of the built page, whose
  SHA-256 hashes are listed per page; eval for rx.call_script), frame-ancestors 'none' and X-Frame-Options DENY,
  X-Content-Type-Options nosniff, Referrer-Policy no-referrer, a Permissions-Policy, and
  Cache-Control no-store on everything but the build's static assets.
- **Body limits before anything reads a body**: a declared Content-Length over the path's
  limit is answered 413 at once; a body streamed without one (chunked) is counted as it
  arrives and cut off at the limit (413), so no route ever holds more than its limit:
  /fhir ``CLINIC_FHIR_MAX_BYTES`` (1 MB), /_upload three attachments, /auth 16 KB,
  anything else 64 KB.
- **/_upload** (Reflex's upload route) answers 401 unless the request carries a live
  session cookie, and 403 unless the tab it names (Reflex-Client-Token) is bound to that
  same session (live/tabs.py): a client token alone uploads nothing. Checked before Reflex
  reads a byte of the body.
- **A dead session cookie is cleared** on the next page the browser loads: signing out, the
  idle log-off, a deactivation or a password change end the session on the server (over the
  socket, which cannot touch an HttpOnly cookie); the sign-in page the tab is then sent to
  answers with the cookie expired.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import urllib.parse
from collections.abc import Callable
from http.cookies import SimpleCookie

from sqlalchemy.engine import Engine

from clinic_app import db, settings
from clinic_app.live.tabs import tabs
from clinic_app.services.charting.history import MAX_ATTACHMENT
from clinic_app.services.platform import auth

SESSION_COOKIE = "clinic_session"
UPLOAD_MAX_BYTES = 3 * MAX_ATTACHMENT + 256 * 1024  # the chart's upload takes up to 3 files
_SCRIPT = re.compile(rb"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S | re.I)

# 'unsafe-eval': Reflex's frontend runs rx.call_script's code (sent by the server, never typed by a
# user) with eval, and the chart uses it to scroll and focus. Inline scripts stay limited to the
# built page's own, by hash: an injected <script> or event handler attribute does not run.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'{scripts}{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'{connect}; object-src data:; "
    "frame-src {frames}; worker-src 'self' blob:; manifest-src 'self'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Stripe.js and its Payment Element (an iframe of Stripe's) on the portal's pages, when Stripe is
# the gateway: the script from STRIPE_JS_URL's origin, its frames, and its calls to Stripe's API.
STRIPE_FRAMES = ("https://js.stripe.com", "https://hooks.stripe.com")
STRIPE_CONNECT = "https://api.stripe.com"


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def page_csp(path: str, hashes: str = "") -> str:
    """The Content-Security-Policy for ``path``. Stripe's sources are allowed on every portal page,
    not on /portal/pay alone: the portal moves between its pages without loading a document, so
    the policy of the page the patient opened first is the one the Pay page runs under."""
    scripts = connect = ""
    frames = "'none'"
    portal = path.rstrip("/") == "/portal" or path.startswith("/portal/")
    if portal and settings.payment_gateway() == "stripe":
        js = _origin(settings.stripe_js_url())
        scripts, connect = f" {js}", f" {js} {STRIPE_CONNECT}"
        frames = " ".join(dict.fromkeys((js, *STRIPE_FRAMES)))
    return CSP.format(scripts=scripts, hashes=hashes, connect=connect, frames=frames)
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def session_token(cookie_header: str) -> str:
    """The session token in a Cookie header ('' if none)."""
    if not cookie_header:
        return ""
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # a malformed header is no session
        return ""
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None else ""


def limit_for(path: str, method: str) -> int:
    """How many body bytes a request to ``path`` may send."""
    if path == "/fhir" or path.startswith("/fhir/"):
        return settings.FHIR_MAX_BYTES
    if path.startswith("/_upload") and method == "POST":
        return UPLOAD_MAX_BYTES
    if path.startswith("/auth/"):
        return settings.FORM_MAX_BYTES
    return settings.OTHER_MAX_BYTES


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def _is_page(path: str) -> bool:
    """A navigation to a page of the app (not a static asset, an API or Reflex's own routes)."""
    last = path.rsplit("/", 1)[-1]
    return not path.startswith(("/fhir", "/_", "/auth/", "/assets/", "/ping", "/attachments/")) and (
        "." not in last or last.endswith(".html")
    )


def _script_hashes(html: bytes) -> str:
    found = []
    for match in _SCRIPT.finditer(html):
        if b"src=" in match.group("attrs").lower():
            continue
        digest = base64.b64encode(hashlib.sha256(match.group("body")).digest()).decode()
        token = f" 'sha256-{digest}'"
        if token not in found:
            found.append(token)
    return "".join(found)


class Guard:
    """ASGI middleware: see the module's docstring."""

    def __init__(self, app, get_engine: Callable[[], Engine] = db.engine) -> None:
        self.app = app
        self.get_engine = get_engine

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        page = method in ("GET", "HEAD") and _is_page(path)
        if page:  # the page's HTML is read whole to list its inline scripts' hashes: no compression,
            # and its bytes sent through here (not handed to the server as a file to send)
            extensions = {k: v for k, v in (scope.get("extensions") or {}).items() if k != "http.response.pathsend"}
            scope = {**scope, "extensions": extensions,
                     "headers": [(k, v) for k, v in scope.get("headers", ()) if k != b"accept-encoding"]}
        # Only on the sign-in page, where every ended session's tab is sent: no query on other pages.
        clear = page and path.rstrip("/") == "/login" and await self._dead_cookie(scope)
        send = self._secured(send, path, page, clear)
        limit = limit_for(path, method)
        declared = _header(scope, b"content-length")
        if declared and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(send, path, limit)
            return
        if path.startswith("/_upload") and method == "POST":
            refused = await self._upload_refusal(scope)
            if refused is not None:
                await _drain(receive, DRAIN_BYTES)
                await _plain(send, *refused)
                return
        state = {"seen": 0, "over": False, "started": False}

        async def counted():
            if state["over"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > limit:
                    state["over"] = True  # the route sees the client gone; the answer is 413
                    return {"type": "http.disconnect"}
            return message

        async def watched(message):
            if state["over"]:
                return  # whatever the route answers to a body cut off, the client gets 413
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["started"]:
            await self._too_large(send, path, limit)

    async def _dead_cookie(self, scope) -> bool:
        """Whether the request carries a session cookie whose session is no longer live."""
        token = session_token(_header(scope, b"cookie"))
        if not token:
            return False

        def check():
            with db.session_scope(self.get_engine()) as session:  # an expired session is ended (and committed)
                return auth.check_session(session, token=token, touch=False) is None

        return await asyncio.to_thread(check)

    def _secured(self, send, path: str, page: bool, clear_cookie: bool = False):
        """``send`` with the security headers added (a page's CSP lists its inline scripts), and
        the session cookie expired when ``clear_cookie``."""
        held: dict = {}

        async def secured(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in _REPLACED]
                headers += HEADERS
                if clear_cookie:
                    headers.append((b"set-cookie", f"{SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict".encode()))
                names = {k.lower() for k, _ in headers}
                if b"cache-control" not in names and not path.startswith("/assets/"):
                    headers.append((b"cache-control", b"no-store"))
                is_html = any(k.lower() == b"content-type" and b"text/html" in v for k, v in headers)
                if page and is_html and b"content-security-policy" not in names:
                    held["start"] = {**message, "headers": headers}
                    held["body"] = b""
                    return
                if b"content-security-policy" not in names:  # a route's own (stricter) policy stays
                    headers.append((b"content-security-policy", page_csp(path).encode()))
                await send({**message, "headers": headers})
                return
            if "start" in held and message["type"] == "http.response.body":
                held["body"] += message.get("body", b"")
                if message.get("more_body"):
                    return
                body = held["body"]
                headers = [(k, v) for k, v in held["start"]["headers"] if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                headers.append((b"content-security-policy", page_csp(path, _script_hashes(body)).encode()))
                await send({**held.pop("start"), "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        return secured

    async def _too_large(self, send, path: str, limit: int) -> None:
        words = f"The request body is too large (at most {limit:,} bytes)."
        if path == "/fhir" or path.startswith("/fhir/"):
            body = {"resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "too-long", "diagnostics": words}]}
            await _plain(send, 413, json.dumps(body), "application/fhir+json")
            return
        await _plain(send, 413, words)

    async def _upload_refusal(self, scope) -> tuple[int, str] | None:
        token = session_token(_header(scope, b"cookie"))
        tab = _header(scope, b"reflex-client-token")
        if not token:
            return 401, "Sign in first: uploads need a signed-in session."

        def check():
            with db.session_scope(self.get_engine()) as session:
                live = auth.check_session(session, token=token, touch=False)
                return live.id if live else None

        session_id = await asyncio.to_thread(check)
        if session_id is None:
            return 401, "Your session has ended; sign in again."
        if not tab or tabs().session(tab) != session_id:
            return 403, "This page is not signed in as you; reload it and try again."
        return None


_REPLACED = {b"x-frame-options", b"x-content-type-options", b"referrer-policy", b"permissions-policy",
             b"cross-origin-opener-policy"}


# A refused request's body is read and dropped up to this much before the answer, so that closing
# the connection does not reset it under the client before it reads the answer; past it, the
# client may see the connection reset instead.
DRAIN_BYTES = 1_000_000


async def _drain(receive, most: int) -> None:
    seen = 0
    while seen <= most:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body"):
            return


async def _plain(send, status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
    """A refusal sent before the request's body was read: the connection is not reused after it."""
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def guard(get_engine: Callable[[], Engine] = db.engine) -> Callable:
    """The api_transformer that wraps the backend in the Guard."""
    return lambda app: Guard(app, get_engine)
