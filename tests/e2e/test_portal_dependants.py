"""A parent's portal access to a child's records (issue 18), in Chromium: the desk links Mia to
her mother Yara's portal account from Mia's profile (1366x768); Yara, on her phone (390x844),
picks "Whose records", sees Mia's visit and books one for Mia. axe-core on the pages touched;
screenshot portal-dependants-390."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import Appointment, AppointmentType, Location, Patient, Provider, User
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform import auth
from clinic_app.services.portal import accounts
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_app import sign_in
from tests.e2e.test_portal import DESK, PATIENT_PASSWORD, _open_online_booking
from tests.e2e.test_portal_care import _sign_in_patient

pytestmark = pytest.mark.e2e


def _family(db) -> dict:
    """Online booking open (test_portal's seed); Yara has a portal password; her daughter Mia
    has a Treatment with Erin at 15:00 today."""
    seeded = _open_online_booking(db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        location = s.exec(select(Location).where(Location.name == "E2E Clinic")).one()
        provider = s.exec(select(Provider).where(Provider.location_id == location.id)).one()
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        desk = auth.actor_for(s.exec(select(User).where(User.username == "e2e_desk")).one())
        mia = Patient(mrn="E2E3", first_name="Mia", last_name="Quinlan", birth_date=dt.date(2018, 6, 1))
        s.add(mia)
        s.flush()
        today = dt.datetime.now(ZoneInfo(location.timezone)).date()
        starts = dt.datetime.combine(today, dt.time(15, 0), tzinfo=ZoneInfo(location.timezone)).astimezone(dt.UTC)
        scheduling.book_appointment(s, actor=desk, patient_id=mia.id, provider_id=provider.id,
                                    appointment_type_id=kind.id, starts_at=starts)
        invitation = accounts.invite(s, actor=desk, patient_id=seeded["patient_id"], email="yara@example.com")
        accounts.accept_invitation(s, token=invitation.token, password=PATIENT_PASSWORD)
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()
    return {"mia": mia.id}


def test_the_desk_links_a_child_and_the_parent_sees_and_books_for_her(browser, app_server):
    base, db = app_server
    seeded = _family(db)

    # The desk, on Mia's profile: find her mother's portal account and give her access.
    desk = browser.new_context(**DESK).new_page()
    sign_in(desk, base, "e2e_desk", PASSWORD)
    desk.goto(f"{base}/patients/{seeded['mia']}")
    panel = desk.locator("#profile-dependants")
    expect(panel.get_by_text("No one else sees this patient's records in the portal.")).to_be_visible(timeout=30_000)
    panel.get_by_label("Parent or guardian (name)").fill("Yara")
    panel.get_by_role("button", name="Find account holder").click()
    expect(panel.get_by_label("Account holder")).to_contain_text("Quinlan, Yara")
    panel.get_by_label("Relationship").select_option("parent")
    panel.get_by_role("button", name="Give portal access").click()
    expect(panel.get_by_role("status")).to_contain_text("Portal access given")
    expect(panel.get_by_text(re.compile(r"Yara Quinlan \(yara@example.com\) \(parent\)"))).to_be_visible()
    assert_accessible(desk, "the profile's portal access for a parent or guardian", include="#profile-dependants")

    # Yara, on her phone: her own records first, then Mia's.
    phone = _sign_in_patient(browser, base)
    whose = phone.get_by_label("Whose records")
    expect(whose.locator("option:checked")).to_have_text("Me")
    expect(phone.get_by_text("15:00")).to_have_count(0)  # Mia's visit is not among Yara's
    whose.select_option(label="Mia Quinlan")
    expect(phone.get_by_text("Showing Mia Quinlan's records.")).to_be_visible(timeout=30_000)
    expect(phone.get_by_text(re.compile(r"15:00"))).to_be_visible(timeout=30_000)
    box = whose.bounding_box()
    assert box["height"] >= 44
    assert_accessible(phone, "the portal's home page, showing a dependant's records")
    screenshot(phone, "portal-dependants-390")

    # Booking while showing Mia books Mia.
    phone.get_by_role("link", name="Book a visit").first.click()
    expect(phone.get_by_role("heading", name="Book a visit")).to_be_visible()
    expect(phone.get_by_text("Showing Mia Quinlan's records.")).to_be_visible()
    thirteen = phone.get_by_role("button", name="13:00", exact=True)
    expect(thirteen).to_be_visible(timeout=30_000)
    thirteen.click()
    assert_accessible(phone, "the portal's booking page, for a dependant")
    phone.get_by_role("button", name="Book 13:00").click()
    expect(phone.get_by_role("status").filter(has_text="Mia is booked for")).to_be_visible()
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        booked = s.exec(select(Appointment).where(Appointment.booked_online.is_(True))).one()
        assert booked.patient_id == seeded["mia"]
    engine.dispose()
    # Back to her own records: Mia's visits are gone from the list.
    phone.get_by_label("Whose records").select_option(label="Me")
    expect(phone.get_by_text("Showing your own records.")).to_be_visible(timeout=30_000)
    expect(phone.get_by_text(re.compile(r"15:00"))).to_have_count(0)

    # Showing Mia again, the desk ends the access: Yara's next step shows her own records only.
    phone.get_by_label("Whose records").select_option(label="Mia Quinlan")
    expect(phone.get_by_text("Showing Mia Quinlan's records.")).to_be_visible(timeout=30_000)
    desk.reload()
    panel.get_by_role("button", name=re.compile(r"^End access for Yara Quinlan")).click()
    expect(panel.get_by_text("End portal access of Yara Quinlan (yara@example.com) to the records of Quinlan, Mia?")
           ).to_be_visible()
    panel.scroll_into_view_if_needed()
    screenshot(desk, "portal-dependants-desk-1366")
    panel.get_by_role("button", name="End access", exact=True).click()
    expect(panel.get_by_role("status")).to_contain_text("Portal access ended")
    expect(panel.get_by_text("No one else sees this patient's records in the portal.")).to_be_visible()
    phone.get_by_role("link", name="My visits").first.click()
    expect(phone.get_by_text("Access to those records has ended; showing your own records.")).to_be_visible(
        timeout=30_000)
    expect(phone.get_by_label("Whose records")).to_have_count(0)
    expect(phone.get_by_text(re.compile(r"15:00"))).to_have_count(0)
