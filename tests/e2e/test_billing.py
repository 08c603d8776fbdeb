"""The biller's day in a real browser: a clean visit becomes a claim, a visit without
coverage says what to fix, and the claims go out as an 837P file pyx12 accepts."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import AppointmentType, Location, Patient, Provider
from clinic_app.services import auth, charting, payers, scheduling, x12_validate
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e


def seed_billing_clinic(db) -> None:
    """A location with two visits signed yesterday: one patient insured, one not."""
    engine = make_engine(f"sqlite:///{db}")
    tz = "America/Chicago"
    day = dt.date.today() - dt.timedelta(days=1)
    with Session(engine, expire_on_commit=False) as s:
        location = Location(name="Billing E2E", timezone=tz)
        s.add(location)
        s.flush()
        provider = Provider(name="Pat Render, PT", location_id=location.id, npi="1234567893")
        insured = Patient(mrn="B2E1", first_name="Ina", last_name="Sured", birth_date=dt.date(1970, 5, 1))
        uninsured = Patient(mrn="B2E2", first_name="Uma", last_name="Ninsured", birth_date=dt.date(1980, 2, 3))
        s.add_all([provider, insured, uninsured])
        s.commit()
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        users = {
            role: auth.actor_for(auth.create_user(
                s, actor=None, username=name, full_name=name, password=PASSWORD, role=role,
                provider_id=provider.id if role == "clinician" else None, location_id=location.id,
            ))
            for name, role in (("b2e_desk", "reception"), ("b2e_clin", "clinician"), ("b2e_bill", "biller"), ("b2e_admin", "admin"))
        }
        payers.set_billing_profile(
            s, actor=users["admin"], location_id=location.id, organisation="Billing E2E PT", npi="1245319599",
            tax_id="123456789", address="1 Main St", city="Chicago", state="IL", zip_code="606011234",
        )
        payer = payers.create_payer(s, actor=users["biller"], name="E2E Mutual", payer_id="E2EM1", default_modifiers="GP")
        payers.add_coverage(s, actor=users["reception"], patient_id=insured.id, payer_id=payer.id, member_id="W123456",
                            effective_from=day - dt.timedelta(days=365))
        for hour, patient in ((9, insured), (10, uninsured)):
            starts = dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)
            appt = scheduling.book_appointment(s, actor=users["reception"], patient_id=patient.id, provider_id=provider.id,
                                               appointment_type_id=kind.id, starts_at=starts, now=starts - dt.timedelta(days=2))
            scheduling.transition(s, actor=users["reception"], appointment_id=appt.id, to_status="arrived", now=starts)
            scheduling.transition(s, actor=users["clinician"], appointment_id=appt.id, to_status="in_session", now=starts)
            note = charting.open_note(s, actor=users["clinician"], appointment_id=appt.id)
            charting.save_draft(s, actor=users["clinician"], note_id=note.id, field="subjective", text="Neck pain")
            charting.add_diagnosis(s, actor=users["clinician"], note_id=note.id, code="M54.2")
            charting.add_procedure(s, actor=users["clinician"], note_id=note.id, code="97110", units=2)
            charting.sign_note(s, actor=users["clinician"], note_id=note.id, now=starts + dt.timedelta(minutes=45))
    engine.dispose()


@pytest.fixture(scope="module")
def billing_server(app_server):
    """The app with the billing clinic seeded once for this module's tests."""
    seed_billing_clinic(app_server[1])
    return app_server


def test_a_biller_claims_a_clean_visit_and_sends_an_837p(browser, billing_server):
    base, _ = billing_server
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    sign_in(page, base, "b2e_bill", PASSWORD)
    expect(page.get_by_role("heading", name="Billing queue")).to_be_visible()
    expect(page.get_by_text("2 visits ready to bill")).to_be_visible()

    page.get_by_role("button", name=re.compile("^Create claim: Ninsured, Uma")).click()
    expect(page.get_by_role("alert")).to_contain_text("cannot be claimed yet")
    expect(page.get_by_role("list", name="What to fix")).to_contain_text("has no active coverage on")

    # A second biller's page shows the claim sections live, without reloading.
    colleague = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(colleague, base, "b2e_bill", PASSWORD)
    expect(colleague.get_by_role("group", name="Draft claims: 0")).to_be_visible()

    page.get_by_role("button", name=re.compile("^Create claim: Sured, Ina")).click()
    expect(page.get_by_role("status")).to_contain_text("created; it goes out with the next export")
    expect(page.get_by_text("1 visits ready to bill")).to_be_visible()
    expect(page.get_by_role("group", name="Draft claims: 1")).to_be_visible()
    expect(colleague.get_by_role("group", name="Draft claims: 1")).to_be_visible()
    expect(colleague.get_by_role("region", name="Recent claims")).to_contain_text("Sured, Ina")
    colleague.context.close()

    with page.expect_download() as info:
        page.get_by_role("button", name="Send 1 claims (download 837P)").click()
    text = Path(info.value.path()).read_text()
    assert "NM1*IL*1*SURED*INA****MI*W123456~" in text and "SV1*HC:97110:GP*90*UN*2***1~" in text
    assert x12_validate.validate(text) == []
    expect(page.get_by_role("group", name="Submitted claims: 1")).to_be_visible()
    expect(page.get_by_role("group", name="Draft claims: 0")).to_be_visible()
    # The demo clinic's own claims (issue 15: it posts remittances) count in the page's figures too.
    expect(page.get_by_text(re.compile(r"^Last 30 days: clean-claim rate .*\(\d+ awaiting an answer\)"))).to_be_visible()
    # The claim can be printed in CMS-1500 boxes from the recent-claims list.
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("^Download claim form \\(PDF\\) for claim ")).first.click()  # newest first
    assert info.value.suggested_filename.startswith("claim-") and Path(info.value.path()).read_bytes().startswith(b"%PDF-")

    # The uninsured visit is billed to the patient, who pays by card at the desk.
    page.get_by_role("button", name=re.compile("^Mark billed: Ninsured, Uma")).click()
    expect(page.get_by_text("0 visits ready to bill")).to_be_visible()
    page.get_by_label("Patient MRN").fill("b2e2")
    page.get_by_role("button", name="Find account").click()
    expect(page.get_by_text("Patient owes $90.00; insurance still to pay $0.00.")).to_be_visible()
    month = dt.datetime.now(ZoneInfo("America/New_York")).strftime("%Y-%m")
    reports = page.get_by_role("region", name="Reports")
    month_row = reports.get_by_role("row").filter(has_text=month)
    # What patients paid this month before (the demo clinic's patients pay their shares too).
    before = float(month_row.get_by_role("cell").nth(2).inner_text().replace(",", "")) if month_row.count() else 0.0
    page.get_by_label("Amount paid ($)").fill("50")
    page.get_by_label("Paid by").select_option("card")
    reference = page.get_by_label("Cheque number or card terminal reference (never the card number)")
    reference.fill("4111 1111 1111 1111")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("alert")).to_contain_text("looks like a card number")
    expect(page.get_by_label("Amount paid ($)")).to_have_value("50")  # nothing typed is lost
    reference.fill("TERM-22 AUTH 5521")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("status")).to_contain_text("Payment of $50 by card recorded")
    expect(page.get_by_text("Patient owes $40.00; insurance still to pay $0.00.")).to_be_visible()
    # The reports show the payment in this month's row (pushed with the claim sections), and download.
    expect(month_row.get_by_role("cell").nth(2)).to_have_text(f"{before + 50:,.2f}")
    with page.expect_download() as info:
        reports.get_by_role("button", name="Download payments by month as CSV").click()
    text = Path(info.value.path()).read_text()
    assert f"{month}," in text and f"{before + 50:.2f}" in text
    with page.expect_download() as info:
        page.get_by_role("button", name="Download statement (PDF)").click()
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF-")

    # The card payment was keyed to the wrong patient: reverse it, with a reason.
    page.get_by_role("button", name=re.compile(r"^Reverse entry \d+: Payment -50.00")).click()
    expect(page.get_by_role("region", name="Reverse an entry")).to_contain_text("Payment, owed by patient, -50.00")
    page.get_by_role("button", name="Post reversal").click()
    expect(page.get_by_role("alert")).to_contain_text("Say why the entry is reversed")
    page.get_by_label("Reason for the reversal").fill("keyed to the wrong patient")
    page.get_by_role("button", name="Post reversal").click()
    expect(page.get_by_role("status")).to_contain_text("reversed by a new entry (keyed to the wrong patient)")
    expect(page.get_by_text("Patient owes $90.00; insurance still to pay $0.00.")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Reverse entry \d+: Payment"))).to_have_count(0)
    context.close()


def test_a_biller_sets_up_a_payer_its_fees_and_a_patients_coverage(browser, billing_server):
    base, _ = billing_server
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, base, "b2e_bill", PASSWORD)
    page.get_by_role("link", name="Billing set-up").click()
    expect(page.get_by_role("heading", name="Billing set-up")).to_be_visible()
    payers_section = page.get_by_role("region", name="Payers")
    page.get_by_label("Payer name").fill("North Star Health")
    page.get_by_label("Payer id (from the clearinghouse's list)").fill("NS 1")
    page.get_by_role("button", name="Save payer").click()
    expect(payers_section.get_by_role("alert")).to_contain_text("payer id is the letters and digits")
    expect(page.get_by_label("Payer name")).to_have_value("North Star Health")  # nothing typed is lost
    page.get_by_label("Payer id (from the clearinghouse's list)").fill("NS001")
    page.get_by_role("button", name="Save payer").click()
    expect(payers_section.get_by_role("status")).to_contain_text("Payer North Star Health (NS001) saved.")
    expect(payers_section.get_by_role("cell", name="NS001")).to_be_visible()

    fees = page.get_by_role("region", name="Fee schedules")
    page.get_by_label("Schedule", exact=True).select_option(label="North Star Health (NS001)")
    page.get_by_label("Procedure code").fill("97110")
    page.get_by_label("Price per unit ($)").fill("41.25")
    page.get_by_role("button", name="Save fee").click()
    expect(fees.get_by_role("status")).to_contain_text("97110 now $41.25 per unit.")
    expect(fees.get_by_role("cell", name="41.25")).to_be_visible()

    coverage = page.get_by_role("region", name="Patient coverage")
    page.get_by_label("Patient MRN").fill("b2e2")
    page.get_by_role("button", name="Find patient").click()
    expect(coverage).to_contain_text("No coverage recorded")
    page.locator("#setup-cov-payer").select_option(label="North Star Health (NS001)")
    page.get_by_label("Member id").fill("NS-77120")
    page.get_by_label("Covered from").fill("2026-01-01")
    page.get_by_label("Covered to (empty: open)").fill("2025-12-31")
    page.get_by_role("button", name="Add coverage").click()
    expect(coverage.get_by_role("alert")).to_contain_text("ends before it starts")
    page.get_by_label("Covered to (empty: open)").fill("")
    page.get_by_role("button", name="Add coverage").click()
    expect(coverage.get_by_role("status")).to_contain_text("Coverage added for Ninsured, Uma (B2E2)")
    expect(coverage.get_by_role("cell", name="2026-01-01 to open end")).to_be_visible()
    page.context.close()
