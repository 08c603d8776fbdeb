"""Messages between colleagues about a patient, in Chromium at 1366x768: the desk writes to a
clinician from the patient's profile; the clinician's open inbox shows it at once, marked new;
the header's badge counts it; opening it shows the desk "Read by" live and clears the badge; an answer typed and sent at once arrives whole."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from clinic_app.db import make_engine
from clinic_app.models import Location, Patient, Provider
from clinic_app.services.platform import auth
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e
DESK = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def people(app_server) -> dict:
    engine = make_engine(f"sqlite:///{app_server[1]}")
    with Session(engine, expire_on_commit=False) as s:
        location = Location(name="Messages E2E", timezone="America/New_York")
        s.add(location)
        s.flush()
        provider = Provider(name="Mia Senter, PT", location_id=location.id)
        patient = Patient(mrn="M2E1", first_name="Nora", last_name="Pell", birth_date=dt.date(1977, 4, 5))
        s.add_all([provider, patient])
        s.flush()
        for username, role, full in (("m2e_desk", "reception", "Dee Desk"), ("m2e_clin", "clinician", "Mia Senter")):
            auth.create_user(s, actor=None, username=username, full_name=full, password=PASSWORD, role=role,
                             provider_id=provider.id if role == "clinician" else None, location_id=location.id)
        s.commit()
        patient_id = patient.id
    engine.dispose()
    return {"patient_id": patient_id}


def test_a_message_to_a_colleague_arrives_live_is_read_live_and_answered(browser, app_server, people):
    base, _ = app_server
    clinician = browser.new_context(viewport=DESK).new_page()
    sign_in(clinician, base, "m2e_clin", PASSWORD)
    clinician.goto(base + "/messages")
    expect(clinician.get_by_text("No conversations yet.")).to_be_visible()
    assert_accessible(clinician, "the messages page (empty)")

    desk = browser.new_context(viewport=DESK).new_page()
    sign_in(desk, base, "m2e_desk", PASSWORD)
    desk.goto(base + f"/patients/{people['patient_id']}")
    desk.get_by_role("link", name="Message a colleague about this patient").click()
    form = desk.get_by_role("region", name="Write to colleagues")
    expect(form).to_contain_text("About Pell, Nora (M2E1, born 1977-04-05)")
    # Sending with nobody chosen is refused in words, and what was typed stays.
    form.get_by_label("Subject").fill("Knee brace")
    form.get_by_label("Message").fill("Nora asks whether to bring her brace on Tuesday.")
    form.get_by_role("button", name="Send to colleagues").click()
    expect(desk.get_by_role("alert")).to_have_text("Choose at least one colleague to write to.")
    expect(form.get_by_label("Message")).to_have_value("Nora asks whether to bring her brace on Tuesday.")
    form.get_by_label("Mia Senter (clinician)").check()
    form.get_by_role("button", name="Send to colleagues").click()
    thread = desk.get_by_role("region", name="Knee brace")
    expect(thread).to_contain_text("Nora asks whether to bring her brace on Tuesday.")

    # The clinician's open inbox has it at once, marked new, without a reload.
    item = clinician.get_by_role("button", name=re.compile(r"^New Knee brace Pell, Nora"))
    expect(item).to_be_visible(timeout=5_000)
    expect(clinician.get_by_role("heading", name=re.compile("Conversations"))).to_contain_text("1 with new messages")
    nav = clinician.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Messages: 1 new")).to_be_visible()  # the header's badge, live too
    item.click()
    expect(nav.get_by_role("link", name="Messages", exact=True)).to_be_visible(timeout=5_000)
    expect(clinician.get_by_role("region", name="Knee brace")).to_contain_text("Dee Desk")
    # ...and the desk sees that it has been read.
    expect(thread).to_contain_text("Read by Mia Senter", timeout=5_000)

    # Typed and sent at once: the whole answer arrives, live, on the desk's screen.
    box = clinician.get_by_label("Your answer")
    box.press_sequentially("Yes, bring the brace.", delay=5)
    clinician.get_by_role("button", name="Send answer").click()
    expect(thread).to_contain_text("Yes, bring the brace.", timeout=5_000)
    expect(clinician.get_by_label("Your answer")).to_have_value("")
    expect(clinician.get_by_role("region", name="Knee brace")).to_contain_text("Yes, bring the brace.")
    screenshot(desk, "messages-1366")
    assert_accessible(desk, "the messages page with a conversation open")
