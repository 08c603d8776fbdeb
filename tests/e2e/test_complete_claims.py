"""Complete claims in Chromium at 1366x768 (issue 15, problem 4): the desk registers a patient's
administrative sex; the biller sets a payer's claim filing indicator on billing set-up (Medicare
Part B, "MB"); the 837P of that patient's visit then carries SBR09 MB and DMG03 F, and pyx12
accepts it."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import AppointmentType, Location, Patient, Payer, Provider, Room
from clinic_app.services.charting import charting
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.interop.x12 import x12_837, x12_validate
from clinic_app.services.platform import auth
from clinic_app.services.revenue import claims, payers
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import PASSWORD, _zone_where_it_is_nine_am
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e
SCREEN = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def clinic(app_server):
    """A location of its own with a billing profile, a clinician with an NPI, a desk user, a biller,
    and the payer "Medicare Part B IL" as it was set up before claim filing indicators (CI)."""
    tz = _zone_where_it_is_nine_am()
    engine = make_engine(f"sqlite:///{app_server[1]}")
    with Session(engine, expire_on_commit=False) as s:
        location = Location(name="Claims E2E", timezone=tz, address="40 Harbor Rd, Springfield, IL 62704")
        s.add(location)
        s.flush()
        provider = Provider(name="Cy Claimer, PT", location_id=location.id, npi="1234567893")
        room = Room(location_id=location.id, name="Gym")
        s.add_all([provider, room, Patient(mrn="C2E1", first_name="Quincy", last_name="Rowe", birth_date=dt.date(1962, 3, 4))])
        s.commit()
        users = {
            role: auth.actor_for(auth.create_user(
                s, actor=None, username=name, full_name=name, password=PASSWORD, role=role,
                provider_id=provider.id if role == "clinician" else None, location_id=location.id,
            ))
            for name, role in (("c2e_desk", "reception"), ("c2e_clin", "clinician"), ("c2e_bill", "biller"),
                               ("c2e_admin", "admin"))
        }
        payers.set_billing_profile(
            s, actor=users["admin"], location_id=location.id, organisation="Claims E2E PT", npi="1245319599",
            tax_id="123456789", address="1 Main St", city="Springfield", state="IL", zip_code="62701",
        )
        payer = payers.create_payer(s, actor=users["biller"], name="Medicare Part B IL", payer_id="00952", default_modifiers="GP")
        payers.set_fee(s, actor=users["biller"], payer_id=payer.id, code="97110", amount="31.00")
        s.commit()  # the seed is the caller: it commits what the services wrote
    yield {"engine": engine, "users": users, "location_id": location.id, "provider_id": provider.id,
           "room_id": room.id, "payer_id": payer.id, "zone": ZoneInfo(tz)}
    engine.dispose()


def _claim_for_a_visit_yesterday(clinic, patient_id: int):
    """Coverage with the payer, a visit yesterday charted and signed, and its claim (as the services make them)."""
    users, zone = clinic["users"], clinic["zone"]
    with Session(clinic["engine"], expire_on_commit=False) as s:
        today = dt.datetime.now(zone).date()
        payers.add_coverage(s, actor=users["reception"], patient_id=patient_id, payer_id=clinic["payer_id"],
                            member_id="1EG4TE5MK73", effective_from=today - dt.timedelta(days=60))
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        starts = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(10), tzinfo=zone).astimezone(dt.UTC)
        visit = scheduling.book_appointment(s, actor=users["reception"], patient_id=patient_id, provider_id=clinic["provider_id"],
                                            appointment_type_id=kind.id, starts_at=starts, room_id=clinic["room_id"],
                                            now=starts - dt.timedelta(days=3))
        scheduling.transition(s, actor=users["reception"], appointment_id=visit.id, to_status="arrived", now=starts)
        scheduling.transition(s, actor=users["clinician"], appointment_id=visit.id, to_status="in_session", now=starts)
        note = charting.open_note(s, actor=users["clinician"], appointment_id=visit.id)
        charting.save_draft(s, actor=users["clinician"], note_id=note.id, field="subjective", text="Hip pain")
        charting.add_diagnosis(s, actor=users["clinician"], note_id=note.id, code="M25.551")
        charting.add_procedure(s, actor=users["clinician"], note_id=note.id, code="97110", units=2)
        charting.sign_note(s, actor=users["clinician"], note_id=note.id, now=starts + dt.timedelta(minutes=40))
        claim = claims.create_claim(s, actor=users["biller"], appointment_id=visit.id)
        s.commit()  # the seed is the caller: it commits what the services wrote
        return x12_837.render(s, claims=[claim], control_number=7, now=dt.datetime.now(dt.UTC))


def test_the_registered_sex_and_the_payers_filing_indicator_reach_the_837p(browser, app_server, clinic):
    base, _ = app_server
    desk = browser.new_context(viewport=SCREEN).new_page()
    sign_in(desk, base, "c2e_desk", PASSWORD)
    desk.goto(base + "/patients/new")
    expect(desk.get_by_role("heading", name="Register a new patient")).to_be_visible()
    desk.get_by_label("First name").fill("Mina")
    desk.get_by_label("Last name").fill("Larkspur")
    desk.get_by_label("Date of birth").fill("1951-07-19")
    desk.get_by_label("Phone", exact=True).fill("(217) 555-0177")
    desk.get_by_label("Sex (administrative, as the insurer has it)").click()
    desk.get_by_role("option", name="Female").click()
    expect(desk.get_by_label("Sex (administrative, as the insurer has it)")).to_have_text("Female")
    desk.evaluate("window.scrollTo(0, 0)")
    screenshot(desk, "registration-sex-1366")
    desk.get_by_role("button", name="Register patient").click()
    expect(desk.get_by_role("heading", name="Larkspur, Mina", level=1)).to_be_visible()
    expect(desk.get_by_role("region", name="Details")).to_contain_text("Female")

    # The desk's insurance panel names every wrong field at once, beside it; its dates say their format.
    insurance = desk.get_by_role("region", name="Insurance")
    insurance.get_by_role("button", name="Add coverage").click()
    insurance.get_by_label("Member id").fill("x")
    insurance.get_by_label("Starts (mm/dd/yyyy)").fill("")
    insurance.get_by_label("The subscriber is").select_option(label="Spouse")
    insurance.get_by_role("button", name="Add this coverage").click()
    expect(insurance.get_by_role("alert")).to_have_text(
        "Please correct: The member id is the letters and digits on the insurance card (2 to 40). Enter the date the "
        "coverage starts. When the patient is not the subscriber, give the subscriber's name and birth date.")  # in the form's order
    expect(desk.locator("#coverage-member-problem")).to_have_text(
        "The member id is the letters and digits on the insurance card (2 to 40).")
    expect(desk.locator("#coverage-from-problem")).to_have_text("Enter the date the coverage starts.")
    expect(desk.locator("#coverage-first-problem")).to_have_text(
        "When the patient is not the subscriber, give the subscriber's name and birth date.")
    expect(insurance).not_to_contain_text("YYYY")
    expect(insurance).to_contain_text("No insurance on file")
    assert_accessible(desk, "the desk's insurance panel with its problems")
    insurance.get_by_label("Member id").scroll_into_view_if_needed()
    screenshot(desk, "patient-insurance-problems-1366")
    desk.context.close()
    with Session(clinic["engine"]) as s:
        patient = s.exec(select(Patient).where(Patient.last_name == "Larkspur")).one()
        assert patient.sex == "female"

    # The biller marks the payer as Medicare Part B on billing set-up.
    page = browser.new_context(viewport=SCREEN).new_page()
    sign_in(page, base, "c2e_bill", PASSWORD)
    page.goto(base + "/billing/setup")
    payers_section = page.get_by_role("region", name="Payers")
    expect(payers_section.get_by_role("row", name=re.compile(r"Medicare Part B IL\s*00952\s*GP\s*CI: Commercial insurance"))).to_be_visible()
    payers_section.get_by_role("button", name="Edit payer Medicare Part B IL").click()
    filing = page.get_by_label("Claim filing indicator (837P SBR09)")
    expect(filing).to_have_value("CI")
    filing.select_option(label="MB: Medicare Part B")
    payers_section.get_by_role("button", name="Save payer").click()
    expect(payers_section.get_by_role("status")).to_have_text("Payer Medicare Part B IL (00952) saved.")
    expect(payers_section.get_by_role("row", name=re.compile(r"Medicare Part B IL\s*00952\s*GP\s*MB: Medicare Part B"))).to_be_visible()
    assert_accessible(page, "billing set-up")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "billing-setup-filing-indicator-1366")
    page.context.close()
    with Session(clinic["engine"]) as s:
        assert s.get(Payer, clinic["payer_id"]).claim_filing_indicator == "MB"

    # The claim of her visit: SBR09 MB and DMG03 F, and pyx12 accepts the file.
    text = _claim_for_a_visit_yesterday(clinic, patient.id)
    assert x12_validate.validate(text) == []
    assert "SBR*P*18*******MB~" in text  # no group number: SBR03 empty
    assert "NM1*IL*1*LARKSPUR*MINA****MI*1EG4TE5MK73~" in text
    assert "DMG*D8*19510719*F~" in text


def test_billing_set_ups_coverage_form_names_every_wrong_field_beside_it(browser, app_server, clinic):
    base, _ = app_server
    page = browser.new_context(viewport=SCREEN).new_page()
    sign_in(page, base, "c2e_bill", PASSWORD)
    page.goto(base + "/billing/setup")
    coverage = page.get_by_role("region", name="Patient coverage")
    coverage.get_by_label("Patient MRN").fill("C2E1")
    coverage.get_by_role("button", name="Find patient").click()
    expect(coverage.get_by_role("status")).to_have_text("Coverage of Rowe, Quincy (C2E1).")
    coverage.get_by_label("Payer", exact=True).select_option(label="Medicare Part B IL (00952)")
    coverage.get_by_label("Member id").fill("!")
    coverage.get_by_label("Covered from (mm/dd/yyyy)").fill("2030-03-01")
    coverage.get_by_label("Covered to (empty: open), mm/dd/yyyy").fill("2030-02-01")
    coverage.get_by_label("Subscriber (policy holder) is").select_option(label="The patient's spouse")
    coverage.get_by_label("Subscriber first name").fill("Ann")
    coverage.get_by_label("State").fill("I")
    coverage.get_by_role("button", name="Add coverage").click()
    problems = {
        "member": "The member id is the letters and digits on the insurance card (2 to 40).",
        "to": "The coverage ends before it starts; check the dates.",
        "last": "When the patient is not the subscriber, give the subscriber's name and birth date.",
        "street": "Give the subscriber's street, city, two-letter state and five- or nine-digit ZIP code.",
    }
    expect(coverage.get_by_role("alert")).to_have_text("Please correct: " + " ".join(problems.values()))
    for field, text in problems.items():
        expect(page.locator(f"#setup-cov-{field}-problem")).to_have_text(text)
        expect(page.locator(f"#setup-cov-{field}")).to_have_attribute("aria-invalid", "true")
    expect(coverage).not_to_contain_text("YYYY")
    expect(coverage).to_contain_text("No coverage recorded")  # nothing was added
    assert_accessible(page, "billing set-up's coverage form with its problems")
    coverage.get_by_label("Member id").scroll_into_view_if_needed()
    screenshot(page, "billing-setup-coverage-problems-1366")
    # Fixing a field takes its problem away; the rest stay until the next try.
    coverage.get_by_label("Member id").fill("1EG4TE5MK73")
    expect(page.locator("#setup-cov-member-problem")).to_have_count(0)
    expect(page.locator("#setup-cov-to-problem")).to_be_visible()
    page.context.close()
