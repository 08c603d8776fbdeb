"""The portal's Pay page with Stripe's Payment Element, on a phone (390x844), in Chromium.

The app runs with CLINIC_PAYMENT_GATEWAY=stripe against the local stand-in of Stripe's API,
which also serves the stand-in of Stripe.js (tests/api/fake_stripe.py; STRIPE_JS_URL points at
it) and sends the signed webhook to the app, as Stripe does. The patient owes $50.00: a declined
card shows Stripe's message and changes nothing; the approved card leaves for Stripe and comes
back to the Pay page, which says "Processing" until Stripe's webhook posts the payment and then
"Payment received" without a reload; the ledger has the payment once, the receipt
arrives through a real SMTP server, and the card number never reached the app. axe-core on the
page with the element mounted and on the result; screenshot portal-pay-stripe-390."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import LedgerEntry, OnlinePayment
from tests.api.fake_stripe import FakeStripe
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import running_app
from tests.e2e.test_portal_messages_pay import PATIENT_PASSWORD, PHONE, _seed
from tests.smtp import smtp_server, wait_for_mail

pytestmark = pytest.mark.e2e
WEBHOOK_SECRET = "whsec_e2e_0123456789"
APPROVED, DECLINED = "4242 4242 4242 4242", "4000 0000 0000 0002"


@pytest.fixture(scope="module")
def stripe_app(tmp_path_factory):
    with smtp_server() as (inbox, port), FakeStripe("sk_test_e2e", "pk_test_e2e") as fake, running_app(
        tmp_path_factory.mktemp("portal-stripe"), SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), CLINIC_REMINDERS="off",
        CLINIC_PAYMENT_GATEWAY="stripe", STRIPE_SECRET_KEY="sk_test_e2e", STRIPE_PUBLISHABLE_KEY="pk_test_e2e",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, STRIPE_API_BASE=fake.url, STRIPE_JS_URL=f"{fake.url}/v3/",
    ) as (base, db):
        fake.webhook_url, fake.webhook_secret = f"{base}/payments/stripe/webhook", WEBHOOK_SECRET
        yield base, db, inbox, fake


def _ledger(db, patient_id: int) -> list[tuple[str, int, str]]:
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        rows = s.exec(select(LedgerEntry).where(LedgerEntry.patient_id == patient_id).order_by(LedgerEntry.id)).all()
        found = [(e.kind, e.amount_cents, e.reference or "") for e in rows]
    engine.dispose()
    return found


def test_paying_a_balance_through_stripes_payment_element(browser, stripe_app):
    base, db, inbox, fake = stripe_app
    patient_id = _seed(db)
    before = _ledger(db, patient_id)

    context = browser.new_context(**PHONE)
    phone = context.new_page()
    sent_to_app: list[str] = []  # everything the page sends the app: requests and socket frames
    phone.on("request", lambda r: sent_to_app.append(f"{r.url} {r.post_data or ''}") if r.url.startswith(base) else None)
    phone.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent_to_app.append(str(frame))))

    phone.goto(base + "/portal")
    phone.get_by_label("E-mail").fill("yara@example.com")
    phone.get_by_label("Password").fill(PATIENT_PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name="Hello, Yara Quinlan")).to_be_visible(timeout=60_000)
    phone.get_by_role("link", name="Pay", exact=True).click()
    expect(phone.get_by_role("heading", name="Pay", exact=True)).to_be_visible(timeout=30_000)
    expect(phone.locator("#portal-balance")).to_have_text("$50.00")

    # The server creates the intent for the amount it checked; the element mounts in its container.
    phone.get_by_label("Amount in dollars").fill("25")
    phone.get_by_role("button", name="Continue to pay by card").click()
    card_details = phone.get_by_role("group", name="Card details")
    expect(card_details.get_by_label("Card number")).to_be_visible(timeout=30_000)
    expect(phone.get_by_role("button", name="Pay $25.00")).to_be_visible()
    # Another amount typed: the card form for $25.00 goes; "Continue" makes one for the new amount.
    phone.get_by_label("Amount in dollars").fill("20")
    expect(phone.get_by_role("button", name="Pay $25.00")).to_have_count(0)
    phone.get_by_role("button", name="Continue to pay by card").click()
    expect(card_details.get_by_label("Card number")).to_be_visible(timeout=30_000)
    assert [i["amount"] for i in fake.intents.values()] == [2500, 2000]
    pay = phone.get_by_role("button", name="Pay $20.00")
    assert pay.bounding_box()["height"] >= 44
    assert_accessible(phone, "the portal's pay page with Stripe's payment element")
    screenshot(phone, "portal-pay-stripe-card-390")

    # A declined card: Stripe's message at the button, nothing posted, the balance as it was.
    card_details.get_by_label("Card number").fill(DECLINED)
    pay.click()
    expect(phone.locator("#stripe-payment-error")).to_have_text("Your card was declined.", timeout=30_000)
    expect(phone).to_have_url(re.compile(r"/portal/pay$"))
    assert fake.webhooks == [("payment_intent.payment_failed", 200)]
    assert _ledger(db, patient_id) == before
    expect(phone.locator("#portal-balance")).to_have_text("$50.00")
    expect(pay).to_be_enabled()

    # The approved card: off to Stripe and back before Stripe's webhook came: "Processing", nothing
    # posted yet; the webhook posts it and the open page says so without a reload.
    fake.hold_webhooks = True
    card_details.get_by_label("Card number").fill(APPROVED)
    pay.click()
    expect(phone).to_have_url(re.compile(r"/portal/pay/?\?payment_intent=pi_.*redirect_status=succeeded"), timeout=30_000)
    expect(phone.get_by_role("status").filter(has_text="Processing")).to_contain_text(
        "Processing: the card service is confirming your payment of $20.00", timeout=30_000)
    expect(phone.get_by_role("button", name="Check again")).to_be_visible()
    expect(phone.locator("#portal-balance")).to_have_text("$50.00")
    assert _ledger(db, patient_id) == before
    phone.evaluate("window.__samePage = true")
    fake.release_webhooks()
    expect(phone.get_by_role("status").filter(has_text="Payment received")).to_contain_text(
        "Payment received: $20.00", timeout=30_000)
    assert phone.evaluate("window.__samePage === true")  # live: the page was not reloaded
    expect(phone.get_by_role("button", name="Check again")).to_have_count(0)
    expect(phone.locator("#portal-balance")).to_have_text("$30.00")
    expect(phone.get_by_role("list", name="Online payments, newest first")).to_contain_text("Paid")
    intent_id = list(fake.intents)[-1]
    assert fake.webhooks[-1] == ("payment_intent.succeeded", 200)
    assert _ledger(db, patient_id) == [*before, ("payment", -2000, intent_id)]
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        row = s.exec(select(OnlinePayment).where(OnlinePayment.gateway_payment_id == intent_id)).one()
        assert (row.status, row.amount_cents, row.gateway) == ("succeeded", 2000, "stripe")
    engine.dispose()
    to, mail = wait_for_mail(inbox, "Receipt: your payment of $20.00 to Clinic")
    assert to == ["yara@example.com"] and intent_id in mail.get_content()

    # Reloading the result posts nothing more.
    phone.reload()
    expect(phone.get_by_role("status").filter(has_text="Payment received")).to_be_visible(timeout=30_000)
    assert len([e for e in _ledger(db, patient_id) if e[0] == "payment"]) == 1

    # The card went to the card service only.
    assert fake.cards_seen == ["4000000000000002", "4242424242424242"]
    card_texts = ("4242424242424242", "4242 4242", "4000000000000002", "4000 0000 0000")
    assert not [sent for sent in sent_to_app if any(card in sent for card in card_texts)]
    assert_accessible(phone, "the portal's pay page after paying with Stripe")
    screenshot(phone, "portal-pay-stripe-390")
