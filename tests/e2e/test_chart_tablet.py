"""The chart on a tablet (768x1024, touch): minutes and the 8-minute rule, two tablets on
one draft, an assistant's signature, the supervisor's co-signature and an addendum."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import AppointmentType, ClinicianSupervision, Location, Patient, Provider
from clinic_app.services import auth, body_chart, charting, measures, scheduling
from tests.e2e.conftest import PASSWORD, seed_e2e_clinic
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e
TABLET = {"viewport": {"width": 768, "height": 1024}, "has_touch": True, "is_mobile": True}


@pytest.fixture(scope="module")
def supervised_visit(app_server):
    """Sam Student, SPT (supervised by Erin Test, PT) sees Vera Vole at 12:00; she has arrived."""
    db = app_server[1]
    seed_e2e_clinic(db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        location = s.exec(select(Location).where(Location.name == "E2E Clinic")).one()
        supervisor = s.exec(select(Provider).where(Provider.name == "Erin Test, PT")).one()
        student = Provider(name="Sam Student, SPT", location_id=location.id)
        patient = Patient(mrn="E2E3", first_name="Vera", last_name="Vole", birth_date=dt.date(1990, 7, 7))
        s.add_all([student, patient])
        s.flush()
        s.add(ClinicianSupervision(provider_id=student.id, supervisor_provider_id=supervisor.id))
        s.commit()
        auth.create_user(s, actor=None, username="e2e_student", full_name="Sam Student", password=PASSWORD,
                         role="clinician", provider_id=student.id, location_id=location.id)
        desk = auth.actor_for(auth.authenticate(s, username="e2e_desk", password=PASSWORD))
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        tz = ZoneInfo(location.timezone)
        starts = dt.datetime.combine(dt.datetime.now(tz).date(), dt.time(12, 0), tzinfo=tz).astimezone(dt.UTC)
        appt = scheduling.book_appointment(
            s, actor=desk, patient_id=patient.id, provider_id=student.id, appointment_type_id=kind.id,
            starts_at=starts,
        )
        scheduling.transition(s, actor=desk, appointment_id=appt.id, to_status="arrived")
    engine.dispose()


def test_minutes_conflict_co_signature_and_addendum_on_a_tablet(browser, app_server, supervised_visit):
    base, _ = app_server
    tablet, second = browser.new_context(**TABLET), browser.new_context(**TABLET)
    chart, other = tablet.new_page(), second.new_page()

    # The student opens today's visit, starts the session and writes.
    sign_in(chart, base, "e2e_student", PASSWORD)
    chart.get_by_role("button", name="Open note: Vole, Vera at 12:00").tap()
    chart.get_by_role("button", name="Start session").tap()
    expect(chart.get_by_role("status").filter(has_text="Session started.")).to_be_visible()
    chart.get_by_label("Subjective").fill("Ankle sprain, pain 5/10 on walking.")
    expect(chart.get_by_text("Draft saved")).to_be_visible()

    # A second tablet has the same draft open; both write the Objective section.
    sign_in(other, base, "e2e_student", PASSWORD)
    other.get_by_role("button", name="Open note: Vole, Vera at 12:00").tap()
    expect(other.get_by_label("Subjective")).to_have_value("Ankle sprain, pain 5/10 on walking.")
    other.get_by_label("Objective").fill("Swelling lateral malleolus.")
    expect(other.get_by_text("Draft saved")).to_be_visible()
    chart.get_by_label("Objective").fill("Single-leg stance 10 s.")
    expect(chart.get_by_role("alert")).to_contain_text("changed on another device")
    expect(chart.get_by_text("Swelling lateral malleolus.")).to_be_visible()  # the other text, shown
    expect(chart.get_by_label("Objective")).to_have_value("Single-leg stance 10 s.")  # this one, kept
    chart.get_by_label("Objective").fill("Swelling lateral malleolus. Single-leg stance 10 s.")
    chart.get_by_role("button", name="Keep my text").tap()
    expect(chart.get_by_role("status").filter(has_text="Your objective text is saved.")).to_be_visible()
    other.reload()
    other.get_by_role("button", name="Open note: Vole, Vera at 12:00").tap()
    expect(other.get_by_label("Objective")).to_have_value("Swelling lateral malleolus. Single-leg stance 10 s.")

    # Codes: 38 minutes of a timed code support 3 units under the CMS 8-minute rule.
    chart.get_by_label("Diagnosis code").fill("S93.401A")
    chart.get_by_role("button", name="Add diagnosis").tap()
    expect(chart.get_by_role("button", name="Remove S93.401A")).to_be_visible()
    chart.get_by_label("Procedure code").fill("97110")
    chart.get_by_label("Units").fill("2")
    chart.get_by_label("Minutes (timed codes)").fill("38")
    chart.get_by_role("button", name="Add procedure").tap()
    expect(chart.get_by_text("it supports 3")).to_be_visible()
    chart.get_by_role("button", name="Sign note").tap()
    expect(chart.get_by_role("alert")).to_contain_text("Correct the units")
    fix = chart.get_by_role("button", name="Use the units the minutes support")
    assert fix.bounding_box()["height"] >= 44
    fix.tap()
    expect(chart.get_by_text("3 unit(s)")).to_be_visible()
    chart.get_by_role("button", name="Sign note").tap()
    expect(chart.get_by_role("status").filter(has_text="Note signed and locked")).to_contain_text("supervisor co-signs")
    expect(chart.get_by_text("Awaiting co-signature by Erin Test, PT")).to_be_visible()
    visit = chart.get_by_role("button", name="Open note: Vole, Vera at 12:00")
    expect(visit).to_contain_text("In session")  # not billable yet

    # The supervisor co-signs on their tablet; the student's list turns Ready to bill by push.
    supervisor = browser.new_context(**TABLET)
    sup = supervisor.new_page()
    sign_in(sup, base, "e2e_clin", PASSWORD)
    sup.get_by_role("button", name=re.compile(r"^Review and co-sign: Vole, Vera, by Sam Student, SPT")).tap()
    expect(sup.get_by_label("Subjective")).to_have_value("Ankle sprain, pain 5/10 on walking.")
    sup.get_by_role("button", name="Co-sign note").tap()
    expect(sup.get_by_role("status").filter(has_text="Note co-signed.")).to_contain_text("$135.00")
    expect(sup.get_by_text(re.compile(r"^Co-signed by e2e_clin on "))).to_be_visible()
    expect(visit).to_contain_text("Ready to bill")

    # A correction after signing is an addendum, shown under the unchanged original.
    sup.get_by_label("New addendum").fill("Reviewed with student: add balance work next visit.")
    sup.get_by_role("button", name="Add addendum").tap()
    expect(sup.get_by_text(re.compile(r"^Addendum by e2e_clin, "))).to_be_visible()
    expect(sup.get_by_text("Reviewed with student: add balance work next visit.")).to_be_visible()
    expect(sup.get_by_label("Subjective")).to_have_attribute("readonly", "")
    for context in (tablet, second, supervisor):
        context.close()


def test_copy_forward_template_fields_and_measures_with_their_trend_on_a_tablet(browser, app_server, supervised_visit):
    base, db = app_server
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        # An earlier visit of Vera Vole's with Erin, signed, with NPRS 7 and PSFS 2.
        location = s.exec(select(Location).where(Location.name == "E2E Clinic")).one()
        erin = s.exec(select(Provider).where(Provider.name == "Erin Test, PT")).one()
        vera = s.exec(select(Patient).where(Patient.mrn == "E2E3")).one()
        desk = auth.actor_for(auth.authenticate(s, username="e2e_desk", password=PASSWORD))
        clin = auth.actor_for(auth.authenticate(s, username="e2e_clin", password=PASSWORD))
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        tz = ZoneInfo(location.timezone)
        today = dt.datetime.now(tz).date()
        for hour in (14, 15):
            starts = dt.datetime.combine(today, dt.time(hour, 0), tzinfo=tz).astimezone(dt.UTC)
            appt = scheduling.book_appointment(s, actor=desk, patient_id=vera.id, provider_id=erin.id,
                                               appointment_type_id=kind.id, starts_at=starts)
            scheduling.transition(s, actor=desk, appointment_id=appt.id, to_status="arrived")
            if hour == 14:
                scheduling.transition(s, actor=clin, appointment_id=appt.id, to_status="in_session")
                note = charting.open_note(s, actor=clin, appointment_id=appt.id)
                charting.save_draft(s, actor=clin, note_id=note.id, field="subjective", text="Baseline")
                charting.add_diagnosis(s, actor=clin, note_id=note.id, code="S93.401A")
                charting.add_procedure(s, actor=clin, note_id=note.id, code="97161", units=1)
                measures.record(s, actor=clin, note_id=note.id, code="NPRS", values=[7])
                body_chart.mark_region(s, actor=clin, note_id=note.id, region="r_knee_f", symptom="pain", intensity=8)
                measures.record(s, actor=clin, note_id=note.id, code="PSFS", values=[2, 2, 2], labels=["Stairs", "Run", "Squat"])
                charting.sign_note(s, actor=clin, note_id=note.id)
    engine.dispose()

    context = browser.new_context(**TABLET)
    chart = context.new_page()
    sign_in(chart, base, "e2e_clin", PASSWORD)
    chart.get_by_role("button", name="Open note: Vole, Vera at 15:00").tap()
    chart.get_by_role("button", name="Copy forward from the last signed note").tap()
    expect(chart.get_by_label("Subjective")).to_have_value("Baseline")
    expect(chart.get_by_role("button", name="Remove S93.401A")).to_be_visible()

    # A template with structured fields: a scale, a number (checked), a checklist, a choice.
    chart.get_by_label("Note template").tap()
    chart.get_by_role("option", name="Physiotherapy daily note (SOAP)").tap()
    pain = chart.get_by_role("button", name="Subjective: Pain now (0-10) 3")
    assert pain.bounding_box()["height"] >= 44 and pain.bounding_box()["width"] >= 44
    pain.tap()
    expect(pain).to_have_attribute("aria-pressed", "true")
    rom = chart.get_by_label("Objective: Active range of motion (degrees)")
    rom.fill("200")
    expect(chart.get_by_role("alert")).to_contain_text("enter a number from 0 to 180 degrees")
    expect(rom).to_have_value("200")  # kept for correcting
    rom.fill("115")
    expect(chart.get_by_text("Draft saved")).to_be_visible()
    chart.get_by_text("Manual therapy", exact=True).tap()
    expect(chart.get_by_role("checkbox", name="Manual therapy")).to_be_checked()
    chart.get_by_label("Assessment: Tolerated treatment").tap()
    chart.get_by_role("option", name="Well").tap()
    chart.reload()
    chart.get_by_role("button", name="Open note: Vole, Vera at 15:00").tap()
    expect(chart.get_by_role("button", name="Subjective: Pain now (0-10) 3")).to_have_attribute("aria-pressed", "true")
    expect(chart.get_by_label("Objective: Active range of motion (degrees)")).to_have_value("115")
    expect(chart.get_by_role("checkbox", name="Manual therapy")).to_be_checked()
    expect(chart.get_by_label("Assessment: Tolerated treatment")).to_contain_text("Well")

    # Body chart: last visit's marks shown; tap the right knee on the front figure, mark it.
    expect(chart.get_by_role("list", name="Marked at the last visit")).to_contain_text("Right knee (front): pain 8/10")
    knee = chart.get_by_role("button", name="Right knee (front)")
    knee.tap()
    chart.get_by_role("button", name="Mark region").tap()
    expect(chart.get_by_role("alert")).to_contain_text("Intensity is a whole number from 0 to 10")
    chart.get_by_role("button", name="Intensity 5").tap()
    chart.get_by_role("button", name="Mark region").tap()
    expect(chart.get_by_role("list", name="Marked regions")).to_contain_text("Right knee (front): pain 5/10")
    expect(knee).to_have_css("fill", "rgb(251, 146, 60)")  # orange: 4-6 of 10

    # A short-term goal: a past target date is refused and the text kept; then set, then met.
    chart.get_by_label("Goal", exact=True).fill("Walk 500 m without pain")
    chart.get_by_label("Target date").fill("2020-01-01")
    chart.get_by_role("button", name="Add goal").tap()
    expect(chart.get_by_role("alert")).to_contain_text("is in the past")
    expect(chart.get_by_label("Goal", exact=True)).to_have_value("Walk 500 m without pain")
    target = (dt.datetime.now(ZoneInfo(location.timezone)).date() + dt.timedelta(days=30)).isoformat()
    chart.get_by_label("Target date").fill(target)
    chart.get_by_role("button", name="Add goal").tap()
    expect(chart.get_by_text(f"Short-term: Walk 500 m without pain, by {target}")).to_be_visible()
    chart.get_by_label("Status of goal: Walk 500 m without pain").tap()
    chart.get_by_role("option", name="met", exact=True).tap()
    expect(chart.get_by_role("status").filter(has_text="Goal marked met.")).to_be_visible()

    # Home exercise programme, printed as a PDF for the patient.
    chart.get_by_label("Exercise", exact=True).fill("Heel raises")
    chart.get_by_label("Sets, reps, how often").fill("3 x 10, twice a day")
    chart.get_by_role("button", name="Add exercise").tap()
    expect(chart.get_by_role("button", name="Stop Heel raises")).to_be_visible()
    with chart.expect_download() as download:
        chart.get_by_role("button", name="Print home exercise programme (PDF)").tap()
    assert download.value.suggested_filename == "home-exercise-programme.pdf"
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")

    # Attachments: a real PNG is kept with its checksum; a file that only claims to be one is refused.
    upload = chart.locator("#attachment-upload input[type=file]")
    upload.set_input_files(files=[{"name": "scan.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n" + bytes(64)}])
    chart.get_by_role("button", name="Upload attachment").tap()
    expect(chart.get_by_role("button", name="Open scan.png")).to_be_visible()
    upload.set_input_files(files=[{"name": "fake.png", "mimeType": "image/png", "buffer": b"not an image"}])
    chart.get_by_role("button", name="Upload attachment").tap()
    expect(chart.get_by_role("alert")).to_contain_text("fake.png is not a PNG or JPEG image or a PDF")
    with chart.expect_download() as opened:
        chart.get_by_role("button", name="Open scan.png").tap()
    assert Path(opened.value.path()).read_bytes().startswith(b"\x89PNG")

    # Problem list from an offline ICD-10-CM search; an allergy, then a medication that matches it.
    chart.get_by_label("Search ICD-10-CM (words or code)").fill("low back pain")
    chart.get_by_role("button", name="Add M54.50 to problems").tap()
    expect(chart.get_by_role("button", name="Resolve M54.50")).to_be_visible()
    chart.get_by_label("Allergy to").fill("Ibuprofen")
    chart.get_by_label("Reaction").fill("hives")
    chart.get_by_role("button", name="Add allergy").tap()
    expect(chart.get_by_text("Allergies: Ibuprofen (hives)").first).to_be_visible()
    chart.get_by_label("Medication", exact=True).fill("Ibuprofen")
    chart.get_by_label("Class").tap()
    chart.get_by_role("option", name="NSAID").tap()
    chart.get_by_role("button", name="Add medication").tap()
    expect(chart.get_by_role("alert")).to_contain_text("Allergy alert: the patient is allergic to Ibuprofen (hives).")
    expect(chart.get_by_role("button", name="Stop Ibuprofen")).to_have_count(0)  # nothing saved yet
    chart.get_by_role("button", name="Record anyway").tap()
    expect(chart.get_by_role("button", name="Stop Ibuprofen")).to_be_visible()

    chart.get_by_label("Outcome measure to score").tap()
    chart.get_by_role("option", name="NPRS").tap()
    chart.get_by_label("Pain now (0 = no pain, 10 = worst imaginable) score (0-10)").fill("12")
    chart.get_by_role("button", name="Score NPRS").tap()
    expect(chart.get_by_role("alert")).to_contain_text("enter a whole number from 0 to 10")
    expect(chart.get_by_label("Pain now (0 = no pain, 10 = worst imaginable) score (0-10)")).to_have_value("12")  # kept
    chart.get_by_label("Pain now (0 = no pain, 10 = worst imaginable) score (0-10)").fill("4")
    chart.get_by_role("button", name="Score NPRS").tap()
    expect(chart.get_by_role("status").filter(has_text="NPRS scored: 4.")).to_be_visible()
    expect(chart.get_by_text("Numeric Pain Rating Scale (NPRS): 4")).to_be_visible()
    expect(chart.get_by_text("Improved by 3 points since the first score, above the MCID of 2: clinically important.").first).to_be_visible()

    chart.get_by_label("Outcome measure to score").tap()
    chart.get_by_role("option", name="PSFS").tap()
    for n, (activity, value) in enumerate([("Stairs", "3"), ("Run", "3"), ("Squat", "3")], start=1):
        chart.get_by_label(f"Activity {n}", exact=True).fill(activity)
        chart.get_by_label(f"Activity {n} score (0-10)").fill(value)
    chart.get_by_role("button", name="Add an activity").tap()
    chart.get_by_label("Activity 4", exact=True).fill("Kneel")
    chart.get_by_label("Activity 4 score (0-10)").fill("3")
    chart.get_by_role("button", name="Score PSFS").tap()
    expect(chart.get_by_role("status").filter(has_text="PSFS scored: 3.")).to_be_visible()
    expect(chart.get_by_text(
        "Improved by 1 point since the first score, below the MCID of 2: not clinically important yet."
    ).first).to_be_visible()
    context.close()
