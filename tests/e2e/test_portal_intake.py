"""Intake on a phone (390x844, touch): the patient opens the link from the reminder, confirms
their date of birth, fills the required fields (a reload mid-way keeps what was saved), signs
the consent with a finger on the canvas and submits; the consent PDF is kept with its SHA-256,
and the desk's visit panel says "Intake complete". axe-core on the page; a screenshot for
docs/intake.md."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re

import pypdf
import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import Appointment, IntakeConsent, IntakeResponse, Patient
from clinic_app.services.platform import auth
from clinic_app.services.portal import intake
from tests.e2e.axe import assert_accessible, screenshot
from tests.e2e.conftest import PASSWORD, seed_e2e_clinic
from tests.e2e.test_app import sign_in

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
CONSENT = "I agree to be assessed and treated by the clinic's physiotherapists, and I may stop at any time."


@pytest.fixture(scope="module")
def intake_link(app_server):
    """An intake form for Treatment visits, and a link for Zed Quill's visit today at 11:00."""
    db = app_server[1]
    seed_e2e_clinic(db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        admin = auth.create_user(s, actor=None, username="e2e_intake_admin", full_name="Intake Admin", password=PASSWORD,
                                 role="admin")
        intake.save_form(s, actor=auth.actor_for(admin), code="FIRST-VISIT", title="First visit questions",
                         visit_kinds=["Treatment"], expected_version=None, fields=[
                             {"label": "What brings you in", "kind": "text", "required": True},
                             {"label": "Pain today", "kind": "scale", "low": 0, "high": 10, "required": True},
                             {"label": "Past conditions", "kind": "checklist", "options": "Diabetes\nHeart disease\nNone"},
                             {"label": "Consent to treatment", "kind": "consent", "text": CONSENT},
                         ])
        s.commit()
        zed = s.exec(select(Patient).where(Patient.mrn == "E2E1")).one()
        appt = s.exec(select(Appointment).where(Appointment.patient_id == zed.id)).first()
        token = intake.issue_link(s, appointment_id=appt.id)
        s.commit()
    engine.dispose()
    return token, appt.id


def _open(page, base: str, token: str) -> None:
    page.goto(f"{base}/intake?token={token}")
    page.wait_for_function("() => !!sessionStorage.getItem('token')", timeout=60_000)  # the app has connected
    page.get_by_label("Your date of birth (year-month-day)").fill("1970-05-01")
    page.get_by_role("button", name="Continue").tap()
    expect(page.get_by_role("heading", name="First visit questions")).to_be_visible()


def _sign(page, canvas_id: str) -> None:
    """A signature drawn with a finger: pointer events of type touch across the canvas."""
    canvas = page.locator(f"#{canvas_id}")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    points = [(0.1, 0.7), (0.25, 0.3), (0.4, 0.75), (0.55, 0.35), (0.7, 0.7), (0.9, 0.4)]
    xy = [(box["x"] + box["width"] * px, box["y"] + box["height"] * py) for px, py in points]
    base = {"pointerId": 7, "pointerType": "touch", "isPrimary": True, "bubbles": True}
    canvas.dispatch_event("pointerdown", {**base, "clientX": xy[0][0], "clientY": xy[0][1], "buttons": 1})
    for x, y in xy[1:]:
        canvas.dispatch_event("pointermove", {**base, "clientX": x, "clientY": y, "buttons": 1})
    canvas.dispatch_event("pointerup", {**base, "clientX": xy[-1][0], "clientY": xy[-1][1]})


def _small_targets(page) -> list[str]:
    return page.evaluate("""() => {
        const out = [];
        for (const e of document.querySelectorAll('main button, main input, main textarea, main select, main a')) {
            const r = e.getBoundingClientRect();
            if (!r.width || !r.height) continue;
            const t = (e.closest('label') || e.closest('.rt-TextFieldRoot') || e).getBoundingClientRect();
            if (t.width < 44 || t.height < 44) out.push(`${e.tagName} ${e.id || e.textContent.slice(0, 30)} ${Math.round(t.width)}x${Math.round(t.height)}`);
        }
        return out;
    }""")


def test_a_patient_fills_and_signs_intake_on_a_phone_and_the_desk_sees_it_complete(browser, app_server, intake_link):
    base, db = app_server
    token, appointment_id = intake_link
    phone = browser.new_context(**PHONE).new_page()

    # Nothing about the patient before the date of birth; a wrong one is refused in words.
    phone.goto(f"{base}/intake?token={token}")
    phone.wait_for_function("() => !!sessionStorage.getItem('token')", timeout=60_000)
    expect(phone.get_by_label("Your date of birth (year-month-day)")).to_be_visible()
    expect(phone.get_by_text("Zed")).to_have_count(0)
    assert_accessible(phone, "the intake page's date-of-birth step")
    phone.get_by_label("Your date of birth (year-month-day)").fill("1971-05-01")
    phone.get_by_role("button", name="Continue").tap()
    expect(phone.get_by_text("does not match our records")).to_be_visible()
    phone.get_by_label("Your date of birth (year-month-day)").fill("1970-05-01")
    phone.get_by_role("button", name="Continue").tap()
    expect(phone.get_by_role("heading", name="First visit questions")).to_be_visible()
    expect(phone.get_by_text(re.compile(r"^Hello Zed\. Your visit: "))).to_be_visible()

    # Submitting without the required answers names them; what was typed stays.
    phone.get_by_label("What brings you in (required)").fill("Sore shoulder when reaching up")
    phone.get_by_label("Diabetes").tap()  # the tick is the server's (saved at once), so it shows a moment later
    expect(phone.get_by_label("Diabetes")).to_be_checked()
    phone.get_by_role("button", name="Sign and submit First visit questions").tap()
    expect(phone.get_by_role("status").filter(has_text="Please answer: Pain today")).to_be_visible()
    expect(phone.get_by_label("What brings you in (required)")).to_have_value("Sore shoulder when reaching up")

    # A reload mid-way opens on what was saved.
    phone.get_by_role("button", name="Save and finish later").tap()
    expect(phone.get_by_text(re.compile(r"^Saved at "))).to_be_visible()
    _open(phone, base, token)
    expect(phone.get_by_label("What brings you in (required)")).to_have_value("Sore shoulder when reaching up")
    expect(phone.get_by_label("Diabetes")).to_be_checked()

    phone.get_by_role("button", name="4", exact=True).tap()
    expect(phone.get_by_role("button", name="4", exact=True)).to_have_attribute("aria-pressed", "true")
    _sign(phone, "intake-consent_to_treatment-signature")
    expect(phone.locator("#intake-consent_to_treatment-signature-status")).to_have_text("Signed")
    assert _small_targets(phone) == []
    assert_accessible(phone, "the intake form on a phone")
    phone.get_by_label("What brings you in (required)").scroll_into_view_if_needed()
    screenshot(phone, "portal-intake")
    phone.get_by_role("button", name="Sign and submit First visit questions").tap()
    expect(phone.get_by_text("First visit questions is complete. Thank you")).to_be_visible()
    expect(phone.get_by_text("Your forms for this visit are complete.")).to_be_visible()
    phone.context.close()

    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        response = s.exec(select(IntakeResponse).where(IntakeResponse.appointment_id == appointment_id)).one()
        assert response.status == "completed"
        assert "Sore shoulder when reaching up" in response.response
        consent = s.exec(select(IntakeConsent).where(IntakeConsent.response_id == response.id)).one()
        assert consent.sha256 == hashlib.sha256(consent.pdf).hexdigest()
        reader = pypdf.PdfReader(io.BytesIO(consent.pdf))
        words = "\n".join(p.extract_text() for p in reader.pages)
        assert "I agree to be assessed and treated" in words and "Zed Quill" in words
        assert len(reader.pages[0].images) == 1  # the drawn signature
        assert consent.signed_at <= dt.datetime.now(dt.UTC)
    engine.dispose()

    # The link is used up; the desk's visit panel says the intake is complete.
    again = browser.new_context(**PHONE).new_page()
    again.goto(f"{base}/intake?token={token}")
    again.wait_for_function("() => !!sessionStorage.getItem('token')", timeout=60_000)
    again.get_by_label("Your date of birth (year-month-day)").fill("1970-05-01")
    again.get_by_role("button", name="Continue").tap()
    expect(again.get_by_text("Your forms for this visit are complete; this link is no longer needed")).to_be_visible()
    again.context.close()

    desk = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    sign_in(desk, base, "e2e_desk", PASSWORD)
    expect(desk.get_by_role("heading", name="Calendar board")).to_be_visible()
    desk.get_by_label("Location").click()
    desk.get_by_role("option", name="E2E Clinic").click()
    desk.get_by_role("button", name=re.compile(r"^Quill, Zed, 11:00, ")).click()
    expect(desk.locator("#visit-intake")).to_have_text("Intake complete")
    desk.context.close()
