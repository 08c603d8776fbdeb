"""The patient portal on a phone (390x844) beside a desk's board (1366x768), in Chromium:
the desk sends an invitation (a real e-mail through a local SMTP server), the patient sets a
password from its link, books online, the booking appears live on the board marked "Booked
online", and the day-of check-in link turns the card Arrived live. axe-core on every portal
page; screenshots to docs/screens/portal-*.png (CLINIC_SCREENSHOTS=docs)."""

from __future__ import annotations

import re
import socket
import time
import urllib.parse
from email import message_from_bytes
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import Appointment, AppointmentType, Location, Patient, Provider, User
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform import auth
from clinic_app.services.portal import accounts, booking, checkin
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import PASSWORD, running_app, seed_e2e_clinic
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
DESK = {"viewport": {"width": 1366, "height": 768}}
PATIENT_PASSWORD = "Sunny-day-2030"


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"


@pytest.fixture(scope="module")
def portal_app(tmp_path_factory):
    """The app with its SMTP relay pointed at a local server this test reads."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with running_app(tmp_path_factory.mktemp("portal"), SMTP_HOST="127.0.0.1", SMTP_PORT=str(port),
                         CLINIC_REMINDERS="off") as (base, db):
            yield base, db, inbox
    finally:
        smtp.stop()


def _open_online_booking(db) -> dict:
    """E2E Clinic books Treatment with Erin online, from now to two weeks ahead."""
    seed_e2e_clinic(db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        location = s.exec(select(Location).where(Location.name == "E2E Clinic")).one()
        provider = s.exec(select(Provider).where(Provider.location_id == location.id)).one()
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        admin = auth.create_user(s, actor=None, username="e2e_portal_admin", full_name="Portal Admin",
                                 password=PASSWORD, role="admin", location_id=location.id)
        actor = auth.actor_for(admin)
        scheduling.set_week_hours(s, actor=actor, provider_id=provider.id,
                                  week={d: [("08:00", "18:00")] for d in range(7)})
        booking.save_rules(s, actor=actor, location_id=location.id, enabled=True, type_ids=[kind.id],
                           provider_ids=[provider.id], new_patients=True, returning_patients=True,
                           min_notice_hours=0, days_ahead=14, max_upcoming=3, cancel_window_hours=0)
        s.commit()
        yara = s.exec(select(Patient).where(Patient.mrn == "E2E2")).one()
    engine.dispose()
    return {"patient_id": yara.id}


def _wait_for_mail(inbox, subject: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in inbox.messages:
            if message["Subject"] == subject:
                return message
        time.sleep(0.2)
    raise AssertionError(f"no e-mail {subject!r} arrived; got {[m['Subject'] for m in inbox.messages]}")


def _connected(page):
    page.wait_for_function("() => !!sessionStorage.getItem('token')", timeout=60_000)


@pytest.fixture(scope="module")
def seeded(portal_app):
    return _open_online_booking(portal_app[1])


def test_invite_book_online_and_check_in_live_on_the_board(browser, portal_app, seeded):
    base, db, inbox = portal_app

    # The desk invites Yara from her profile.
    desk = browser.new_context(**DESK).new_page()
    sign_in(desk, base, "e2e_desk", PASSWORD)
    desk.goto(f"{base}/patients/{seeded['patient_id']}")
    expect(desk.get_by_text("No portal account yet.")).to_be_visible(timeout=30_000)
    desk.get_by_label("Portal e-mail").fill("yara@example.com")
    desk.get_by_role("button", name="Send portal invitation").click()
    expect(desk.get_by_role("status")).to_contain_text("Invitation sent to yara@example.com")
    mail = _wait_for_mail(inbox, "Your patient portal invitation")
    assert mail["To"] == "yara@example.com"
    link = re.search(r"https?://\S+/portal/welcome\?token=\S+", mail.get_content()).group(0)
    path = urllib.parse.urlsplit(link)
    welcome_path = f"{path.path}?{path.query}"

    # The board of the day, open on the desk.
    desk.goto(f"{base}/board")
    desk.get_by_label("Location").click()
    desk.get_by_role("option", name="E2E Clinic").click()
    expect(desk.get_by_role("button", name=re.compile(r"^Quill, Zed, 11:00, "))).to_be_visible()

    # On her phone: set the password from the link.
    phone = browser.new_context(**PHONE).new_page()
    phone.goto(base + welcome_path)
    expect(phone.get_by_text("yara@example.com")).to_be_visible(timeout=30_000)
    assert_accessible(phone, "the portal's welcome page")
    screenshot(phone, "portal-welcome")
    phone.get_by_label("New password", exact=True).fill(PATIENT_PASSWORD)
    phone.get_by_label("New password again").fill(PATIENT_PASSWORD)
    phone.get_by_role("button", name="Set password and sign in").click()
    expect(phone.get_by_role("heading", name="Hello, Yara Quinlan")).to_be_visible(timeout=60_000)
    expect(phone.get_by_text("You have no upcoming visits.")).to_be_visible()

    # Book online: Treatment with Erin, today, 13:00.
    phone.get_by_role("link", name="Book a visit").first.click()
    expect(phone.get_by_role("heading", name="Book a visit")).to_be_visible()
    expect(phone.get_by_label("Clinician")).to_have_value(re.compile(r"\d+"))
    thirteen = phone.get_by_role("button", name="13:00", exact=True)
    expect(thirteen).to_be_visible(timeout=30_000)
    expect(phone.get_by_role("button", name="11:00", exact=True)).to_have_count(0)  # Zed's time is not open
    thirteen.click()
    assert_accessible(phone, "the portal's booking page")
    screenshot(phone, "portal-book")
    box = thirteen.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44
    phone.get_by_role("button", name="Book 13:00").click()
    expect(phone.get_by_role("status")).to_contain_text("You are booked for")
    expect(phone.get_by_text("Status:")).to_be_visible()
    assert_accessible(phone, "the portal's home page")
    screenshot(phone, "portal-home")

    # The desk's board shows it at once, marked as booked online.
    card = desk.get_by_role("button", name="Quinlan, Yara, 13:00, Booked, Booked online")
    expect(card).to_be_visible(timeout=15_000)
    expect(card).to_contain_text("Booked online")

    # The day-of check-in link: nothing shown before the date of birth, then Arrived everywhere.
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        appointment = s.exec(select(Appointment).where(Appointment.patient_id == seeded["patient_id"],
                                                       Appointment.booked_online.is_(True))).one()
        token = checkin.issue_link(s, actor=None, appointment_id=appointment.id)
        s.commit()
    engine.dispose()
    arrive = browser.new_context(**PHONE).new_page()
    arrive.goto(f"{base}/portal/checkin?token={token}")
    expect(arrive.get_by_label("Date of birth")).to_be_visible(timeout=30_000)
    expect(arrive.get_by_text("Erin Test")).to_have_count(0)
    assert_accessible(arrive, "the check-in page")
    screenshot(arrive, "portal-checkin")
    arrive.get_by_label("Date of birth").fill("1985-02-04")
    arrive.get_by_role("button", name="Check in").click()
    expect(arrive.get_by_role("alert")).to_contain_text("does not match")
    arrive.get_by_label("Date of birth").fill("1985-02-03")
    arrive.get_by_role("button", name="Check in").click()
    expect(arrive.get_by_role("status")).to_contain_text("You are checked in at")
    expect(desk.get_by_role("button", name="Quinlan, Yara, 13:00, Arrived, Booked online")).to_be_visible(timeout=15_000)
    arrive.goto(f"{base}/portal/checkin?token={token}")
    expect(arrive.get_by_role("alert")).to_contain_text("already used")

    # Signing in again on another phone; a staff session is nobody in the portal.
    other = browser.new_context(**PHONE).new_page()
    other.goto(base + "/portal")
    expect(other.get_by_label("E-mail")).to_be_visible()
    assert_accessible(other, "the portal's sign-in page")
    screenshot(other, "portal-sign-in")
    other.get_by_label("E-mail").fill("yara@example.com")
    other.get_by_label("Password").fill(PATIENT_PASSWORD)
    other.get_by_role("button", name="Sign in").click()
    expect(other.get_by_role("heading", name="Hello, Yara Quinlan")).to_be_visible(timeout=60_000)
    expect(other.get_by_text("Arrived")).to_be_visible()
    desk.goto(base + "/portal/home")
    expect(desk).to_have_url(re.compile(r"/portal$"), timeout=30_000)


def test_a_visit_moved_and_cancelled_on_the_phone_moves_and_leaves_the_board_live(browser, portal_app, seeded):
    """Zed books 15:00 with a double press (one visit), moves it to 16:00, cancels it: the desk's
    board follows each step live; once the clinic's cancellation window covers a visit, the
    portal says to call instead of offering the buttons."""
    base, db, _ = portal_app
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        zed = s.exec(select(Patient).where(Patient.mrn == "E2E1")).one()
        desk_user = s.exec(select(User).where(User.username == "e2e_desk")).one()
        invitation = accounts.invite(s, actor=auth.actor_for(desk_user), patient_id=zed.id, email="zed@example.com")
        accounts.accept_invitation(s, token=invitation.token, password=PATIENT_PASSWORD)
        s.commit()
    desk = browser.new_context(**DESK).new_page()
    sign_in(desk, base, "e2e_desk", PASSWORD)
    desk.goto(f"{base}/board")
    desk.get_by_label("Location").click()
    desk.get_by_role("option", name="E2E Clinic").click()
    expect(desk.get_by_role("button", name=re.compile(r"^Quill, Zed, 11:00, "))).to_be_visible()

    phone = browser.new_context(**PHONE).new_page()
    phone.goto(base + "/portal")
    phone.get_by_label("E-mail").fill("zed@example.com")
    phone.get_by_label("Password").fill(PATIENT_PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name="Hello, Zed Quill")).to_be_visible(timeout=60_000)
    phone.get_by_role("link", name="Book a visit").first.click()
    fifteen = phone.get_by_role("button", name="15:00", exact=True)
    expect(fifteen).to_be_visible(timeout=30_000)
    fifteen.click()
    phone.get_by_role("button", name="Book 15:00").dblclick()  # a double press books once
    expect(phone.get_by_role("status")).to_contain_text("You are booked for")
    expect(phone.get_by_role("alert")).to_have_count(0)
    expect(desk.get_by_role("button", name="Quill, Zed, 15:00, Booked, Booked online")).to_be_visible(timeout=15_000)
    with Session(engine) as s:
        online = s.exec(select(Appointment).where(Appointment.patient_id == zed.id,
                                                  Appointment.booked_online.is_(True))).all()
    assert len(online) == 1

    # Move it to 16:00: the board's card moves with it.
    visits = phone.get_by_role("list").first
    visits.get_by_role("button", name=re.compile(r"^Move Treatment on .*15:00")).click()
    expect(phone.get_by_role("heading", name="Move a visit")).to_be_visible()
    sixteen = phone.get_by_role("button", name="16:00", exact=True)
    expect(sixteen).to_be_visible(timeout=30_000)
    sixteen.click()
    phone.get_by_role("button", name="Move my visit to 16:00").click()
    expect(phone.get_by_role("status")).to_contain_text("Your visit is moved to")
    expect(desk.get_by_role("button", name="Quill, Zed, 16:00, Booked, Booked online")).to_be_visible(timeout=15_000)
    expect(desk.get_by_role("button", name=re.compile(r"^Quill, Zed, 15:00"))).to_have_count(0)

    # Cancel it: asked once, then gone from the board.
    phone.get_by_role("button", name=re.compile(r"^Cancel visit: Treatment on .*16:00")).click()
    dialog = phone.get_by_role("alertdialog", name="Cancel a visit")
    expect(dialog).to_contain_text("Cancel your Treatment with Erin Test, PT")
    assert_accessible(phone, "the portal's home page asking to cancel")
    dialog.get_by_role("button", name="Yes, cancel the visit").click()
    expect(phone.get_by_role("status")).to_contain_text("Your visit is cancelled.")
    expect(desk.get_by_role("button", name=re.compile(r"^Quill, Zed, 16:00, Booked"))).to_have_count(0, timeout=15_000)

    # The clinic widens its cancellation window to two days: the desk's 11:00 visit is inside it.
    with Session(engine) as s:
        location = s.exec(select(Location).where(Location.name == "E2E Clinic")).one()
        admin = s.exec(select(User).where(User.username == "e2e_portal_admin")).one()
        rules = booking.rules_for(s, location.id)
        booking.save_rules(s, actor=auth.actor_for(admin), location_id=location.id, enabled=True,
                           type_ids=sorted(booking.ids(rules.type_ids)), provider_ids=sorted(booking.ids(rules.provider_ids)),
                           new_patients=True, returning_patients=True, min_notice_hours=0, days_ahead=14,
                           max_upcoming=3, cancel_window_hours=48)
        s.commit()
    engine.dispose()
    phone.reload()
    expect(phone.get_by_text("To change this visit, please call the clinic.")).to_be_visible(timeout=30_000)
    expect(phone.get_by_role("button", name=re.compile(r"^Cancel visit"))).to_have_count(0)
    screenshot(phone, "portal-home-call-to-change")
