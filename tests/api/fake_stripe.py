"""A small local stand-in for Stripe's API, as its reference documents it, for the Stripe
adapter's tests (services/portal/payments.py): ``POST /v1/payment_intents`` (form-encoded,
nested keys like ``metadata[patient_reference]``, the ``Idempotency-Key`` header replays the
first answer) and ``GET /v1/payment_intents/{id}``, Bearer secret key, errors as
``{"error": {"type", "code", "message", "param"}}``; and webhook payloads signed the way Stripe
signs them (``Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256 of "t.payload" with the
endpoint's secret>``). A threaded HTTP server on a free port."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def signature(payload: bytes, secret: str, at: int | None = None) -> str:
    """The Stripe-Signature header for ``payload`` signed with ``secret`` at ``at``."""
    at = int(time.time()) if at is None else at
    v1 = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={v1}"


def event(kind: str, intent: dict) -> bytes:
    """A webhook event's body (an Event object carrying the PaymentIntent)."""
    return json.dumps({
        "id": "evt_" + secrets.token_hex(12), "object": "event", "api_version": "2025-09-30.clover",
        "created": int(time.time()), "type": kind, "data": {"object": intent}, "livemode": False,
        "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
    }).encode()


def _nested(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (a[b][c]=v) back into nested dicts."""
    out: dict = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


class FakeStripe:
    def __init__(self, api_key: str = "sk_test_fake") -> None:
        self.api_key = api_key
        self.intents: dict[str, dict] = {}
        self.replies: dict[str, tuple[int, dict]] = {}
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _reply(self, status: int, body: dict, replayed: bool = False) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_" + secrets.token_hex(7))
                if replayed:
                    self.send_header("Idempotent-Replayed", "true")
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, kind: str, message: str, code: str = "", param: str = "") -> None:
                self._reply(status, {"error": {"type": kind, "code": code, "message": message, "param": param}})

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    self._error(401, "invalid_request_error", "Invalid API Key provided.")
                    return False
                return True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = _nested(urllib.parse.parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                key = self.headers.get("Idempotency-Key", "")
                fake.requests.append({"method": "POST", "path": self.path, "form": form, "idempotency_key": key})
                if not self._authorised():
                    return
                if self.path != "/v1/payment_intents":
                    self._error(404, "invalid_request_error", f"Unrecognized request URL (POST: {self.path}).")
                    return
                with fake.lock:
                    if key and key in fake.replies:
                        status, body = fake.replies[key]
                        self._reply(status, body, replayed=True)
                        return
                    if not form.get("amount", "").isdigit() or int(form["amount"]) < 50:
                        self._error(400, "invalid_request_error", "Amount must be at least $0.50 usd",
                                    "amount_too_small", "amount")
                        return
                    if not form.get("currency"):
                        self._error(400, "invalid_request_error", "Missing required param: currency.",
                                    "parameter_missing", "currency")
                        return
                    intent_id = "pi_" + secrets.token_hex(12)
                    intent = {
                        "id": intent_id, "object": "payment_intent", "amount": int(form["amount"]),
                        "amount_received": 0, "currency": form["currency"], "status": "requires_payment_method",
                        "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
                        "metadata": form.get("metadata", {}), "created": int(time.time()), "livemode": False,
                        "automatic_payment_methods": {"enabled": form.get("automatic_payment_methods", {}).get("enabled") == "true"},
                        "last_payment_error": None, "payment_method_types": ["card"],
                    }
                    fake.intents[intent_id] = intent
                    if key:
                        fake.replies[key] = (200, intent)
                self._reply(200, intent)

            def do_GET(self) -> None:
                fake.requests.append({"method": "GET", "path": self.path})
                if not self._authorised():
                    return
                prefix = "/v1/payment_intents/"
                intent_id = urllib.parse.urlsplit(self.path).path.removeprefix(prefix)
                intent = fake.intents.get(intent_id) if self.path.startswith(prefix) else None
                if intent is None:
                    self._error(404, "invalid_request_error", f"No such payment_intent: '{intent_id}'",
                                "resource_missing", "intent")
                    return
                self._reply(200, intent)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeStripe:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # What the card element and Stripe's processing would do on their side.
    def succeed(self, intent_id: str) -> dict:
        intent = self.intents[intent_id]
        intent.update(status="succeeded", amount_received=intent["amount"], last_payment_error=None)
        return intent

    def decline(self, intent_id: str) -> dict:
        intent = self.intents[intent_id]
        intent.update(status="requires_payment_method", last_payment_error={
            "type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
            "message": "Your card was declined."})
        return intent
