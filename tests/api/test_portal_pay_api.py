"""The Stripe adapter end to end against a local server that answers as Stripe's API does
(tests/api/fake_stripe.py): the intent created with amount, currency, metadata and the
idempotency key; the webhook's signature checked (bad, missing, tampered, stale: 400 and
nothing posted); payment_intent.succeeded posted once with its receipt through a real SMTP
server. The local gateway's own card page, and the clinicians' iCal feed route. On SQLite and
PostgreSQL, through the app's API (clinic_app.api.build_api)."""

from __future__ import annotations

import json
import time

import pytest
from sqlmodel import select

from clinic_app.models import OnlinePayment
from clinic_app.services.platform.errors import InvalidInput
from clinic_app.services.portal import calendar, payments
from clinic_app.services.revenue import ledger
from tests.api.fake_stripe import FakeStripe, event, signature
from tests.services.helpers import book, now_at
from tests.services.test_portal_payments import owes, payments_posted

SECRET = "whsec_test_0123456789"


@pytest.fixture
def stripe_api(monkeypatch, smtp):
    """Stripe configured by its keys, pointing at the fake; receipts to the SMTP test server."""
    inbox, port = smtp
    with FakeStripe("sk_test_fake") as fake:
        monkeypatch.setenv("CLINIC_PAYMENT_GATEWAY", "stripe")
        monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_fake")
        monkeypatch.setenv("STRIPE_PUBLISHABLE_KEY", "pk_test_fake")
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
        monkeypatch.setenv("STRIPE_API_BASE", fake.url)
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(port))
        monkeypatch.setenv("SMTP_FROM", "billing@clinic.test")
        yield fake, inbox


def started(session, patient, cents=2000, key="form-key-0001"):
    row, checkout = payments.start_payment(session, gateway=payments.gateway_from_settings(), patient_id=patient.id,
                                           amount_cents=cents, idempotency_key=key)
    session.commit()
    return row, checkout


def post_event(api, body: bytes, header: str | None):
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return api.post("/payments/stripe/webhook", content=body, headers=headers)


def test_a_stripe_payment_is_created_confirmed_by_its_signed_webhook_and_posted_once(session, clinic, api, stripe_api):
    fake, inbox = stripe_api
    cara = clinic.patients[0]
    cara.email = "cara@example.com"
    session.add(cara)
    owes(session, cara, 5000)
    row, checkout = started(session, cara)
    [create] = fake.requests
    assert (create["method"], create["path"], create["idempotency_key"]) == ("POST", "/v1/payment_intents", "form-key-0001")
    assert create["form"] == {"amount": "2000", "currency": "usd", "metadata": {"patient_reference": f"patient-{cara.id}"},
                              "automatic_payment_methods": {"enabled": "true"}}
    assert (checkout.gateway, checkout.payment_id, row.gateway_payment_id) == ("stripe", row.gateway_payment_id, checkout.payment_id)
    assert checkout.client_secret.startswith(f"{checkout.payment_id}_secret_")
    assert (checkout.publishable_key, checkout.redirect_url) == ("pk_test_fake", "")  # the Pay page mounts the element
    # A double click sends the same idempotency key: Stripe replays the same intent, one row here.
    again, checkout2 = started(session, cara)
    assert (again.id, checkout2.payment_id, len(fake.intents)) == (row.id, checkout.payment_id, 1)
    # Until Stripe says so, nothing is posted (the page came back early).
    assert payments.confirm_payment(session, gateway=payments.gateway_from_settings(), payment_id=checkout.payment_id).status == "pending"
    session.commit()

    body = event("payment_intent.succeeded", fake.succeed(checkout.payment_id))
    answer = post_event(api, body, signature(body, SECRET))
    assert (answer.status_code, answer.json()) == (200, {"ok": True, "status": "succeeded"})
    again = post_event(api, body, signature(body, SECRET))  # Stripe retries the same event
    assert again.status_code == 200
    session.expire_all()
    [entry] = payments_posted(session, cara)
    assert (entry.amount_cents, entry.reference) == (-2000, checkout.payment_id)
    assert ledger.balances(session, patient_id=cara.id)["patient"] == 3000
    paid = session.exec(select(OnlinePayment)).one()
    assert (paid.status, paid.ledger_entry_id) == ("succeeded", entry.id) and paid.receipt_sent_at is not None
    [(to, receipt)] = inbox.messages
    assert to == ["cara@example.com"] and receipt["Subject"] == "Receipt: your payment of $20.00 to Clinic"
    # Asking Stripe directly (the page's return) after the webhook: still one posting.
    payments.confirm_payment(session, gateway=payments.gateway_from_settings(), payment_id=checkout.payment_id)
    session.commit()
    assert len(payments_posted(session, cara)) == 1


@pytest.mark.parametrize("how", ["wrong secret", "no header", "tampered", "stale", "garbage"])
def test_a_webhook_with_a_bad_signature_is_refused_and_posts_nothing(session, clinic, api, stripe_api, how):
    fake, inbox = stripe_api
    cara = clinic.patients[0]
    owes(session, cara, 5000)
    _, checkout = started(session, cara)
    intent = fake.succeed(checkout.payment_id)
    body = event("payment_intent.succeeded", intent)
    header = {
        "wrong secret": signature(body, "whsec_someone_else"),
        "no header": None,
        "tampered": signature(body, SECRET),
        "stale": signature(body, SECRET, at=int(time.time()) - 3600),
        "garbage": "t=abc,v1=nothing",
    }[how]
    if how == "tampered":
        body = event("payment_intent.succeeded", {**intent, "amount": 1})  # signed one body, sent another
    answer = post_event(api, body, header)
    assert answer.status_code == 400
    assert "signature does not match" in answer.json()["error"]
    session.expire_all()
    assert payments_posted(session, cara) == []
    assert session.exec(select(OnlinePayment)).one().status == "pending"
    assert inbox.messages == []


def test_a_failed_card_is_declined_and_other_events_are_acknowledged(session, clinic, api, stripe_api):
    fake, _ = stripe_api
    cara = clinic.patients[0]
    owes(session, cara, 5000)
    _, checkout = started(session, cara)
    body = event("payment_intent.payment_failed", fake.decline(checkout.payment_id))
    answer = post_event(api, body, signature(body, SECRET))
    assert answer.json() == {"ok": True, "status": "declined"}
    other = json.dumps({"id": "evt_1", "object": "event", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}).encode()
    assert post_event(api, other, signature(other, SECRET)).json() == {"ok": True, "status": "ignored"}
    session.expire_all()
    row = session.exec(select(OnlinePayment)).one()
    assert (row.status, row.decline_reason) == ("declined", "Your card was declined.")
    assert payments_posted(session, cara) == []
    # An intent this clinic never started is not posted to anyone.
    stray = event("payment_intent.succeeded", {**fake.succeed(checkout.payment_id), "id": "pi_not_ours"})
    assert post_event(api, stray, signature(stray, SECRET)).status_code == 404
    assert payments_posted(session, cara) == []


def test_stripe_unreachable_or_refusing_starts_nothing(session, clinic, stripe_api, monkeypatch):
    fake, _ = stripe_api
    cara = clinic.patients[0]
    owes(session, cara, 5000)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_wrong")
    with pytest.raises(payments.GatewayUnavailable, match="nothing was charged"):
        started(session, cara)
    session.rollback()
    assert session.exec(select(OnlinePayment)).all() == []
    # The server's own checks come first: an amount over the balance never reaches Stripe.
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_fake")
    before = len(fake.requests)
    with pytest.raises(InvalidInput, match="pay at most that"):
        started(session, cara, cents=9000, key="form-key-0002")
    session.rollback()
    assert len(fake.requests) == before


@pytest.mark.parametrize(("cents", "words"), [
    (0, "more than \\$0.00"), (-500, "more than \\$0.00"), (20.5, "whole number of cents"), ("2000", "whole number of cents"),
    (payments.MAX_ONLINE_CENTS + 1, "at most \\$10,000.00"),
])
def test_an_amount_the_server_refuses_never_creates_an_intent(session, clinic, stripe_api, cents, words):
    fake, _ = stripe_api
    cara = clinic.patients[0]
    owes(session, cara, 5000)
    with pytest.raises(InvalidInput, match=words):
        started(session, cara, cents=cents)
    session.rollback()
    assert (fake.requests, fake.intents) == ([], {})
    assert session.exec(select(OnlinePayment)).all() == []


def test_the_webhook_is_refused_when_stripe_is_not_the_gateway(session, clinic, api, monkeypatch):
    monkeypatch.setenv("CLINIC_PAYMENT_GATEWAY", "local")
    body = event("payment_intent.succeeded", {"id": "pi_x", "amount": 100, "currency": "usd", "status": "succeeded"})
    assert post_event(api, body, signature(body, SECRET)).status_code == 404


def test_the_local_gateways_page_takes_a_test_card_and_posts_the_payment(session, clinic, api, monkeypatch):
    monkeypatch.setenv("CLINIC_PAYMENT_GATEWAY", "local")
    cara = clinic.patients[0]
    owes(session, cara, 5000)
    _, checkout = started(session, cara, cents=1500)
    page = api.get(checkout.redirect_url, params={"secret": checkout.client_secret})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<label for="card">Card number</label>' in page.text and "Pay $15.00" in page.text
    assert api.get(checkout.redirect_url, params={"secret": "forged"}).status_code == 400
    declined = api.post(checkout.redirect_url, data={"secret": checkout.client_secret, "card_number": "4000 0000 0000 0002"})
    assert declined.status_code == 402 and "Your card was declined." in declined.text
    paid = api.post(checkout.redirect_url, data={"secret": checkout.client_secret, "card_number": "4242 4242 4242 4242"})
    assert paid.status_code == 200 and "Paid $15.00" in paid.text
    api.post(checkout.redirect_url, data={"secret": checkout.client_secret, "card_number": "4242424242424242"})
    session.expire_all()
    assert len(payments_posted(session, cara)) == 1
    assert ledger.balances(session, patient_id=cara.id)["patient"] == 3500


def test_the_ical_feed_route_serves_the_schedule_and_404s_a_revoked_secret(session, clinic, api):
    book(session, clinic, "09:00", room=0)
    secret = calendar.turn_on_feed(session, actor=clinic.clinician, now=now_at("06:00"))
    session.commit()
    answer = api.get(f"/ical/{secret}.ics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/calendar")
    assert "SUMMARY:Appointment: Treatment - Room 1" in answer.text and "Diaz" not in answer.text
    assert api.get("/ical/not-a-feed.ics").status_code == 404
    calendar.turn_off_feed(session, actor=clinic.clinician)
    session.commit()
    assert api.get(f"/ical/{secret}.ics").status_code == 404
