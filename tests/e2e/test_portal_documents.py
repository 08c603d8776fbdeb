"""A clinician releases a visit summary and the patient downloads it, in Chromium: on a tablet
(768x1024) the clinician opens a signed note and shares its visit summary with the patient; on
a phone (390x844) the patient finds it under My care, "Documents from the clinic", and
downloads the PDF (made from the signed note, with her name in it). "Stop sharing" takes it
off her page. axe-core on the chart's signed note and on My care. Screenshot
portal-documents-390."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlmodel import Session

from clinic_app.db import make_engine
from clinic_app.services.charting import charting
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
def documents_app(app_server):
    base, db = app_server
    _seed(db)
    return base


def _seed(db) -> None:
    """Yara Quinlan seen at 12:00 today by Erin, the note signed; Yara has a portal account."""
    seed_e2e_clinic(db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        cast = e2e_cast(s, "E2E2")
        clin, yara = cast.clin, cast.patient
        starts = dt.datetime.combine(cast.today, dt.time(12, 0), tzinfo=cast.tz).astimezone(dt.UTC)
        appt = scheduling.book_appointment(s, actor=cast.desk, patient_id=yara.id, provider_id=cast.erin.id,
                                           appointment_type_id=cast.kind.id, starts_at=starts)
        scheduling.transition(s, actor=cast.desk, appointment_id=appt.id, to_status="arrived")
        scheduling.transition(s, actor=clin, appointment_id=appt.id, to_status="in_session")
        note = charting.open_note(s, actor=clin, appointment_id=appt.id)
        charting.save_draft(s, actor=clin, note_id=note.id, field="subjective", text="Ankle sore after stairs")
        charting.save_draft(s, actor=clin, note_id=note.id, field="plan", text="Heel raises daily; review in a week")
        charting.add_diagnosis(s, actor=clin, note_id=note.id, code="S93.401A")
        charting.add_procedure(s, actor=clin, note_id=note.id, code="97110", units=1)
        charting.sign_note(s, actor=clin, note_id=note.id)
        invitation = accounts.invite(s, actor=cast.desk, patient_id=yara.id, email="yara@example.com")
        accounts.accept_invitation(s, token=invitation.token, password=PATIENT_PASSWORD)
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()


def _my_care(browser, base):
    phone = browser.new_context(**PHONE, accept_downloads=True).new_page()
    phone.goto(base + "/portal")
    phone.get_by_label("E-mail").fill("yara@example.com")
    phone.get_by_label("Password").fill(PATIENT_PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name="Hello, Yara Quinlan")).to_be_visible(timeout=60_000)
    phone.get_by_role("link", name="My care").click()
    expect(phone.get_by_role("heading", name="Documents from the clinic")).to_be_visible(timeout=30_000)
    return phone


def test_a_shared_visit_summary_reaches_the_patients_phone_as_a_pdf(browser, documents_app):
    base = documents_app

    # The clinician, on a tablet, opens the signed note and shares its visit summary.
    chart = browser.new_context(**TABLET).new_page()
    sign_in(chart, base, "e2e_clin", PASSWORD)
    chart.get_by_role("button", name="Open note: 12:00 Quinlan, Yara").tap()
    expect(chart.get_by_text("The visit summary is not shared with the patient.")).to_be_visible()
    share = chart.get_by_role("button", name="Share visit summary with the patient")
    assert share.bounding_box()["height"] >= 44
    share.tap()
    expect(chart.get_by_role("status").filter(has_text="Visit summary shared with the patient")).to_be_visible()
    expect(chart.get_by_role("button", name="Stop sharing")).to_be_visible()
    assert_accessible(chart, "the chart's signed note with its visit summary shared")

    # The patient, on her phone, finds it under My care and downloads the PDF.
    phone = _my_care(browser, base)
    phone.mouse.move(380, 830)  # the tapped link's hover and focus colours are not what the page shows
    phone.evaluate("() => document.activeElement && document.activeElement.blur()")
    expect(phone.get_by_text(re.compile(r"^Visit summary, .*, Erin Test, PT$"))).to_be_visible()
    visit_date = phone.get_by_text(re.compile(r"^Visit date: \d{4}-\d\d-\d\d$"))
    expect(visit_date).to_be_visible()
    link = phone.get_by_role("link", name=re.compile(r"^Download Visit summary, .* \(PDF\)$"))
    expect(link).to_have_count(1)
    assert link.bounding_box()["height"] >= 44
    assert_accessible(phone, "My care with a document from the clinic")
    screenshot(phone, "portal-documents-390")
    with phone.expect_download() as waiting:
        link.click()
    download = waiting.value
    day = visit_date.inner_text().removeprefix("Visit date: ")
    assert download.suggested_filename == f"visit-summary-{day}.pdf"
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "Yara Quinlan" in text and "Ankle sore after stairs" in text

    # "Stop sharing" takes it off her page.
    chart.get_by_role("button", name="Stop sharing").tap()
    expect(chart.get_by_text("The visit summary is not shared with the patient.")).to_be_visible()
    phone.reload()
    expect(phone.get_by_text("Your clinician has not shared any documents yet.")).to_be_visible(timeout=30_000)
