"""The desk's patient work in Chromium at 1366x768 (issue 14, problems 5 and 6): a patient
found by phone digits from the header search and opened in one click, "no patient matches"
with "Register new", registration that takes the insurance with the set-up page's checks,
eligibility asked and answered from the profile, a coverage added from the profile that
re-prices a visit signed while self-pay (shown on the claim), and the waitlist as a list
with preferences, time waited and the offer flow."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import AppointmentType, Location, Patient, Provider, Room
from clinic_app.services.charting import charting
from clinic_app.services.frontdesk import scheduling, waitlist
from clinic_app.services.platform import auth
from clinic_app.services.revenue import payers
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import PASSWORD, _zone_where_it_is_nine_am
from tests.e2e.test_app import sign_in
from tests.services.test_eligibility import ACTIVE_WITH_MONEY, answer_271

pytestmark = pytest.mark.e2e
DESK = {"width": 1366, "height": 768}


def seed_desk_clinic(db) -> dict:
    """A location of its own (mid-morning now) with: Rhea Quill (phone 617-555-0199);
    Iris Vale, self-pay, whose visit yesterday was signed at the self-pay price ($90.00);
    Otto Quinn waiting 3 days for a morning with Nia Render; a visit tomorrow at 10:00
    with Nia Render, cancelled (a freed slot)."""
    tz = _zone_where_it_is_nine_am()
    zone = ZoneInfo(tz)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        location = Location(name="Desk E2E", timezone=tz)
        s.add(location)
        s.flush()
        provider = Provider(name="Nia Render, PT", location_id=location.id, npi="1234567893")
        people = [
            Patient(mrn="D2E1", first_name="Rhea", last_name="Quill", birth_date=dt.date(1971, 6, 2), phone="(617) 555-0199"),
            Patient(mrn="D2E2", first_name="Iris", last_name="Vale", birth_date=dt.date(1983, 9, 14), phone="6175550123"),
            Patient(mrn="D2E3", first_name="Otto", last_name="Quinn", birth_date=dt.date(1990, 1, 30), phone="6175550456"),
        ]
        s.add_all([provider, Room(location_id=location.id, name="Gym"), *people])
        s.commit()
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        users = {
            role: auth.actor_for(auth.create_user(
                s, actor=None, username=name, full_name=name, password=PASSWORD, role=role,
                provider_id=provider.id if role == "clinician" else None, location_id=location.id,
            ))
            for name, role in (("d2e_desk", "reception"), ("d2e_clin", "clinician"), ("d2e_bill", "biller"),
                               ("d2e_admin", "admin"))
        }
        payers.set_billing_profile(
            s, actor=users["admin"], location_id=location.id, organisation="Desk E2E PT", npi="1245319599",
            tax_id="123456789", address="1 Main St", city="Boston", state="MA", zip_code="021081234",
        )
        payer = payers.create_payer(s, actor=users["biller"], name="Desk Health", payer_id="DESKH")
        payers.set_fee(s, actor=users["biller"], payer_id=payer.id, code="97110", amount="38.00")
        now = dt.datetime.now(dt.UTC)
        today = now.astimezone(zone).date()
        # Iris Vale's visit yesterday, signed while she had no insurance on file: 97110 x 2 at $45.00.
        starts = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(10), tzinfo=zone).astimezone(dt.UTC)
        visit = scheduling.book_appointment(s, actor=users["reception"], patient_id=people[1].id, provider_id=provider.id,
                                            appointment_type_id=kind.id, starts_at=starts, now=starts - dt.timedelta(days=3))
        scheduling.transition(s, actor=users["reception"], appointment_id=visit.id, to_status="arrived", now=starts)
        scheduling.transition(s, actor=users["clinician"], appointment_id=visit.id, to_status="in_session", now=starts)
        note = charting.open_note(s, actor=users["clinician"], appointment_id=visit.id)
        charting.save_draft(s, actor=users["clinician"], note_id=note.id, field="subjective", text="Low back pain")
        charting.add_diagnosis(s, actor=users["clinician"], note_id=note.id, code="M54.50")
        charting.add_procedure(s, actor=users["clinician"], note_id=note.id, code="97110", units=2)
        charting.sign_note(s, actor=users["clinician"], note_id=note.id, now=starts + dt.timedelta(minutes=40))
        # Otto Quinn has waited 3 days for a morning with Nia Render; Iris Vale's visit tomorrow at 10:00 is cancelled.
        waitlist.add_to_waitlist(
            s, actor=users["reception"], patient_id=people[2].id, location_id=location.id, appointment_type_id=kind.id,
            earliest_day=today, latest_day=today + dt.timedelta(days=14), provider_id=provider.id,
            preferred_from="08:00", preferred_until="12:00", note="prefers the gym", now=now - dt.timedelta(days=3, hours=1),
        )
        tomorrow = today + dt.timedelta(days=1)
        freed = scheduling.book_appointment(
            s, actor=users["reception"], patient_id=people[1].id, provider_id=provider.id, appointment_type_id=kind.id,
            starts_at=dt.datetime.combine(tomorrow, dt.time(10), tzinfo=zone).astimezone(dt.UTC),
        )
        scheduling.transition(s, actor=users["reception"], appointment_id=freed.id, to_status="cancelled", reason="moved away")
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()
    return {"today": today, "tomorrow": tomorrow}


@pytest.fixture(scope="module")
def desk(app_server):
    return seed_desk_clinic(app_server[1])


def _search(page, text: str):
    box = page.get_by_label("Find patient")
    box.fill("")
    box.press_sequentially(text, delay=40)
    return page.get_by_role("region", name="Patient search results")


def test_a_patient_found_by_phone_digits_and_a_new_one_registered_with_insurance(browser, app_server, desk, tmp_path):
    base, _ = app_server
    context = browser.new_context(viewport=DESK, accept_downloads=True)
    page = context.new_page()
    sign_in(page, base, "d2e_desk", PASSWORD)
    expect(page.get_by_role("heading", name="Calendar board")).to_be_visible()

    # From the header of the board: phone digits find Rhea Quill; one click opens her profile.
    results = _search(page, "6175550")
    expect(results).to_contain_text("Quill, Rhea")
    screenshot(page, "patient-search-1366")
    page.get_by_role("link", name=re.compile(r"^Open the profile of Quill, Rhea \(MRN D2E1, born 1971-06-02\)")).click()
    expect(page.get_by_role("heading", name="Quill, Rhea", level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/patients/\d+$"))
    expect(page.get_by_role("region", name="Details")).to_contain_text("(617) 555-0199")
    expect(page.get_by_role("region", name="Insurance")).to_contain_text("No insurance on file")

    # Nobody matches: the list says so and offers to register, with what was typed.
    results = _search(page, "Wren, Ada")
    expect(results).to_contain_text("No patient matches “Wren, Ada”.")
    results.get_by_role("link", name="Register new").click()
    expect(page.get_by_role("heading", name="Register a new patient")).to_be_visible()
    expect(page.get_by_label("First name")).to_have_value("Ada")
    expect(page.get_by_label("Last name")).to_have_value("Wren")
    page.get_by_label("Date of birth").fill("1990-04-02")
    page.get_by_label("Phone", exact=True).fill("(617) 555-0142")
    page.get_by_label("Primary insurer").click()
    page.get_by_role("option", name="Desk Health").click()
    page.get_by_label("Primary member id").fill("x")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "new-patient-1366")
    page.get_by_role("button", name="Register patient").click()
    # The set-up page's rule for member ids, beside the insurance; nothing saved, nothing lost.
    expect(page.locator("#reg-coverage_1-problem")).to_have_text(
        "Primary insurance: The member id is the letters and digits on the insurance card (2 to 40).")
    expect(page.get_by_label("Primary member id")).to_have_value("x")
    page.get_by_label("Primary member id").fill("DH123456")
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_role("heading", name="Wren, Ada", level=1)).to_be_visible()
    insurance = page.get_by_role("region", name="Insurance")
    expect(insurance).to_contain_text("Primary: Desk Health")
    expect(insurance).to_contain_text("Member DH123456")
    expect(insurance).to_contain_text("Eligibility not checked")

    # Eligibility from the screen: the 270 is written, the payer's 271 read, the answer in words.
    with page.expect_download() as info:
        insurance.get_by_role("button", name="Write the eligibility request (270) for Primary: Desk Health, member DH123456").click()
    trace = re.search(r"TRN\*1\*([^*~]+)", Path(info.value.path()).read_text()).group(1)
    answer = tmp_path / "answer.271"
    answer.write_text(answer_271(trace, "DH123456", *ACTIVE_WITH_MONEY))
    page.locator("#upload-271 input[type=file]").set_input_files(str(answer))
    insurance.get_by_role("button", name="Read the 271 answer").click()
    expect(insurance.get_by_role("status")).to_contain_text(re.compile(
        r"271 read\. Desk Health, member DH123456: Active \(checked \d{4}-\d\d-\d\d \d\d:\d\d\): copay \$25\.00, "
        r"deductible remaining \$312\.50\."))
    expect(insurance.locator(".coverage-eligibility")).to_contain_text("Eligibility: Active")
    assert_accessible(page, "the patient profile")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "patient-profile-1366")
    context.close()


def test_insurance_added_from_the_profile_reprices_the_visit_on_its_claim(browser, app_server, desk):
    base, _ = app_server
    page = browser.new_context(viewport=DESK).new_page()
    sign_in(page, base, "d2e_desk", PASSWORD)
    expect(page.get_by_role("heading", name="Calendar board")).to_be_visible()
    _search(page, "vale").get_by_role("link", name=re.compile(r"^Open the profile of Vale, Iris")).click()
    expect(page.get_by_role("heading", name="Vale, Iris", level=1)).to_be_visible()
    insurance = page.get_by_role("region", name="Insurance")
    insurance.get_by_role("button", name="Add coverage").click()
    insurance.get_by_label("Insurer").select_option(label="Desk Health")
    insurance.get_by_label("Member id").fill("DV778899")
    insurance.get_by_label("Starts").fill((desk["today"] - dt.timedelta(days=30)).isoformat())
    insurance.get_by_role("button", name="Add this coverage").click()
    expect(insurance.get_by_role("status")).to_have_text(
        "Added primary coverage. Re-priced 1 unbilled visit from Desk Health's fee schedule: $90.00 -> $76.00.")
    expect(insurance).to_contain_text("Primary: Desk Health")
    expect(page.get_by_role("region", name="Visits")).to_contain_text("Ready to bill")
    page.set_viewport_size({"width": 1920, "height": 1080})
    assert_accessible(page, "a patient profile with visits")
    screenshot(page, "patient-profile-1920")

    # The biller's claim carries the payer's price, not the self-pay price the visit was signed at.
    biller = browser.new_context(viewport=DESK).new_page()
    sign_in(biller, base, "d2e_bill", PASSWORD)
    expect(biller.get_by_role("heading", name="Billing queue")).to_be_visible()
    biller.get_by_role("button", name=re.compile("^Create claim: Vale, Iris")).click()
    expect(biller.get_by_role("status")).to_contain_text("created")
    expect(biller.get_by_role("region", name="Recent claims").get_by_role("row", name=re.compile(
        r"Vale, Iris\s*Desk Health.*\$\s?76\.00"))).to_be_visible()
    biller.context.close()
    page.context.close()


def test_the_waitlist_lists_preferences_and_time_waited_and_books_a_freed_slot(browser, app_server, desk):
    base, _ = app_server
    page = browser.new_context(viewport=DESK).new_page()
    sign_in(page, base, "d2e_desk", PASSWORD)
    expect(page.get_by_role("heading", name="Calendar board")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Waitlist").click()
    expect(page.get_by_role("heading", name="Waitlist", level=1)).to_be_visible()
    page.get_by_label("Location").select_option(label="Desk E2E")
    row = page.get_by_role("row", name=re.compile(r"^Quinn, Otto"))
    for words in ("Treatment", f"{desk['today'].isoformat()} to", "08:00-12:00", "Nia Render, PT", "3 days"):
        expect(row).to_contain_text(words)
    expect(row).to_contain_text("Note: prefers the gym")
    assert_accessible(page, "the waitlist")
    row.get_by_role("button", name=re.compile(r"^Find a freed slot for Quinn, Otto")).click()
    tomorrow = desk["tomorrow"]
    slot = page.get_by_role("button", name=f"Book {tomorrow:%a} {tomorrow.isoformat()} 10:00 with Nia Render, PT")
    expect(slot).to_be_visible()
    expect(page.get_by_text(re.compile(r"asked for this provider; inside their preferred hours; .*waiting 3 days"))).to_be_visible()
    screenshot(page, "waitlist-1366")
    slot.click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Booked Quinn, Otto on {tomorrow:%a} {tomorrow.isoformat()} 10:00 with Nia Render, PT; taken off the waitlist.")
    expect(page.get_by_text("Nobody is waiting at this location.")).to_be_visible()
    page.context.close()
