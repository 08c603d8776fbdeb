"""A small local stand-in for Stripe's API, as its reference documents it, for the Stripe
adapter's tests (services/portal/payments.py): ``POST /v1/payment_intents`` (form-encoded,
nested keys like ``metadata[patient_reference]``, the ``Idempotency-Key`` header replays the
first answer) and ``GET /v1/payment_intents/{id}``, Bearer secret key, errors as
``{"error": {"type", "code", "message", "param"}}``; and webhook payloads signed the way Stripe
signs them (``Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256 of "t.payload" with the
endpoint's secret>``). A threaded HTTP server on a free port.

For the portal's Pay page in a browser it also serves a stand-in of Stripe.js (``GET /v3/``:
``Stripe(key).elements({clientSecret}).create("payment").mount(el)`` draws a labelled card
number field; ``stripe.confirmPayment({elements, confirmParams: {return_url}})`` posts the card
here, where 4242 4242 4242 4242 succeeds the intent and 4000 0000 0000 0002 declines it; the
signed webhook goes to ``webhook_url`` before the answer, as Stripe's would soon after; then
the page goes to ``return_url`` with ``payment_intent``, ``payment_intent_client_secret`` and
``redirect_status``, or a refusal resolves with Stripe's ``{error: {type, code, message}}``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
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


# The stand-in of Stripe.js: only what the Pay page calls, in Stripe's shapes. __API__ is this server.
STRIPE_JS = r"""(function () {
  var API = "__API__";
  window.Stripe = function (key) {
    return {
      elements: function (options) {
        var elements = { clientSecret: options.clientSecret, input: null };
        elements.create = function (kind) {
          return { mount: function (target) {
            var el = typeof target === "string" ? document.querySelector(target) : target;
            el.innerHTML = '<label for="fake-stripe-card" style="display:block">Card number</label>' +
              '<input id="fake-stripe-card" inputmode="numeric" autocomplete="cc-number" ' +
              'style="display:block;width:100%;min-height:44px;font-size:16px;box-sizing:border-box;' +
              'border:1px solid #60646c;border-radius:6px;padding:0 10px">';
            elements.input = el.querySelector("input");
          } };
        };
        return elements;
      },
      confirmPayment: function (options) {
        var elements = options.elements, back = options.confirmParams.return_url;
        var body = new URLSearchParams({ key: key, client_secret: elements.clientSecret,
                                         number: elements.input ? elements.input.value : "" });
        return fetch(API + "/test/confirm", { method: "POST", body: body }).then(function (r) {
          return r.json();
        }).then(function (answer) {
          if (answer.error) return { error: answer.error };
          var url = new URL(back);
          url.searchParams.set("payment_intent", answer.id);
          url.searchParams.set("payment_intent_client_secret", answer.client_secret);
          url.searchParams.set("redirect_status", answer.status === "succeeded" ? "succeeded" : "failed");
          window.location.assign(url.toString());
          return new Promise(function () {});
        });
      },
    };
  };
})();
"""


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
    def __init__(self, api_key: str = "sk_test_fake", publishable_key: str = "pk_test_fake") -> None:
        self.api_key, self.publishable_key = api_key, publishable_key
        # Where the stand-in's confirmations send the signed webhook (the app's endpoint), and what they got.
        self.webhook_url, self.webhook_secret = "", ""
        self.webhooks: list[tuple[str, int]] = []
        # Held webhooks wait for release_webhooks(): the patient is back before Stripe's event arrives.
        self.hold_webhooks = False
        self.held: list[tuple[str, dict]] = []
        self.cards_seen: list[str] = []
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
                self.send_header("Access-Control-Allow-Origin", "*")  # the stand-in posts from the app's page
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
                if self.path == "/test/confirm":
                    status, body = fake.confirm_with_card(form)
                    self._reply(status, body)
                    return
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
                if urllib.parse.urlsplit(self.path).path in ("/v3", "/v3/"):
                    data = STRIPE_JS.replace("__API__", fake.url).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/javascript; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
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

    def confirm_with_card(self, form: dict) -> tuple[int, dict]:
        """The stand-in's confirmPayment: the card decides, the webhook goes to the app, and the
        answer is the intent (or Stripe's card_error)."""
        intent = next((i for i in self.intents.values() if i["client_secret"] == form.get("client_secret")), None)
        if form.get("key") != self.publishable_key or intent is None:
            return 400, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                   "message": "No such payment_intent."}}
        number = "".join(ch for ch in form.get("number", "") if ch.isdigit())
        self.cards_seen.append(number)
        if number == "4242424242424242":
            kind, intent = "payment_intent.succeeded", self.succeed(intent["id"])
        elif number == "4000000000000002":
            kind, intent = "payment_intent.payment_failed", self.decline(intent["id"])
        else:
            return 402, {"error": {"type": "validation_error", "code": "incomplete_number",
                                   "message": "Your card number is incomplete."}}
        self.send_webhook(kind, intent)
        if intent["status"] != "succeeded":
            return 402, {"error": {"type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                                   "message": intent["last_payment_error"]["message"], "payment_intent": intent}}
        return 200, intent

    def send_webhook(self, kind: str, intent: dict) -> None:
        """POST the signed event to the app's endpoint, as Stripe does."""
        if not self.webhook_url:
            return
        if self.hold_webhooks:
            self.held.append((kind, dict(intent)))
            return
        payload = event(kind, intent)
        request = urllib.request.Request(self.webhook_url, data=payload, method="POST", headers={
            "Content-Type": "application/json", "Stripe-Signature": signature(payload, self.webhook_secret)})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                self.webhooks.append((kind, answer.status))
        except urllib.error.HTTPError as exc:
            self.webhooks.append((kind, exc.code))

    def release_webhooks(self) -> None:
        """Send the held webhooks now (and stop holding)."""
        self.hold_webhooks = False
        held, self.held = self.held, []
        for kind, intent in held:
            self.send_webhook(kind, intent)

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
