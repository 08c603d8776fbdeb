"""The portal's Messages and Pay pages on a phone (390x844) beside the desk (1366x768), in
Chromium: the patient writes to the front desk, the desk's open inbox shows it live, the desk
answers, the patient's open page shows the answer live and an e-mail without the content goes
out through a real SMTP server; the patient downloads their statement and pays $20 through the
local gateway's card page, comes back to the Pay page, and the desk's profile shows the payment.
axe-core on both pages; screenshots docs/screens/portal-messages.png, portal-pay.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import LedgerEntry, Patient, User
from clinic_app.services.platform import auth
from clinic_app.services.portal import accounts
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import PASSWORD, running_app, seed_e2e_clinic
from tests.e2e.test_app import sign_in
from tests.smtp import smtp_server, wait_for_mail

pytestmark = pytest.mark.e2e
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
DESK = {"viewport": {"width": 1366, "height": 768}}
PATIENT_PASSWORD = "Sunny-day-2030"


@pytest.fixture(scope="module")
def portal_app(tmp_path_factory):
    with smtp_server() as (inbox, port), running_app(tmp_path_factory.mktemp("portal-pay"), SMTP_HOST="127.0.0.1",
                                                     SMTP_PORT=str(port), CLINIC_REMINDERS="off") as (base, db):
        yield base, db, inbox


def _seed(db) -> int:
    """Yara has a portal account with a password and owes $50.00."""
    seed_e2e_clinic(db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        yara = s.exec(select(Patient).where(Patient.mrn == "E2E2")).one()
        yara.email = "yara@example.com"
        s.add(yara)
        desk = auth.actor_for(s.exec(select(User).where(User.username == "e2e_desk")).one())
        invitation = accounts.invite(s, actor=desk, patient_id=yara.id, email="yara@example.com")
        accounts.accept_invitation(s, token=invitation.token, password=PATIENT_PASSWORD)
        s.add(LedgerEntry(patient_id=yara.id, kind="charge", amount_cents=5000))
        s.commit()
        patient_id = yara.id
    engine.dispose()
    return patient_id


def test_messages_with_the_desk_live_both_ways_and_paying_online(browser, portal_app):
    base, db, inbox = portal_app
    patient_id = _seed(db)

    phone = browser.new_context(**PHONE).new_page()
    phone.goto(base + "/portal")
    phone.get_by_label("E-mail").fill("yara@example.com")
    phone.get_by_label("Password").fill(PATIENT_PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name="Hello, Yara Quinlan")).to_be_visible(timeout=60_000)

    desk = browser.new_context(**DESK).new_page()
    sign_in(desk, base, "e2e_desk", PASSWORD)
    desk.goto(base + "/messages")
    expect(desk.get_by_role("heading", name=re.compile("Conversations"))).to_be_visible(timeout=30_000)

    # The patient writes to the front desk.
    phone.get_by_role("link", name="Messages", exact=True).click()
    expect(phone.get_by_role("heading", name="Messages", exact=True)).to_be_visible(timeout=30_000)
    expect(phone.get_by_text("No messages yet.")).to_be_visible()
    phone.get_by_role("button", name="Write a new message").click()
    expect(phone.get_by_label("To", exact=True)).to_have_value("desk")
    phone.get_by_label("Subject").fill("Parking")
    phone.get_by_role("button", name="Send message").click()
    expect(phone.get_by_role("alert")).to_contain_text("Write message first")
    expect(phone.get_by_label("Subject")).to_have_value("Parking")  # nothing typed is lost
    phone.get_by_label("Message", exact=True).fill("Where can I park on Tuesday?")
    phone.get_by_role("button", name="Send message").click()
    expect(phone.get_by_role("status")).to_contain_text("Your message is sent.")
    expect(phone.get_by_role("region", name="Parking")).to_contain_text("Where can I park on Tuesday?")

    # The desk's open inbox shows it at once, marked new; the desk answers.
    item = desk.get_by_role("button", name=re.compile(r"^New Parking"))
    expect(item).to_be_visible(timeout=15_000)
    item.click()
    thread = desk.get_by_role("region", name="Parking")
    expect(thread).to_contain_text("Where can I park on Tuesday?")
    desk.get_by_label("Your answer").fill("Behind the building, space 4 to 9.")
    desk.get_by_role("button", name="Send answer").click()
    expect(thread).to_contain_text("Behind the building, space 4 to 9.", timeout=10_000)

    # The patient's open conversation shows the answer without a reload.
    expect(phone.get_by_role("region", name="Parking")).to_contain_text("Behind the building, space 4 to 9.",
                                                                          timeout=15_000)
    to, mail = wait_for_mail(inbox, "You have a new message from Clinic")
    assert to == ["yara@example.com"]
    body = mail.get_content()
    assert "/portal/messages" in body and "Behind the building" not in body and "Parking" not in body
    phone.get_by_role("button", name="Back to all messages").click()
    expect(phone.get_by_role("button", name=re.compile(r"^Parking To Front desk"))).to_be_visible()
    phone.get_by_role("button", name=re.compile(r"^Parking To Front desk")).click()
    expect(phone.get_by_label("Your answer")).to_be_visible()
    phone.get_by_label("Your answer").fill("Thank you!")
    phone.get_by_role("button", name="Send answer").click()
    expect(phone.get_by_role("region", name="Parking")).to_contain_text("Thank you!")
    expect(thread).to_contain_text("Thank you!", timeout=15_000)  # live on the desk too
    send = phone.get_by_role("button", name="Send answer").bounding_box()
    assert send["height"] >= 44
    assert_accessible(phone, "the portal's messages page")
    screenshot(phone, "portal-messages")

    # Pay: the balance, the statement, $20 through the local gateway's card page and back.
    phone.get_by_role("link", name="Pay", exact=True).click()
    expect(phone.get_by_role("heading", name="Pay", exact=True)).to_be_visible(timeout=30_000)
    expect(phone.locator("#portal-balance")).to_have_text("$50.00")
    with phone.expect_download() as download:
        phone.get_by_role("button", name="Download my statement (PDF)").click()
    assert download.value.suggested_filename.startswith("statement-")
    phone.get_by_label("Amount in dollars").fill("60")
    phone.get_by_role("button", name="Continue to pay by card").click()
    expect(phone.get_by_role("alert")).to_contain_text("You owe $50.00; pay at most that.")
    phone.get_by_label("Amount in dollars").fill("20")
    assert_accessible(phone, "the portal's pay page")
    phone.get_by_role("button", name="Continue to pay by card").click()
    expect(phone).to_have_url(re.compile(r"/pay/local/loc_"), timeout=30_000)
    phone.get_by_label("Card number").fill("4242 4242 4242 4242")
    phone.get_by_role("button", name="Pay $20.00").click()
    expect(phone.get_by_role("status")).to_contain_text("Paid $20.00")
    phone.get_by_role("link", name="Back to your account").click()
    expect(phone.locator("#portal-balance")).to_have_text("$30.00", timeout=30_000)
    expect(phone.get_by_role("list", name="Online payments, newest first")).to_contain_text("Paid")
    screenshot(phone, "portal-pay")
    wait_for_mail(inbox, "Receipt: your payment of $20.00 to Clinic")

    # The desk's profile shows the payment on the ledger.
    desk.goto(f"{base}/patients/{patient_id}")
    account = desk.get_by_role("region", name="Balance and payments")
    expect(account).to_contain_text("Patient owes $30.00", timeout=30_000)
    expect(account).to_contain_text("$20.00")
