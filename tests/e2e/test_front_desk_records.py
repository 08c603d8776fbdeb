"""The desk's record keeping in Chromium: copay due at check-in and paid, a duplicate
record merged, a patient's details and insurance edited."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import AppointmentType, Coverage, Location, Patient, Payer, Provider, User
from clinic_app.services.frontdesk import recurring, scheduling
from clinic_app.services.platform import auth
from tests.e2e.conftest import PASSWORD, seed_e2e_clinic
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def e2e_clinic(app_server):
    """The e2e clinic, Zed Quill's insurance with a 271 saying copay $25, and a duplicate
    record of him (registered again with another MRN) booked at 14:00."""
    db = app_server[1]
    seed_e2e_clinic(db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        location = s.exec(select(Location).where(Location.name == "E2E Clinic")).one()
        tz = ZoneInfo(location.timezone)
        zed = s.exec(select(Patient).where(Patient.mrn == "E2E1")).one()
        payer = Payer(name="E2E Health", payer_id="E2EH1")
        twin = Patient(mrn="E2E9", first_name="Zed", last_name="Quill", birth_date=dt.date(1970, 5, 1), phone="3125550100")
        s.add_all([payer, twin])
        s.flush()
        today = dt.datetime.now(tz).date()
        s.add(Coverage(patient_id=zed.id, payer_id=payer.id, member_id="ZQ12345", effective_from=today - dt.timedelta(days=90),
                       eligibility_status="active", eligibility_copay_cents=2500, deductible_remaining_cents=40000,
                       eligibility_checked_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)))
        s.commit()
        desk = s.exec(select(User).where(User.username == "e2e_desk")).one()
        provider = s.exec(select(Provider).where(Provider.location_id == location.id)).one()
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        scheduling.book_appointment(
            s, actor=auth.actor_for(desk), patient_id=twin.id, provider_id=provider.id, appointment_type_id=kind.id,
            starts_at=dt.datetime.combine(today, dt.time(14, 0), tzinfo=tz).astimezone(dt.UTC),
        )
        # Yara Quinlan's weekly series at 16:00 for three weeks; the provider is busy at 17:00 in week two.
        yara = s.exec(select(Patient).where(Patient.mrn == "E2E2")).one()
        recurring.book_series(
            s, actor=auth.actor_for(desk), patient_id=yara.id, provider_id=provider.id, appointment_type_id=kind.id,
            first_day=today, time="16:00", weekdays=[today.weekday()], weeks=3,
        )
        scheduling.book_appointment(
            s, actor=auth.actor_for(desk), patient_id=zed.id, provider_id=provider.id, appointment_type_id=kind.id,
            starts_at=dt.datetime.combine(today + dt.timedelta(days=7), dt.time(17, 0), tzinfo=tz).astimezone(dt.UTC),
        )
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()
    return {"week_two": (today + dt.timedelta(days=7))}


def test_copay_at_check_in_a_merge_and_an_edit(browser, app_server, e2e_clinic):
    base, _ = app_server
    board = browser.new_context(viewport={"width": 1600, "height": 1100}).new_page()
    sign_in(board, base, "e2e_desk", PASSWORD)
    expect(board.get_by_role("heading", name="Calendar board")).to_be_visible()
    board.get_by_label("Location").click()
    board.get_by_role("option", name="E2E Clinic").click()

    # Check in: the copay due from the payer's answer is said and shown, then paid by card.
    board.get_by_role("button", name=re.compile(r"^Quill, Zed, 11:00, ")).click()
    expect(board.locator("#visit-eligibility")).to_contain_text(re.compile(r"Active \(checked \d{4}-\d\d-\d\d \d\d:\d\d\)"))
    expect(board.locator("#visit-copay")).to_have_text("Copay due $25.00")
    board.get_by_role("button", name="Check in").click()
    expect(board.get_by_role("status").first).to_contain_text("Checked in. Copay due $25.00")
    expect(board.get_by_label("Amount ($)")).to_have_value("25.00")
    board.get_by_role("button", name="Record copay payment").click()
    expect(board.get_by_role("alert")).to_contain_text("Enter the card terminal's reference")  # nothing saved
    board.get_by_label("Terminal or cheque reference").fill("AUTH5521")
    board.get_by_role("button", name="Record copay payment").click()
    expect(board.locator("#visit-copay")).to_have_text("Copay $25.00 paid")
    board.get_by_role("button", name="Close details").click()

    # Merge the duplicate record: search both, compare side by side, confirm.
    board.get_by_role("button", name="Merge duplicate records…").click()
    search = board.get_by_label("Search the record to keep")
    search.fill("E2E1")
    board.get_by_role("button", name=re.compile(r"^Quill, Zed \(E2E1")).click()
    board.get_by_label("Search the duplicate record").fill("E2E9")
    board.get_by_role("button", name=re.compile(r"^Quill, Zed \(E2E9")).click()
    expect(board.get_by_text("The two records side by side")).to_be_visible()
    expect(board.get_by_role("row", name=re.compile(r"^Appointments 2 1"))).to_be_visible()
    expect(board.get_by_role("row", name=re.compile(r"^Ledger entries 1 0"))).to_be_visible()
    board.get_by_label("Why (optional)").fill("registered twice")
    board.get_by_role("button", name="Merge the duplicate into the record to keep").click()
    expect(board.get_by_role("status").first).to_contain_text(re.compile(r"Merged Quill, Zed \(E2E9.* into Quill, Zed \(E2E1"))
    board.get_by_role("button", name="Close merge panel").click()
    # The 14:00 visit is still on the board, now the kept record's; the duplicate is no longer found.
    expect(board.get_by_role("button", name=re.compile(r"^Quill, Zed, 14:00, "))).to_be_visible()
    board.get_by_role("button", name="New appointment").click()
    board.get_by_label("Find patient (name, MRN or phone)").fill("Quill")
    expect(board.get_by_role("button", name=re.compile(r"^Choose Quill, Zed"))).to_have_count(1)

    # Edit his details and his insurance's copay from the booking form.
    board.get_by_role("button", name=re.compile(r"^Choose Quill, Zed \(E2E1")).click()
    board.get_by_role("button", name="Edit patient details").click()
    expect(board.get_by_role("heading", name="Edit patient details")).to_be_visible()
    board.get_by_label("Email", exact=True).fill("not an email")
    board.get_by_role("button", name="Save changes").click()
    expect(board.get_by_role("alert").first).to_contain_text("Email must look like name@example.com.")
    expect(board.get_by_label("Email", exact=True)).to_have_value("not an email")  # what was typed stays
    board.get_by_label("Email", exact=True).fill("zed@example.com")
    board.get_by_role("button", name="Save changes").click()
    # He was put on file without a phone while preferring phone calls: the same rules as registration say so.
    expect(board.get_by_role("alert").first).to_contain_text("Phone call is preferred: enter a phone number.")
    board.get_by_label("Phone", exact=True).fill("(312) 555-0101")
    board.get_by_role("button", name="Save changes").click()
    expect(board.get_by_role("status").first).to_contain_text(
        "Saved changes to Quill, Zed (E2E1, born 1970-05-01): phone, email.")
    expect(board.get_by_text(re.compile(r"email: \(empty\) -> zed@example.com"))).to_be_visible()
    board.get_by_label("Copay ($)").fill("30")
    board.get_by_role("button", name=re.compile(r"^Save insurance E2E Health")).click()
    expect(board.get_by_text("Saved insurance: copay.")).to_be_visible()


def test_a_series_moved_this_and_following_with_the_clash_reported_first(browser, app_server, e2e_clinic):
    base, _ = app_server
    board = browser.new_context(viewport={"width": 1600, "height": 1100}).new_page()
    sign_in(board, base, "e2e_desk", PASSWORD)
    board.get_by_label("Location").click()
    board.get_by_role("option", name="E2E Clinic").click()
    board.get_by_role("button", name=re.compile(r"^Quinlan, Yara, 16:00, ")).click()
    board.get_by_role("button", name="Move").click()
    board.get_by_label("New start time").fill("17:00")
    board.get_by_role("button", name="Check this and following").click()
    week_two = e2e_clinic["week_two"]
    clash = board.get_by_text(re.compile(rf"{week_two.isoformat()} 17:00: Erin Test, PT already has an appointment 17:00-17:30"))
    expect(clash).to_be_visible()
    expect(board.get_by_text(re.compile(r" 17:00: free$"))).to_have_count(2)
    board.get_by_role("button", name="Move this and following").click()
    expect(board.get_by_role("alert").first).to_contain_text("1 of 3 visits cannot be moved")
    expect(board.get_by_role("button", name=re.compile(r"^Quinlan, Yara, 16:00, "))).to_be_visible()  # nothing moved
    board.get_by_role("button", name="Move the free visits only").click()
    expect(board.get_by_role("status").first).to_contain_text(
        f"Moved 2 visits of the series. Left where they were: {week_two:%a} {week_two.isoformat()} 17:00.")
    expect(board.get_by_role("button", name=re.compile(r"^Quinlan, Yara, 17:00, "))).to_be_visible()
