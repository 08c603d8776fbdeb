"""My care on a phone (390x844) beside the chart on a tablet (768x1024), in Chromium: the
patient sees their visits and home exercises; the clinician asks for an NPRS from the chart's
Measures section; the patient answers it (a bad score is refused and kept to correct), and
the chart shows the score, reported by the patient, in the trend. axe-core on My care and
the question form. The patient asks to change their details on My details; the desk accepts
it on the patient profile and the record shows it. Screenshots docs/screens/portal-care.png,
portal-profile.png (CLINIC_SCREENSHOTS=docs)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from clinic_app.db import make_engine
from clinic_app.services.charting import history
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.portal import accounts
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import PASSWORD, e2e_cast, seed_e2e_clinic
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
TABLET = {"viewport": {"width": 768, "height": 1024}, "has_touch": True, "is_mobile": True}
PATIENT_PASSWORD = "Sunny-day-2030"


@pytest.fixture(scope="module")
def care_app(app_server):
    base, db = app_server
    return base, db, _seed(db)


def _sign_in_patient(browser, base):
    phone = browser.new_context(**PHONE).new_page()
    phone.goto(base + "/portal")
    phone.get_by_label("E-mail").fill("yara@example.com")
    phone.get_by_label("Password").fill(PATIENT_PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name="Hello, Yara Quinlan")).to_be_visible(timeout=60_000)
    return phone


def _seed(db) -> int:
    """Yara Quinlan: arrived for 12:00 today with Erin, booked again tomorrow at 10:00, two home
    exercises, and a portal account (yara@example.com)."""
    seed_e2e_clinic(db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        cast = e2e_cast(s, "E2E2")
        erin, yara, desk, clin, kind, tz, today = cast.erin, cast.patient, cast.desk, cast.clin, cast.kind, cast.tz, cast.today
        for day, hour in ((today, 12), (today + dt.timedelta(days=1), 10)):
            starts = dt.datetime.combine(day, dt.time(hour, 0), tzinfo=tz).astimezone(dt.UTC)
            appt = scheduling.book_appointment(s, actor=desk, patient_id=yara.id, provider_id=erin.id,
                                               appointment_type_id=kind.id, starts_at=starts)
            if day == today:
                scheduling.transition(s, actor=desk, appointment_id=appt.id, to_status="arrived")
        history.add_exercise(s, actor=clin, patient_id=yara.id, name="Heel raises", dosage="3 x 10, twice a day",
                             instructions="Hold the back of a chair; rise slowly.")
        history.add_exercise(s, actor=clin, patient_id=yara.id, name="Wall squats", dosage="2 x 8")
        invitation = accounts.invite(s, actor=desk, patient_id=yara.id, email="yara@example.com")
        accounts.accept_invitation(s, token=invitation.token, password=PATIENT_PASSWORD)
        s.commit()
        patient_id = yara.id
    engine.dispose()
    return patient_id


def test_my_care_shows_visits_and_exercises_and_an_nprs_answered_at_home_reaches_the_chart(browser, care_app):
    base, _, _ = care_app

    # The clinician asks for an NPRS at home from the chart's Measures section.
    chart = browser.new_context(**TABLET).new_page()
    sign_in(chart, base, "e2e_clin", PASSWORD)
    chart.get_by_role("button", name="Open note: 12:00 Quinlan, Yara").tap()
    chart.get_by_role("tab", name="Measures").tap()
    chart.get_by_label("Measure to ask the patient at home").tap()
    chart.get_by_role("option", name="NPRS").tap()
    chart.get_by_role("button", name="Ask the patient").tap()
    expect(chart.get_by_role("status").filter(has_text="NPRS asked")).to_be_visible()
    expect(chart.get_by_text(re.compile(r"^NPRS asked .*: waiting for the patient$"))).to_be_visible()
    assert_accessible(chart, "the chart's Measures section with a measure asked at home")

    # On her phone: sign in, My care shows the visits, the exercises and the questionnaire.
    phone = _sign_in_patient(browser, base)
    phone.get_by_role("link", name="My care").click()
    expect(phone.get_by_role("heading", name="My care")).to_be_visible(timeout=30_000)
    # The tapped link's hover and focus colours are not what the page shows.
    phone.mouse.move(380, 830)
    phone.evaluate("() => document.activeElement && document.activeElement.blur()")
    expect(phone.get_by_text("Heel raises")).to_be_visible()
    expect(phone.get_by_text("How much: 3 x 10, twice a day")).to_be_visible()
    expect(phone.get_by_text("Hold the back of a chair; rise slowly.")).to_be_visible()
    expect(phone.get_by_text(re.compile(r", 10:00$"))).to_be_visible()  # tomorrow's visit, in the clinic's zone
    expect(phone.get_by_text("Status: Arrived")).to_be_visible()
    expect(phone.get_by_text("Status: Waiting for your answers")).to_be_visible()
    assert_accessible(phone, "the portal's My care page")
    screenshot(phone, "portal-care")

    answer = phone.get_by_role("button", name="Answer Numeric Pain Rating Scale (NPRS)")
    box = answer.bounding_box()
    assert box["height"] >= 44
    answer.click()
    field = phone.get_by_label("Pain now (0 = no pain, 10 = worst imaginable): your score (0 to 10)")
    field.fill("11")
    phone.get_by_role("button", name="Send my answers").click()
    expect(phone.get_by_role("alert")).to_contain_text("enter a whole number from 0 to 10")
    expect(field).to_have_value("11")  # kept to correct
    assert_accessible(phone, "the portal's questionnaire form")
    field.fill("3")
    phone.get_by_role("button", name="Send my answers").click()
    expect(phone.get_by_role("status")).to_contain_text("Thank you: your answers are sent to your clinician (score 3).")
    expect(phone.get_by_text(re.compile(r"^Status: Answered on .*: score 3$"))).to_be_visible()

    # The chart shows it, reported by the patient, in the trend.
    chart.reload()  # the visit that was open opens again
    chart.get_by_role("tab", name="Measures").tap()
    expect(chart.get_by_text("Numeric Pain Rating Scale (NPRS): 3 (reported by the patient)")).to_be_visible(timeout=30_000)
    expect(chart.get_by_text(re.compile(r"^NPRS asked .*: reported by the patient on .*, score 3$"))).to_be_visible()
    expect(chart.get_by_role("cell", name="Reported by the patient at home. No change since the first score.")).to_be_visible()


def test_a_change_of_details_asked_on_the_phone_is_accepted_by_the_desk(browser, care_app):
    base, _, patient_id = care_app
    phone = _sign_in_patient(browser, base)
    phone.get_by_role("link", name="My details").click()
    expect(phone.get_by_role("heading", name="My details")).to_be_visible(timeout=30_000)
    phone.get_by_label("City").fill("Albany")
    phone.get_by_role("button", name="Send my changes").click()
    expect(phone.get_by_role("alert")).to_contain_text("Phone call is preferred: enter a phone number.")
    expect(phone.get_by_label("City")).to_have_value("Albany")  # kept to correct
    phone.get_by_label("Phone", exact=True).fill("212 555 0142")
    phone.get_by_role("button", name="Send my changes").click()
    expect(phone.get_by_role("status")).to_contain_text("Sent: the clinic will check and make the change.")
    expect(phone.get_by_text("Waiting for the clinic to check:")).to_be_visible()
    expect(phone.get_by_label("City")).to_have_value("Albany")  # the form shows what is asked
    phone.evaluate("() => window.scrollTo(0, 0)")
    phone.mouse.move(380, 830)
    assert_accessible(phone, "the portal's My details page")
    box = phone.get_by_role("button", name="Send my changes").bounding_box()
    assert box["height"] >= 44
    screenshot(phone, "portal-profile")

    desk = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    sign_in(desk, base, "e2e_desk", PASSWORD)
    desk.goto(f"{base}/patients/{patient_id}")
    panel = desk.get_by_role("region", name="Change asked in the portal")
    expect(panel).to_contain_text("City: (none) to Albany", timeout=30_000)
    expect(panel).to_contain_text("Phone: (none) to 212 555 0142")
    assert_accessible(desk, "the patient profile with a change asked in the portal")
    desk.get_by_role("button", name="Accept the change").click()
    expect(desk.get_by_role("status").filter(has_text="Change accepted")).to_be_visible()
    expect(desk.get_by_text("212 555 0142").first).to_be_visible()

    phone.reload()
    expect(phone.get_by_text("The clinic accepted your last change.")).to_be_visible(timeout=30_000)
    expect(phone.get_by_label("City")).to_have_value("Albany")
