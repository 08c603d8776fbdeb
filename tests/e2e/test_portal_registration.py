"""A patient registers themselves on a phone (390x844): an admin allows it for the location on
/admin/online-booking, the patient fills /portal/register, confirms their e-mail from the link a
real local SMTP server received, the desk (1366x768) links the registration to the record she
already has, and she signs in at /portal with the password she chose. axe-core on each new page;
screenshots portal-register-390 and portal-registrations-1366."""

from __future__ import annotations

import re
import urllib.parse

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import Location
from clinic_app.services.platform import auth
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import PASSWORD, running_app, seed_e2e_clinic
from tests.e2e.test_app import sign_in
from tests.smtp import smtp_server, wait_for_mail

pytestmark = pytest.mark.e2e
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
DESK = {"viewport": {"width": 1366, "height": 768}}
PATIENT_PASSWORD = "Sunny-day-2030"


@pytest.fixture(scope="module")
def registration_app(tmp_path_factory):
    with smtp_server() as (inbox, port), running_app(
            tmp_path_factory.mktemp("portal-reg"), SMTP_HOST="127.0.0.1", SMTP_PORT=str(port),
            CLINIC_REMINDERS="off") as (base, db):
        yield base, db, inbox


def test_register_verify_desk_accepts_and_patient_signs_in(browser, registration_app):
    base, db, inbox = registration_app
    seed_e2e_clinic(db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        location = s.exec(select(Location).where(Location.name == "E2E Clinic")).one()
        auth.create_user(s, actor=None, username="e2e_reg_admin", full_name="Reg Admin", password=PASSWORD,
                         role="admin", location_id=location.id)
        s.commit()
    engine.dispose()

    # Not offered anywhere yet: the page says so.
    phone = browser.new_context(**PHONE).new_page()
    phone.goto(f"{base}/portal/register")
    expect(phone.get_by_text("Online registration is not offered at the moment")).to_be_visible(timeout=30_000)

    # The admin allows it at E2E Clinic.
    admin = browser.new_context(**DESK).new_page()
    sign_in(admin, base, "e2e_reg_admin", PASSWORD)
    admin.goto(f"{base}/admin/online-booking")
    expect(admin.get_by_label("Location", exact=True)).to_have_value(str(location.id), timeout=30_000)
    allow = admin.get_by_label("Patients may register themselves online")
    expect(allow).not_to_be_checked()
    allow.click()  # a controlled checkbox: ticked once the server's answer comes back
    expect(allow).to_be_checked()
    admin.get_by_role("button", name="Save online booking settings").click()
    expect(admin.get_by_role("status")).to_contain_text("Online booking settings saved.")

    # Yara registers on her phone.
    phone.goto(f"{base}/portal/register")
    expect(phone.get_by_label("Location you visit")).to_have_value(str(location.id), timeout=30_000)
    phone.get_by_label("First name").fill("Yara")
    phone.get_by_label("Last name").fill("Quinlan")
    phone.get_by_label("Date of birth").fill("1985-02-03")
    phone.get_by_label("E-mail").fill("yara.q@example.com")
    phone.get_by_label("Phone").fill("(212) 555-0177")
    phone.get_by_label("Password", exact=True).fill(PATIENT_PASSWORD)
    phone.get_by_label("Password again").fill("Sunny-day-2031")
    register = phone.get_by_role("button", name="Register")
    box = register.bounding_box()
    assert box["height"] >= 44
    assert_accessible(phone, "the portal's registration page")
    phone.evaluate("window.scrollTo(0, 0)")
    screenshot(phone, "portal-register-390")
    register.click()
    expect(phone.get_by_role("alert")).to_contain_text("The two passwords differ")
    phone.get_by_label("Password again").fill(PATIENT_PASSWORD)
    register.click()
    expect(phone.get_by_role("status")).to_contain_text("We sent an e-mail to yara.q@example.com", timeout=30_000)

    # The desk's list is open, with nobody waiting: an unconfirmed registration is not on it.
    desk = browser.new_context(**DESK).new_page()
    sign_in(desk, base, "e2e_desk", PASSWORD)
    desk.get_by_role("navigation", name="Main").get_by_role("link", name="Registrations").click()
    expect(desk.get_by_text("No registrations are waiting.")).to_be_visible(timeout=30_000)

    to, mail = wait_for_mail(inbox, "Confirm your e-mail for the patient portal")
    assert to == ["yara.q@example.com"]
    link = urllib.parse.urlsplit(re.search(r"https?://\S+/portal/register/verify\?token=\S+",
                                           mail.get_content()).group(0))
    phone.goto(f"{base}{link.path}?{link.query}")
    expect(phone.get_by_role("status")).to_contain_text("your e-mail address is confirmed", timeout=30_000)
    assert_accessible(phone, "the registration's confirmation page")
    phone.goto(f"{base}{link.path}?{link.query}")
    expect(phone.get_by_role("alert")).to_contain_text("already used", timeout=30_000)

    # The desk's open list shows it the moment the e-mail is confirmed, beside Yara's record on
    # file, and the desk links it there.
    expect(desk.get_by_role("heading", name="Yara Quinlan")).to_be_visible(timeout=30_000)
    expect(desk.get_by_text("Quinlan, Yara (E2E2, born 1985-02-03)")).to_be_visible()
    assert_accessible(desk, "the desk's portal registrations")
    screenshot(desk, "portal-registrations-1366")
    desk.get_by_role("button", name=re.compile(r"^Link to this record: Quinlan, Yara \(E2E2")).click()
    expect(desk.get_by_role("status")).to_contain_text("Accepted: Yara Quinlan (MRN E2E2) can sign in to the portal now")
    expect(desk.get_by_text("No registrations are waiting.")).to_be_visible()
    to, mail = wait_for_mail(inbox, "Your patient portal account is ready")
    assert to == ["yara.q@example.com"]

    # Yara signs in with the password she chose.
    phone.goto(f"{base}/portal")
    phone.get_by_label("E-mail").fill("yara.q@example.com")
    phone.get_by_label("Password").fill(PATIENT_PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name="Hello, Yara Quinlan")).to_be_visible(timeout=60_000)
